//! Graceful shutdown on SIGTERM and SIGINT.
//!
//! The first signal stops reading: [`StoppableRead`] reports the end of its
//! input at the next read (within [`POLL_INTERVAL`] when it was waiting for
//! data), so every line already read is scrubbed, written and flushed, and
//! the process exits 0. A second signal exits at once (status 1). A
//! watchdog exits with status 1 if draining takes longer than the shutdown
//! timeout (for example when the output is blocked).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use crate::source::stoppable::{StoppableRead, POLL_INTERVAL};

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
