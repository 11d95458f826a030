//! Graceful shutdown on SIGTERM and SIGINT.
//!
//! The first signal stops reading: [`StoppableRead`] reports the end of its
//! input at the next read (within [`POLL_INTERVAL`] when it was waiting for
//! data), so every line already read is scrubbed, written and flushed, and
//! the process exits 0. A second signal exits at once (status 1). A
//! watchdog exits with status 1 if draining takes longer than the shutdown
//! timeout (for example when the output is blocked).

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often a waiting read checks for a shutdown request.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Installs the signal handlers; returns the flag the first signal sets.
pub fn install(timeout: Duration) -> io::Result<Arc<AtomicBool>> {
    let requested = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // The order matters: the conditional exit is checked before the
        // flag is set, so it fires on the second signal only.
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&requested))?;
        signal_hook::flag::register(signal, Arc::clone(&requested))?;
    }
    let watched = Arc::clone(&requested);
    std::thread::Builder::new()
        .name("logscrub-shutdown".into())
        .spawn(move || loop {
            std::thread::sleep(POLL_INTERVAL);
            if watched.load(Ordering::SeqCst) {
                std::thread::sleep(timeout);
                let message = "shutdown timeout reached before the output was drained";
                crate::diag::emit("error", message);
                let _ = crate::report::finish(crate::report::Exit {
                    code: 1,
                    error: Some(message.into()),
                });
                std::process::exit(1);
            }
        })?;
    Ok(requested)
}

/// A reader that ends its input once shutdown is requested. On Unix it
/// waits for data with `poll(2)` so that a quiet pipe does not hold the
/// shutdown up.
pub struct StoppableRead<R> {
    inner: R,
    stop: Arc<AtomicBool>,
    #[cfg(unix)]
    fd: Option<std::os::fd::RawFd>,
}

impl<R: Read> StoppableRead<R> {
    /// Wraps `inner`; `fd`, when given, is polled before each read.
    pub fn new(
        inner: R,
        stop: Arc<AtomicBool>,
        #[cfg(unix)] fd: Option<std::os::fd::RawFd>,
    ) -> StoppableRead<R> {
        StoppableRead {
            inner,
            stop,
            #[cfg(unix)]
            fd,
        }
    }
}

impl<R: Read> Read for StoppableRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(0);
            }
            #[cfg(unix)]
            if let Some(fd) = self.fd {
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, for the duration of the call.
                let ready =
                    unsafe { libc::poll(&mut pfd, 1, POLL_INTERVAL.as_millis() as libc::c_int) };
                if ready == 0
                    || (ready < 0
                        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted)
                {
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
        let mut r = StoppableRead::new(
            &b"abcdef"[..],
            Arc::clone(&stop),
            #[cfg(unix)]
            None,
        );
        let mut buf = [0u8; 3];
        assert_eq!(r.read(&mut buf).unwrap(), 3);
        stop.store(true, Ordering::SeqCst);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
    }
}
