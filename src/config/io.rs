//! The config file's `[input]`, `[output]` and `[metrics]` tables: where
//! lines come from, where they go and where metrics are served, so a
//! manifest can mount one ConfigMap instead of repeating flags.
//!
//! ```toml
//! [input]
//! paths = ["/var/log/containers/*.log"]   # like --input (repeatable)
//! exclude = ["/var/log/containers/logscrub-*"]
//! ignore_older = "24h"
//! follow = true
//! read_from = "end"                        # or "beginning"
//! checkpoint = "/var/lib/logscrub/checkpoint.json"
//! listen = ["tcp://0.0.0.0:5140"]
//!
//! [output]
//! url = "file:///var/log/logscrub/scrubbed.log"
//! buffer_bytes = 8388608
//! when_full = "block"                      # or "drop"
//! findings = "/var/log/logscrub/findings.jsonl"
//!
//! [metrics]
//! addr = "0.0.0.0:9090"
//! workload_series_ttl = "5m"
//! ```
//!
//! Contract: every value is checked when the file is read (unknown keys,
//! bad durations, addresses and words are errors naming the file and key);
//! relative paths are relative to the config file, like `patterns`; a
//! setting given on the command line or in its `LOGSCRUB_…` environment
//! variable wins over the file (a list replaces the file's list, it is not
//! merged). These tables are read at start-up only: SIGHUP reloads rules
//! and policy, not inputs, outputs or the metrics address.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A value of `[input]`, `[output]` or `[metrics]` that is not valid; the
/// message names the config file and the key.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {detail}")]
pub struct IoConfigError {
    /// The config file.
    pub file: String,
    /// The key, e.g. `input.ignore_older`.
    pub key: String,
    /// What is wrong with its value.
    pub detail: String,
}

/// `[input]`, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Paths or glob patterns (`--input`).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Socket URLs (`--listen`).
    #[serde(default)]
    pub listen: Vec<String>,
    /// Globs of files not to read (`--exclude`).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `--ignore-older`, e.g. `"24h"`.
    pub ignore_older: Option<String>,
    /// `--follow`.
    pub follow: Option<bool>,
    /// `--read-from`: `beginning` or `end`.
    pub read_from: Option<String>,
    /// `--checkpoint`.
    pub checkpoint: Option<PathBuf>,
}

/// `[output]`, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// `--output` URL.
    pub url: Option<String>,
    /// `--output-buffer` bytes.
    pub buffer_bytes: Option<usize>,
    /// `--when-full`: `block` or `drop`.
    pub when_full: Option<String>,
    /// `--findings` file.
    pub findings: Option<PathBuf>,
}

/// `[metrics]`, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `--metrics-addr`, e.g. `"0.0.0.0:9090"`.
    pub addr: Option<String>,
    /// `--workload-series-ttl`, e.g. `"5m"`.
    pub workload_series_ttl: Option<String>,
}

/// The three tables, checked, with paths resolved against the config
/// file's folder. `None` and empty lists mean "not set in the file".
#[derive(Debug, Default, PartialEq)]
pub struct RunIo {
    /// `[input] paths`.
    pub inputs: Vec<String>,
    /// `[input] listen`.
    pub listen: Vec<String>,
    /// `[input] exclude`.
    pub exclude: Vec<String>,
    /// `[input] ignore_older`.
    pub ignore_older: Option<Duration>,
    /// `[input] follow`.
    pub follow: Option<bool>,
    /// `[input] read_from = "end"`.
    pub read_from_end: Option<bool>,
    /// `[input] checkpoint`.
    pub checkpoint: Option<PathBuf>,
    /// `[output] url`.
    pub output: Option<String>,
    /// `[output] buffer_bytes`.
    pub output_buffer: Option<usize>,
    /// `[output] when_full = "drop"`.
    pub when_full_drop: Option<bool>,
    /// `[output] findings`.
    pub findings: Option<PathBuf>,
    /// `[metrics] addr`.
    pub metrics_addr: Option<SocketAddr>,
    /// `[metrics] workload_series_ttl`.
    pub workload_series_ttl: Option<Duration>,
}

