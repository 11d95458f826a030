//! The `logscrub` command: reads log lines (stdin or files), writes them
//! scrubbed to stdout; `rules list|test` and `explain` for rule tooling.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use logscrub::config::{self, Overrides};
use logscrub::pipe::{self, PipeError, PipeOptions, Reloader};
use logscrub::scan::Scanner;
use logscrub::stats::Stats;

/// Scrub card numbers, secrets and personal data from log lines.
///
/// Reads the inputs in order (standard input when none is given, or `-`)
/// and writes every line to standard output with each detected secret
/// replaced as configured (by default a label such as [CARD_REDACTED]).
/// Exactly one output line per input line, unless a `drop` action is
/// configured; every other byte passes unchanged.
#[derive(Parser, Debug)]
#[command(
    name = "logscrub",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    run: RunArgs,

    /// Diagnostics on standard error as `text` or `json` lines.
    #[arg(long, value_name = "FORMAT", default_value = "text", global = true)]
    log_format: LogFormat,
}

/// How diagnostics are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    /// `logscrub: message`
    Text,
    /// `{"time":…,"level":…,"message":…}`
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Rule tooling.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Detect only: report where secrets are (input, line, byte span, rule,
    /// keyed fingerprint with a hash key), never the secret itself. Exit 1
    /// when anything is found, 0 when clean, 2 on error: a CI gate for log
    /// samples and fixtures.
    Scan {
        /// Files to scan; standard input when none (or `-`).
        paths: Vec<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
        /// How lines are read: auto, raw, json, docker, cri, logfmt.
        #[arg(long, value_name = "FORMAT")]
        input_format: Option<String>,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Show every candidate in a line (argument, or each line of standard
    /// input) with its rule, span and validator verdict, and the output.
    Explain {
        /// The line to explain; standard input when absent.
        line: Option<String>,
        #[command(flatten)]
        engine: EngineArgs,
    },
}

/// Where files start without a checkpoint.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ReadFrom {
    /// From their first byte.
    Beginning,
    /// From their current end (only new lines).
    End,
}

/// What a full output buffer does.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum WhenFull {
    /// Pause the inputs until there is room.
    Block,
    /// Drop the newest lines and count them.
    Drop,
}

/// How `scan` reports.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ReportFormat {
    /// `source:line:start-end  rule  [fingerprint]`
    Table,
    /// One JSON object per finding.
    Json,
}

