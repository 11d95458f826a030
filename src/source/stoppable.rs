//! A reader that ends its input once shutdown is requested, so every line
//! already read is still scrubbed and written.
//!
//! A polled reader (standard input, a pipe) waits for data with `poll(2)` at
//! most [`POLL_INTERVAL`] at a time, so a quiet pipe does not hold the
//! shutdown up. The descriptor is borrowed from the reader itself, so it is
//! valid for as long as the reader is.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often a waiting read checks for a shutdown request.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A reader that reports the end of its input once `stop` is set.
pub struct StoppableRead<R> {
    inner: R,
    stop: Arc<AtomicBool>,
    /// The reader's descriptor, polled before each read.
    fd: Option<fn(&R) -> BorrowedFd<'_>>,
}

impl<R: Read> StoppableRead<R> {
    /// Wraps `inner`, checking `stop` before each read (a file, whose reads
    /// never wait for long).
    pub fn new(inner: R, stop: Arc<AtomicBool>) -> StoppableRead<R> {
        StoppableRead {
            inner,
            stop,
            fd: None,
        }
    }
}

impl<R: Read + AsFd> StoppableRead<R> {
    /// Wraps `inner` and waits for it to be readable before each read, in
    /// steps of [`POLL_INTERVAL`], so `stop` is seen while it is quiet.
    pub fn polled(inner: R, stop: Arc<AtomicBool>) -> StoppableRead<R> {
        StoppableRead {
            inner,
            stop,
            fd: Some(|r: &R| r.as_fd()),
        }
    }
}

/// Waits until `fd` is readable (or hung up, or in error: the read that
/// follows reports it) or `timeout` passes; true when it is.
fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: timeout.as_secs() as _,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl<R: Read> Read for StoppableRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(0);
            }
            if let Some(fd) = self.fd {
                // A descriptor poll(2) refuses (some exotic files) is read
                // as it is, like before the poll existed.
                if !wait_readable(fd(&self.inner), POLL_INTERVAL).unwrap_or(true) {
                    continue;
                }
            }
            return self.inner.read(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_next_read() {
        let stop = Arc::new(AtomicBool::new(false));
        let mut r = StoppableRead::new(&b"abcdef"[..], Arc::clone(&stop));
        let mut buf = [0u8; 3];
        assert_eq!(r.read(&mut buf).unwrap(), 3);
        stop.store(true, Ordering::SeqCst);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn a_quiet_pipe_does_not_hold_the_stop_up() {
        let (reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let mut r = StoppableRead::polled(reader, Arc::clone(&stop));
        io::Write::write_all(&mut writer, b"ab").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 2);
        // Nothing more is written and the writer stays open: only the stop
        // ends the read, within a poll interval or so.
        let setter = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                std::thread::sleep(POLL_INTERVAL / 2);
                stop.store(true, Ordering::SeqCst);
            })
        };
        let started = std::time::Instant::now();
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        assert!(started.elapsed() < 20 * POLL_INTERVAL);
        setter.join().unwrap();
        drop(writer);
    }
}
