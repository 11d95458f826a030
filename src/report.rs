//! The run report (`--report PATH`): a JSON summary of one run, for audit
//! evidence (what a PCI review asks for).
//!
//! The report holds the start and end time, the version, the identity of
//! the configuration and of the active rule set (SHA-256 of the config
//! file's bytes and of the active catalog with its policy), the inputs and
//! the output, lines and bytes in and out, redactions per rule, per input
//! and per workload (when the metrics carry `namespace`/`pod`/`container`
//! labels), failed-closed, dropped and malformed lines, errors and reloads.
//!
//! Guarantees:
//! - **Same numbers as the metrics.** The counts are taken from the very
//!   `metrics` calls that feed Prometheus: [`install_recorder`] puts a
//!   recorder in front of the exporter (or alone, without
//!   `--metrics-addr`) that keeps a copy of every counter. Nothing on the
//!   scan path knows about the report.
//! - **Never a secret.** The report holds counts, rule ids, input names,
//!   hashes and times: metric labels are bounded and never text from the
//!   logs, and error messages name files and causes, never log text.
//! - **Atomic and private.** Each write goes to a temporary file in the
//!   same directory (mode 0600), is synced, renamed over `PATH`, and the
//!   directory is synced: a reader sees the previous report or the new one,
//!   never a torn file.
//! - **When.** Written at start-up (so a bad path fails the run at once),
//!   on every SIGUSR1 (`"complete": false`), and at exit (`"complete":
//!   true`, with the exit status), including the shutdown timeout. A
//!   SIGUSR1 after the final write does not replace it.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The version of the report's JSON layout.
pub const REPORT_VERSION: u32 = 1;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing or renaming the report file failed.
    #[error("run report {path}: {source}")]
    Write {
        /// The report's path.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A metrics recorder was already installed.
    #[error("run report: a metrics recorder is already installed")]
    Recorder,
    /// `--report` was given twice in one process.
    #[error("run report: already started")]
    AlreadyStarted,
}

/// What identifies the configuration of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The config file, if any.
    pub config_file: Option<String>,
    /// SHA-256 of the config file's bytes (hex), if any.
    pub config_sha256: Option<String>,
    /// SHA-256 of the active catalog and its policy (see [`crate::scan::Scanner::catalog_sha256`]).
    pub catalog_sha256: String,
    /// Active rules.
    pub rules: usize,
}

impl Identity {
    /// The identity of the active rules (their `catalog_sha256`, see
    /// [`crate::scan::Scanner::catalog_sha256`], and how many) with the
    /// config file `config` (read again to hash it; unreadable means no
    /// hash, which the report shows).
    pub fn of(catalog_sha256: String, rules: usize, config: Option<&Path>) -> Identity {
        Identity {
            config_file: config.map(|p| p.display().to_string()),
            config_sha256: config
                .and_then(|p| std::fs::read(p).ok())
                .map(|b| hex(&Sha256::digest(b))),
            catalog_sha256,
            rules,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One counter series: metric name and sorted labels.
type SeriesKey = (String, Vec<(String, String)>);

/// A copy of every counter the process publishes.
#[derive(Default)]
pub struct Ledger {
    counters: Mutex<BTreeMap<SeriesKey, Arc<AtomicU64>>>,
}

impl Ledger {
    fn series(&self, key: &Key) -> Arc<AtomicU64> {
        let mut labels: Vec<(String, String)> = key
            .labels()
            .map(|l| (l.key().to_string(), l.value().to_string()))
            .collect();
        labels.sort();
        let mut map = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry((key.name().to_string(), labels)).or_default())
    }

    /// Every series of counter `name`: labels and value.
    pub fn counter(&self, name: &str) -> Vec<(Vec<(String, String)>, u64)> {
        let map = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, labels), v)| (labels.clone(), v.load(Ordering::Relaxed)))
            .collect()
    }

    /// The sum of counter `name` over all its series.
    pub fn total(&self, name: &str) -> u64 {
        self.counter(name).iter().map(|(_, v)| v).sum()
    }

    /// Counter `name` summed by the value of `label` (series without it
    /// are left out).
    pub fn by_label(&self, name: &str, label: &str) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (labels, v) in self.counter(name) {
            if let Some((_, value)) = labels.iter().find(|(k, _)| k == label) {
                *out.entry(value.clone()).or_default() += v;
            }
        }
        out
    }
}

