//! The audit features end to end: `logscrub scan` (detect-only, exit codes,
//! table and JSON reports) and the `--findings` side channel. Neither ever
//! shows a secret.

use std::process::Output;

mod common;
use common::{command, run_command, temp_dir};
const KEY: &str = "0123456789abcdef-audit-key";
const SECRETS: [&str; 4] = [
    "4111111111111111",
    "alice@example.com",
    "sk_live_DdFx4Yrn0YfBvX3zb6C7wZc6",
    "123",
];

fn run(args: &[&str], input: &[u8], key: bool) -> Output {
    let mut cmd = command(args);
    if key {
        cmd.env("LOGSCRUB_HASH_KEY", KEY);
    }
    run_command(cmd, input)
}

fn no_secret(text: &str) {
    for s in SECRETS {
        let needle = if s == "123" { "cvv=123" } else { s };
        assert!(!text.contains(needle), "secret {s} shown:\n{text}");
    }
}

const LOG: &str = "ok line\ncard 4111111111111111 cvv=123\nplain\nmail alice@example.com key sk_live_DdFx4Yrn0YfBvX3zb6C7wZc6\n";

#[test]
fn scan_reports_where_not_what() {
    let out = run(&["scan"], LOG.as_bytes(), false);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        table,
        "standard input:2:5-21  pan\nstandard input:2:26-29  cvv\nstandard input:4:5-22  email\nstandard input:4:27-59  stripe_key\n"
    );
    no_secret(&table);
    no_secret(&String::from_utf8_lossy(&out.stderr));
}

#[test]
fn scan_json_with_fingerprints() {
    let out = run(&["scan", "--report-format", "json"], LOG.as_bytes(), true);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    no_secret(&text);
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 4);
    assert_eq!(records[0]["rule"], "pan");
    assert_eq!(records[0]["line"], 2);
    assert!(records[0]["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("[CARD:k1:"));
    // No fingerprint of a CVV: three digits are a lookup table away.
    assert!(records[1].get("fingerprint").is_none());
    // The same card gives the same fingerprint in another line and format.
    let again = run(
        &["scan", "--report-format", "json"],
        b"{\"pan\": \"4111 1111 1111 1111\"}\n",
        true,
    );
    let other: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(other["fingerprint"], records[0]["fingerprint"]);
}

#[test]
fn scan_exit_codes() {
    assert_eq!(
        run(&["scan"], b"nothing to see\n", false).status.code(),
        Some(0)
    );
    let out = run(&["scan", "/nonexistent/log"], b"", false);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/log"));
}

#[test]
fn findings_side_channel_in_order_with_line_numbers() {
    let dir = temp_dir("audit");
    // Many batches: a card every 1000th line of about 1 MB.
    let mut input = String::new();
    for i in 1..=20_000 {
        if i % 1000 == 0 {
            input.push_str(&format!("line {i} card 4111111111111111\n"));
        } else {
            input.push_str(&format!(
                "line {i} nothing here at all, just padding text\n"
            ));
        }
    }
    for threads in ["1", "3"] {
        let path = dir.join(format!("findings-{threads}.jsonl"));
        let _ = std::fs::remove_file(&path);
        let out = run(
            &["--threads", threads, "--findings", path.to_str().unwrap()],
            input.as_bytes(),
            false,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("4111111111111111"));
        let text = std::fs::read_to_string(&path).unwrap();
        no_secret(&text);
        let lines: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["line"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            lines,
            (1..=20).map(|k| k * 1000).collect::<Vec<u64>>(),
            "threads {threads}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
