//! The run report (`--report PATH`) and `--stats` on the real binary: the
//! report is written at start-up, on SIGUSR1 and at exit, atomically with
//! mode 0600, agrees with `--stats` and with the metrics, follows a reload,
//! and never holds a secret.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use proptest::prelude::*;

mod common;

use common::process::{assert_success, logged, poll, DEADLINE};
use common::{command, run_command, signal, temp_dir, Collected};

fn tempdir(name: &str) -> common::TempDir {
    temp_dir(&format!("report-{name}"))
}

fn read_report(path: &Path) -> Option<serde_json::Value> {
    // Written atomically: any file that is there parses.
    let bytes = std::fs::read(path).ok()?;
    Some(serde_json::from_slice(&bytes).expect("the report is whole JSON"))
}

/// Polls the report until `done` holds, or fails at the deadline.
fn wait_report(path: &Path, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    poll(DEADLINE, "the report matching", || {
        match read_report(path) {
            Some(v) if done(&v) => Ok(v),
            other => Err(format!("{other:?}")),
        }
    })
}

/// Starts the binary with `--report REPORT` and `args`, standard input
/// piped, standard output to `stdout`; returns it with the first report,
/// which is there at start-up.
fn spawn_reporting(
    args: &[&str],
    report: &Path,
    stdout: Stdio,
) -> (std::process::Child, serde_json::Value) {
    let mut all = vec!["--report", report.to_str().unwrap()];
    all.extend_from_slice(args);
    let child = command(&all)
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, wait_report(report, |_| true))
}

/// Asks for a snapshot (SIGUSR1) until the report at `path` satisfies
/// `done`, doing `before` ahead of each ask; fails at the deadline naming
/// `what` with the last report.
fn snapshot_until(
    child: &std::process::Child,
    path: &Path,
    what: &str,
    mut before: impl FnMut(),
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    poll(DEADLINE, what, || {
        before();
        signal(child, "USR1");
        let v = read_report(path).expect("the report exists from start-up");
        if done(&v) {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    })
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Secrets of several rules, one per line, with a line that has none.
const SECRETS: [&str; 5] = [
    "4111111111111111",
    "alice@example.com",
    "sk_live_DdFx4Yrn0YfBvX3zb6C7wZc6",
    "078-05-1120",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
];

fn log() -> String {
    let mut s = String::from("starting\n");
    for secret in SECRETS {
        s.push_str(&format!("user paid ssn {secret} ok\n"));
    }
    s
}

#[test]
fn the_final_report_matches_the_stats_and_holds_no_secret() {
    let dir = tempdir("final");
    let input = dir.join("app.log");
    std::fs::write(&input, log()).unwrap();
    let report = dir.join("run.json");
    let out = command(&[
        "--report",
        report.to_str().unwrap(),
        "--stats",
        "--log-format",
        "json",
        input.to_str().unwrap(),
    ])
    .env("LOGSCRUB_HASH_KEY", "an-audit-key-0123456789")
    .output()
    .unwrap();
    assert_success(&out);
    let text = std::fs::read_to_string(&report).unwrap();
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "secret {secret} in the report:\n{text}"
        );
    }
    assert_eq!(mode(&report), 0o600);
    // Only the report in the directory besides the input: no temporary file.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);

    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let stats = logged(&out.stderr, "run statistics");
    assert_eq!(v["complete"], true);
    assert_eq!(v["exit"]["code"], 0);
    assert!(v["ended"].as_str().unwrap() >= v["started"].as_str().unwrap());
    assert_eq!(v["lines"]["in"], stats["lines"]);
    assert_eq!(v["lines"]["in"], SECRETS.len() as u64 + 1);
    assert_eq!(v["lines"]["out"], stats["lines"]);
    assert_eq!(v["bytes"]["in"], stats["bytes_in"]);
    assert_eq!(v["bytes"]["out"], stats["bytes_out"]);
    assert_eq!(v["redactions"]["total"], stats["redactions"]);
    assert_eq!(v["redactions"]["by_rule"], stats["redactions_by_rule"]);
    assert_eq!(
        v["redactions"]["by_input"][input.to_str().unwrap()],
        stats["redactions"]
    );
    assert_eq!(v["inputs"][0], input.to_str().unwrap());
    assert_eq!(v["version"].as_str().unwrap(), {
        let version = command(&["--version"]).output().unwrap().stdout;
        String::from_utf8(version)
            .unwrap()
            .trim()
            .strip_prefix("logscrub ")
            .unwrap()
            .to_string()
    });
    assert_eq!(v["config"]["catalog_sha256"].as_str().unwrap().len(), 64);
    for key in ["failed_closed", "dropped", "errors"] {
        assert_eq!(v[key]["total"], 0, "{key}");
    }
}