impl RunIo {
    /// Checks the tables of `file` (read from `path`) and resolves their
    /// relative paths.
    ///
    /// # Errors
    ///
    /// A value that is not valid, naming the file and the key.
    pub fn from_file(
        input: &InputConfig,
        output: &OutputConfig,
        metrics: &MetricsConfig,
        path: &Path,
    ) -> Result<RunIo, IoConfigError> {
        let base = path.parent().unwrap_or(Path::new(""));
        let invalid = |key: &str, detail: String| IoConfigError {
            file: path.display().to_string(),
            key: key.to_string(),
            detail,
        };
        let duration = |key: &str, v: &Option<String>| {
            v.as_deref()
                .map(|d| {
                    humantime::parse_duration(d).map_err(|e| invalid(key, format!("{d:?}: {e}")))
                })
                .transpose()
        };
        let word = |key: &str, v: &Option<String>, yes: &str, no: &str| match v.as_deref() {
            None => Ok(None),
            Some(w) if w == yes => Ok(Some(true)),
            Some(w) if w == no => Ok(Some(false)),
            Some(w) => Err(invalid(key, format!("{w:?} is neither {yes:?} nor {no:?}"))),
        };
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                normalize(&base.join(p))
            }
        };
        let resolve_glob = |p: &String| resolve(Path::new(p)).to_string_lossy().into_owned();
        for pattern in input.paths.iter().chain(&input.exclude) {
            glob::Pattern::new(pattern)
                .map_err(|e| invalid("input", format!("{pattern:?}: {e}")))?;
        }
        if let Some(url) = &output.url {
            if url.is_empty() {
                return Err(invalid("output.url", "empty".into()));
            }
        }
        Ok(RunIo {
            inputs: input.paths.iter().map(resolve_glob).collect(),
            listen: input.listen.clone(),
            exclude: input.exclude.iter().map(resolve_glob).collect(),
            ignore_older: duration("input.ignore_older", &input.ignore_older)?,
            follow: input.follow,
            read_from_end: word("input.read_from", &input.read_from, "end", "beginning")?,
            checkpoint: input.checkpoint.as_deref().map(resolve),
            output: output.url.clone(),
            output_buffer: output.buffer_bytes,
            when_full_drop: word("output.when_full", &output.when_full, "drop", "block")?,
            findings: output.findings.as_deref().map(resolve),
            metrics_addr: metrics
                .addr
                .as_deref()
                .map(|a| {
                    a.parse()
                        .map_err(|e| invalid("metrics.addr", format!("{a:?}: {e}")))
                })
                .transpose()?,
            workload_series_ttl: duration(
                "metrics.workload_series_ttl",
                &metrics.workload_series_ttl,
            )?,
        })
    }
}

/// `path` with `.` and `dir/..` removed lexically, so that a path from
/// the config file compares equal to the same path written plainly
/// (`--exclude` matches the text of a path).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RunIo, String> {
        let file = crate::config::parse_config("/etc/logscrub/logscrub.toml", text)
            .map_err(|e| e.to_string())?;
        RunIo::from_file(
            &file.input,
            &file.output,
            &file.metrics,
            Path::new("/etc/logscrub/logscrub.toml"),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn tables_resolve() {
        let io = parse(
            r#"
[input]
paths = ["/var/log/containers/*.log", "local/*.log"]
exclude = ["/var/log/containers/logscrub-*"]
ignore_older = "24h"
follow = true
read_from = "end"
checkpoint = "state/ckpt.json"
listen = ["tcp://0.0.0.0:5140"]

[output]
url = "file:///var/log/out.log"
buffer_bytes = 1024
when_full = "drop"
findings = "/var/log/findings.jsonl"

[metrics]
addr = "0.0.0.0:9090"
workload_series_ttl = "90s"
"#,
        )
        .unwrap();
        assert_eq!(
            io,
            RunIo {
                inputs: vec![
                    "/var/log/containers/*.log".into(),
                    "/etc/logscrub/local/*.log".into()
                ],
                listen: vec!["tcp://0.0.0.0:5140".into()],
                exclude: vec!["/var/log/containers/logscrub-*".into()],
                ignore_older: Some(Duration::from_secs(86400)),
                follow: Some(true),
                read_from_end: Some(true),
                checkpoint: Some("/etc/logscrub/state/ckpt.json".into()),
                output: Some("file:///var/log/out.log".into()),
                output_buffer: Some(1024),
                when_full_drop: Some(true),
                findings: Some("/var/log/findings.jsonl".into()),
                metrics_addr: Some("0.0.0.0:9090".parse().unwrap()),
                workload_series_ttl: Some(Duration::from_secs(90)),
            }
        );
        assert_eq!(parse("").unwrap(), RunIo::default());
        let io =
            parse("[input]\npaths = [\"../logs/./*.log\"]\ncheckpoint = \"../../../x\"").unwrap();
        assert_eq!(io.inputs, ["/etc/logs/*.log"]);
        assert_eq!(io.checkpoint, Some(PathBuf::from("/x")));
    }

    #[test]
    fn bad_values_name_file_and_key() {
        for (text, needle) in [
            ("[input]\nignore_older = \"soon\"", "input.ignore_older"),
            ("[input]\nread_from = \"middle\"", "input.read_from"),
            ("[output]\nwhen_full = \"wait\"", "output.when_full"),
            ("[metrics]\naddr = \"localhost\"", "metrics.addr"),
            ("[input]\npaths = [\"[\"]", "input"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(
                e.starts_with("/etc/logscrub/logscrub.toml: ") && e.contains(needle),
                "{e}"
            );
        }
        let e = parse("[input]\npath = []").unwrap_err();
        assert!(e.contains("path"), "{e}");
    }
}
