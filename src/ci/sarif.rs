//! SARIF 2.1.0 output of `logscrub scan`, for code-scanning UIs.
//!
//! One run: the tool with every active rule (plus `line_too_long`, the
//! finding for a line that could not be scanned), one result per finding
//! with its file, line and columns (Unicode code points), a partial
//! fingerprint (the baseline identity), and, when a baseline was given, a
//! `baselineState` and, for accepted findings, an external suppression so
//! that UIs hide them. Read errors are tool execution notifications and
//! make the invocation unsuccessful. A message names the rule and the
//! place, never the value.

use serde_json::{json, Value};

use super::{Finding, Outcome};
use crate::scan::Scanner;

/// The SARIF version written.
pub const VERSION: &str = "2.1.0";

/// The schema URI written in `$schema`.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The rule id of a line that was too long to scan.
pub const LINE_TOO_LONG: &str = "line_too_long";

/// The SARIF log for `outcome`, scanned with `scanner`; `baseline` tells
/// whether a baseline was compared. `exit_code` is the scan's.
pub fn render(outcome: &Outcome, scanner: &Scanner, baseline: bool, exit_code: u8) -> Value {
    let mut ids: Vec<&str> = scanner.rules().iter().map(|r| r.id.as_str()).collect();
    ids.push(LINE_TOO_LONG);
    let mut rules: Vec<Value> = scanner
        .rules()
        .iter()
        .map(|r| {
            rule(
                &r.id,
                if r.description.is_empty() {
                    &r.id
                } else {
                    &r.description
                },
                &r.family,
            )
        })
        .collect();
    rules.push(rule(
        LINE_TOO_LONG,
        "A line longer than the line limit, which could not be scanned.",
        "limits",
    ));
    let results: Vec<Value> = outcome
        .findings
        .iter()
        .map(|f| result(f, &ids, baseline))
        .collect();
    let notifications: Vec<Value> = outcome
        .read_errors
        .iter()
        .map(|e| {
            json!({
                "level": "error",
                "message": { "text": format!("reading {}: {}", e.input, e.message) },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri(&e.input) } } }],
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [{
            "tool": {
                "driver": {
                    "name": "logscrub",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "version": crate::VERSION,
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "invocations": [{
                "executionSuccessful": outcome.read_errors.is_empty(),
                "exitCode": exit_code,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }]
    })
}

fn rule(id: &str, description: &str, family: &str) -> Value {
    json!({
        "id": id,
        "shortDescription": { "text": description },
        "defaultConfiguration": { "level": "error" },
        "properties": { "family": family, "tags": ["security", "secret", family] },
    })
}

fn result(f: &Finding, ids: &[&str], baseline: bool) -> Value {
    let r = &f.record;
    let mut v = json!({
        "ruleId": r.rule,
        "level": "error",
        "message": {
            "text": format!(
                "{} found at line {}, bytes {}-{} (the value is not shown).",
                r.rule, r.line, r.start, r.end
            )
        },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": uri(&f.source) },
                "region": {
                    "startLine": r.line,
                    "startColumn": f.columns.0,
                    "endColumn": f.columns.1.max(f.columns.0),
                }
            }
        }],
        "partialFingerprints": { "logscrubFinding/v1": f.key },
    });
    if let Some(i) = ids.iter().position(|id| *id == r.rule) {
        v["ruleIndex"] = json!(i);
    }
    if baseline {
        v["baselineState"] = json!(if f.baselined { "unchanged" } else { "new" });
        if f.baselined {
            v["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": "Accepted in the scan baseline.",
            }]);
        }
    }
    v
}

/// A URI reference for an input: a relative path stays relative (to the
/// directory the scan ran in, as code-scanning UIs expect), an absolute one
/// becomes a `file://` URI; bytes outside the unreserved set are
/// percent-encoded.
pub fn uri(source: &str) -> String {
    if source == "standard input" {
        return "stdin".into();
    }
    let mut out = String::new();
    if source.starts_with('/') {
        out.push_str("file://");
    }
    for &b in source.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_or_file_and_encoded() {
        assert_eq!(uri("logs/app.log"), "logs/app.log");
        assert_eq!(uri("/var/log/a b.log"), "file:///var/log/a%20b.log");
        assert_eq!(uri("x/caf\u{e9}#1.log"), "x/caf%C3%A9%231.log");
        assert_eq!(uri("standard input"), "stdin");
    }
}
