//! Diagnostics on standard error: one line per event, as text
//! (`logscrub: message`) or, with `--log-format json`, as a JSON object with
//! time, level and message. Messages name inputs, rules and causes, never
//! text from the logs.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// Switches diagnostics to JSON lines.
pub fn set_json(yes: bool) {
    JSON.store(yes, Ordering::Relaxed);
}

/// Whether diagnostics are JSON lines.
pub fn is_json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Writes one JSON diagnostic at `level` with `fields` (an object) after
/// time, level and message. Only for JSON output: see [`is_json`].
pub fn emit_json(level: &str, message: &str, fields: serde_json::Value) {
    let mut line = serde_json::json!({
        "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "level": level,
        "message": message,
    });
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Writes one diagnostic at `level` (info, warn, error).
pub fn emit(level: &str, message: &str) {
    let mut err = std::io::stderr().lock();
    if JSON.load(Ordering::Relaxed) {
        let line = serde_json::json!({
            "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            "level": level,
            "message": message,
        });
        let _ = writeln!(err, "{line}");
    } else {
        let _ = writeln!(err, "logscrub: {message}");
    }
}
