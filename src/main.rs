//! The `logscrub` command: reads log lines (stdin or files), writes them
//! scrubbed to stdout; `rules list|test` and `explain` for rule tooling.

#![forbid(unsafe_code)]

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

mod cli;
mod packaging;
use cli::{
    Cli, Command, EngineArgs, LogFormat, ReadFrom, ReportFormat, RulesCommand, RunArgs, ScanArgs,
    WhenFull,
};

use logscrub::config::{self, Overrides};
use logscrub::pipe::{self, PipeError, PipeOptions, Reloader};
use logscrub::scan::Scanner;
use logscrub::stats::Stats;

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
    // Every run flag can also come from LOGSCRUB_… (see env_flags).
    let parsed = logscrub::env_flags::with_env(Cli::command())
        .try_get_matches()
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        // --help and --version print and exit 0; usage errors exit 64
        // (EX_USAGE), distinct from read errors (2).
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                logscrub::ci::exit::USAGE
            } else {
                0
            });
        }
    };
    logscrub::diag::set_json(cli.log_format == LogFormat::Json);
    let result = match &cli.command {
        None => with_config_io(&cli.run, &matches)
            .and_then(|args| run(&args))
            .map(|()| 0),
        Some(Command::Rules {
            command: RulesCommand::List { format, engine },
        }) => rules_list(format, engine).map(|()| 0),
        Some(Command::Rules {
            command: RulesCommand::Test { paths, engine },
        }) => rules_test(paths, engine),
        Some(Command::Scan(args)) => scan(args),
        Some(Command::Completions { shell }) => {
            let mut out = io::stdout().lock();
            packaging::completions(*shell, &mut out);
            out.flush().map(|()| 0).map_err(anyhow::Error::from)
        }
        Some(Command::Man { out_dir: None }) => {
            let mut out = io::stdout().lock();
            packaging::man(&mut out)
                .and_then(|()| out.flush())
                .map(|()| 0)
                .map_err(anyhow::Error::from)
        }
        Some(Command::Man { out_dir: Some(dir) }) => packaging::man_pages(dir)
            .map(|pages| {
                logscrub::diag::emit(
                    "info",
                    &format!("{} man pages written to {}", pages.len(), dir.display()),
                );
                0
            })
            .with_context(|| format!("writing man pages to {}", dir.display())),
        Some(Command::Explain { line, engine }) => explain(line.as_deref(), engine).map(|()| 0),
    };
    let (code, error) = match result {
        Ok(code) => (code, None),
        Err(err) if is_broken_pipe(&err) => (0, None),
        Err(err) => {
            if let Some(e) = pipe_error(&err) {
                let (stage, kind) = match e {
                    PipeError::Read { .. } => ("receiving", "read_failed"),
                    PipeError::Write(_) => ("sending", "write_failed"),
                    PipeError::Findings(_) => ("sending", "findings_write_failed"),
                };
                logscrub::telemetry::count_error(stage, kind);
            }
            let message = error_chain(&err);
            logscrub::diag::emit("error", &message);
            (2, Some(message))
        }
    };
    // The run report's final write (a no-op without --report).
    if let Err(e) = logscrub::report::finish(logscrub::report::Exit { code, error }) {
        logscrub::diag::emit("error", &e.to_string());
        return ExitCode::from(2);
    }
    ExitCode::from(code)
}

/// A closed stdout (`| head`) is a normal way to stop.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    let broken = |e: &io::Error| e.kind() == io::ErrorKind::BrokenPipe;
    if let Some(PipeError::Write(e)) = pipe_error(err) {
        return broken(e);
    }
    if let Some(e) = err.downcast_ref::<io::Error>() {
        return broken(e);
    }
    false
}

