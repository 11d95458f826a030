//! Telemetry: Prometheus metrics (the `metrics` crate and
//! `metrics-exporter-prometheus`) and the health endpoints, served on one
//! small HTTP listener ([`http`]).
//!
//! Counters are published once per batch of lines from the batch's plain
//! integer counts, never per match, so counting costs nothing measurable on
//! the scan path. Without `--metrics-addr` no recorder is installed and the
//! publishing calls are no-ops. Label values are bounded: rule ids, input
//! names, fixed reason words, and Kubernetes workload names read from log
//! paths ([`workloads`], whose series go away with their pods) — never text
//! from the logs. Every name is a constant in [`names`]. The counters of
//! errors, drops, failed-closed and malformed lines exist at 0 from
//! start-up, so an alert on `increase()` sees the first one. Process
//! metrics ([`process`]) are read at each scrape.
//!
//! Endpoints: `/metrics` (Prometheus text format), `/healthz` (the process
//! is alive) and `/readyz` (rules compiled, the input open, the output
//! writable; 503 otherwise).

pub mod http;
pub mod names;
pub mod process;
pub mod workloads;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::stats::Stats;

/// Readiness, as `/readyz` reports it.
#[derive(Clone, Default)]
pub struct Readiness {
    input_open: Arc<AtomicBool>,
    output_ok: Arc<AtomicBool>,
}

impl Readiness {
    /// Marks an input as open (or not).
    pub fn set_input_open(&self, yes: bool) {
        self.input_open.store(yes, Ordering::SeqCst);
    }

    /// Marks the output as writable (or failed).
    pub fn set_output_ok(&self, yes: bool) {
        self.output_ok.store(yes, Ordering::SeqCst);
    }

    fn is_ready(&self) -> bool {
        self.input_open.load(Ordering::SeqCst) && self.output_ok.load(Ordering::SeqCst)
    }
}

/// Installs the Prometheus recorder and serves the endpoints on `addr`;
/// the redaction series of a workload whose logs are gone are dropped after
/// `workload_ttl`. Returns the bound address (useful with port 0).
pub fn serve(
    addr: SocketAddr,
    readiness: Readiness,
    workload_ttl: Duration,
) -> io::Result<SocketAddr> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(names::SCAN_DURATION.into()),
            &[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0],
        )
        .map_err(io::Error::other)?
        .build_recorder();
    let handle = recorder.handle();
    // Through the run report, which keeps a copy of the counters.
    crate::report::install_recorder(recorder).map_err(io::Error::other)?;
    describe();
    zero_counters();
    workloads::enable(workload_ttl);
    gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    http::spawn(listener, move |path| route(path, &handle, &readiness))?;
    Ok(bound)
}

/// Registers the counters alerts watch, at 0.
fn zero_counters() {
    for (stage, error_type) in names::ERROR_KINDS {
        counter!(names::ERRORS, "stage" => *stage, "error_type" => *error_type).increment(0);
    }
    for reason in names::DROP_REASONS {
        counter!(names::LINES_DROPPED, "reason" => *reason).increment(0);
    }
    for reason in names::FAILED_CLOSED_REASONS {
        counter!(names::LINES_FAILED_CLOSED, "reason" => *reason).increment(0);
    }
    counter!(names::LINES_MALFORMED).increment(0);
    for result in names::RELOAD_RESULTS {
        counter!(names::CONFIG_RELOADS, "result" => *result).increment(0);
    }
    for direction in ["in", "out"] {
        counter!(names::BYTES, "direction" => direction).increment(0);
    }
}

fn route(path: &str, handle: &PrometheusHandle, readiness: &Readiness) -> http::Response {
    match path {
        "/metrics" => {
            handle.run_upkeep();
            let mut body = handle.render();
            workloads::render(&mut body);
            process::render(&mut body);
            http::Response {
                status: "200 OK",
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body,
            }
        }
        "/healthz" => http::Response::text("200 OK", "ok\n"),
        "/readyz" if readiness.is_ready() => http::Response::text("200 OK", "ready\n"),
        "/readyz" => http::Response::text("503 Service Unavailable", "not ready\n"),
        _ => http::Response::text("404 Not Found", "not found\n"),
    }
}