#[test]
fn sigusr1_writes_a_snapshot_and_exit_the_final_report() {
    let dir = tempdir("usr1");
    let report = dir.join("run.json");
    let (mut child, first) = spawn_reporting(&[], &report, Stdio::piped());
    assert_eq!(first["complete"], false);
    assert_eq!(first["lines"]["in"], 0);
    let mut stdin = child.stdin.take().unwrap();
    let reader = Collected::start(child.stdout.take().unwrap());
    stdin.write_all(log().as_bytes()).unwrap();
    stdin.flush().unwrap();
    let expected = SECRETS.len() as u64 + 1;
    // The snapshot: asked for until it shows every line written so far.
    let snapshot = snapshot_until(
        &child,
        &report,
        "a snapshot with every line",
        || {},
        |v| v["lines"]["in"] == expected,
    );
    assert_eq!(snapshot["complete"], false);
    assert!(snapshot["ended"].is_null() && snapshot.get("exit").is_none());
    assert_eq!(snapshot["redactions"]["by_rule"]["pan"], 1);
    assert_eq!(mode(&report), 0o600);
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
    let out = reader.finish();
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count() as u64, expected);
    let last = read_report(&report).unwrap();
    assert_eq!(last["complete"], true);
    assert_eq!(last["started"], first["started"]);
    assert_eq!(last["redactions"]["total"], SECRETS.len() as u64);
}

#[test]
fn a_reload_shows_in_the_report_with_the_new_identity() {
    let dir = tempdir("reload");
    let report = dir.join("run.json");
    let config = dir.join("logscrub.toml");
    std::fs::write(&config, "disable = []\n").unwrap();
    let (mut child, before) = spawn_reporting(
        &["--config", config.to_str().unwrap()],
        &report,
        Stdio::null(),
    );
    assert_eq!(before["config"]["config_file"], config.to_str().unwrap());
    assert_eq!(
        before["config"]["config_sha256"].as_str().unwrap().len(),
        64
    );
    std::fs::write(&config, "disable = [\"email\"]\n").unwrap();
    signal(&child, "HUP");
    let mut stdin = child.stdin.take().unwrap();
    // A reload is taken between batches: keep lines coming until it shows.
    let after = snapshot_until(
        &child,
        &report,
        "the reload showing",
        || {
            stdin.write_all(b"a line\n").unwrap();
            stdin.flush().unwrap();
        },
        |v| v["reloads"]["succeeded"] == 1,
    );
    assert_ne!(
        after["config"]["config_sha256"],
        before["config"]["config_sha256"]
    );
    assert_ne!(
        after["config"]["catalog_sha256"],
        before["config"]["catalog_sha256"]
    );
    assert_eq!(
        after["config"]["rules"].as_u64().unwrap() + 1,
        before["config"]["rules"].as_u64().unwrap()
    );
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn the_report_works_beside_the_metrics_endpoint() {
    let dir = tempdir("metrics");
    let report = dir.join("run.json");
    let out = run_command(
        command(&[
            "--report",
            report.to_str().unwrap(),
            "--metrics-addr",
            "127.0.0.1:0",
        ]),
        log(),
    );
    assert_success(&out);
    let v = read_report(&report).unwrap();
    assert_eq!(v["complete"], true);
    assert_eq!(v["redactions"]["total"], SECRETS.len() as u64);
}

#[test]
fn a_report_path_that_cannot_be_written_fails_at_start_up() {
    let out = command(&["--report", "/nonexistent-logscrub/run.json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent-logscrub/run.json"), "{err}");
}

#[test]
fn an_error_exit_is_in_the_final_report() {
    let dir = tempdir("error");
    let report = dir.join("run.json");
    let out = command(&[
        "--report",
        report.to_str().unwrap(),
        dir.join("missing.log").to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v = read_report(&report).unwrap();
    assert_eq!(v["complete"], true);
    assert_eq!(v["exit"]["code"], 2);
    assert!(v["exit"]["error"].as_str().unwrap().contains("missing.log"));
    assert_eq!(v["errors"]["by_reason"]["receiving/read_failed"], 1);
}

#[test]
fn stats_honour_log_format_text_and_json() {
    let run = |format: &str| {
        let out = run_command(command(&["--stats", "--log-format", format]), log());
        assert_success(&out);
        String::from_utf8(out.stderr).unwrap()
    };
    let text = run("text");
    assert!(
        text.starts_with(&format!("lines={} ", SECRETS.len() + 1)),
        "{text}"
    );
    let json = run("json");
    // Every line of standard error is a JSON object.
    let stats = logged(json.as_bytes(), "run statistics");
    assert_eq!(stats["level"], "info");
    assert_eq!(stats["lines"], SECRETS.len() as u64 + 1);
    assert_eq!(stats["redactions"], SECRETS.len() as u64);
    assert_eq!(stats["redactions_by_rule"]["pan"], 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// Whatever the mix of secret lines, the report has the same counts as
    /// `--stats` and none of the secrets (several rules, any order, any
    /// repeat count).
    #[test]
    fn no_secret_and_the_same_counts_for_any_mix(picks in proptest::collection::vec(0..SECRETS.len(), 0..20)) {
        let dir = tempdir("prop");
        let report = dir.join("run.json");
        let input: String = picks.iter().map(|&i| format!("x {} y\n", SECRETS[i])).collect();
        let out = run_command(
            command(&["--report", report.to_str().unwrap(), "--stats", "--log-format", "json"]),
            input,
        );
        prop_assert!(out.status.success());
        let text = std::fs::read_to_string(&report).unwrap();
        for secret in SECRETS {
            prop_assert!(!text.contains(secret));
        }
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let stats = logged(&out.stderr, "run statistics");
        prop_assert_eq!(&v["lines"]["in"], &stats["lines"]);
        prop_assert_eq!(&v["redactions"]["total"], &stats["redactions"]);
        prop_assert_eq!(v["redactions"]["total"].as_u64().unwrap(), picks.len() as u64);
        prop_assert_eq!(&v["bytes"]["out"], &stats["bytes_out"]);
    }
}
