//! Every metric name logscrub exports, and every fixed label value, in one
//! place: the code publishes through these constants, the documentation
//! table and the shipped dashboard and alerts are checked against them
//! (`tests/monitoring.rs`), so a renamed metric cannot silently break a
//! panel or an alert.
//!
//! Names follow Prometheus conventions: `logscrub_<noun>_<unit>_total` for
//! counters, base units, and the standard `process_*` names for process
//! metrics.

/// Secrets redacted, by `rule`, `source` and, for Kubernetes log paths,
/// `namespace`, `pod`, `container`.
pub const REDACTIONS: &str = "logscrub_redactions_total";
/// Candidates the validators turned down, by `rule` and `reason`.
pub const CANDIDATES_REJECTED: &str = "logscrub_candidates_rejected_total";
/// Lines read, by `source`.
pub const LINES: &str = "logscrub_lines_total";
/// Bytes read and written, by `direction`.
pub const BYTES: &str = "logscrub_bytes_total";
/// Lines replaced by a marker because they could not be scanned.
pub const LINES_FAILED_CLOSED: &str = "logscrub_lines_failed_closed_total";
/// Lines dropped, by `reason`.
pub const LINES_DROPPED: &str = "logscrub_lines_dropped_total";
/// Lines not valid in their structured format.
pub const LINES_MALFORMED: &str = "logscrub_lines_malformed_total";
/// Errors, by `stage` and `error_type`.
pub const ERRORS: &str = "logscrub_errors_total";
/// Lines scrubbed and waiting for the output (gauge).
pub const OUTPUT_BUFFER_LINES: &str = "logscrub_output_buffer_lines";
/// Time to scrub one batch (histogram).
pub const SCAN_DURATION: &str = "logscrub_scan_duration_seconds";
/// Rules in the running configuration (gauge).
pub const RULES_ACTIVE: &str = "logscrub_rules_active";
/// Configuration reloads, by `result`.
pub const CONFIG_RELOADS: &str = "logscrub_config_reloads_total";
/// Build information (gauge, always 1), by `version`.
pub const BUILD_INFO: &str = "logscrub_build_info";
/// Workloads with redaction series (gauge): the cardinality in use.
pub const WORKLOAD_SERIES: &str = "logscrub_workloads_tracked";

/// CPU time used, user and system (seconds).
pub const PROCESS_CPU: &str = "process_cpu_seconds_total";
/// Resident memory (bytes).
pub const PROCESS_RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
/// Virtual memory (bytes).
pub const PROCESS_VIRTUAL_MEMORY: &str = "process_virtual_memory_bytes";
/// Open file descriptors.
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
/// The open file descriptor limit.
pub const PROCESS_MAX_FDS: &str = "process_max_fds";
/// When the process started (Unix time, seconds).
pub const PROCESS_START_TIME: &str = "process_start_time_seconds";

/// Every metric name, as a scrape shows it (histograms add `_bucket`,
/// `_sum` and `_count` samples).
pub const ALL: &[&str] = &[
    REDACTIONS,
    CANDIDATES_REJECTED,
    LINES,
    BYTES,
    LINES_FAILED_CLOSED,
    LINES_DROPPED,
    LINES_MALFORMED,
    ERRORS,
    OUTPUT_BUFFER_LINES,
    SCAN_DURATION,
    RULES_ACTIVE,
    CONFIG_RELOADS,
    BUILD_INFO,
    WORKLOAD_SERIES,
    PROCESS_CPU,
    PROCESS_RESIDENT_MEMORY,
    PROCESS_VIRTUAL_MEMORY,
    PROCESS_OPEN_FDS,
    PROCESS_MAX_FDS,
    PROCESS_START_TIME,
];

/// Every `(stage, error_type)` pair of [`ERRORS`]: each series exists at 0
/// from start-up, so `increase()` and alerts see the first error.
pub const ERROR_KINDS: &[(&str, &str)] = &[
    ("receiving", "read_failed"),
    ("receiving", "open_failed"),
    ("receiving", "accept_failed"),
    ("receiving", "connection_failed"),
    ("receiving", "receive_failed"),
    ("receiving", "copytruncate_lost"),
    ("receiving", "compressed_generation_skipped"),
    ("processing", "config_invalid"),
    ("sending", "write_failed"),
    ("sending", "findings_write_failed"),
    ("sending", "output_unavailable"),
    ("sending", "checkpoint_failed"),
    ("sending", "output_ended_mid_line"),
    ("sending", "output_unconfirmed"),
];

/// Every `reason` of [`LINES_DROPPED`].
pub const DROP_REASONS: &[&str] = &["policy", "output_full"];

/// Every `reason` of [`LINES_FAILED_CLOSED`].
pub const FAILED_CLOSED_REASONS: &[&str] = &["too_long", "seam"];

/// Every `reason` of [`CANDIDATES_REJECTED`], in `Stats` order.
pub const REJECTION_REASONS: [&str; 5] = ["luhn", "network", "context", "checksum", "allowlist"];

/// Every `result` of [`CONFIG_RELOADS`].
pub const RELOAD_RESULTS: &[&str] = &["success", "failure"];

#[cfg(test)]
mod tests {
    use super::*;

    /// The quoted arguments of every call to `function` in the crate's
    /// sources.
    fn call_arguments(function: &str) -> Vec<Vec<String>> {
        let mut calls = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let needle = format!("{function}(");
                for (at, _) in text.match_indices(&needle) {
                    let args = &text[at + needle.len()..];
                    let args = &args[..args.find(')').unwrap()];
                    if args.contains(':') {
                        continue; // the definition
                    }
                    calls.push(
                        args.split(',')
                            .filter_map(|a| {
                                let a = a.trim();
                                a.strip_prefix('"')?.strip_suffix('"').map(String::from)
                            })
                            .collect(),
                    );
                }
            }
        }
        calls
    }

    /// Every error and drop the code counts is one that exists at 0 from
    /// start-up: a new call with a new label fails here until it is listed.
    #[test]
    fn counted_labels_are_listed() {
        let errors = call_arguments("count_error");
        assert!(errors.len() >= 8, "{errors:?}");
        for args in errors.iter().filter(|a| a.len() == 2) {
            assert!(
                ERROR_KINDS.contains(&(args[0].as_str(), args[1].as_str())),
                "count_error{args:?} is not in names::ERROR_KINDS"
            );
        }
        for args in call_arguments("count_dropped") {
            if let Some(reason) = args.first() {
                assert!(DROP_REASONS.contains(&reason.as_str()), "{reason}");
            }
        }
    }

    #[test]
    fn names_are_unique_and_conventional() {
        let mut seen = std::collections::HashSet::new();
        for name in ALL {
            assert!(seen.insert(name), "{name} twice");
            assert!(name.starts_with("logscrub_") || name.starts_with("process_"));
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }
}