/// A counter that counts in the exporter and in the ledger.
struct TeeCounter {
    inner: Counter,
    copy: Arc<AtomicU64>,
}

impl CounterFn for TeeCounter {
    fn increment(&self, value: u64) {
        self.inner.increment(value);
        self.copy.fetch_add(value, Ordering::Relaxed);
    }

    fn absolute(&self, value: u64) {
        self.inner.absolute(value);
        self.copy.fetch_max(value, Ordering::Relaxed);
    }
}

/// A recorder in front of another one, keeping a copy of counters.
struct Tee<R> {
    inner: R,
    ledger: Arc<Ledger>,
}

impl<R: Recorder> Recorder for Tee<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description)
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description)
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description)
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(TeeCounter {
            inner: self.inner.register_counter(key, metadata),
            copy: self.ledger.series(key),
        }))
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.inner.register_histogram(key, metadata)
    }
}

static REPORTER: OnceLock<Arc<Reporter>> = OnceLock::new();

/// Counts `n` on series `name{labels}` in the run report's ledger directly,
/// for counters the exporter does not hold (the redaction series, which
/// the telemetry keeps itself to drop a deleted pod's). No-op without
/// `--report`.
pub fn count_in_ledger(name: &str, labels: &[(&str, &str)], n: u64) {
    let Some(reporter) = REPORTER.get() else {
        return;
    };
    let labels: Vec<metrics::Label> = labels
        .iter()
        .map(|(k, v)| metrics::Label::new(k.to_string(), v.to_string()))
        .collect();
    let key = Key::from_parts(name.to_string(), labels);
    reporter.ledger.series(&key).fetch_add(n, Ordering::Relaxed);
}

/// Installs `inner` as the global metrics recorder, behind a copy into the
/// run report's ledger when `--report` is on ([`start`] was called first).
///
/// # Errors
/// [`ReportError::Recorder`] when a recorder is already installed.
pub fn install_recorder<R: Recorder + Send + Sync + 'static>(inner: R) -> Result<(), ReportError> {
    match REPORTER.get() {
        Some(reporter) => metrics::set_global_recorder(Tee {
            inner,
            ledger: Arc::clone(&reporter.ledger),
        })
        .map_err(|_| ReportError::Recorder),
        None => metrics::set_global_recorder(inner).map_err(|_| ReportError::Recorder),
    }
}

/// What the run is reading and writing, for the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Io {
    /// Inputs as given: files, globs, `-`, listen URLs.
    pub inputs: Vec<String>,
    /// The output URL (`-` is standard output).
    pub output: String,
}

/// The run report's state.
pub struct Reporter {
    path: PathBuf,
    started: SystemTime,
    io: Io,
    identity: Mutex<Identity>,
    ledger: Arc<Ledger>,
    /// Held while writing; `Some` once the final report is written.
    written: Mutex<Option<()>>,
}

