//! `logscrub_redactions_total`, kept here rather than in the Prometheus
//! recorder so that its series can be removed: the redactions of a pod
//! are labelled with its `namespace`, `pod` and `container`, and a node
//! sees pods come and go all day.
//!
//! Bounds, as documented in the README:
//! - a workload's series are dropped `ttl` after its logs went away (the
//!   pod's `/var/log/pods/<ns>_<pod>_<uid>` directory, or the
//!   `/var/log/containers` symlink, no longer exists), so series of
//!   deleted pods do not pile up; the `ttl` (default 5 minutes) lets
//!   Prometheus scrape the final value first;
//! - at most [`MAX_WORKLOADS`] workloads have series at once; redactions of
//!   further workloads are counted without workload labels (and reported
//!   once), never lost;
//! - series exist only for rules that redacted something.
//!
//! A recreated pod with the same name (a StatefulSet) continues its series.
//! Liveness is checked at most once per [`SWEEP_INTERVAL`], one `lstat` per
//! workload.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::names;
use crate::workload::Workload;

/// The most workloads with their own series.
pub const MAX_WORKLOADS: usize = 2000;
/// How often workloads are checked for having gone away.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// The default time a gone workload's series are kept.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// Presence paths remembered per workload (a workload read through both
/// layouts has two).
const MAX_PRESENCE_PATHS: usize = 4;

/// `(rule, source)` → count.
type Series = BTreeMap<(String, String), u64>;

struct Tracked {
    series: Series,
    presence: Vec<PathBuf>,
    gone_since: Option<Instant>,
}

/// The redaction series.
pub struct Store {
    ttl: Duration,
    plain: Series,
    workloads: BTreeMap<(String, String, String), Tracked>,
    last_sweep: Option<Instant>,
    overflow_reported: bool,
}

impl Store {
    /// An empty store keeping gone workloads' series for `ttl`.
    pub fn new(ttl: Duration) -> Store {
        Store {
            ttl,
            plain: Series::new(),
            workloads: BTreeMap::new(),
            last_sweep: None,
            overflow_reported: false,
        }
    }

    /// Counts `n` redactions of `rule` in the stream `stream` (a path or
    /// peer) of the input `source`.
    pub fn add(&mut self, rule: &str, source: &str, stream: &str, n: u64, now: Instant) {
        let key = (rule.to_string(), source.to_string());
        let Some(workload) = Workload::from_path(stream) else {
            *self.plain.entry(key).or_default() += n;
            return;
        };
        let wkey = (workload.namespace, workload.pod, workload.container);
        if !self.workloads.contains_key(&wkey) && self.workloads.len() >= MAX_WORKLOADS {
            if !self.overflow_reported {
                self.overflow_reported = true;
                crate::diag::emit(
                    "warn",
                    &format!(
                        "more than {MAX_WORKLOADS} workloads with redactions: further ones are counted without namespace/pod/container labels"
                    ),
                );
            }
            *self.plain.entry(key).or_default() += n;
            return;
        }
        let tracked = self.workloads.entry(wkey).or_insert_with(|| Tracked {
            series: Series::new(),
            presence: Vec::new(),
            gone_since: None,
        });
        *tracked.series.entry(key).or_default() += n;
        tracked.gone_since = None;
        let presence = Workload::presence_path(Path::new(stream));
        if !tracked.presence.contains(&presence) {
            if tracked.presence.len() == MAX_PRESENCE_PATHS {
                tracked.presence.remove(0);
            }
            tracked.presence.push(presence);
        }
        self.sweep(now, false);
    }

    /// Drops the series of workloads gone for `ttl`. Runs at most once per
    /// [`SWEEP_INTERVAL`] unless `force`.
    pub fn sweep(&mut self, now: Instant, force: bool) {
        if !force
            && self
                .last_sweep
                .is_some_and(|t| now.saturating_duration_since(t) < SWEEP_INTERVAL)
        {
            return;
        }
        self.last_sweep = Some(now);
        let ttl = self.ttl;
        self.workloads.retain(|_, t| {
            let present = t
                .presence
                .iter()
                .any(|p| !matches!(std::fs::symlink_metadata(p), Err(e) if e.kind() == std::io::ErrorKind::NotFound));
            if present {
                t.gone_since = None;
                return true;
            }
            let since = *t.gone_since.get_or_insert(now);
            now.saturating_duration_since(since) < ttl
        });
    }

    /// Workloads with series.
    pub fn workloads(&self) -> usize {
        self.workloads.len()
    }

