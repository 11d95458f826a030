//! Metrics, health endpoints and diagnostics on the real binary: the
//! Prometheus counters move with the input, every metric has HELP text,
//! the probes answer, diagnostics can be JSON, and no secret from the input
//! ever appears on stderr or in the metrics.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::BIN;
const SECRETS: [&str; 3] = [
    "4111111111111111",
    "alice@example.com",
    "sk_live_DdFx4Yrn0YfBvX3zb6C7wZc6",
];

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The value of the first sample line starting with `prefix`.
fn sample(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {prefix} in\n{metrics}"))
}

#[test]
fn metrics_and_probes() {
    let mut child = Command::new(BIN)
        .args([
            "--metrics-addr",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--threads",
            "2",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let event: serde_json::Value = serde_json::from_str(&first).unwrap();
    let message = event["message"].as_str().unwrap();
    let addr = message
        .strip_prefix("metrics on http://")
        .and_then(|m| m.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });

    assert_eq!(get(&addr, "/healthz").0, 200);
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..50 {
        writeln!(
            stdin,
            "{i} card {} mail {} key {}",
            SECRETS[0], SECRETS[1], SECRETS[2]
        )
        .unwrap();
        writeln!(stdin, "{i} order 4111111111111112 clean line").unwrap();
    }
    stdin.flush().unwrap();

    // Counters are published per batch: wait for them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let (status, body) = get(&addr, "/metrics");
        assert_eq!(status, 200);
        if body.contains("logscrub_lines_total{source=\"standard input\"} 100")
            || Instant::now() > deadline
        {
            break body;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        sample(&metrics, "logscrub_redactions_total{rule=\"pan\""),
        50.0
    );
    assert_eq!(
        sample(&metrics, "logscrub_redactions_total{rule=\"email\""),
        50.0
    );
    assert_eq!(
        sample(&metrics, "logscrub_redactions_total{rule=\"stripe_key\""),
        50.0
    );
    assert_eq!(
        sample(
            &metrics,
            "logscrub_candidates_rejected_total{rule=\"pan\",reason=\"luhn\"}"
        ),
        50.0
    );
    assert_eq!(
        sample(&metrics, "logscrub_lines_total{source=\"standard input\"}"),
        100.0
    );
    assert!(sample(&metrics, "logscrub_bytes_total{direction=\"in\"}") > 4000.0);
    assert_eq!(sample(&metrics, "logscrub_build_info{version="), 1.0);
    assert!(sample(&metrics, "logscrub_rules_active") > 30.0);
    assert!(metrics.contains("logscrub_scan_duration_seconds_bucket"));
    for name in [
        "logscrub_redactions_total",
        "logscrub_lines_total",
        "logscrub_bytes_total",
        "logscrub_scan_duration_seconds",
        "logscrub_rules_active",
    ] {
        assert!(
            metrics.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
    }
    for s in SECRETS {
        assert!(!metrics.contains(s), "secret in metrics");
    }
    assert_eq!(get(&addr, "/readyz").0, 200);
    assert_eq!(get(&addr, "/nope").0, 404);

    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
    let output = reader.join().unwrap();
    assert_eq!(output.lines().count(), 100);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    for s in SECRETS {
        assert!(!output.contains(s) && !rest.contains(s) && !first.contains(s));
    }
}

#[test]
fn json_diagnostics_and_no_secret_on_stderr() {
    // An error names the input, as JSON, and no secret of the input shows.
    let out = Command::new(BIN)
        .args([
            "--log-format",
            "json",
            "--stats",
            "-",
            "/nonexistent/app.log",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            let mut stdin = c.stdin.take().unwrap();
            writeln!(stdin, "card {} {}", SECRETS[0], SECRETS[1])?;
            drop(stdin);
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let event: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    assert_eq!(event["level"], "error");
    assert!(event["message"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/app.log"));
    for s in SECRETS {
        assert!(!err.contains(s), "{err}");
    }
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("[CARD_REDACTED]"));
}