/// How the run ended, for the final report.
#[derive(Clone, Debug, Serialize)]
pub struct Exit {
    /// The process exit code.
    pub code: u8,
    /// The error that ended the run, if any (names files and causes, never
    /// log text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Starts the run report: writes a first report to `path` (so a wrong path
/// fails at start-up) and writes a new one on every SIGUSR1.
///
/// Call before [`install_recorder`] so that the counters are copied.
///
/// # Errors
/// The first write failed, the SIGUSR1 handler could not be installed, or
/// a report was already started.
pub fn start(path: PathBuf, io: Io, identity: Identity) -> Result<(), ReportError> {
    let reporter = Arc::new(Reporter {
        path,
        started: SystemTime::now(),
        io,
        identity: Mutex::new(identity),
        ledger: Arc::default(),
        written: Mutex::new(None),
    });
    // The handler first: once the first report exists, SIGUSR1 is safe
    // to send (its default action would end the process).
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGUSR1])
        .map_err(|source| reporter.error(source))?;
    reporter.write(None)?;
    REPORTER
        .set(Arc::clone(&reporter))
        .map_err(|_| ReportError::AlreadyStarted)?;
    let path = reporter.path.display().to_string();
    std::thread::Builder::new()
        .name("logscrub-report".into())
        .spawn(move || {
            for _ in signals.forever() {
                match reporter.write(None) {
                    Ok(()) => crate::diag::emit(
                        "info",
                        &format!("run report written to {}", reporter.path.display()),
                    ),
                    Err(e) => crate::diag::emit("warn", &e.to_string()),
                }
            }
        })
        .map_err(|source| ReportError::Write { path, source })?;
    Ok(())
}

/// Records a new configuration identity (after a successful reload).
pub fn set_identity(identity: Identity) {
    if let Some(r) = REPORTER.get() {
        *r.identity.lock().unwrap_or_else(|e| e.into_inner()) = identity;
    }
}

/// Writes the final report, if `--report` is on. Later SIGUSR1 signals do
/// not replace it.
///
/// # Errors
/// The write failed.
pub fn finish(exit: Exit) -> Result<(), ReportError> {
    match REPORTER.get() {
        Some(r) => r.write(Some(exit)),
        None => Ok(()),
    }
}

#[derive(Serialize)]
struct Document<'a> {
    report_version: u32,
    complete: bool,
    version: &'a str,
    pid: u32,
    started: String,
    ended: Option<String>,
    written: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit: Option<Exit>,
    config: Identity,
    #[serde(flatten)]
    io: &'a Io,
    lines: InOut,
    bytes: InOut,
    lines_by_input: BTreeMap<String, u64>,
    redactions: Redactions,
    failed_closed: Totals,
    dropped: Totals,
    malformed: u64,
    errors: Totals,
    reloads: Reloads,
}

#[derive(Serialize)]
struct InOut {
    #[serde(rename = "in")]
    input: u64,
    #[serde(rename = "out")]
    output: u64,
}

