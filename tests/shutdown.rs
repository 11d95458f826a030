//! Graceful shutdown: SIGTERM while the input is still open stops reading,
//! writes every line already read, and exits 0 promptly.

#![cfg(unix)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::BIN;

fn sigterm_keeps_every_line_read(threads: &str) {
    let mut child = Command::new(BIN)
        .args(["--threads", threads])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    for i in 0..5000 {
        writeln!(stdin, "{i} card 4111111111111111 ok").unwrap();
    }
    stdin.flush().unwrap();
    // Let it read them, then stop it while the pipe is still open and idle.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(exit.success(), "{exit:?}");
    let out = reader.join().unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5000, "every line read is written");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(*line, format!("{i} card [CARD_REDACTED] ok"));
    }
    drop(stdin);
}

#[test]
fn sigterm_sequential() {
    sigterm_keeps_every_line_read("1");
}

#[test]
fn sigterm_parallel() {
    sigterm_keeps_every_line_read("3");
}
