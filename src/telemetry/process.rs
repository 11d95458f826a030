//! Process metrics under their standard Prometheus names (CPU seconds,
//! resident and virtual memory, open and maximum file descriptors, start
//! time), read from `/proc/self` at each scrape without any `unsafe`.
//!
//! CPU time (user plus system, all threads) and the start time come from
//! `/proc/self/stat` in clock ticks of `USER_HZ`, which Linux fixes at 100
//! on every architecture logscrub builds for; the start time adds the boot
//! time of `/proc/stat`. Memory comes from `/proc/self/status`, descriptors
//! from counting `/proc/self/fd` and from `/proc/self/limits`. A value that
//! cannot be read (no `/proc`) is left out of the scrape, never made up.

use std::fmt::Write as _;

use super::names;

/// Clock ticks per second in `/proc` (the kernel's fixed `USER_HZ`).
const USER_HZ: f64 = 100.0;

/// One reading of the process.
#[derive(Debug, Default, PartialEq)]
pub struct Reading {
    /// CPU seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual bytes.
    pub virtual_bytes: Option<u64>,
    /// Open descriptors.
    pub open_fds: Option<u64>,
    /// The descriptor limit.
    pub max_fds: Option<u64>,
    /// Start time, Unix seconds.
    pub start_time: Option<f64>,
}

/// Reads the process's figures now.
pub fn read() -> Reading {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces and parentheses).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // stat(5) numbers fields from 1; `state`, field 3, is fields[0].
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse::<u64>()
            .ok()
    });
    Reading {
        cpu_seconds: field(14)
            .zip(field(15))
            .map(|(user, system)| (user + system) as f64 / USER_HZ),
        start_time: boot_time
            .zip(field(22))
            .map(|(boot, ticks)| boot as f64 + ticks as f64 / USER_HZ),
        resident_bytes: status_kib(&status, "VmRSS:").map(|k| k * 1024),
        virtual_bytes: status_kib(&status, "VmSize:").map(|k| k * 1024),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64),
        max_fds: std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| soft_limit(&l, "Max open files")),
    }
}

/// A `Key:   N kB` line of `/proc/self/status`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The soft limit of a `/proc/self/limits` row.
fn soft_limit(limits: &str, name: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Appends the process metrics in Prometheus text format.
pub fn render(out: &mut String) {
    let r = read();
    let mut metric = |name: &str, kind: &str, help: &str, value: Option<String>| {
        if let Some(value) = value {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    };
    metric(
        names::PROCESS_CPU,
        "counter",
        "Total user and system CPU time spent in seconds.",
        r.cpu_seconds.map(|v| format!("{v:.6}")),
    );
    metric(
        names::PROCESS_RESIDENT_MEMORY,
        "gauge",
        "Resident memory size in bytes.",
        r.resident_bytes.map(|v| v.to_string()),
    );
    metric(
        names::PROCESS_VIRTUAL_MEMORY,
        "gauge",
        "Virtual memory size in bytes.",
        r.virtual_bytes.map(|v| v.to_string()),
    );
    metric(
        names::PROCESS_OPEN_FDS,
        "gauge",
        "Number of open file descriptors.",
        r.open_fds.map(|v| v.to_string()),
    );
    metric(
        names::PROCESS_MAX_FDS,
        "gauge",
        "Maximum number of open file descriptors.",
        r.max_fds.map(|v| v.to_string()),
    );
    metric(
        names::PROCESS_START_TIME,
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        r.start_time.map(|v| format!("{v:.2}")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let before = read();
        // Burn CPU and hold a descriptor: the CPU time moves (polled with a
        // deadline, as the machine may be busy).
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut x = 0u64;
        let after = loop {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            let now = read();
            if now.cpu_seconds > before.cpu_seconds || std::time::Instant::now() > deadline {
                break now;
            }
        };
        assert!(after.cpu_seconds.unwrap() > before.cpu_seconds.unwrap());
        assert!(after.resident_bytes.unwrap() > 1 << 20);
        assert!(after.virtual_bytes.unwrap() >= after.resident_bytes.unwrap());
        assert!(after.open_fds.unwrap() >= 4);
        assert!(after.max_fds.unwrap() >= after.open_fds.unwrap());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = after.start_time.unwrap();
        assert!(
            started <= now + 1.0 && started > now - 3600.0,
            "{started} vs {now}"
        );
        drop(file);
    }

    #[test]
    fn parses_proc_formats() {
        assert_eq!(
            status_kib("Name:\tx\nVmRSS:\t  1234 kB\n", "VmRSS:"),
            Some(1234)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1048576              1048576              files\n";
        assert_eq!(soft_limit(limits, "Max open files"), Some(1048576));
        assert_eq!(
            soft_limit("Max open files unlimited", "Max open files"),
            None
        );
    }
}
