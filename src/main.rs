//! The `logscrub` command: reads log lines (stdin or files), writes them
//! scrubbed to stdout.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

use logscrub::pipe::{self, PipeError, PipeOptions};
use logscrub::scan::Scanner;
use logscrub::stats::Stats;

/// Scrub card numbers, secrets and personal data from log lines.
///
/// Reads the inputs in order (standard input when none is given, or `-`)
/// and writes every line to standard output with each detected secret
/// replaced by a label such as [CARD_REDACTED]. Exactly one output line per
/// input line; every other byte passes unchanged.
#[derive(Parser, Debug)]
#[command(name = "logscrub", version, about, long_about)]
struct Args {
    /// Input files, read one after another; `-` is standard input.
    #[arg(value_name = "INPUT")]
    inputs: Vec<PathBuf>,

    /// Lines longer than this many bytes are replaced by
    /// [LINE_TOO_LONG_REDACTED] (never passed raw) and counted.
    #[arg(long, value_name = "BYTES", default_value_t = logscrub::framing::DEFAULT_MAX_LINE_BYTES)]
    max_line_bytes: usize,

    /// Scrubbing threads [default: the number of available cores].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Print redaction counts per rule to standard error at the end.
    #[arg(long)]
    stats: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A closed stdout (`| head`) is a normal way to stop.
            if let Some(PipeError::Write(e)) = err.downcast_ref::<PipeError>() {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            let _ = writeln!(io::stderr(), "logscrub: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let scanner =
        Arc::new(Scanner::new(logscrub::rules::builtin_rules()).context("loading rules")?);
    let options = PipeOptions {
        max_line_bytes: args.max_line_bytes,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
    };
    let mut stats = Stats::new(scanner.rules().len());
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let inputs: Vec<PathBuf> = if args.inputs.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.inputs.clone()
    };
    for input in &inputs {
        if input.as_os_str() == "-" {
            pipe::run(
                "standard input",
                io::stdin(),
                &mut out,
                &scanner,
                &options,
                &mut stats,
            )?;
        } else {
            let name = input.display().to_string();
            let file = std::fs::File::open(input).map_err(|source| PipeError::Read {
                input: name.clone(),
                source,
            })?;
            pipe::run(&name, file, &mut out, &scanner, &options, &mut stats)?;
        }
    }
    if args.stats {
        print_stats(&scanner, &stats);
    }
    Ok(())
}

fn print_stats(scanner: &Scanner, stats: &Stats) {
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "lines={} bytes_in={} bytes_out={} failed_closed={} redactions={}",
        stats.lines,
        stats.bytes_in,
        stats.bytes_out,
        stats.failed_closed,
        stats.total_redactions()
    );
    for (rule, count) in scanner.rules().iter().zip(&stats.redactions) {
        if *count > 0 {
            let _ = writeln!(err, "  {:<20} {count}", rule.id);
        }
    }
}
