//! End-to-end tests of the redaction policy, the config file, the rule
//! tooling subcommands and live reload, on the real binary.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{command, run_command, temp_dir, TempDir, BIN};
const KEY: &str = "0123456789abcdef-test-key";

fn tempdir(tag: &str) -> TempDir {
    temp_dir(&format!("policy-{tag}"))
}

fn run(args: &[&str], input: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = command(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_command(cmd, input)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn mask_actions_from_the_command_line() {
    let o = run(
        &["--action", "pan=mask", "--action", "email=mask", "--action", "ssn=mask", "--action", "stripe_key=mask"],
        "card 4111-1111-1111-1111 for alice@example.com ssn 123-45-6789 key sk_live_DdFx4Yrn0YfBvX3zb6C7wZc6\n",
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "card 4111-11**-****-1111 for *****@example.com ssn ***-**-6789 key sk_live_****\n"
    );
}

#[test]
fn cvv_is_always_removed_completely() {
    let o = run(
        &["--action", "cvv=mask", "--action", "cards=hash"],
        "cvv=123 card 4111111111111111\n",
        &[("LOGSCRUB_HASH_KEY", KEY)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("cvv=[CVV_REDACTED] card [CARD:k1:"),
        "{out}"
    );
    assert!(!out.contains("123") && !out.contains("4111"), "{out}");
}

#[test]
fn hash_tokens_are_stable_and_normalised() {
    let input = "a 4111 1111 1111 1111\nb 4111111111111111\nc 5555555555554444\n";
    let args = ["--action", "pan=hash"];
    let first = run(&args, input, &[("LOGSCRUB_HASH_KEY", KEY)]);
    let again = run(&args, input, &[("LOGSCRUB_HASH_KEY", KEY)]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(first.stdout, again.stdout, "stable across runs");
    let out = stdout(&first);
    let tokens: Vec<&str> = out.lines().map(|l| &l[2..]).collect();
    assert_eq!(tokens[0], tokens[1], "digits-only normalisation");
    assert_ne!(tokens[0], tokens[2]);
    assert!(
        tokens
            .iter()
            .all(|t| t.starts_with("[CARD:k1:") && t.len() == 26),
        "{out}"
    );
    // Another key gives other tokens.
    let other = run(
        &args,
        input,
        &[("LOGSCRUB_HASH_KEY", "another-key-of-16-bytes-or-more")],
    );
    assert_ne!(stdout(&other), out);
}

#[test]
fn hash_without_a_key_is_an_error_and_the_key_never_comes_from_argv() {
    let o = run(&["--action", "pan=hash"], "4111111111111111\n", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("LOGSCRUB_HASH_KEY"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    // A key file works, and the key is never printed.
    let dir = tempdir("keyfile");
    let key = dir.join("key");
    std::fs::write(&key, format!("{KEY}\n")).unwrap();
    let o = run(
        &[
            "--action",
            "pan=hash",
            "--hash-key-file",
            key.to_str().unwrap(),
        ],
        "4111111111111111\n",
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let with_env = run(
        &["--action", "pan=hash"],
        "4111111111111111\n",
        &[("LOGSCRUB_HASH_KEY", KEY)],
    );
    assert_eq!(
        o.stdout, with_env.stdout,
        "file and environment give the same key"
    );
    assert!(!stdout(&o).contains(KEY) && !stderr(&o).contains(KEY));
}

#[test]
fn drop_action_drops_and_counts_lines() {
    let o = run(
        &["--action", "email=drop", "--stats", "--threads", "1"],
        "keep 1\nmail a@b.com\nkeep 2\n",
        &[],
    );
    assert!(o.status.success());
    assert_eq!(stdout(&o), "keep 1\nkeep 2\n");
    assert!(stderr(&o).contains("dropped=1"), "{}", stderr(&o));
}

#[test]
fn disable_by_rule_and_family() {
    let o = run(
        &["--disable", "email", "--disable", "stripe"],
        "a@b.com cus_pXvoccSr2KT89E 4111111111111111\n",
        &[],
    );
    assert_eq!(stdout(&o), "a@b.com cus_pXvoccSr2KT89E [CARD_REDACTED]\n");
    let o = run(&["--disable", "nope"], "x\n", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("\"nope\""), "{}", stderr(&o));
}

fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/logscrub.toml")
}

#[test]
fn the_example_config_works() {
    let cfg = example_config();
    let o = run(
        &["--config", cfg.to_str().unwrap()],
        "card 4111-1111-1111-1111 test 4242 4242 4242 4242 to bob@x.com ops@example.com cus_pXvoccSr2KT89E pm_1NzXy2LkdIwHu7ixAbCdEfGh sess_Q2xhc3NpY1Nlc3Npb25Ub2tl cvv=123\n",
        &[("LOGSCRUB_HASH_KEY", KEY)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("card 4111-11**-****-1111 test 4242 4242 4242 4242 to [EMAIL:k1:"),
        "{out}"
    );
    assert!(
        out.ends_with(" ops@example.com [CUSTOMER_ID_REDACTED] pm_1NzXy2LkdIwHu7ixAbCdEfGh [SESSION_REDACTED] cvv=[CVV_REDACTED]\n"),
        "{out}"
    );
}

#[test]
fn config_errors_name_file_key_and_line() {
    let dir = tempdir("errors");
    let cfg = dir.join("bad.toml");
    std::fs::write(
        &cfg,
        "max_line_bytes = 100\n[actions]\npan = \"mask\"\n[hash]\nkey_idd = \"k2\"\n",
    )
    .unwrap();
    let o = run(&["--config", cfg.to_str().unwrap()], "x\n", &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("bad.toml") && err.contains("key_idd") && err.contains("line 5"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn user_rules_join_the_automaton_and_bad_ones_are_rejected() {
    let dir = tempdir("rules");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "family = \"mine\"\n[[rule]]\nid = \"ticket\"\ndescription = \"d\"\nregex = '''\\bTCK-[0-9]{6}\\b'''\nlabel = \"[TICKET]\"\n",
    )
    .unwrap();
    let o = run(
        &["--patterns", good.to_str().unwrap()],
        "see TCK-123456 and 4111111111111111\n",
        &[],
    );
    assert_eq!(stdout(&o), "see [TICKET] and [CARD_REDACTED]\n");

    for (regex, reason) in [
        ("(unclosed", "regex"),
        ("a*", "empty string"),
        ("a\\\\s+b", "newline"),
    ] {
        let bad = dir.join("bad.toml");
        std::fs::write(
            &bad,
            format!("family = \"mine\"\n[[rule]]\nid = \"broken_rule\"\ndescription = \"d\"\nregex = \"{regex}\"\nlabel = \"[X]\"\n"),
        )
        .unwrap();
        let o = run(&["--patterns", bad.to_str().unwrap()], "x\n", &[]);
        assert_eq!(o.status.code(), Some(2), "{regex}");
        let err = stderr(&o);
        assert!(
            err.contains("bad.toml") && err.contains("broken_rule") && err.contains(reason),
            "{regex}: {err}"
        );
    }
}

#[test]
fn a_pathological_rule_is_rejected_quickly() {
    let dir = tempdir("explode");
    let bad = dir.join("explode.toml");
    std::fs::write(
        &bad,
        "family = \"mine\"\n[[rule]]\nid = \"explode\"\ndescription = \"d\"\nregex = '''\\w{1000}{1000}'''\nlabel = \"[X]\"\n",
    )
    .unwrap();
    let start = Instant::now();
    let o = run(&["--patterns", bad.to_str().unwrap()], "x\n", &[]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("explode") && err.contains("explode.toml") && err.contains("limit"),
        "{err}"
    );
}

#[test]
fn rules_list_shows_actions_and_sources() {
    let cfg = example_config();
    let o = run(
        &["rules", "list", "--config", cfg.to_str().unwrap()],
        "",
        &[("LOGSCRUB_HASH_KEY", KEY)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let line = |id: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or("")
            .to_string()
    };
    assert!(
        line("pan").contains("mask") && line("pan").contains("patterns/cards.toml"),
        "{out}"
    );
    assert!(
        line("email").contains("hash") && line("email").contains("[EMAIL]"),
        "{out}"
    );
    assert!(line("internal_session").contains("internal.toml"), "{out}");
    assert!(
        line("stripe_payment_method").is_empty(),
        "disabled rules are not listed:\n{out}"
    );
}

#[test]
fn rules_test_runs_every_example() {
    let o = run(&["rules", "test"], "", &[]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).trim_end().ends_with(" passed, 0 failed"),
        "{}",
        stdout(&o)
    );

    let dir = tempdir("rulestest");
    let file = dir.join("wrong.toml");
    std::fs::write(
        &file,
        "family = \"mine\"\n[[rule]]\nid = \"ticket\"\ndescription = \"d\"\nregex = '''\\bTCK-[0-9]{6}\\b'''\nlabel = \"[TICKET]\"\nexamples = [{ input = \"TCK-12345\", output = \"[TICKET]\" }]\n",
    )
    .unwrap();
    let o = run(&["rules", "test", file.to_str().unwrap()], "", &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("FAIL ticket") && out.contains("1 failed"),
        "{out}"
    );
}

#[test]
fn explain_shows_candidates_and_verdicts() {
    let o = run(
        &["explain", "ids 5105103577806870 / 5105105105105100"],
        "",
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("rejected (luhn)") && out.contains("accepted"),
        "{out}"
    );
    assert!(
        out.contains("output: ids 5105103577806870 / [CARD_REDACTED]"),
        "{out}"
    );
}

#[cfg(unix)]
fn send_sighup(pid: u32) {
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Streams numbered lines through logscrub while the config changes under
/// it: every line must come out exactly once, in order, scrubbed by the old
/// configuration before the reload and by the new one after; a broken
/// configuration keeps the running one.
#[cfg(unix)]
fn reload_under_load(threads: &str) {
    let dir = tempdir(&format!("reload{threads}"));
    let cfg = dir.join("live.toml");
    std::fs::write(&cfg, "[actions]\nemail = \"label\"\n").unwrap();
    let mut child = Command::new(BIN)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--threads",
            threads,
            "--stats",
        ])
        .env_remove("LOGSCRUB_HASH_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let total = 60_000;
    let cfg2 = cfg.clone();
    let writer = std::thread::spawn(move || {
        for i in 0..total {
            writeln!(stdin, "{i} user{i}@example.com card 4111111111111111").unwrap();
            if i == 20_000 {
                stdin.flush().unwrap();
                std::thread::sleep(Duration::from_millis(300));
                std::fs::write(&cfg2, "[actions]\nemail = \"mask\"\n").unwrap();
                send_sighup(pid);
                std::thread::sleep(Duration::from_millis(300));
            }
            if i == 40_000 {
                stdin.flush().unwrap();
                std::thread::sleep(Duration::from_millis(300));
                std::fs::write(&cfg2, "[actions]\nemail = \"shred\"\n").unwrap();
                send_sighup(pid);
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    });
    writer.join().unwrap();
    let out = reader.join().unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), total, "no line lost or duplicated");
    let mut switched_at = None;
    for (i, line) in lines.iter().enumerate() {
        let (num, rest) = line.split_once(' ').unwrap();
        assert_eq!(num.parse::<usize>().unwrap(), i, "order kept");
        assert!(rest.ends_with(" card [CARD_REDACTED]"), "{line}");
        let masked = rest.starts_with("****");
        match switched_at {
            None if masked => switched_at = Some(i),
            None => assert!(rest.starts_with("[EMAIL_REDACTED]"), "{line}"),
            Some(_) => assert!(masked, "after the reload every line is masked: {line}"),
        }
    }
    let at = switched_at.expect("the reload took effect");
    assert!((20_000..=40_000).contains(&at), "switched at line {at}");
    assert!(err.contains("configuration reloaded"), "{err}");
    assert!(
        err.contains("reload failed") && err.contains("shred"),
        "{err}"
    );
    assert!(err.contains("reloads_ok=1 reloads_failed=1"), "{err}");
}

#[cfg(unix)]
#[test]
fn reload_under_load_sequential() {
    reload_under_load("1");
}

#[cfg(unix)]
#[test]
fn reload_under_load_parallel() {
    reload_under_load("3");
}

/// Every action is idempotent over the whole evaluation set: scrubbing the
/// output again changes nothing (masks and hash tokens are never taken for
/// secrets).
#[test]
fn every_action_is_idempotent_over_the_eval_set() {
    let cases = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eval_public.jsonl"),
    )
    .unwrap();
    let mut input = String::new();
    for line in cases.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        input.push_str(v["text"].as_str().unwrap());
        input.push('\n');
    }
    for action in ["mask", "hash", "label"] {
        let mut args = Vec::new();
        for family in ["keys", "cards", "stripe", "pii", "bank"] {
            args.push("--action".to_string());
            args.push(format!("{family}={action}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let once = run(&args, &input, &[("LOGSCRUB_HASH_KEY", KEY)]);
        assert!(once.status.success(), "{}", stderr(&once));
        let twice = run(&args, &stdout(&once), &[("LOGSCRUB_HASH_KEY", KEY)]);
        let (a, b) = (stdout(&once), stdout(&twice));
        let differ: Vec<(&str, &str)> = a
            .lines()
            .zip(b.lines())
            .filter(|(x, y)| x != y)
            .take(3)
            .collect();
        assert!(differ.is_empty(), "{action}: {differ:#?}");
        assert_eq!(a.lines().count(), b.lines().count());
    }
}
