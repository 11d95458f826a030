//! A million lines through every input kind (file, stdin, TCP, Unix, UDP)
//! and every output kind (file, TCP, Unix): none lost, duplicated or
//! reordered, every card number redacted. Plus octet-counted framing with
//! garbage, and the counted drop policy.

#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const MILLION: u64 = 1_000_000;

fn assert_clean(t: &Tally, what: &str) {
    assert_eq!(
        (t.lost, t.duplicated, t.reordered, t.leaked, t.foreign),
        (0, 0, 0, 0, 0),
        "{what}: {t:?}"
    );
}

/// Waits for `listening on <scheme>://ADDR` in the stderr log.
fn listening_addr(dir: &Path, scheme: &str) -> String {
    let start = Instant::now();
    let needle = format!("listening on {scheme}://");
    loop {
        let log = stderr_of(dir);
        if let Some(i) = log.find(&needle) {
            let rest = &log[i + needle.len()..];
            return rest.split_whitespace().next().unwrap().to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no listener: {log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs logscrub until `expected` lines arrived on stdout, then SIGTERM.
fn stop_after(child: &mut std::process::Child, out: Collected, expected: u64) -> Vec<u8> {
    let got = out.wait_for(expected, Duration::from_secs(120));
    signal(child, "TERM");
    let status = wait_exit(child, Duration::from_secs(20));
    assert!(status.success(), "exit {status:?} after {got} lines");
    out.finish()
}

#[test]
fn file_input() {
    let dir = temp_dir("in-file");
    let path = dir.join("app.log");
    std::fs::write(&path, lines(1, 0, MILLION)).unwrap();
    let mut child = spawn(&["--input", path.to_str().unwrap()], &dir);
    let out = Collected::start(child.stdout.take().unwrap());
    let status = wait_exit(&mut child, Duration::from_secs(120));
    assert!(status.success(), "{}", stderr_of(&dir));
    assert_clean(&tally(&out.finish(), &[(1, MILLION)]), "file input");
}

#[test]
fn stdin_input() {
    let dir = temp_dir("in-stdin");
    let mut child = Command::new(BIN)
        .args(["--input", "-", "--threads", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for start in (0..MILLION).step_by(10_000) {
            stdin.write_all(&lines(1, start, start + 10_000)).unwrap();
        }
    });
    let out = Collected::start(child.stdout.take().unwrap());
    writer.join().unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(120));
    assert!(status.success());
    assert_clean(&tally(&out.finish(), &[(1, MILLION)]), "stdin input");
    let _ = std::fs::remove_dir_all(dir);
}

/// Sends `per` lines of streams `0..streams`, each on its own connection
/// from `connect`, all at once; returns when all are sent.
fn send_streams<C: Write>(streams: u32, per: u64, connect: impl Fn() -> C + Send + Sync + 'static) {
    let connect = std::sync::Arc::new(connect);
    let senders: Vec<_> = (0..streams)
        .map(|s| {
            let connect = std::sync::Arc::clone(&connect);
            std::thread::spawn(move || {
                let mut conn = connect();
                for start in (0..per).step_by(5_000) {
                    conn.write_all(&lines(s, start, start + 5_000)).unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
}

#[test]
fn tcp_input_many_connections() {
    let dir = temp_dir("in-tcp");
    let mut child = spawn(&["--listen", "tcp://127.0.0.1:0"], &dir);
    let out = Collected::start(child.stdout.take().unwrap());
    let addr = listening_addr(&dir, "tcp");
    let per = MILLION / 4;
    send_streams(4, per, move || TcpStream::connect(&addr).unwrap());
    let output = stop_after(&mut child, out, MILLION);
    let expected: Vec<(u32, u64)> = (0..4).map(|s| (s, per)).collect();
    assert_clean(&tally(&output, &expected), "tcp input");
}

#[test]
fn unix_input_many_connections() {
    let dir = temp_dir("in-unix");
    let socket = dir.join("in.sock");
    let url = format!("unix://{}", socket.display());
    let mut child = spawn(&["--listen", &url], &dir);
    let out = Collected::start(child.stdout.take().unwrap());
    listening_addr(&dir, "unix");
    let per = MILLION / 2;
    let path = socket.clone();
    send_streams(2, per, move || UnixStream::connect(&path).unwrap());
    let output = stop_after(&mut child, out, MILLION);
    assert_clean(&tally(&output, &[(0, per), (1, per)]), "unix input");
    assert!(!socket.exists(), "the socket file is removed at exit");
}

#[test]
fn udp_input() {
    let dir = temp_dir("in-udp");
    let mut child = spawn(&["--listen", "udp://127.0.0.1:0"], &dir);
    let out = Collected::start(child.stdout.take().unwrap());
    let addr = listening_addr(&dir, "udp");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    // UDP has no backpressure: the sender keeps at most 4,000 lines in
    // flight (sent but not yet out of logscrub), as a paced sender would.
    let per_datagram = 20u64;
    let mut sent = 0u64;
    while sent < MILLION {
        while sent - out.count() > 4_000 {
            std::thread::sleep(Duration::from_micros(200));
        }
        // A datagram without its final newline is a whole line too.
        let mut datagram = lines(1, sent, sent + per_datagram);
        datagram.pop();
        socket.send_to(&datagram, &addr).unwrap();
        sent += per_datagram;
    }
    let output = stop_after(&mut child, out, MILLION);
    assert_clean(&tally(&output, &[(1, MILLION)]), "udp input");
}

#[test]
fn tcp_octet_counting_with_garbage() {
    let dir = temp_dir("in-octet");
    let mut child = spawn(
        &[
            "--listen",
            "tcp://127.0.0.1:0?framing=octet-counting",
            "--stats",
        ],
        &dir,
    );
    let out = Collected::start(child.stdout.take().unwrap());
    let addr = listening_addr(&dir, "tcp");
    let count = 200_000u64;
    let mut good = TcpStream::connect(&addr).unwrap();
    let mut bad = TcpStream::connect(&addr).unwrap();
    let mut frames = Vec::new();
    for n in 0..count {
        let l = line(1, n);
        let msg = l.trim_end_matches('\n');
        frames.extend_from_slice(format!("{} {msg}", msg.len()).as_bytes());
        if frames.len() > 1 << 16 {
            good.write_all(&frames).unwrap();
            // Garbage on the other connection meanwhile: no header, and a
            // card number in it that must not come out.
            bad.write_all(format!("oops {CARD} no frame\n").as_bytes())
                .unwrap();
            frames.clear();
        }
    }
    good.write_all(&frames).unwrap();
    drop(good);
    drop(bad);
    let output = stop_after(&mut child, out, count);
    let t = tally(&output, &[(1, count)]);
    assert_eq!(
        (t.lost, t.duplicated, t.reordered, t.leaked),
        (0, 0, 0, 0),
        "{t:?}"
    );
    let text = String::from_utf8_lossy(&output);
    assert_eq!(
        t.foreign as usize,
        text.matches("[LINE_TOO_LONG_REDACTED]").count()
    );
    assert!(t.foreign > 0);
}

/// Starts a TCP collector; returns its address and the collected output.
fn tcp_collector() -> (String, Collected) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || listener.accept().unwrap().0);
    (addr, Collected::start(Accepted::new(handle)))
}

fn output_kind(kind: &str) {
    let dir = temp_dir(&format!("out-{kind}"));
    let input = dir.join("in.log");
    std::fs::write(&input, lines(1, 0, MILLION)).unwrap();
    let (url, collected, file) = match kind {
        "file" => {
            let path = dir.join("out.log");
            (format!("file://{}", path.display()), None, Some(path))
        }
        "tcp" => {
            let (addr, c) = tcp_collector();
            (format!("tcp://{addr}"), Some(c), None)
        }
        _ => {
            let path = dir.join("out.sock");
            let listener = UnixListener::bind(&path).unwrap();
            let handle = std::thread::spawn(move || listener.accept().unwrap().0);
            (
                format!("unix://{}", path.display()),
                Some(Collected::start(Accepted::new(handle))),
                None,
            )
        }
    };
    let mut child = spawn(
        &["--input", input.to_str().unwrap(), "--output", &url],
        &dir,
    );
    let status = wait_exit(&mut child, Duration::from_secs(120));
    assert!(status.success(), "{}", stderr_of(&dir));
    let output = match (collected, file) {
        (Some(c), _) => c.finish(),
        (None, Some(path)) => {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "output file mode");
            std::fs::read(path).unwrap()
        }
        _ => unreachable!(),
    };
    assert_clean(&tally(&output, &[(1, MILLION)]), &format!("{kind} output"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn file_output() {
    output_kind("file");
}

#[test]
fn tcp_output() {
    output_kind("tcp");
}

#[test]
fn unix_output() {
    output_kind("unix");
}

#[test]
fn drop_policy_counts_every_dropped_line() {
    let dir = temp_dir("drop");
    let input = dir.join("in.log");
    let total = 200_000u64;
    std::fs::write(&input, lines(1, 0, total)).unwrap();
    // A destination that accepts the connection but never reads: the
    // kernel buffers fill, then the output buffer, then lines are dropped.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(4));
        let mut conn = conn;
        let mut all = Vec::new();
        conn.read_to_end(&mut all).unwrap();
        all
    });
    let mut child = spawn(
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            &format!("tcp://{addr}"),
            "--output-buffer",
            "65536",
            "--when-full",
            "drop",
            "--stats",
        ],
        &dir,
    );
    let status = wait_exit(&mut child, Duration::from_secs(60));
    assert!(status.success(), "{}", stderr_of(&dir));
    let received = holder.join().unwrap();
    let t = tally(&received, &[(1, total)]);
    let stats = stderr_of(&dir);
    let dropped: u64 = stats
        .split("dropped_output_full=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no drop count: {stats}"));
    assert!(dropped > 0, "{stats}");
    assert_eq!(t.lost, dropped, "every missing line is counted: {t:?}");
    assert_eq!((t.duplicated, t.reordered, t.leaked), (0, 0, 0));
}

#[test]
fn octet_garbage_keeps_its_place_among_cri_lines() {
    let dir = temp_dir("octet-cri");
    let mut child = spawn(
        &["--listen", "tcp://127.0.0.1:0?framing=octet-counting"],
        &dir,
    );
    let out = Collected::start(child.stdout.take().unwrap());
    let addr = listening_addr(&dir, "tcp");
    let mut conn = TcpStream::connect(&addr).unwrap();
    let frame = |m: &str| format!("{} {m}", m.len());
    let p = "2024-04-13T16:22:02.416120330Z stdout P part-one";
    let f = "2024-04-13T16:22:02.416120330Z stdout F end";
    let stream = format!(
        "{}{}garbage here\n{}{}",
        frame("first"),
        frame(p),
        frame(f),
        frame("last")
    );
    conn.write_all(stream.as_bytes()).unwrap();
    drop(conn);
    let output = stop_after(&mut child, out, 5);
    let text = String::from_utf8(output).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        ["first", p, "[LINE_TOO_LONG_REDACTED]", f, "last"],
        "{text}"
    );
}
