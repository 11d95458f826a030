//! `logscrub scan`: the CI gate. Finds secrets in files, directories and
//! standard input, and reports where they are (never what they are) as a
//! table, JSON lines or SARIF 2.1.0, minus the findings accepted in a
//! baseline.
//!
//! Guarantees:
//! - **The same detection as a run.** Every input goes through
//!   [`crate::pipe::run`], a thin driver over the run's own scrub stage
//!   ([`crate::pipe::run_stage`], the same framing, redactor and scrub
//!   job), with the configured input format, line limit and policy; a
//!   finding here is a redaction there, and a line too long to scan is a
//!   finding (`line_too_long`), never skipped.
//! - **Every input is tried.** A file or directory that cannot be read is
//!   recorded as a read error and the scan goes on; the exit code says so
//!   ([`exit::READ_ERROR`]).
//! - **Deterministic.** Directories are walked in name order, so two scans
//!   of the same tree report the same findings in the same order.
//!
//! Exit codes (see [`exit`]): 0 nothing new found, 1 findings not in the
//! baseline, 2 an input could not be read (whatever was found), 64 usage or
//! configuration error.

pub mod baseline;
pub mod sarif;
pub mod walk;

use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::config::Engine;
use crate::findings::FindingRecord;
use crate::pipe::{PipeError, PipeOptions};
use crate::stats::Stats;

pub use baseline::Baseline;

/// The exit codes of `logscrub scan`.
pub mod exit {
    /// Nothing found, or only findings accepted in the baseline.
    pub const CLEAN: u8 = 0;
    /// Findings not in the baseline.
    pub const FINDINGS: u8 = 1;
    /// An input, the baseline or the report could not be read or written
    /// (takes precedence over [`FINDINGS`]).
    pub const READ_ERROR: u8 = 2;
    /// A command-line or configuration error: nothing was scanned
    /// (`EX_USAGE` of sysexits.h).
    pub const USAGE: u8 = 64;
}

/// What to scan.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// Files, directories (walked recursively) and `-` (standard input).
    pub paths: Vec<PathBuf>,
    /// Entries found while walking a directory that match one of these are
    /// skipped (a directory with everything under it). Paths named on the
    /// command line are always scanned.
    pub exclude: Vec<glob::Pattern>,
    /// Scrubbing threads per input.
    pub threads: usize,
}

/// One finding, located.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The input as named (a path, or `standard input`).
    pub source: String,
    /// Line, byte span, rule and keyed fingerprint.
    #[serde(flatten)]
    pub record: FindingRecord,
    /// 1-based columns in Unicode code points of the span's start and end
    /// (end exclusive); byte based when the line could not be read again
    /// (standard input).
    #[serde(skip)]
    pub columns: (usize, usize),
    /// The identity a baseline matches (see [`Finding::baseline_key`]).
    #[serde(skip)]
    pub key: String,
    /// Accepted in the baseline.
    #[serde(skip)]
    pub baselined: bool,
}

impl Finding {
    /// The identity of a finding in a baseline: `rule:fingerprint` when a
    /// hash key gives a keyed fingerprint of the value (so an accepted test
    /// value is accepted wherever it appears), else `rule@source:line:start`
    /// (its place). Neither holds the value.
    pub fn baseline_key(source: &str, record: &FindingRecord) -> String {
        match &record.fingerprint {
            Some(fp) => format!("{}:{fp}", record.rule),
            None => format!("{}@{source}:{}:{}", record.rule, record.line, record.start),
        }
    }
}

/// A read error, by input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    /// The input (path).
    pub input: String,
    /// The cause.
    pub message: String,
}

/// The result of a scan.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every finding, in input and line order.
    pub findings: Vec<Finding>,
    /// Inputs scanned.
    pub inputs: usize,
    /// Lines scanned.
    pub lines: u64,
    /// Inputs that could not be read.
    pub read_errors: Vec<ReadError>,
}

impl Outcome {
    /// Findings not accepted in the baseline.
    pub fn new_findings(&self) -> usize {
        self.findings.iter().filter(|f| !f.baselined).count()
    }

    /// The exit code: see [`exit`].
    pub fn exit_code(&self) -> u8 {
        if !self.read_errors.is_empty() {
            exit::READ_ERROR
        } else if self.new_findings() > 0 {
            exit::FINDINGS
        } else {
            exit::CLEAN
        }
    }
}

/// A finding record as the pipe writes it to its findings channel.
#[derive(Deserialize)]
struct Written {
    line: u64,
    start: usize,
    end: usize,
    rule: String,
    fingerprint: Option<String>,
}

/// Scans every input of `options` with `engine`, marking the findings that
/// `baseline` accepts.
pub fn scan(engine: &Engine, options: &ScanOptions, baseline: Option<&Baseline>) -> Outcome {
    let mut outcome = Outcome::default();
    let paths = if options.paths.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        options.paths.clone()
    };
    let mut inputs = Vec::new();
    for path in &paths {
        if path.as_os_str() == "-" {
            inputs.push(None);
            continue;
        }
        let walked = walk::files(path, &options.exclude, &mut |input, e| {
            outcome.read_errors.push(ReadError {
                input: input.display().to_string(),
                message: e.to_string(),
            })
        });
        inputs.extend(walked.into_iter().map(Some));
    }
    for input in inputs {
        outcome.inputs += 1;
        let (name, result) = match &input {
            None => {
                let name = "standard input".to_string();
                let r = scan_one(engine, options, &name, io::stdin());
                (name, r)
            }
            Some(path) => {
                let name = path.display().to_string();
                let r = match std::fs::File::open(path) {
                    Ok(file) => scan_one(engine, options, &name, file),
                    Err(e) => Err((e.to_string(), Vec::new(), 0)),
                };
                (name, r)
            }
        };
        let (mut found, lines) = match result {
            Ok(r) => r,
            Err((message, found, lines)) => {
                outcome.read_errors.push(ReadError {
                    input: name.clone(),
                    message,
                });
                (found, lines)
            }
        };
        outcome.lines += lines;
        if let Some(path) = &input {
            code_point_columns(path, &mut found);
        }
        for f in &mut found {
            f.baselined = baseline.is_some_and(|b| b.accepts(&f.key));
        }
        outcome.findings.extend(found);
    }
    outcome
}