fn describe() {
    describe_counter!(
        names::CANDIDATES_REJECTED,
        "Candidates the validators turned down (false positives absorbed), by rule and reason."
    );
    describe_counter!(names::LINES, Unit::Count, "Lines read, by input.");
    describe_counter!(
        names::BYTES,
        Unit::Bytes,
        "Bytes read (in) and written (out)."
    );
    describe_counter!(
        names::LINES_FAILED_CLOSED,
        "Lines that could not be scanned and were replaced by a marker, by reason."
    );
    describe_counter!(names::LINES_DROPPED, "Lines dropped on request, by reason.");
    describe_counter!(
        names::LINES_MALFORMED,
        "Lines not valid in their structured format, scanned as raw text."
    );
    describe_counter!(
        names::ERRORS,
        "Input, output and configuration errors, by stage and type."
    );
    describe_gauge!(
        names::OUTPUT_BUFFER_LINES,
        "Lines scrubbed and waiting to be written in order."
    );
    describe_histogram!(
        names::SCAN_DURATION,
        Unit::Seconds,
        "Time to scrub one batch of lines."
    );
    describe_gauge!(names::RULES_ACTIVE, "Rules in the running configuration.");
    describe_counter!(names::CONFIG_RELOADS, "Configuration reloads, by result.");
    describe_gauge!(
        names::BUILD_INFO,
        "Build information; the value is always 1."
    );
}

/// Publishes one batch's counts. `source` is the input as given (a glob,
/// a listener), `stream` the file or peer within it (whose path may name a
/// Kubernetes workload). `stats` must be folded by rule id (see
/// [`Stats::fold_by_id`]).
pub fn publish_batch(source: &str, stream: &str, stats: &Stats, duration: Duration) {
    if stats.lines > 0 {
        counter!(names::LINES, "source" => source.to_string()).increment(stats.lines);
    }
    counter!(names::BYTES, "direction" => "in").increment(stats.bytes_in);
    counter!(names::BYTES, "direction" => "out").increment(stats.bytes_out);
    if stats.failed_closed > 0 {
        counter!(names::LINES_FAILED_CLOSED, "reason" => "too_long").increment(stats.failed_closed);
    }
    if stats.dropped > 0 {
        counter!(names::LINES_DROPPED, "reason" => "policy").increment(stats.dropped);
    }
    if stats.malformed > 0 {
        counter!(names::LINES_MALFORMED).increment(stats.malformed);
    }
    for (rule, totals) in &stats.by_rule {
        if totals.redactions > 0 {
            workloads::add(rule, source, stream, totals.redactions);
            let workload = crate::workload::Workload::from_path(stream);
            let mut labels = vec![("rule", rule.as_str()), ("source", source)];
            if let Some(w) = &workload {
                labels.push(("namespace", w.namespace.as_str()));
                labels.push(("pod", w.pod.as_str()));
                labels.push(("container", w.container.as_str()));
            }
            crate::report::count_in_ledger(names::REDACTIONS, &labels, totals.redactions);
        }
        for (i, reason) in names::REJECTION_REASONS.iter().enumerate() {
            if totals.rejections[i] > 0 {
                counter!(names::CANDIDATES_REJECTED, "rule" => rule.clone(), "reason" => *reason)
                    .increment(totals.rejections[i]);
            }
        }
    }
    histogram!(names::SCAN_DURATION).record(duration.as_secs_f64());
}

/// Counts lines dropped for `reason` (not by a rule's drop action).
pub fn count_dropped(reason: &'static str, lines: u64) {
    if lines > 0 {
        counter!(names::LINES_DROPPED, "reason" => reason).increment(lines);
    }
}

/// Counts lines failed closed for `reason` (one of
/// [`names::FAILED_CLOSED_REASONS`]) outside the scan itself.
pub fn count_failed_closed(reason: &'static str, lines: u64) {
    if lines > 0 {
        counter!(names::LINES_FAILED_CLOSED, "reason" => reason).increment(lines);
    }
}

/// Sets the lines waiting in the output buffer.
pub fn set_output_buffer_lines(lines: u64) {
    gauge!(names::OUTPUT_BUFFER_LINES).set(lines as f64);
}

/// Sets the number of active rules.
pub fn set_rules_active(rules: usize) {
    gauge!(names::RULES_ACTIVE).set(rules as f64);
}

/// Counts a configuration reload.
pub fn count_reload(ok: bool) {
    counter!(names::CONFIG_RELOADS, "result" => if ok { "success" } else { "failure" })
        .increment(1);
}

/// Counts an error: `stage` is receiving, processing or sending; the pair
/// must be listed in [`names::ERROR_KINDS`] (a unit test checks every call).
pub fn count_error(stage: &'static str, error_type: &'static str) {
    counter!(names::ERRORS, "stage" => stage, "error_type" => error_type).increment(1);
}
