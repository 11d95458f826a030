//! `logscrub scan` as a CI gate, on the real binary: directories with
//! `--exclude`, table/JSON/SARIF reports (SARIF validated against the
//! SARIF 2.1.0 schema), baselines, the documented exit codes, and the same
//! detection as the pipe (`--format`, `--max-line-bytes`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use proptest::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_logscrub");
const KEY: &str = "0123456789abcdef-scan-key";
const SCHEMA: &str = include_str!("data/sarif/sarif-schema-2.1.0.json");

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("logscrub-scan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_in(dir: &Path, args: &[&str], stdin: &[u8], key: bool) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_remove("LOGSCRUB_HASH_KEY")
        .env_remove("LOGSCRUB_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if key {
        cmd.env("LOGSCRUB_HASH_KEY", KEY);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn validate(sarif: &serde_json::Value) -> Vec<String> {
    let mut schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
    // The published schema's `language` patterns (of `run` and
    // `toolComponent`) have a stray `]`, which the meta-schema's `format:
    // regex` check rejects (strict ECMA-262). Replace that pattern, in
    // memory, by what it means; logscrub does not write `language`. Every
    // other keyword and format is checked.
    fn fix(v: &mut serde_json::Value, n: &mut usize) {
        const BROKEN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
        match v {
            serde_json::Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if k == "pattern" && child == BROKEN {
                        *child = serde_json::json!("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$");
                        *n += 1;
                    } else {
                        fix(child, n);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|c| fix(c, n)),
            _ => {}
        }
    }
    let mut fixed = 0;
    fix(&mut schema, &mut fixed);
    assert_eq!(fixed, 2);
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// A tree: findings at several depths, a non-ASCII line, a clean file, an
/// excluded directory and an excluded compressed file.
fn tree(name: &str) -> PathBuf {
    let dir = tempdir(name);
    write(&dir, "logs/app.log", "start\ncard 4111111111111111 ok\n");
    write(
        &dir,
        "logs/deep/er/web.log",
        "naïve café alice@example.com\n",
    );
    write(&dir, "logs/clean.log", "nothing here\n");
    write(&dir, "logs/vendor/lib.log", "4111111111111111\n");
    write(&dir, "logs/old.log.gz", "4111111111111111\n");
    dir
}

#[test]
fn directories_are_walked_in_order_minus_exclusions() {
    let dir = tree("walk");
    let out = run_in(
        &dir,
        &[
            "scan",
            "logs",
            "--exclude",
            "**/vendor",
            "--exclude",
            "*.gz",
        ],
        b"",
        false,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "logs/app.log:2:5-21  pan\nlogs/deep/er/web.log:1:13-30  email\n"
    );
    // Without exclusions the vendored and compressed files are scanned too.
    let out = run_in(&dir, &["scan", "logs"], b"", false);
    assert_eq!(stdout(&out).lines().count(), 4);
    // A named file is scanned even if it matches an exclusion.
    let out = run_in(
        &dir,
        &["scan", "logs/old.log.gz", "--exclude", "*.gz"],
        b"",
        false,
    );
    assert_eq!(stdout(&out), "logs/old.log.gz:1:0-16  pan\n");
}

#[test]
fn exit_codes_are_distinct_and_documented() {
    let dir = tree("codes");
    let code = |args: &[&str]| run_in(&dir, args, b"", false).status.code();
    assert_eq!(code(&["scan", "logs/clean.log"]), Some(0));
    assert_eq!(code(&["scan", "logs"]), Some(1));
    // A read error wins over findings, and the other inputs are scanned.
    let out = run_in(&dir, &["scan", "logs", "missing.log"], b"", false);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("logs/app.log:2:5-21  pan"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.log"));
    // Usage and configuration errors: nothing is scanned.
    for args in [
        &["scan", "--no-such-flag"][..],
        &["scan", "--report-format", "xml", "logs"],
        &["scan", "--format", "yaml", "logs"],
        &["scan", "--exclude", "[", "logs"],
        &["scan", "--disable", "no_such_rule", "logs"],
    ] {
        let out = run_in(&dir, args, b"", false);
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    write(&dir, "bad-baseline.txt", "pan:ok\nnot an identity\n");
    let out = run_in(
        &dir,
        &["scan", "--baseline", "bad-baseline.txt", "logs"],
        b"",
        false,
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad-baseline.txt:2"));
    assert_eq!(
        code(&["scan", "--baseline", "missing.txt", "logs"]),
        Some(2)
    );
    assert_eq!(
        code(&["scan", "--report-path", "no/such/dir/r.sarif", "logs"]),
        Some(2)
    );
    // The run command's usage errors are 64 too; --help and --version 0.
    assert_eq!(code(&["--no-such-flag"]), Some(64));
    assert_eq!(code(&["--help"]), Some(0));
    assert_eq!(code(&["--version"]), Some(0));
}

#[test]
fn sarif_reports_validate_against_the_sarif_2_1_0_schema() {
    let dir = tree("sarif");
    let abs = dir.join("logs/app.log");
    // The test card of app.log is accepted: with a hash key, wherever it is.
    let out = run_in(
        &dir,
        &["scan", "logs/app.log", "--write-baseline", "base.txt"],
        b"",
        true,
    );
    assert_eq!(out.status.code(), Some(0));
    let out = run_in(
        &dir,
        &[
            "scan",
            "logs",
            abs.to_str().unwrap(),
            "missing dir/x.log",
            "-",
            "--baseline",
            "base.txt",
            "--report-format",
            "sarif",
            "--report-path",
            "report.sarif",
        ],
        b"from stdin 4111111111111111\n",
        true,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let text = std::fs::read_to_string(dir.join("report.sarif")).unwrap();
    assert!(!text.contains("4111111111111111") && !text.contains("alice@example.com"));
    let sarif: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors = validate(&sarif);
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
    let run = &sarif["runs"][0];
    assert_eq!(sarif["version"], "2.1.0");
    let results = run["results"].as_array().unwrap();
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
    }
    let located: Vec<(String, u64, u64, u64, String)> = results
        .iter()
        .map(|r| {
            let loc = &r["locations"][0]["physicalLocation"];
            (
                loc["artifactLocation"]["uri"].as_str().unwrap().to_string(),
                loc["region"]["startLine"].as_u64().unwrap(),
                loc["region"]["startColumn"].as_u64().unwrap(),
                loc["region"]["endColumn"].as_u64().unwrap(),
                r["baselineState"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let abs_uri = format!("file://{}", abs.display());
    assert_eq!(
        located,
        vec![
            ("logs/app.log".into(), 2, 6, 22, "unchanged".into()),
            // "naïve café " is 11 code points (13 bytes).
            ("logs/deep/er/web.log".into(), 1, 12, 29, "new".into()),
            ("logs/old.log.gz".into(), 1, 1, 17, "unchanged".into()),
            ("logs/vendor/lib.log".into(), 1, 1, 17, "unchanged".into()),
            (abs_uri, 2, 6, 22, "unchanged".into()),
            ("stdin".into(), 1, 12, 28, "unchanged".into()),
        ]
    );
    assert_eq!(results[0]["suppressions"][0]["kind"], "external");
    assert!(results[1].get("suppressions").is_none());
    // With a hash key the fingerprints are keyed, not places.
    assert!(results[1]["partialFingerprints"]["logscrubFinding/v1"]
        .as_str()
        .unwrap()
        .starts_with("email:"));
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert_eq!(invocation["exitCode"], 2);
    let note = &invocation["toolExecutionNotifications"][0];
    assert_eq!(
        note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "missing%20dir/x.log"
    );
    assert_eq!(
        std::fs::metadata(dir.join("report.sarif"))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .unwrap(),
        0o600
    );

    // The schema check can fail: a log without its version does not pass.
    let mut broken = sarif.clone();
    broken.as_object_mut().unwrap().remove("version");
    assert!(!validate(&broken).is_empty());
    let mut broken = sarif;
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        serde_json::json!(0);
    assert!(!validate(&broken).is_empty());
}

#[test]
fn a_clean_scan_is_valid_sarif_too() {
    let dir = tree("clean");
    let out = run_in(
        &dir,
        &["scan", "logs/clean.log", "--report-format", "sarif"],
        b"",
        false,
    );
    assert_eq!(out.status.code(), Some(0));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(validate(&sarif).is_empty());
    assert_eq!(sarif["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn a_keyed_baseline_survives_moved_lines_and_catches_new_secrets() {
    let dir = tempdir("baseline");
    write(
        &dir,
        "logs/a.log",
        "test card 4111111111111111\nmail alice@example.com\n",
    );
    let out = run_in(
        &dir,
        &["scan", "logs", "--write-baseline", "baseline.txt"],
        b"",
        true,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let baseline = std::fs::read_to_string(dir.join("baseline.txt")).unwrap();
    assert!(baseline.starts_with("# logscrub scan baseline v1\n"));
    assert!(!baseline.contains("4111111111111111") && !baseline.contains("alice@"));
    assert_eq!(baseline.lines().filter(|l| !l.starts_with('#')).count(), 2);

    // The same values on other lines and in another file: still accepted.
    write(
        &dir,
        "logs/a.log",
        "new first line\nmail alice@example.com\ntest card 4111111111111111\n",
    );
    write(&dir, "logs/b.log", "again 4111111111111111\n");
    let out = run_in(
        &dir,
        &["scan", "logs", "--baseline", "baseline.txt"],
        b"",
        true,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    // A new value fails the gate, and only it is reported.
    write(
        &dir,
        "logs/b.log",
        "again 4111111111111111 and 5555555555554444\n",
    );
    let out = run_in(
        &dir,
        &["scan", "logs", "--baseline", "baseline.txt"],
        b"",
        true,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out).lines().count(), 1);
    assert!(stdout(&out).starts_with("logs/b.log:1:27-43  pan  "));

    // Without a key, identities are places: a moved line is new.
    let out = run_in(
        &dir,
        &["scan", "logs/a.log", "--write-baseline", "places.txt"],
        b"",
        false,
    );
    assert_eq!(out.status.code(), Some(0));
    let places = std::fs::read_to_string(dir.join("places.txt")).unwrap();
    assert!(places.contains("pan@logs/a.log:3:10\n"), "{places}");
}

#[test]
fn scan_honours_format_and_max_line_bytes_like_the_pipe() {
    let dir = tempdir("limits");
    let long = format!("{} 4111111111111111\n", "x".repeat(300));
    write(&dir, "long.log", &format!("short 4111111111111111\n{long}"));
    let out = run_in(
        &dir,
        &["scan", "long.log", "--max-line-bytes", "100"],
        b"",
        false,
    );
    assert_eq!(out.status.code(), Some(1));
    let table = stdout(&out);
    assert!(table.contains("long.log:1:6-22  pan\n"), "{table}");
    assert!(
        table.contains("long.log:2:") && table.contains("line_too_long"),
        "{table}"
    );
    // The old name of the input format flag still works.
    let cri = "2024-01-01T00:00:00.000000000Z stdout F card 4111111111111111\n";
    for flag in ["--format", "--input-format"] {
        let out = run_in(&dir, &["scan", flag, "cri"], cri.as_bytes(), false);
        assert_eq!(out.status.code(), Some(1), "{flag}");
    }
}

/// Wrappers of a message in each input format.
fn wrap(format: &str, message: &str) -> String {
    match format {
        "json" => format!("{{\"level\":\"info\",\"msg\":\"{message}\"}}\n"),
        "cri" => format!("2024-01-01T00:00:00.000000000Z stdout F {message}\n"),
        "logfmt" => format!("level=info msg=\"{message}\"\n"),
        _ => format!("{message}\n"),
    }
}

const VALUES: [&str; 6] = [
    "4111111111111111",
    "4111 1111 1111 1111",
    "alice@example.com",
    "sk_live_DdFx4Yrn0YfBvX3zb6C7wZc6",
    "2024-05-01T10:00:00Z",
    "order 12345678",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// For any input format, line limit and mix of values, scan finds
    /// exactly what the pipe redacts or fails closed.
    #[test]
    fn scan_finds_what_the_pipe_redacts(
        format in prop::sample::select(vec!["raw", "json", "cri", "logfmt", "auto"]),
        limit in prop::sample::select(vec![40usize, 80, 1 << 20]),
        picks in proptest::collection::vec((0..VALUES.len(), 0..3usize), 1..12),
    ) {
        let input: String = picks
            .iter()
            .map(|&(v, pad)| wrap(format, &format!("{}{}", "pad ".repeat(pad * 5), VALUES[v])))
            .collect();
        let dir = tempdir("prop");
        let limit = limit.to_string();
        let scan = run_in(&dir, &["scan", "--format", format, "--max-line-bytes", &limit, "--report-format", "json"], input.as_bytes(), false);
        let pipe = run_in(&dir, &["--format", format, "--max-line-bytes", &limit, "--stats", "--log-format", "json"], input.as_bytes(), false);
        prop_assert!(pipe.status.success());
        let stats: serde_json::Value = String::from_utf8(pipe.stderr).unwrap().lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|l| l["message"] == "run statistics").unwrap();
        let expected = stats["redactions"].as_u64().unwrap() + stats["failed_closed"].as_u64().unwrap();
        let found = stdout(&scan).lines().count() as u64;
        prop_assert_eq!(found, expected, "scan:\n{}", stdout(&scan));
        prop_assert_eq!(scan.status.code(), Some(if found > 0 { 1 } else { 0 }));
    }
}