type ScanResult = Result<(Vec<Finding>, u64), (String, Vec<Finding>, u64)>;

/// Scans one input through the pipe, collecting its finding records.
fn scan_one<R: Read + Send + 'static>(
    engine: &Engine,
    options: &ScanOptions,
    name: &str,
    input: R,
) -> ScanResult {
    let written = Arc::new(Mutex::new(Vec::<u8>::new()));
    let channel: Arc<Mutex<dyn io::Write + Send>> = written.clone();
    let pipe = PipeOptions {
        max_line_bytes: engine.max_line_bytes,
        threads: options.threads.max(1),
        overlong: engine.overlong,
        reload: None,
        format: engine.format,
        findings: Some(channel),
    };
    let mut stats = Stats::new(0);
    let result = crate::pipe::run(
        name,
        input,
        &mut io::sink(),
        &engine.scanner,
        &pipe,
        &mut stats,
    );
    let bytes = std::mem::take(&mut *written.lock().unwrap_or_else(|e| e.into_inner()));
    let found: Vec<Finding> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice::<Written>(l).ok())
        .map(|w| {
            let record = FindingRecord {
                line: w.line,
                start: w.start,
                end: w.end,
                rule: w.rule,
                fingerprint: w.fingerprint,
            };
            Finding {
                source: name.to_string(),
                columns: (w.start + 1, w.end + 1),
                key: Finding::baseline_key(name, &record),
                record,
                baselined: false,
            }
        })
        .collect();
    match result {
        Ok(()) => Ok((found, stats.lines)),
        Err(PipeError::Read { source, .. }) => Err((source.to_string(), found, stats.lines)),
        Err(e) => Err((e.to_string(), found, stats.lines)),
    }
}

/// Turns the byte columns of `found` (all from `path`, in line order) into
/// code-point columns by reading the file's lines again. Leaves them as
/// they are when the file cannot be read or has changed.
fn code_point_columns(path: &Path, found: &mut [Finding]) {
    if found.is_empty() {
        return;
    }
    let Ok(file) = std::fs::File::open(path) else {
        return;
    };
    let mut reader = io::BufReader::new(file);
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut i = 0;
    while i < found.len() {
        let wanted = found[i].record.line;
        while number < wanted {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => number += 1,
            }
        }
        while i < found.len() && found[i].record.line == wanted {
            let f = &mut found[i];
            if f.record.end <= line.len() && f.record.start <= f.record.end {
                let chars = |b: &[u8]| String::from_utf8_lossy(b).chars().count();
                let start = chars(&line[..f.record.start]) + 1;
                let end = start + chars(&line[f.record.start..f.record.end]);
                f.columns = (start, end);
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        crate::config::build(&Default::default()).unwrap()
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("logscrub-ci-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn findings_are_located_with_code_point_columns() {
        let dir = tempdir("columns");
        let file = dir.join("a.log");
        std::fs::write(&file, "plain\nnaïve café 4111111111111111 ok\n").unwrap();
        let options = ScanOptions {
            paths: vec![file.clone()],
            threads: 1,
            ..Default::default()
        };
        let o = scan(&engine(), &options, None);
        assert_eq!(o.findings.len(), 1);
        let f = &o.findings[0];
        assert_eq!((f.record.line, f.record.rule.as_str()), (2, "pan"));
        // "naïve café " is 11 code points and 13 bytes.
        assert_eq!(f.record.start, 13);
        assert_eq!(f.columns, (12, 28));
        assert_eq!(o.exit_code(), exit::FINDINGS);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_baseline_accepts_findings_by_key() {
        let dir = tempdir("baseline");
        let file = dir.join("a.log");
        std::fs::write(&file, "4111111111111111\nalice@example.com\n").unwrap();
        let options = ScanOptions {
            paths: vec![file.clone()],
            threads: 1,
            ..Default::default()
        };
        let all = scan(&engine(), &options, None);
        assert_eq!(all.new_findings(), 2);
        let baseline = Baseline::from_keys([all.findings[0].key.clone()]);
        let o = scan(&engine(), &options, Some(&baseline));
        assert_eq!(o.new_findings(), 1);
        assert!(o.findings[0].baselined && !o.findings[1].baselined);
        let baseline = Baseline::from_keys(all.findings.iter().map(|f| f.key.clone()));
        assert_eq!(
            scan(&engine(), &options, Some(&baseline)).exit_code(),
            exit::CLEAN
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_input_is_a_read_error_and_the_others_are_scanned() {
        let dir = tempdir("missing");
        let file = dir.join("a.log");
        std::fs::write(&file, "4111111111111111\n").unwrap();
        let options = ScanOptions {
            paths: vec![dir.join("missing.log"), file],
            threads: 1,
            ..Default::default()
        };
        let o = scan(&engine(), &options, None);
        assert_eq!(o.read_errors.len(), 1);
        assert!(o.read_errors[0].input.ends_with("missing.log"));
        assert_eq!(o.findings.len(), 1);
        assert_eq!(o.exit_code(), exit::READ_ERROR);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