/// The input, output or findings error that ended a run, if that is what
/// `err` is.
fn pipe_error(err: &anyhow::Error) -> Option<&PipeError> {
    match err.downcast_ref::<logscrub::service::ServiceError>() {
        Some(logscrub::service::ServiceError::Pipe(e)) => Some(e),
        Some(_) => None,
        None => err.downcast_ref::<PipeError>(),
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
    if let Some(path) = &args.report {
        // Before the metrics recorder, which then copies its counters.
        logscrub::report::start(
            path.clone(),
            report_io(args),
            logscrub::report::Identity::of(
                engine.scanner.catalog_sha256(),
                engine.scanner.rules().len(),
                overrides.config.as_deref(),
            ),
        )?;
    }
    if let Some(addr) = args.metrics_addr {
        let bound = logscrub::telemetry::serve(addr, readiness.clone(), args.workload_series_ttl)
            .with_context(|| format!("serving metrics on {addr}"))?;
        logscrub::diag::emit("info", &format!("metrics on http://{bound}/metrics"));
    } else if args.report.is_some() {
        logscrub::report::install_recorder(metrics::NoopRecorder)?;
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
                // The new identity first: a report that counts the reload
                // shows what it loaded.
                logscrub::report::set_identity(logscrub::report::Identity::of(
                    engine.scanner.catalog_sha256(),
                    engine.scanner.rules().len(),
                    reload_overrides.config.as_deref(),
                ));
                logscrub::telemetry::set_rules_active(engine.scanner.rules().len());
                logscrub::telemetry::count_reload(true);
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
                Err(e.into())
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
    // Every run takes the one pipeline: its sources (standard input and
    // positional files among them) → the scrub stage → the ordered writer.
    let service = service_options(args, options)?;
    logscrub::service::run(service, scanner, stop, readiness, &mut stats)?;
    if args.stats {
        print_stats(&stats, &reloader);
    }
    Ok(())
}

/// The inputs and the output as given, for the run report.
fn report_io(args: &RunArgs) -> logscrub::report::Io {
    let mut inputs: Vec<String> = args
        .inputs
        .iter()
        .map(|p| p.display().to_string())
        .chain(args.input.iter().cloned())
        .chain(args.listen.iter().cloned())
        .collect();
    if inputs.is_empty() {
        inputs.push("-".into());
    }
    logscrub::report::Io {
        inputs,
        output: args.output.clone().unwrap_or_else(|| "-".into()),
    }
}

/// `args` completed from the config file's `[input]`, `[output]` and
/// `[metrics]` tables where neither the command line nor the environment
/// set a value.
fn with_config_io(args: &RunArgs, matches: &ArgMatches) -> anyhow::Result<RunArgs> {
    let mut args = args.clone();
    if let Some(path) = &args.engine.config {
        let file = config::read_config(path).context("configuration")?;
        let io =
            logscrub::config::io::RunIo::from_file(&file.input, &file.output, &file.metrics, path)
                .context("configuration")?;
        let unset = |id: &str| {
            matches
                .value_source(id)
                .is_none_or(|s| s == clap::parser::ValueSource::DefaultValue)
        };
        if unset("input") && !io.inputs.is_empty() {
            args.input = io.inputs;
        }
        if unset("listen") && !io.listen.is_empty() {
            args.listen = io.listen;
        }
        if unset("exclude") && !io.exclude.is_empty() {
            args.exclude = io.exclude;
        }
        if unset("ignore_older") && io.ignore_older.is_some() {
            args.ignore_older = io.ignore_older;
        }
        if unset("follow") {
            args.follow = io.follow.unwrap_or(args.follow);
        }
        if let (true, Some(end)) = (unset("read_from"), io.read_from_end) {
            args.read_from = if end {
                ReadFrom::End
            } else {
                ReadFrom::Beginning
            };
        }
        if unset("checkpoint") && io.checkpoint.is_some() {
            args.checkpoint = io.checkpoint;
        }
        if unset("output") && io.output.is_some() {
            args.output = io.output;
        }
        if let (true, Some(bytes)) = (unset("output_buffer"), io.output_buffer) {
            args.output_buffer = bytes;
        }
        if let (true, Some(drop)) = (unset("when_full"), io.when_full_drop) {
            args.when_full = if drop {
                WhenFull::Drop
            } else {
                WhenFull::Block
            };
        }
        if unset("findings") && io.findings.is_some() {
            args.findings = io.findings;
        }
        if unset("metrics_addr") && io.metrics_addr.is_some() {
            args.metrics_addr = io.metrics_addr;
        }
        if let (true, Some(ttl)) = (unset("workload_series_ttl"), io.workload_series_ttl) {
            args.workload_series_ttl = ttl;
        }
    }
    if args.follow && args.input.is_empty() {
        anyhow::bail!("--follow needs --input (or [input] paths in the config file)");
    }
    Ok(args)
}

fn service_options(
    args: &RunArgs,
    pipe: PipeOptions,
) -> anyhow::Result<logscrub::service::ServiceOptions> {
    use logscrub::source::OrderedInput;
    use logscrub::source::SourceSpec;
    let mut sources = Vec::new();
    // The positional inputs: one source reading them one after another.
    let positional: Vec<OrderedInput> = args
        .inputs
        .iter()
        .map(|path| match path.to_str() {
            Some("-") => OrderedInput::Stdin,
            _ => OrderedInput::File(path.clone()),
        })
        .collect();
    let positional_stdin = positional.contains(&OrderedInput::Stdin);
    if !positional.is_empty() {
        sources.push(SourceSpec::InOrder(positional));
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
    let stdin_reads =
        sources.iter().filter(|s| **s == SourceSpec::Stdin).count() + usize::from(positional_stdin);
    if stdin_reads > 1 {
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
        selection: logscrub::source::select::Selection::new(&args.exclude, args.ignore_older)?,
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

/// `--stats`: one `key=value` line and one line per rule, or, with
/// `--log-format json`, one JSON object with the same numbers.
fn print_stats(stats: &Stats, reloader: &Reloader) {
    use std::sync::atomic::Ordering;
    let (reloads_ok, reloads_failed) = (
        reloader.succeeded.load(Ordering::Relaxed),
        reloader.failed.load(Ordering::Relaxed),
    );
    let by_rule: std::collections::BTreeMap<&str, u64> = stats
        .by_rule
        .iter()
        .filter(|(_, t)| t.redactions > 0)
        .map(|(id, t)| (id.as_str(), t.redactions))
        .collect();
    if logscrub::diag::is_json() {
        logscrub::diag::emit_json(
            "info",
            "run statistics",
            serde_json::json!({
                "lines": stats.lines,
                "bytes_in": stats.bytes_in,
                "bytes_out": stats.bytes_out,
                "failed_closed": stats.failed_closed,
                "dropped": stats.dropped,
                "malformed": stats.malformed,
                "redactions": stats.total_redactions(),
                "reloads_ok": reloads_ok,
                "reloads_failed": reloads_failed,
                "dropped_output_full": stats.dropped_output_full,
                "redactions_by_rule": by_rule,
            }),
        );
        return;
    }
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "lines={} bytes_in={} bytes_out={} failed_closed={} dropped={} malformed={} redactions={} reloads_ok={reloads_ok} reloads_failed={reloads_failed} dropped_output_full={}",
        stats.lines,
        stats.bytes_in,
        stats.bytes_out,
        stats.failed_closed,
        stats.dropped,
        stats.malformed,
        stats.total_redactions(),
        stats.dropped_output_full,
    );
    for (id, n) in by_rule {
        let _ = writeln!(err, "  {id:<24} {n}");
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

fn rules_test(paths: &[PathBuf], engine: &EngineArgs) -> anyhow::Result<u8> {
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
            let got = pipe::scrub_text(&scanner, &PipeOptions::default(), input.as_bytes())?;
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
    Ok(if failed == 0 { 0 } else { 1 })
}

/// `logscrub scan`: see [`logscrub::ci`]. Returns the exit code.
fn scan(args: &ScanArgs) -> anyhow::Result<u8> {
    use logscrub::ci::{self, exit, Baseline};
    let usage = |message: String| {
        logscrub::diag::emit("error", &message);
        Ok(exit::USAGE)
    };
    let mut o = overrides(&args.engine, args.max_line_bytes, args.format.clone());
    // Detection only: actions do not matter; a hash key adds fingerprints.
    o.actions.clear();
    o.fingerprints = true;
    let engine = match config::build(&o) {
        Ok(engine) => engine,
        Err(e) => return usage(format!("configuration: {e}")),
    };
    let mut exclude = Vec::new();
    for pattern in &args.exclude {
        match glob::Pattern::new(pattern) {
            Ok(p) => exclude.push(p),
            Err(e) => return usage(format!("--exclude {pattern}: {e}")),
        }
    }
    let baseline = match &args.baseline {
        None => None,
        Some(path) => match Baseline::load(path) {
            Ok(b) => Some(b),
            Err(e @ ci::baseline::BaselineError::Parse { .. }) => return usage(e.to_string()),
            Err(e) => {
                logscrub::diag::emit("error", &e.to_string());
                return Ok(exit::READ_ERROR);
            }
        },
    };
    let options = ci::ScanOptions {
        paths: args.paths.clone(),
        exclude,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let outcome = ci::scan(&engine, &options, baseline.as_ref());
    for e in &outcome.read_errors {
        logscrub::diag::emit("error", &format!("reading {}: {}", e.input, e.message));
    }
    let mut code = outcome.exit_code();
    if let Some(path) = &args.write_baseline {
        let written = Baseline::from_keys(outcome.findings.iter().map(|f| f.key.clone()));
        if let Err(e) = written.write(path) {
            logscrub::diag::emit("error", &e.to_string());
            return Ok(exit::READ_ERROR);
        }
        logscrub::diag::emit(
            "info",
            &format!(
                "baseline of {} finding(s) written to {}",
                written.len(),
                path.display()
            ),
        );
        if code == exit::FINDINGS {
            code = exit::CLEAN;
        }
    }
    let mut report = Vec::new();
    match args.report_format {
        ReportFormat::Table | ReportFormat::Json => {
            for f in outcome.findings.iter().filter(|f| !f.baselined) {
                if args.report_format == ReportFormat::Table {
                    logscrub::findings::write_row(&mut report, &f.source, &f.record)?;
                } else {
                    logscrub::findings::write_json(&mut report, &f.source, &f.record)?;
                }
            }
        }
        ReportFormat::Sarif => {
            let log = ci::sarif::render(&outcome, &engine.scanner, baseline.is_some(), code);
            serde_json::to_writer_pretty(&mut report, &log)?;
            report.push(b'\n');
        }
    }
    match &args.report_path {
        Some(path) => {
            if let Err(e) = logscrub::report::write_private_atomically(path, &report) {
                logscrub::diag::emit("error", &format!("report {}: {e}", path.display()));
                return Ok(exit::READ_ERROR);
            }
        }
        None => io::stdout().lock().write_all(&report)?,
    }
    let accepted = outcome.findings.len() - outcome.new_findings();
    logscrub::diag::emit(
        "info",
        &format!(
            "{} finding(s){} in {} input(s), {} line(s)",
            outcome.new_findings(),
            if accepted > 0 {
                format!(" and {accepted} accepted in the baseline")
            } else {
                String::new()
            },
            outcome.inputs,
            outcome.lines
        ),
    );
    Ok(code)
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
    let options = PipeOptions {
        max_line_bytes: engine.max_line_bytes,
        overlong: engine.overlong,
        format: engine.format,
        ..PipeOptions::default()
    };
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
        // What a run with this configuration writes: its format and limits.
        let scrubbed = pipe::scrub_text(scanner, &options, line.as_bytes())?;
        writeln!(out, "output: {}", String::from_utf8_lossy(&scrubbed))?;
    }
    Ok(())
}
