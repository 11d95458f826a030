//! One flow for every line: what a run does must not depend on which
//! driver carries it. Positional inputs are read in order whether the
//! output is standard output or `--output`, and a SIGHUP reload keeps
//! every stream's state (the `--findings` records and their line numbers)
//! in the sequential pipe, the parallel pipe and the service alike.

#![cfg(unix)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Runs logscrub with `args` and `stdin`; its standard output.
fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // Written from a thread: logscrub may be writing output at the same
    // time, and both pipes have bounded buffers.
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn positional_inputs_keep_their_order_with_an_output() {
    let dir = temp_dir("flow-order");
    let big = dir.join("big.log");
    let short = dir.join("short.log");
    let last = dir.join("last.log");
    // Big enough to span many batches: read concurrently, the short files'
    // lines would land among its lines.
    std::fs::write(&big, lines(1, 0, 60_000)).unwrap();
    // No final newline: the next input's first line must not join it.
    std::fs::write(
        &short,
        "short one 4111 1111 1111 1111\nshort two, unterminated",
    )
    .unwrap();
    std::fs::write(&last, lines(3, 0, 500)).unwrap();
    let stdin = lines(2, 0, 300);
    let out = dir.join("out.log");
    let out_url = format!("file://{}", out.display());
    let paths = |mid: &str| -> Vec<String> {
        vec![
            big.display().to_string(),
            short.display().to_string(),
            mid.to_string(),
            last.display().to_string(),
        ]
    };
    for threads in ["1", "3"] {
        let mut args = paths("-");
        args.extend(["--threads".into(), threads.into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let piped = run_with_stdin(&args, &stdin);
        let mut with_output = args.clone();
        with_output.extend(["--output", &out_url]);
        let _ = std::fs::remove_file(&out);
        assert!(run_with_stdin(&with_output, &stdin).is_empty());
        let written = std::fs::read(&out).unwrap();

        // The order the inputs were given, each whole, scrubbed.
        let text = String::from_utf8(piped.clone()).unwrap();
        let positions: Vec<usize> = [
            "s=1 n=000000000 ",
            "s=1 n=000059999 ",
            "short one [CARD_REDACTED]\nshort two, unterminated\ns=2 n=000000000 ",
            "s=2 n=000000299 ",
            "s=3 n=000000000 ",
            "s=3 n=000000499 ",
        ]
        .iter()
        .map(|needle| text.find(needle).expect(needle))
        .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        assert_eq!(text.lines().count(), 60_000 + 2 + 300 + 500);
        assert!(!text.contains(CARD));

        assert!(
            written == piped,
            "--output differs from standard output ({threads} threads): {} vs {} bytes",
            written.len(),
            piped.len()
        );
    }
}

/// The findings file's records, as (line, rule).
fn records(path: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            (
                v["line"].as_u64().unwrap(),
                v["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Polls `what` every 20 ms until it holds; fails after `timeout`.
fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_reload_keeps_recording_findings() {
    let dir = temp_dir("flow-reload");
    let findings = dir.join("findings.jsonl");
    let out_url = format!("file://{}", dir.join("out.log").display());
    let modes: [(&str, Vec<&str>); 3] = [
        ("sequential pipe", vec!["--threads", "1"]),
        ("parallel pipe", vec!["--threads", "2"]),
        ("service", vec!["--threads", "2", "--output", &out_url]),
    ];
    for (mode, extra) in modes {
        let _ = std::fs::remove_file(&findings);
        let _ = std::fs::remove_file(dir.join("stderr.txt"));
        let stderr = std::fs::File::create(dir.join("stderr.txt")).unwrap();
        let mut child = Command::new(BIN)
            .arg("--findings")
            .arg(&findings)
            .args(&extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let mut written = 0u64;
        let mut send = |line: &str| {
            input.write_all(line.as_bytes()).unwrap();
            input.flush().unwrap();
            written += 1;
            written
        };

        send("before the reload: card 4111 1111 1111 1111\n");
        wait_until(Duration::from_secs(20), "the first record", || {
            records(&findings).len() == 1
        });

        signal(&child, "HUP");
        // The switch happens at a batch boundary: lines keep coming until
        // it is reported.
        let mut n = 0;
        wait_until(Duration::from_secs(20), "the reload", || {
            n += 1;
            send(&format!("filler line {n}\n"));
            std::thread::sleep(Duration::from_millis(30));
            stderr_of(&dir).contains("configuration reloaded")
        });

        let line = send("after the reload: card 5555 5555 5555 4444\n");
        wait_until(Duration::from_secs(20), "a record after the reload", || {
            records(&findings).len() == 2
        });
        drop(input);
        let status = wait_exit(&mut child, Duration::from_secs(20));
        assert!(status.success(), "{mode}: {status:?}");
        assert_eq!(
            records(&findings),
            [(1, "pan".to_string()), (line, "pan".to_string())],
            "{mode}"
        );
    }
}

#[test]
fn explain_shows_what_a_run_writes() {
    let dir = temp_dir("flow-explain");
    let lines = [
        "a long line with card 4111 1111 1111 1111",
        r#"{"password": "hunter2hunter2", "msg": "card 4111111111111111"}"#,
        "user=bob token=ghp_abcdefghijklmnopqrstuvwxyz0123456789 ssn 123-45-6789",
        "2024-01-01T00:00:00.000000000Z stdout F paid 5555 5555 5555 4444",
    ];
    let configs = [
        "",
        "max_line_bytes = 20\n",
        "format = \"raw\"\n",
        "format = \"json\"\n",
        "max_line_bytes = 40\noverlong = \"drop\"\n",
    ];
    for (n, config) in configs.iter().enumerate() {
        let path = dir.join(format!("config-{n}.toml"));
        std::fs::write(&path, config).unwrap();
        let path = path.display().to_string();
        for line in lines {
            let ran = run(&["--config", &path], format!("{line}\n"));
            assert!(ran.status.success(), "{config:?}");
            let explained = run(&["explain", "--config", &path, line], b"");
            assert!(explained.status.success(), "{config:?}");
            let text = String::from_utf8(explained.stdout).unwrap();
            let shown = text
                .lines()
                .find_map(|l| l.strip_prefix("output: "))
                .unwrap_or_else(|| panic!("no output line: {text}"));
            let written = String::from_utf8(ran.stdout).unwrap();
            assert_eq!(
                format!("{shown}\n").trim_start_matches('\n'),
                written,
                "config {config:?}, line {line:?}"
            );
        }
    }
}

/// Two sources read at once (standard input and a file), their chunks
/// interleaved on the way to one scrubbing thread or several: each
/// stream's private-key blocks, which span many chunks, stay redacted,
/// each stream's lines keep their order, and the `--findings` records
/// count each stream's lines on its own.
#[test]
fn concurrent_sources_keep_each_streams_state_at_any_thread_count() {
    let dir = temp_dir("flow-concurrent");
    // A key block every 1000 lines, 150 body lines long: with 256 KiB
    // chunks, blocks cross chunk boundaries in both streams.
    let stream = |tag: &str, n: usize| -> Vec<u8> {
        let mut text = String::new();
        for i in 0..n {
            match i % 1000 {
                10 => text.push_str("-----BEGIN RSA PRIVATE KEY-----\n"),
                11..=160 => text.push_str(&format!("{tag}KEYBODY{i:06}QUJDREVGR0hJSktMTU5PUA==\n")),
                161 => text.push_str("-----END RSA PRIVATE KEY-----\n"),
                _ => text.push_str(&format!("{tag} line {i:06} card {CARD} ok\n")),
            }
        }
        text.into_bytes()
    };
    let file = dir.join("file.log");
    std::fs::write(&file, stream("F", 40_000)).unwrap();
    let stdin = stream("S", 40_000);
    for threads in ["1", "2", "4"] {
        let findings = dir.join(format!("findings-{threads}.jsonl"));
        let out = run_with_stdin(
            &[
                "--input",
                "-",
                "--input",
                &file.display().to_string(),
                "--threads",
                threads,
                "--findings",
                &findings.display().to_string(),
            ],
            &stdin,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains("KEYBODY"),
            "a key body leaked ({threads} threads)"
        );
        assert!(!text.contains(CARD), "a card leaked ({threads} threads)");
        for tag in ["F", "S"] {
            let numbers: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("{tag} line ")))
                .map(|rest| &rest[..6])
                .collect();
            assert_eq!(numbers.len(), 40_000 - 40 * 152, "{tag}, {threads} threads");
            assert!(
                numbers.windows(2).all(|w| w[0] < w[1]),
                "{tag} out of order"
            );
        }
        assert_eq!(text.lines().count(), 80_000);
        // Card findings sit on each stream's own line numbers: the line
        // after a block's end is line 163 of its thousand, in both streams.
        let lines: Vec<u64> = records(&findings)
            .into_iter()
            .filter(|(_, rule)| rule.contains("card") || rule.contains("pan"))
            .map(|(line, _)| line)
            .collect();
        assert_eq!(lines.len(), 2 * (40_000 - 40 * 152), "{threads} threads");
        let mut sorted = lines.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 40_000 - 40 * 152, "each line number twice");
        assert!(sorted.contains(&163) && !sorted.contains(&12) && !sorted.contains(&162));
    }
}
