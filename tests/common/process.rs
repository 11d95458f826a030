//! Process helpers of the integration tests: judging a finished run
//! (success with its standard error shown on failure, its JSON log lines),
//! polling for a state with a deadline instead of sleeping a fixed time,
//! and asking whether a tool is installed.
//!
//! Guarantees: nothing here sleeps as synchronization — [`poll`] retries
//! until its probe succeeds and fails the test, with the last state seen,
//! at its deadline; every failure message carries what the child said.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for a state of a running child by default.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How often [`poll`] asks again.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// Fails the test, showing the child's standard error, unless `out` is a
/// successful exit.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Calls `probe` until it returns `Ok`, every few milliseconds; fails the
/// test after `deadline` with `what` and the last `Err` (the state seen).
pub fn poll<T>(deadline: Duration, what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(value) => return value,
            Err(state) => assert!(
                start.elapsed() < deadline,
                "{what} within {deadline:?}; last seen: {state}"
            ),
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// Each line of `stderr` (written with `--log-format json`) as JSON; fails
/// the test on a line that is not.
pub fn json_lines(stderr: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The JSON log line whose `message` is `message`; fails the test if none.
pub fn logged(stderr: &[u8], message: &str) -> serde_json::Value {
    json_lines(stderr)
        .into_iter()
        .find(|l| l["message"] == message)
        .unwrap_or_else(|| {
            panic!(
                "no {message:?} log line in: {}",
                String::from_utf8_lossy(stderr)
            )
        })
}

/// True when `tool` is on the PATH.
pub fn has_command(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