    /// Appends the series in Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP {} Workloads (namespace, pod, container) with redaction series; gone ones are dropped after --workload-series-ttl.\n# TYPE {} gauge\n{} {}",
            names::WORKLOAD_SERIES,
            names::WORKLOAD_SERIES,
            names::WORKLOAD_SERIES,
            self.workloads.len()
        );
        if self.plain.is_empty() && self.workloads.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "# HELP {} Secrets redacted, by rule, input and (for Kubernetes log paths) workload.\n# TYPE {} counter",
            names::REDACTIONS,
            names::REDACTIONS
        );
        for ((rule, source), n) in &self.plain {
            let _ = writeln!(
                out,
                "{}{{rule=\"{}\",source=\"{}\"}} {n}",
                names::REDACTIONS,
                escape(rule),
                escape(source)
            );
        }
        for ((namespace, pod, container), t) in &self.workloads {
            for ((rule, source), n) in &t.series {
                // Workload names are validated DNS names: no escaping.
                let _ = writeln!(
                    out,
                    "{}{{rule=\"{}\",source=\"{}\",namespace=\"{namespace}\",pod=\"{pod}\",container=\"{container}\"}} {n}",
                    names::REDACTIONS,
                    escape(rule),
                    escape(source)
                );
            }
        }
    }
}

/// A label value in the text format: `\`, `"` and line feeds escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static STORE: Mutex<Option<Store>> = Mutex::new(None);

/// Starts keeping series (when the metrics endpoint is served).
pub fn enable(ttl: Duration) {
    if let Ok(mut store) = STORE.lock() {
        *store = Some(Store::new(ttl));
        ENABLED.store(true, Ordering::SeqCst);
    }
}

/// Counts redactions (no-op unless enabled).
pub fn add(rule: &str, source: &str, stream: &str, n: u64) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    if let Ok(mut store) = STORE.lock() {
        if let Some(store) = store.as_mut() {
            store.add(rule, source, stream, n, Instant::now());
        }
    }
}

/// Sweeps and renders the series.
pub fn render(out: &mut String) {
    if let Ok(mut store) = STORE.lock() {
        if let Some(store) = store.as_mut() {
            store.sweep(Instant::now(), true);
            store.render(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("logscrub-workloads-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn series_of_gone_pods_are_dropped_after_the_ttl() {
        let root = tempdir("ttl");
        let pod_dir = root.join("var/log/pods/shop_api-1_0a1b2c3d");
        std::fs::create_dir_all(pod_dir.join("app")).unwrap();
        let log = pod_dir.join("app/0.log");
        std::fs::write(&log, "").unwrap();
        let plain = root.join("app.log");
        let ttl = Duration::from_secs(60);
        let mut store = Store::new(ttl);
        let t0 = Instant::now();
        store.add("pan", "glob", log.to_str().unwrap(), 2, t0);
        store.add("pan", "glob", log.to_str().unwrap(), 1, t0);
        store.add("email", "glob", plain.to_str().unwrap(), 5, t0);
        let mut out = String::new();
        store.render(&mut out);
        assert!(
            out.contains("logscrub_redactions_total{rule=\"pan\",source=\"glob\",namespace=\"shop\",pod=\"api-1\",container=\"app\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("logscrub_redactions_total{rule=\"email\",source=\"glob\"} 5\n"));
        assert!(out.contains("logscrub_workloads_tracked 1\n"));

        // Present: kept however long.
        store.sweep(t0 + 10 * ttl, true);
        assert_eq!(store.workloads(), 1);
        // Gone: kept for the ttl, then dropped; plain series stay.
        std::fs::remove_dir_all(&pod_dir).unwrap();
        let t1 = t0 + 11 * ttl;
        store.sweep(t1, true);
        store.sweep(t1 + ttl / 2, true);
        assert_eq!(store.workloads(), 1);
        store.sweep(t1 + ttl, true);
        assert_eq!(store.workloads(), 0);
        let mut out = String::new();
        store.render(&mut out);
        assert!(!out.contains("namespace="), "{out}");
        assert!(out.contains("rule=\"email\""));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_number_of_workloads_is_bounded() {
        let mut store = Store::new(DEFAULT_TTL);
        let now = Instant::now();
        for i in 0..MAX_WORKLOADS + 10 {
            store.add(
                "pan",
                "g",
                &format!("/nonexistent/pods/ns_pod-{i}_abc1/c/0.log"),
                1,
                now,
            );
        }
        assert_eq!(store.workloads(), MAX_WORKLOADS);
        let mut out = String::new();
        store.render(&mut out);
        // The overflow is counted without workload labels.
        assert!(out.contains("logscrub_redactions_total{rule=\"pan\",source=\"g\"} 10\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut store = Store::new(DEFAULT_TTL);
        store.add("pan", "/logs/\"a\"\\b\n", "x", 1, Instant::now());
        let mut out = String::new();
        store.render(&mut out);
        assert!(out.contains(r#"source="/logs/\"a\"\\b\n"} 1"#), "{out}");
    }
}
