//! Telemetry: Prometheus metrics (the `metrics` crate and
//! `metrics-exporter-prometheus`) and the health endpoints, served on one
//! small HTTP listener.
//!
//! Counters are published once per batch of lines from the batch's plain
//! integer counts, never per match, so counting costs nothing measurable on
//! the scan path. Without `--metrics-addr` no recorder is installed and the
//! publishing calls are no-ops. Label values are bounded: rule ids, input
//! names, fixed reason words — never text from the logs.
//!
//! Endpoints: `/metrics` (Prometheus text format), `/healthz` (the process
//! is alive) and `/readyz` (rules compiled, the input open, the output
//! writable; 503 otherwise).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
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

/// Installs the Prometheus recorder and serves the endpoints on `addr`.
/// Returns the bound address (useful with port 0).
pub fn serve(addr: SocketAddr, readiness: Readiness) -> io::Result<SocketAddr> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("logscrub_scan_duration_seconds".into()),
            &[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0],
        )
        .map_err(io::Error::other)?
        .build_recorder();
    let handle = recorder.handle();
    // Through the run report, which keeps a copy of the counters.
    crate::report::install_recorder(recorder).map_err(io::Error::other)?;
    describe();
    gauge!("logscrub_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("logscrub-http".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = respond(stream, &handle, &readiness);
            }
        })?;
    Ok(bound)
}

fn describe() {
    describe_counter!("logscrub_redactions_total", "Secrets redacted, by rule.");
    describe_counter!(
        "logscrub_candidates_rejected_total",
        "Candidates the validators turned down (false positives absorbed), by rule and reason."
    );
    describe_counter!("logscrub_lines_total", Unit::Count, "Lines read, by input.");
    describe_counter!(
        "logscrub_bytes_total",
        Unit::Bytes,
        "Bytes read (in) and written (out)."
    );
    describe_counter!(
        "logscrub_lines_failed_closed_total",
        "Lines that could not be scanned and were replaced by a marker, by reason."
    );
    describe_counter!(
        "logscrub_lines_dropped_total",
        "Lines dropped on request, by reason."
    );
    describe_counter!(
        "logscrub_lines_malformed_total",
        "Lines not valid in their structured format, scanned as raw text."
    );
    describe_counter!(
        "logscrub_errors_total",
        "Input, output and configuration errors, by stage and type."
    );
    describe_gauge!(
        "logscrub_output_buffer_lines",
        "Lines scrubbed and waiting to be written in order."
    );
    describe_histogram!(
        "logscrub_scan_duration_seconds",
        Unit::Seconds,
        "Time to scrub one batch of lines."
    );
    describe_gauge!(
        "logscrub_rules_active",
        "Rules in the running configuration."
    );
    describe_counter!(
        "logscrub_config_reloads_total",
        "Configuration reloads, by result."
    );
    describe_gauge!(
        "logscrub_build_info",
        "Build information; the value is always 1."
    );
}

fn respond(stream: TcpStream, handle: &PrometheusHandle, readiness: &Readiness) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.by_ref().take(8192).read_line(&mut request_line)?;
    // Skip the headers.
    let mut header = String::new();
    while reader.by_ref().take(8192).read_line(&mut header)? > 2 {
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let (status, content_type, body) = match path {
        "/metrics" => {
            handle.run_upkeep();
            ("200 OK", "text/plain; version=0.0.4", handle.render())
        }
        "/healthz" => ("200 OK", "text/plain", "ok\n".to_string()),
        "/readyz" if readiness.is_ready() => ("200 OK", "text/plain", "ready\n".to_string()),
        "/readyz" => (
            "503 Service Unavailable",
            "text/plain",
            "not ready\n".to_string(),
        ),
        _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// Publishes one batch's counts. `stats` must be folded by rule id (see
/// [`Stats::fold_by_id`]).
pub fn publish_batch(source: &str, stats: &Stats, duration: Duration) {
    if stats.lines > 0 {
        counter!("logscrub_lines_total", "source" => source.to_string()).increment(stats.lines);
    }
    counter!("logscrub_bytes_total", "direction" => "in").increment(stats.bytes_in);
    counter!("logscrub_bytes_total", "direction" => "out").increment(stats.bytes_out);
    if stats.failed_closed > 0 {
        counter!("logscrub_lines_failed_closed_total", "reason" => "too_long")
            .increment(stats.failed_closed);
    }
    if stats.dropped > 0 {
        counter!("logscrub_lines_dropped_total", "reason" => "policy").increment(stats.dropped);
    }
    if stats.malformed > 0 {
        counter!("logscrub_lines_malformed_total").increment(stats.malformed);
    }
    for (rule, totals) in &stats.by_rule {
        if totals.redactions > 0 {
            counter!("logscrub_redactions_total", "rule" => rule.clone(), "source" => source.to_string())
                .increment(totals.redactions);
        }
        for (i, reason) in ["luhn", "network", "context", "checksum", "allowlist"]
            .iter()
            .enumerate()
        {
            if totals.rejections[i] > 0 {
                counter!("logscrub_candidates_rejected_total", "rule" => rule.clone(), "reason" => *reason)
                    .increment(totals.rejections[i]);
            }
        }
    }
    histogram!("logscrub_scan_duration_seconds").record(duration.as_secs_f64());
}

/// Counts lines dropped for `reason` (not by a rule's drop action).
pub fn count_dropped(reason: &'static str, lines: u64) {
    if lines > 0 {
        counter!("logscrub_lines_dropped_total", "reason" => reason).increment(lines);
    }
}

/// Sets the lines waiting in the output buffer.
pub fn set_output_buffer_lines(lines: u64) {
    gauge!("logscrub_output_buffer_lines").set(lines as f64);
}

/// Sets the number of active rules.
pub fn set_rules_active(rules: usize) {
    gauge!("logscrub_rules_active").set(rules as f64);
}

/// Counts a configuration reload.
pub fn count_reload(ok: bool) {
    counter!("logscrub_config_reloads_total", "result" => if ok { "success" } else { "failure" })
        .increment(1);
}

/// Counts an error: `stage` is receiving, processing or sending.
pub fn count_error(stage: &'static str, error_type: &'static str) {
    counter!("logscrub_errors_total", "stage" => stage, "error_type" => error_type).increment(1);
}
