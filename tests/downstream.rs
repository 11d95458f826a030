//! A downstream TCP server that goes away for 10 seconds under load and
//! comes back: nothing is lost, memory stays bounded (backpressure pauses
//! the input), and the outage is logged once.

#![cfg(unix)]

mod common;

use std::io::Read;
use std::net::{Shutdown, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// Serves connections one after another on `listener`, appending what it
/// reads to `received`, until `stop` is set; then closes gracefully: half
/// close, read what is still coming until the peer closes, return.
fn serve(
    listener: TcpListener,
    received: Arc<Mutex<Vec<u8>>>,
    lines: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    listener.set_nonblocking(true).unwrap();
    while !stop.load(Ordering::SeqCst) {
        let mut conn = match listener.accept() {
            Ok((c, _)) => c,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut closing = false;
        loop {
            if stop.load(Ordering::SeqCst) && !closing {
                // Graceful stop: no more from us, drain until the peer is done.
                let _ = conn.shutdown(Shutdown::Write);
                closing = true;
                conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            }
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    lines.fetch_add(
                        buf[..n].iter().filter(|&&b| b == b'\n').count() as u64,
                        Ordering::SeqCst,
                    );
                    received.lock().unwrap().extend_from_slice(&buf[..n]);
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if closing {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        if closing {
            return;
        }
    }
}

#[test]
fn downstream_outage_of_ten_seconds_loses_nothing() {
    let dir = temp_dir("downstream");
    let input = dir.join("in.log");
    let total = 1_000_000u64;
    std::fs::write(&input, lines(1, 0, total)).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let first = {
        let (r, c, s) = (Arc::clone(&received), Arc::clone(&count), Arc::clone(&stop));
        std::thread::spawn(move || serve(listener, r, c, s))
    };

    let mut child = spawn(
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            &format!("tcp://{addr}"),
            "--threads",
            "2",
        ],
        &dir,
    );
    let pid = child.id();

    // Under load: stop the server once a fifth of the lines arrived.
    let start = Instant::now();
    while count.load(Ordering::SeqCst) < total / 5 {
        assert!(start.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
    stop.store(true, Ordering::SeqCst);
    first.join().unwrap();
    let at_stop = count.load(Ordering::SeqCst);

    // Down for 10 s: logscrub must wait, not drop and not grow.
    std::thread::sleep(Duration::from_secs(10));
    assert!(
        child.try_wait().unwrap().is_none(),
        "logscrub exited while the output was down: {}",
        stderr_of(&dir)
    );
    let rss_down = peak_rss_kib(pid).unwrap_or(0);

    let listener = TcpListener::bind(addr).expect("rebinding the same port");
    stop.store(false, Ordering::SeqCst);
    let second = {
        let (r, c, s) = (Arc::clone(&received), Arc::clone(&count), Arc::clone(&stop));
        std::thread::spawn(move || serve(listener, r, c, s))
    };
    let status = wait_exit(&mut child, Duration::from_secs(120));
    assert!(status.success(), "{}", stderr_of(&dir));
    // logscrub closed its end: the server sees the end and stops.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    second.join().unwrap();

    let output = received.lock().unwrap().clone();
    let t = tally(&output, &[(1, total)]);
    let log = stderr_of(&dir);
    eprintln!(
        "downstream outage: {at_stop} lines before the stop, peak RSS {rss_down} KiB during it; {t:?}"
    );
    assert_eq!((t.lost, t.leaked, t.foreign), (0, 0, 0), "{t:?}\n{log}");
    assert!(rss_down < 64 * 1024, "peak RSS {rss_down} KiB");
    assert_eq!(
        log.matches("lines wait in the buffer").count(),
        1,
        "the outage is logged once: {log}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