#[derive(Serialize)]
struct Totals {
    total: u64,
    by_reason: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct Redactions {
    total: u64,
    by_rule: BTreeMap<String, u64>,
    by_input: BTreeMap<String, u64>,
    /// `namespace/pod/container` → rule → count.
    by_workload: BTreeMap<String, BTreeMap<String, u64>>,
}

#[derive(Serialize)]
struct Reloads {
    succeeded: u64,
    failed: u64,
}

fn time(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

impl Reporter {
    fn error(&self, source: io::Error) -> ReportError {
        ReportError::Write {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// The report as JSON.
    fn render(&self, exit: Option<Exit>) -> Vec<u8> {
        let l = &self.ledger;
        let now = SystemTime::now();
        let lines_in = l.total("logscrub_lines_total");
        let dropped = l.by_label("logscrub_lines_dropped_total", "reason");
        let dropped_total = dropped.values().sum::<u64>();
        let errors: BTreeMap<String, u64> = l.counter("logscrub_errors_total").into_iter().fold(
            BTreeMap::new(),
            |mut m, (labels, v)| {
                let get = |k: &str| {
                    labels
                        .iter()
                        .find(|(key, _)| key == k)
                        .map_or("", |(_, v)| v.as_str())
                        .to_string()
                };
                *m.entry(format!("{}/{}", get("stage"), get("error_type")))
                    .or_default() += v;
                m
            },
        );
        let mut by_workload: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (labels, v) in l.counter("logscrub_redactions_total") {
            let get = |k: &str| {
                labels
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.as_str())
            };
            if let Some(ns) = get("namespace") {
                let workload = format!(
                    "{ns}/{}/{}",
                    get("pod").unwrap_or(""),
                    get("container").unwrap_or("")
                );
                *by_workload
                    .entry(workload)
                    .or_default()
                    .entry(get("rule").unwrap_or("").to_string())
                    .or_default() += v;
            }
        }
        let reloads = l.by_label("logscrub_config_reloads_total", "result");
        let doc = Document {
            report_version: REPORT_VERSION,
            complete: exit.is_some(),
            version: crate::VERSION,
            pid: std::process::id(),
            started: time(self.started),
            ended: exit.as_ref().map(|_| time(now)),
            written: time(now),
            exit,
            config: self
                .identity
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            io: &self.io,
            lines: InOut {
                input: lines_in,
                output: lines_in.saturating_sub(dropped_total),
            },
            bytes: InOut {
                input: l
                    .by_label("logscrub_bytes_total", "direction")
                    .get("in")
                    .copied()
                    .unwrap_or(0),
                output: l
                    .by_label("logscrub_bytes_total", "direction")
                    .get("out")
                    .copied()
                    .unwrap_or(0),
            },
            lines_by_input: l.by_label("logscrub_lines_total", "source"),
            redactions: Redactions {
                total: l.total("logscrub_redactions_total"),
                by_rule: l.by_label("logscrub_redactions_total", "rule"),
                by_input: l.by_label("logscrub_redactions_total", "source"),
                by_workload,
            },
            failed_closed: Totals {
                total: l.total("logscrub_lines_failed_closed_total"),
                by_reason: l.by_label("logscrub_lines_failed_closed_total", "reason"),
            },
            dropped: Totals {
                total: dropped_total,
                by_reason: dropped,
            },
            malformed: l.total("logscrub_lines_malformed_total"),
            errors: Totals {
                total: errors.values().sum(),
                by_reason: errors,
            },
            reloads: Reloads {
                succeeded: reloads.get("success").copied().unwrap_or(0),
                failed: reloads.get("failure").copied().unwrap_or(0),
            },
        };
        let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Writes the report (final when `exit` is given).
    fn write(&self, exit: Option<Exit>) -> Result<(), ReportError> {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if written.is_some() {
            return Ok(());
        }
        let last = exit.is_some();
        write_private_atomically(&self.path, &self.render(exit)).map_err(|e| self.error(e))?;
        if last {
            *written = Some(());
        }
        Ok(())
    }
}

/// Replaces `path` with `data`: a temporary file (mode 0600) in the same
/// directory, fsync, rename, fsync of the directory.
pub fn write_private_atomically(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        // A leftover temporary file keeps its mode: set it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(data)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reporter(path: PathBuf) -> Reporter {
        Reporter {
            path,
            started: SystemTime::now(),
            io: Io {
                inputs: vec!["app.log".into()],
                output: "-".into(),
            },
            identity: Mutex::new({
                let s = crate::scan::Scanner::builtin();
                Identity::of(s.catalog_sha256(), s.rules().len(), None)
            }),
            ledger: Arc::default(),
            written: Mutex::new(None),
        }
    }

    fn count(ledger: &Ledger, name: &'static str, labels: &[(&'static str, &'static str)], n: u64) {
        let labels: Vec<metrics::Label> = labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, *v))
            .collect();
        ledger
            .series(&Key::from_parts(name, labels))
            .fetch_add(n, Ordering::Relaxed);
    }

    #[test]
    fn the_tee_copies_counters_and_forwards_them() {
        let ledger = Arc::new(Ledger::default());
        let inner = Arc::new(Ledger::default());
        let tee = Tee {
            inner: Tee {
                inner: metrics::NoopRecorder,
                ledger: Arc::clone(&inner),
            },
            ledger: Arc::clone(&ledger),
        };
        metrics::with_local_recorder(&tee, || {
            metrics::counter!("logscrub_redactions_total", "rule" => "pan", "source" => "a")
                .increment(2);
            metrics::counter!("logscrub_redactions_total", "rule" => "pan", "source" => "b")
                .increment(3);
            metrics::counter!("logscrub_redactions_total", "source" => "a", "rule" => "email")
                .increment(1);
        });
        for l in [&ledger, &inner] {
            assert_eq!(l.total("logscrub_redactions_total"), 6);
            assert_eq!(
                l.by_label("logscrub_redactions_total", "rule"),
                BTreeMap::from([("email".to_string(), 1), ("pan".to_string(), 5)])
            );
        }
    }

    #[test]
    fn the_report_sums_the_counters() {
        let dir = std::env::temp_dir().join(format!("logscrub-report-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run.json");
        let r = reporter(path.clone());
        count(
            &r.ledger,
            "logscrub_lines_total",
            &[("source", "app.log")],
            10,
        );
        count(
            &r.ledger,
            "logscrub_bytes_total",
            &[("direction", "in")],
            500,
        );
        count(
            &r.ledger,
            "logscrub_bytes_total",
            &[("direction", "out")],
            450,
        );
        count(
            &r.ledger,
            "logscrub_lines_dropped_total",
            &[("reason", "policy")],
            1,
        );
        count(
            &r.ledger,
            "logscrub_lines_dropped_total",
            &[("reason", "output_full")],
            2,
        );
        count(
            &r.ledger,
            "logscrub_lines_failed_closed_total",
            &[("reason", "too_long")],
            1,
        );
        count(
            &r.ledger,
            "logscrub_redactions_total",
            &[
                ("rule", "pan"),
                ("namespace", "shop"),
                ("pod", "web-1"),
                ("container", "app"),
            ],
            4,
        );
        count(
            &r.ledger,
            "logscrub_errors_total",
            &[("stage", "sending"), ("error_type", "output_unavailable")],
            1,
        );
        count(
            &r.ledger,
            "logscrub_config_reloads_total",
            &[("result", "success")],
            2,
        );
        r.write(None).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["complete"], false);
        assert_eq!(v["lines"]["in"], 10);
        assert_eq!(v["lines"]["out"], 7);
        assert_eq!(v["bytes"]["out"], 450);
        assert_eq!(v["dropped"]["total"], 3);
        assert_eq!(v["failed_closed"]["by_reason"]["too_long"], 1);
        assert_eq!(v["redactions"]["by_workload"]["shop/web-1/app"]["pan"], 4);
        assert_eq!(v["errors"]["by_reason"]["sending/output_unavailable"], 1);
        assert_eq!(v["reloads"]["succeeded"], 2);
        assert_eq!(
            v["config"]["rules"],
            crate::scan::Scanner::builtin().rules().len()
        );
        assert!(v["ended"].is_null());

        r.write(Some(Exit {
            code: 0,
            error: None,
        }))
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["complete"], true);
        assert_eq!(v["exit"]["code"], 0);
        // A snapshot after the final report does not replace it.
        r.write(None).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["complete"], true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_catalog_hash_follows_the_rules_and_the_policy() {
        let builtin = crate::config::build(&Default::default()).unwrap().scanner;
        let again = crate::config::build(&Default::default()).unwrap().scanner;
        assert_eq!(builtin.catalog_sha256(), again.catalog_sha256());
        let o = crate::config::Overrides {
            actions: vec!["pan=mask".into()],
            ..Default::default()
        };
        let masked = crate::config::build(&o).unwrap();
        assert_ne!(builtin.catalog_sha256(), masked.scanner.catalog_sha256());
        let o = crate::config::Overrides {
            disable: vec!["email".into()],
            ..Default::default()
        };
        let fewer = crate::config::build(&o).unwrap();
        assert_ne!(builtin.catalog_sha256(), fewer.scanner.catalog_sha256());
    }

    #[test]
    fn a_write_into_a_missing_directory_fails_naming_the_path() {
        let r = reporter(PathBuf::from("/nonexistent-logscrub-dir/run.json"));
        let e = r.write(None).unwrap_err().to_string();
        assert!(e.contains("/nonexistent-logscrub-dir/run.json"), "{e}");
    }
}
