//! The command line: clap definitions of every subcommand and flag.
//!
//! Parsing only; `main.rs` turns the parsed values into a configuration and
//! runs. Every flag has its `///` help here, which is also what `--help`
//! shows.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    version = logscrub::VERSION,
    about,
    long_about,
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    #[command(flatten)]
    pub(crate) run: RunArgs,

    /// Diagnostics on standard error as `text` or `json` lines.
    #[arg(long, value_name = "FORMAT", default_value = "text", global = true)]
    pub(crate) log_format: LogFormat,
}

/// How diagnostics are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// `logscrub: message`
    Text,
    /// `{"time":…,"level":…,"message":…}`
    Json,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Rule tooling.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Detect only: report where secrets are (input, line, column, rule,
    /// keyed fingerprint with a hash key), never the secret itself: a CI
    /// gate for log samples and fixtures. Lines are read and scanned exactly
    /// as the pipe does (same --format, --max-line-bytes and rules).
    ///
    /// Exit status: 0 nothing found (or only findings in the --baseline),
    /// 1 findings not in the baseline, 2 an input, the baseline or the
    /// report could not be read or written, 64 usage or configuration
    /// error.
    Scan(ScanArgs),
    /// Print a shell completion script for SHELL on standard output, e.g.
    /// `logscrub completions bash > /etc/bash_completion.d/logscrub`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on standard output, e.g. `logscrub man >
    /// /usr/local/share/man/man1/logscrub.1`; with --out-dir, write one
    /// page per command there (logscrub.1, logscrub-scan.1, ...).
    Man {
        /// Write logscrub.1 and a page per subcommand into this directory.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
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
pub(crate) enum ReadFrom {
    /// From their first byte.
    Beginning,
    /// From their current end (only new lines).
    End,
}

/// What a full output buffer does.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WhenFull {
    /// Pause the inputs until there is room.
    Block,
    /// Drop the newest lines and count them.
    Drop,
}

/// How `scan` reports.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReportFormat {
    /// `source:line:start-end  rule  [fingerprint]`
    Table,
    /// One JSON object per finding.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

/// Options of `scan`.
#[derive(Args, Debug)]
pub(crate) struct ScanArgs {
    /// Files and directories to scan (directories recursively, in name
    /// order); standard input when none (or `-`).
    pub(crate) paths: Vec<PathBuf>,

    /// Skip files and directories under a scanned directory whose path
    /// matches this glob (repeatable; `*` also matches `/`), e.g.
    /// `--exclude '*.gz' --exclude '**/vendor'`.
    #[arg(long, value_name = "GLOB")]
    pub(crate) exclude: Vec<String>,

    /// How lines are read: auto, raw, json, docker, cri, logfmt (as for the
    /// pipe) [default: auto, or the config file's].
    #[arg(long, value_name = "FORMAT", alias = "input-format")]
    pub(crate) format: Option<String>,

    /// Lines longer than this many bytes are not scanned and are reported
    /// as `line_too_long` findings [default: 1048576, or the config
    /// file's].
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_line_bytes: Option<usize>,

    /// Report format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "table")]
    pub(crate) report_format: ReportFormat,

    /// Write the report to this file (atomically, mode 0600) instead of
    /// standard output.
    #[arg(long, value_name = "PATH")]
    pub(crate) report_path: Option<PathBuf>,

    /// Accepted findings, one identity per line (as written by
    /// --write-baseline): they are reported as such but do not fail the
    /// scan.
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,

    /// Write every finding's identity to this file as a baseline (keyed
    /// fingerprints when a hash key is set, else places), and exit 0
    /// unless an input could not be read.
    #[arg(long, value_name = "FILE")]
    pub(crate) write_baseline: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

#[derive(Subcommand, Debug)]
pub(crate) enum RulesCommand {
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
pub(crate) struct EngineArgs {
    /// TOML config file (see examples/logscrub.toml).
    #[arg(long, value_name = "PATH", env = "LOGSCRUB_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// Extra pattern file or directory of `*.toml` pattern files
    /// (repeatable).
    #[arg(long, value_name = "PATH")]
    pub(crate) patterns: Vec<PathBuf>,

    /// Action for a rule or family: label, mask, hash or drop (repeatable),
    /// e.g. `--action pan=mask --action email=hash`.
    #[arg(long, value_name = "RULE=ACTION")]
    pub(crate) action: Vec<String>,

    /// Turn off a rule or family (repeatable).
    #[arg(long, value_name = "RULE")]
    pub(crate) disable: Vec<String>,

    /// File holding the HMAC key for the hash action (else the
    /// LOGSCRUB_HASH_KEY environment variable).
    #[arg(long, value_name = "PATH")]
    pub(crate) hash_key_file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct RunArgs {
    /// Input files, read one after another; `-` is standard input.
    #[arg(value_name = "INPUT")]
    pub(crate) inputs: Vec<PathBuf>,

    /// Lines longer than this many bytes are replaced by
    /// [LINE_TOO_LONG_REDACTED] (never passed raw) and counted
    /// [default: 1048576, or the config file's max_line_bytes].
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_line_bytes: Option<usize>,

    /// How lines are read: auto (per line: JSON, CRI, logfmt or raw), raw,
    /// json, docker, cri, logfmt [default: auto, or the config file's].
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: Option<String>,

    /// Scrubbing threads [default: the number of available cores].
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<usize>,

    /// Print line, byte and per-rule counts to standard error at the end.
    #[arg(long)]
    pub(crate) stats: bool,

    /// Serve Prometheus metrics on http://ADDR:PORT/metrics, with /healthz
    /// and /readyz for probes (off by default; e.g. 0.0.0.0:9090).
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) metrics_addr: Option<std::net::SocketAddr>,

    /// How long the redaction series of a Kubernetes workload
    /// (namespace/pod/container labels) are kept after its logs are gone,
    /// so Prometheus scrapes their last value.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub(crate) workload_series_ttl: std::time::Duration,

    /// On SIGTERM/SIGINT, how long to drain (scrub and write what was
    /// read) before giving up with status 1; a second signal exits at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub(crate) shutdown_timeout: u64,

    /// Read files matching this path or glob pattern (repeatable; `-` is
    /// standard input). Inputs are read concurrently, each keeping its own
    /// line order.
    #[arg(long = "input", value_name = "PATH_OR_GLOB")]
    pub(crate) input: Vec<String>,

    /// Do not read files whose path matches this glob (repeatable), e.g.
    /// `/var/log/containers/logscrub-*` for logscrub's own log.
    #[arg(long, value_name = "GLOB")]
    pub(crate) exclude: Vec<String>,

    /// Do not open files (found by --input) last modified longer ago than
    /// this, e.g. `24h`; a file written to again later is picked up.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) ignore_older: Option<std::time::Duration>,

    /// Follow --input files like `tail -F`: keep reading as they grow,
    /// across rotation (rename-and-create, copytruncate), and pick up new
    /// files matching the pattern; runs until SIGTERM/SIGINT.
    #[arg(long)]
    pub(crate) follow: bool,

    /// Where files found at start-up without a checkpoint entry start.
    #[arg(long, value_enum, value_name = "WHERE", default_value = "beginning")]
    pub(crate) read_from: ReadFrom,

    /// Keep per-file positions in this file (saved atomically about every
    /// second and at shutdown) and resume from them on restart.
    #[arg(long, value_name = "PATH")]
    pub(crate) checkpoint: Option<PathBuf>,

    /// Receive lines on a socket (repeatable): tcp://ADDR:PORT (add
    /// ?framing=octet-counting for RFC 6587 syslog framing), udp://ADDR:PORT,
    /// unix:///PATH.
    #[arg(long = "listen", value_name = "URL")]
    pub(crate) listen: Vec<String>,

    /// Where scrubbed lines go: - (standard output), file:///PATH (append,
    /// mode 0600), tcp://HOST:PORT or unix:///PATH (reconnects with backoff).
    #[arg(long, value_name = "URL")]
    pub(crate) output: Option<String>,

    /// Bytes of scrubbed lines that may wait for a slow or unavailable
    /// output before the inputs are paused.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    pub(crate) output_buffer: usize,

    /// When the output buffer is full: block (pause the inputs; nothing is
    /// lost) or drop (drop the newest lines, counted as dropped).
    #[arg(long, value_enum, value_name = "POLICY", default_value = "block")]
    pub(crate) when_full: WhenFull,

    /// Append one JSON line per redaction to this file (time, source, line,
    /// byte span, rule, and a keyed fingerprint when a hash key is set),
    /// never the value. Created with mode 0600.
    #[arg(long, value_name = "PATH")]
    pub(crate) findings: Option<PathBuf>,

    /// Write a JSON summary of the run to this file (mode 0600, replaced
    /// atomically) at start-up, on SIGUSR1 and at exit: times, version,
    /// config and rule-set hashes, inputs, lines and bytes, redactions per
    /// rule and input, failed-closed and dropped lines, errors, reloads.
    /// Never a secret.
    #[arg(long, value_name = "PATH")]
    pub(crate) report: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}
