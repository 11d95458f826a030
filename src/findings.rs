//! Finding records: where a secret was found, never what it was.
//!
//! A record names the input, the line (1-based), the byte span within the
//! line, the rule, and, when a hash key is configured, a keyed fingerprint
//! of the value (the same token the `hash` action writes), so an auditor can
//! find the leaking service and correlate repeats without seeing the secret.
//! Used by `logscrub scan` and by the `--findings` side channel.

use std::io::{self, Write};

use serde::Serialize;

/// One redaction (or, in scan mode, one detection).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingRecord {
    /// The line number within its input, from 1.
    pub line: u64,
    /// The byte offset of the secret's start within the line.
    pub start: usize,
    /// The byte offset just past the secret within the line.
    pub end: usize,
    /// The rule id, or `line_too_long` for a line that could not be
    /// scanned.
    pub rule: String,
    /// A keyed fingerprint, when a hash key is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

#[derive(Serialize)]
struct JsonRecord<'a> {
    time: String,
    source: &'a str,
    #[serde(flatten)]
    record: &'a FindingRecord,
    /// `namespace`, `pod`, `container` (and `pod_uid` or `container_id`)
    /// when `source` is a Kubernetes log path.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    workload: Option<crate::workload::Workload>,
}

/// Writes `record` as one JSON line, with the time, the input's name and,
/// when that name is a Kubernetes log path, the workload it names.
pub fn write_json(out: &mut dyn Write, source: &str, record: &FindingRecord) -> io::Result<()> {
    let line = JsonRecord {
        time: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        source,
        record,
        workload: crate::workload::Workload::from_path(source),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

/// Writes `record` as a table row: `source:line:start-end rule [fingerprint]`.
pub fn write_row(out: &mut dyn Write, source: &str, record: &FindingRecord) -> io::Result<()> {
    write!(
        out,
        "{source}:{}:{}-{}  {}",
        record.line, record.start, record.end, record.rule
    )?;
    if let Some(fp) = &record.fingerprint {
        write!(out, "  {fp}")?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_render_without_values() {
        let r = FindingRecord {
            line: 3,
            start: 5,
            end: 21,
            rule: "pan".into(),
            fingerprint: None,
        };
        let mut out = Vec::new();
        write_json(&mut out, "app.log", &r).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["source"], "app.log");
        assert_eq!(v["line"], 3);
        assert_eq!(v["rule"], "pan");
        assert!(v.get("fingerprint").is_none() && v["time"].as_str().unwrap().ends_with('Z'));
        let mut row = Vec::new();
        write_row(&mut row, "app.log", &r).unwrap();
        assert_eq!(String::from_utf8(row).unwrap(), "app.log:3:5-21  pan\n");
        assert!(v.get("namespace").is_none());
    }

    #[test]
    fn records_name_the_workload() {
        let r = FindingRecord {
            line: 1,
            start: 0,
            end: 16,
            rule: "pan".into(),
            fingerprint: None,
        };
        let mut out = Vec::new();
        write_json(&mut out, "/var/log/pods/shop_api-0_0a1b/app/0.log", &r).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            (&v["namespace"], &v["pod"], &v["container"], &v["pod_uid"]),
            (
                &"shop".into(),
                &"api-0".into(),
                &"app".into(),
                &"0a1b".into()
            )
        );
        assert_eq!(v["rule"], "pan");
    }
}