#[derive(Subcommand, Debug)]
enum RulesCommand {
    /// Every active rule: id, family, action, label and where it came from;
    /// `--format markdown`: the reference of every loaded rule (docs/rules.md).
    List {
        /// text (the active rules) or markdown (the rule reference).
        #[arg(long, default_value = "text", value_parser = ["text", "markdown"])]
        format: String,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Run the `examples` and `survives` lines of every rule (built-in and
    /// user rules); exit 1 on any failure.
    Test {
        /// Extra pattern files or directories to load and test.
        paths: Vec<PathBuf>,
        #[command(flatten)]
        engine: EngineArgs,
    },
}

/// Options that choose the rules and the policy.
#[derive(Args, Debug, Clone)]
struct EngineArgs {
    /// TOML config file (see examples/logscrub.toml).
    #[arg(long, value_name = "PATH", env = "LOGSCRUB_CONFIG")]
    config: Option<PathBuf>,

    /// Extra pattern file or directory of `*.toml` pattern files
    /// (repeatable).
    #[arg(long, value_name = "PATH")]
    patterns: Vec<PathBuf>,

    /// Action for a rule or family: label, mask, hash or drop (repeatable),
    /// e.g. `--action pan=mask --action email=hash`.
    #[arg(long, value_name = "RULE=ACTION")]
    action: Vec<String>,

    /// Turn off a rule or family (repeatable).
    #[arg(long, value_name = "RULE")]
    disable: Vec<String>,

    /// File holding the HMAC key for the hash action (else the
    /// LOGSCRUB_HASH_KEY environment variable).
    #[arg(long, value_name = "PATH")]
    hash_key_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Input files, read one after another; `-` is standard input.
    #[arg(value_name = "INPUT")]
    inputs: Vec<PathBuf>,

    /// Lines longer than this many bytes are replaced by
    /// [LINE_TOO_LONG_REDACTED] (never passed raw) and counted
    /// [default: 1048576, or the config file's max_line_bytes].
    #[arg(long, value_name = "BYTES")]
    max_line_bytes: Option<usize>,

    /// How lines are read: auto (per line: JSON, CRI, logfmt or raw), raw,
    /// json, docker, cri, logfmt [default: auto, or the config file's].
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,

    /// Scrubbing threads [default: the number of available cores].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Print line, byte and per-rule counts to standard error at the end.
    #[arg(long)]
    stats: bool,

    /// Serve Prometheus metrics on http://ADDR:PORT/metrics, with /healthz
    /// and /readyz for probes (off by default; e.g. 0.0.0.0:9090).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics_addr: Option<std::net::SocketAddr>,

    /// On SIGTERM/SIGINT, how long to drain (scrub and write what was
    /// read) before giving up with status 1; a second signal exits at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    shutdown_timeout: u64,

    /// Read files matching this path or glob pattern (repeatable; `-` is
    /// standard input). Inputs are read concurrently, each keeping its own
    /// line order.
    #[arg(long = "input", value_name = "PATH_OR_GLOB")]
    input: Vec<String>,

    /// Follow --input files like `tail -F`: keep reading as they grow,
    /// across rotation (rename-and-create, copytruncate), and pick up new
    /// files matching the pattern; runs until SIGTERM/SIGINT.
    #[arg(long, requires = "input")]
    follow: bool,

    /// Where files found at start-up without a checkpoint entry start.
    #[arg(long, value_enum, value_name = "WHERE", default_value = "beginning")]
    read_from: ReadFrom,

    /// Keep per-file positions in this file (saved atomically about every
    /// second and at shutdown) and resume from them on restart.
    #[arg(long, value_name = "PATH")]
    checkpoint: Option<PathBuf>,

    /// Receive lines on a socket (repeatable): tcp://ADDR:PORT (add
    /// ?framing=octet-counting for RFC 6587 syslog framing), udp://ADDR:PORT,
    /// unix:///PATH.
    #[arg(long = "listen", value_name = "URL")]
    listen: Vec<String>,

    /// Where scrubbed lines go: - (standard output), file:///PATH (append,
    /// mode 0600), tcp://HOST:PORT or unix:///PATH (reconnects with backoff).
    #[arg(long, value_name = "URL")]
    output: Option<String>,

    /// Bytes of scrubbed lines that may wait for a slow or unavailable
    /// output before the inputs are paused.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    output_buffer: usize,

    /// When the output buffer is full: block (pause the inputs; nothing is
    /// lost) or drop (drop the newest lines, counted as dropped).
    #[arg(long, value_enum, value_name = "POLICY", default_value = "block")]
    when_full: WhenFull,

    /// Append one JSON line per redaction to this file (time, source, line,
    /// byte span, rule, and a keyed fingerprint when a hash key is set),
    /// never the value. Created with mode 0600.
    #[arg(long, value_name = "PATH")]
    findings: Option<PathBuf>,

    #[command(flatten)]
    engine: EngineArgs,
}

fn overrides(
    engine: &EngineArgs,
    max_line_bytes: Option<usize>,
    format: Option<String>,
) -> Overrides {
    Overrides {
        config: engine.config.clone(),
        patterns: engine.patterns.clone(),
        actions: engine.action.clone(),
        disable: engine.disable.clone(),
        hash_key_file: engine.hash_key_file.clone(),
        max_line_bytes,
        format,
        fingerprints: false,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logscrub::diag::set_json(cli.log_format == LogFormat::Json);
    let result = match &cli.command {
        None => run(&cli.run).map(|()| ExitCode::SUCCESS),
        Some(Command::Rules {
            command: RulesCommand::List { format, engine },
        }) => rules_list(format, engine).map(|()| ExitCode::SUCCESS),
        Some(Command::Rules {
            command: RulesCommand::Test { paths, engine },
        }) => rules_test(paths, engine),
        Some(Command::Scan {
            paths,
            format,
            input_format,
            engine,
        }) => scan(paths, *format, input_format.clone(), engine),
        Some(Command::Explain { line, engine }) => {
            explain(line.as_deref(), engine).map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // A closed stdout (`| head`) is a normal way to stop.
            if let Some(PipeError::Write(e)) = err.downcast_ref::<PipeError>() {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            if let Some(e) = err.downcast_ref::<io::Error>() {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            if let Some(logscrub::service::ServiceError::Pipe(PipeError::Write(e))) =
                err.downcast_ref::<logscrub::service::ServiceError>()
            {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            if let Some(e) = err.downcast_ref::<PipeError>() {
                let (stage, kind) = match e {
                    PipeError::Read { .. } => ("receiving", "read_failed"),
                    PipeError::Write(_) => ("sending", "write_failed"),
                    PipeError::Findings(_) => ("sending", "findings_write_failed"),
                };
                logscrub::telemetry::count_error(stage, kind);
            }
            logscrub::diag::emit("error", &error_chain(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each cause once (many messages already
/// include their cause).
fn error_chain(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    let overrides = overrides(&args.engine, args.max_line_bytes, args.format.clone());
    let engine = config::build(&overrides).context("configuration")?;
    let stop = logscrub::shutdown::install(std::time::Duration::from_secs(args.shutdown_timeout))
        .context("installing the SIGTERM handler")?;
    let readiness = logscrub::telemetry::Readiness::default();
    readiness.set_output_ok(true);
    if let Some(addr) = args.metrics_addr {
        let bound = logscrub::telemetry::serve(addr, readiness.clone())
            .with_context(|| format!("serving metrics on {addr}"))?;
        logscrub::diag::emit("info", &format!("metrics on http://{bound}/metrics"));
    }
    logscrub::telemetry::set_rules_active(engine.scanner.rules().len());

    // SIGHUP re-reads the config file and the rules.
    let requested = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&requested))
        .context("installing the SIGHUP handler")?;
    let reload_overrides = overrides.clone();
    let reloader = Arc::new(Reloader::new(
        requested,
        Box::new(move || match config::build(&reload_overrides) {
            Ok(engine) => {
                logscrub::telemetry::count_reload(true);
                logscrub::telemetry::set_rules_active(engine.scanner.rules().len());
                logscrub::diag::emit(
                    "info",
                    &format!(
                        "configuration reloaded ({} rules).",
                        engine.scanner.rules().len()
                    ),
                );
                Ok(engine.scanner)
            }
            Err(e) => {
                logscrub::telemetry::count_reload(false);
                logscrub::telemetry::count_error("processing", "config_invalid");
                logscrub::diag::emit(
                    "warn",
                    &format!("reload failed, keeping the previous configuration: {e}"),
                );
                Err(e.to_string())
            }
        }),
    ));

    let options = PipeOptions {
        max_line_bytes: engine.max_line_bytes,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
        overlong: engine.overlong,
        reload: Some(Arc::clone(&reloader)),
        format: engine.format,
        findings: match &args.findings {
            None => None,
            Some(path) => {
                let file = open_private_append(path)
                    .with_context(|| format!("opening the findings file {}", path.display()))?;
                let sink: Arc<std::sync::Mutex<dyn Write + Send>> =
                    Arc::new(std::sync::Mutex::new(io::BufWriter::new(file)));
                Some(sink)
            }
        },
    };
    let scanner = engine.scanner;
    let mut stats = Stats::new(0);
    if uses_service(args) {
        let service = service_options(args, options)?;
        logscrub::service::run(service, scanner, stop, readiness, &mut stats)?;
        if args.stats {
            print_stats(&stats, &reloader);
        }
        return Ok(());
    }
    let stdout = io::stdout();
    let mut out = LastByte {
        inner: stdout.lock(),
        last: None,
    };
    let inputs: Vec<PathBuf> = if args.inputs.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.inputs.clone()
    };
    for (n, input) in inputs.iter().enumerate() {
        // Each input is its own stream of lines: an input whose last line
        // has no newline gets one when another input follows, so lines of
        // two files are never joined.
        if n > 0 && out.last.is_some_and(|b| b != b'\n') {
            out.write_all(b"\n").map_err(PipeError::Write)?;
        }
        readiness.set_input_open(true);
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        if input.as_os_str() == "-" {
            let stdin = logscrub::shutdown::StoppableRead::new(
                io::stdin(),
                Arc::clone(&stop),
                #[cfg(unix)]
                Some(0),
            );
            pipe::run(
                "standard input",
                stdin,
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
            let file = logscrub::shutdown::StoppableRead::new(
                file,
                Arc::clone(&stop),
                #[cfg(unix)]
                None,
            );
            pipe::run(&name, file, &mut out, &scanner, &options, &mut stats)?;
        }
    }
    if args.stats {
        print_stats(&stats, &reloader);
    }
    Ok(())
}

/// Whether the run needs the service (sources and sinks beyond plain files
/// read one after another into standard output).
fn uses_service(args: &RunArgs) -> bool {
    !args.input.is_empty()
        || !args.listen.is_empty()
        || args.output.is_some()
        || args.checkpoint.is_some()
}

fn service_options(
    args: &RunArgs,
    pipe: PipeOptions,
) -> anyhow::Result<logscrub::service::ServiceOptions> {
    use logscrub::source::SourceSpec;
    let mut sources = Vec::new();
    for path in &args.inputs {
        sources.push(match path.to_str() {
            Some("-") => SourceSpec::Stdin,
            _ => SourceSpec::Files(glob::Pattern::escape(&path.to_string_lossy())),
        });
    }
    for input in &args.input {
        sources.push(if input == "-" {
            SourceSpec::Stdin
        } else {
            SourceSpec::Files(input.clone())
        });
    }
    for url in &args.listen {
        sources.push(SourceSpec::parse_listen(url).map_err(anyhow::Error::msg)?);
    }
    if sources.is_empty() {
        sources.push(SourceSpec::Stdin);
    }
    if sources.iter().filter(|s| **s == SourceSpec::Stdin).count() > 1 {
        anyhow::bail!("standard input can be read only once");
    }
    let output = match &args.output {
        Some(url) => logscrub::sink::SinkSpec::parse(url).map_err(anyhow::Error::msg)?,
        None => logscrub::sink::SinkSpec::Stdout,
    };
    Ok(logscrub::service::ServiceOptions {
        sources,
        follow: args.follow,
        start_at_end: args.read_from == ReadFrom::End,
        output,
        checkpoint: args.checkpoint.clone(),
        buffer_bytes: args.output_buffer,
        when_full: match args.when_full {
            WhenFull::Block => logscrub::service::WhenFull::Block,
            WhenFull::Drop => logscrub::service::WhenFull::Drop,
        },
        pipe,
    })
}

/// Opens `path` for appending, creating it readable by its owner only.
fn open_private_append(path: &std::path::Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// A writer that remembers the last byte written.
struct LastByte<W> {
    inner: W,
    last: Option<u8>,
}

impl<W: Write> Write for LastByte<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if n > 0 {
            self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn print_stats(stats: &Stats, reloader: &Reloader) {
    use std::sync::atomic::Ordering;
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "lines={} bytes_in={} bytes_out={} failed_closed={} dropped={} malformed={} redactions={} reloads_ok={} reloads_failed={} dropped_output_full={}",
        stats.lines,
        stats.bytes_in,
        stats.bytes_out,
        stats.failed_closed,
        stats.dropped,
        stats.malformed,
        stats.total_redactions(),
        reloader.succeeded.load(Ordering::Relaxed),
        reloader.failed.load(Ordering::Relaxed),
        stats.dropped_output_full,
    );
    for (id, totals) in &stats.by_rule {
        if totals.redactions > 0 {
            let _ = writeln!(err, "  {id:<24} {}", totals.redactions);
        }
    }
}

fn rules_list(format: &str, engine: &EngineArgs) -> anyhow::Result<()> {
    if format == "markdown" {
        // Every rule loaded (opt-in ones too), not only the active ones.
        let mut rules = logscrub::rules::builtin_rules();
        for path in &overrides(engine, None, None).patterns {
            rules.extend(logscrub::rules::load_pattern_path(path)?);
        }
        let doc = logscrub::rules::doc::reference_markdown(&rules);
        io::stdout().lock().write_all(doc.as_bytes())?;
        return Ok(());
    }
    let engine = config::build(&overrides(engine, None, None)).context("configuration")?;
    let scanner = &engine.scanner;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{:<24} {:<8} {:<7} {:<28} source",
        "id", "family", "action", "label"
    )?;
    for (i, rule) in scanner.rules().iter().enumerate() {
        let policy = scanner.policy().rule(i);
        writeln!(
            out,
            "{:<24} {:<8} {:<7} {:<28} {}",
            rule.id,
            rule.family,
            policy.action.as_str(),
            String::from_utf8_lossy(&policy.label),
            rule.source
        )?;
    }
    Ok(())
}

fn rules_test(paths: &[PathBuf], engine: &EngineArgs) -> anyhow::Result<ExitCode> {
    let mut o = overrides(engine, None, None);
    o.patterns.extend(paths.iter().cloned());
    // Examples are written for labels: the active rules, default policy.
    let rules = config::active_rules(&o).context("loading rules")?;
    let scanner = Arc::new(Scanner::new(rules)?);
    let mut out = io::stdout().lock();
    let (mut passed, mut failed) = (0, 0);
    for rule in scanner.rules() {
        let cases = rule
            .examples
            .iter()
            .map(|e| (e.input.as_str(), e.output.as_str()))
            .chain(rule.survives.iter().map(|s| (s.as_str(), s.as_str())));
        for (input, expected) in cases {
            let got = logscrub::redact::scrub_with(&scanner, input.as_bytes());
            if got == expected.as_bytes() {
                passed += 1;
            } else {
                failed += 1;
                writeln!(
                    out,
                    "FAIL {} ({}):\n  input    {input:?}\n  expected {expected:?}\n  got      {:?}",
                    rule.id,
                    rule.source,
                    String::from_utf8_lossy(&got)
                )?;
            }
        }
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn scan(
    paths: &[PathBuf],
    report: ReportFormat,
    input_format: Option<String>,
    engine: &EngineArgs,
) -> anyhow::Result<ExitCode> {
    let mut o = overrides(engine, None, input_format);
    // Detection only: actions do not matter; a hash key adds fingerprints.
    o.actions.clear();
    o.fingerprints = true;
    let engine = config::build(&o).context("configuration")?;
    let inputs: Vec<PathBuf> = if paths.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        paths.to_vec()
    };
    let mut out = io::stdout().lock();
    let mut found = 0u64;
    for input in &inputs {
        let (name, reader): (String, Box<dyn io::Read>) = if input.as_os_str() == "-" {
            ("standard input".into(), Box::new(io::stdin()))
        } else {
            let name = input.display().to_string();
            let file = std::fs::File::open(input).map_err(|source| PipeError::Read {
                input: name.clone(),
                source,
            })?;
            (name, Box::new(file))
        };
        let mut lines = logscrub::framing::LineReader::new(reader, engine.max_line_bytes)
            .hold_cri_partials(matches!(
                engine.format,
                logscrub::format::Format::Auto | logscrub::format::Format::Cri
            ));
        let mut redactor = logscrub::redact::Redactor::new(Arc::clone(&engine.scanner));
        redactor.set_max_line_bytes(engine.max_line_bytes);
        redactor.set_format(engine.format);
        redactor.set_record_findings(true);
        let mut sink = Vec::new();
        loop {
            let batch = lines.next_batch().map_err(|source| PipeError::Read {
                input: name.clone(),
                source,
            })?;
            sink.clear();
            match batch {
                None => break,
                Some(logscrub::framing::Batch::Lines(l)) => redactor.scrub_lines(l, &mut sink),
                Some(logscrub::framing::Batch::OverLong { terminated, .. }) => {
                    redactor.fail_closed(terminated, &mut sink)
                }
            }
            for record in redactor.take_records() {
                found += 1;
                match report {
                    ReportFormat::Table => logscrub::findings::write_row(&mut out, &name, &record)?,
                    ReportFormat::Json => logscrub::findings::write_json(&mut out, &name, &record)?,
                }
            }
        }
    }
    if let ReportFormat::Table = report {
        logscrub::diag::emit(
            "info",
            &format!("{found} finding(s) in {} input(s)", inputs.len()),
        );
    }
    Ok(if found > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn explain(line: Option<&str>, engine: &EngineArgs) -> anyhow::Result<()> {
    let engine = config::build(&overrides(engine, None, None)).context("configuration")?;
    let scanner = &engine.scanner;
    let lines: Vec<String> = match line {
        Some(l) => vec![l.to_string()],
        None => io::stdin().lock().lines().collect::<Result<_, _>>()?,
    };
    let mut out = io::stdout().lock();
    let mut scratch = scanner.scratch();
    for line in &lines {
        let mut candidates = Vec::new();
        scanner.scan_line_with(line.as_bytes(), &mut scratch, &mut |c| candidates.push(c));
        writeln!(out, "line: {line}")?;
        if candidates.is_empty() {
            writeln!(out, "  no candidate")?;
        }
        for c in &candidates {
            let rule = &scanner.rules()[c.rule];
            let verdict = match &c.verdict {
                Ok(span) => format!("accepted {}..{}", span.start, span.end),
                Err(reason) => format!("rejected ({})", reason.as_str()),
            };
            writeln!(
                out,
                "  {:<22} {:<7} {:>4}..{:<4} {verdict}",
                rule.id, c.view, c.span.start, c.span.end
            )?;
        }
        let scrubbed = logscrub::redact::scrub_with(scanner, line.as_bytes());
        writeln!(out, "output: {}", String::from_utf8_lossy(&scrubbed))?;
    }
    Ok(())
}
