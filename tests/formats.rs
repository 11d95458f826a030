//! Structured logs end to end: golden files per format in
//! `tests/data/formats/` (`X.in` scrubs to `X.out`, with `--format auto`
//! and with the explicit format, sequential and parallel), JSON lines stay
//! valid JSON, malformed lines are scanned as raw text and counted, and a
//! property test: any JSON object with a card number put into any string
//! value comes out as valid JSON with the card gone.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use logscrub::scan::Scanner;
use proptest::prelude::*;

mod common;
use common::run;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/formats")
            .join(name),
    )
    .unwrap()
}

fn golden(name: &str, format: &str) {
    let input = data(&format!("{name}.in"));
    let expected = data(&format!("{name}.out"));
    for fmt in ["auto", format] {
        for threads in ["1", "3"] {
            let out = run(&["--format", fmt, "--threads", threads], &input);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.stdout == expected,
                "{name} with --format {fmt} --threads {threads}:\n--- expected\n{}\n--- got\n{}",
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

fn assert_valid_json_lines(text: &[u8]) {
    for line in String::from_utf8_lossy(text).lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

#[test]
fn json_lines() {
    golden("json", "json");
    assert_valid_json_lines(&data("json.in"));
    assert_valid_json_lines(&data("json.out"));
    let out = String::from_utf8(data("json.out")).unwrap();
    // Sensitive keys take the whole value, numbers and objects included.
    assert!(out.contains(r#""password":"[SECRET_REDACTED]""#));
    assert!(out.contains(r#""pan":"[CARD_REDACTED]","cvv":"[CVV_REDACTED]""#));
    // Escapes cannot hide a secret; other bytes stay as they were.
    assert!(out.contains(r#""msg":"escaped [CARD_REDACTED] and a\/b""#));
    assert!(out.contains(r#""note":"Jos\u00e9 M\u00fcller""#));
    // Keys that only look sensitive, and flags, are left alone.
    let last = out.lines().last().unwrap();
    assert_eq!(
        last,
        String::from_utf8(data("json.in"))
            .unwrap()
            .lines()
            .last()
            .unwrap()
    );
    assert!(out.contains(r#""requires_cvc":true"#));
}

#[test]
fn docker_json_file_lines() {
    golden("docker", "docker");
    assert_valid_json_lines(&data("docker.out"));
    // The inner JSON of `log` is still valid JSON after scrubbing.
    for line in String::from_utf8(data("docker.out")).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let log = v["log"].as_str().unwrap();
        if log.starts_with('{') {
            let inner: serde_json::Value = serde_json::from_str(log.trim_end()).unwrap();
            assert_eq!(inner["password"], "[SECRET_REDACTED]");
            assert_eq!(inner["cvv"], "[CVV_REDACTED]");
            assert_eq!(inner["user"], "bob");
        }
    }
}

#[test]
fn cri_lines_and_partial_joins() {
    golden("cri", "cri");
    let out = String::from_utf8(data("cri.out")).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "one output line per input line");
    // The card split over a P and an F line is caught; framing is kept.
    assert_eq!(
        lines[1],
        "2024-04-13T16:22:02.416120331Z stdout P card [CARD_REDACTED]"
    );
    assert_eq!(lines[2], "2024-04-13T16:22:02.416120332Z stdout F  ok");
    // So is a sensitive key split across the boundary.
    assert_eq!(
        lines[5],
        r#"2024-04-13T16:22:02.416120335Z stdout F word":"[SECRET_REDACTED]"}"#
    );
}

#[test]
fn logfmt_lines() {
    golden("logfmt", "logfmt");
}

#[test]
fn malformed_lines_are_scanned_raw_and_counted() {
    golden("malformed", "raw");
    let out = run(&["--format", "json", "--stats"], data("malformed.in"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("malformed=3"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("4111111111111111"));
    let out = run(&["--format", "cri", "--stats"], data("cri.in"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed=0"));
    let out = run(&["--format", "cri", "--stats"], data("malformed.in"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed=3"));
    let out = run(&["--format", "yaml"], b"x\n");
    assert_eq!(out.status.code(), Some(2));
    // A usage error exits before reading: an input larger than the pipe's
    // buffer then always meets a closed pipe, which the runner must take
    // as the child's early exit (it used to fail under load).
    let out = run(&["--format", "yaml"], vec![b'x'; 4 << 20]);
    assert_eq!(out.status.code(), Some(2));
}

fn scanner() -> &'static Arc<Scanner> {
    static S: OnceLock<Arc<Scanner>> = OnceLock::new();
    S.get_or_init(|| Arc::new(Scanner::builtin()))
}

/// A JSON value of bounded depth with ordinary keys.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        (-1_000_000i64..1_000_000).prop_map(|n| serde_json::json!(n)),
        "[a-zA-Z0-9 _:/.,é-]{0,20}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Puts `card` into the `n`-th string value (or a new member), with the
/// surrounding text around it.
fn insert_card(value: &mut serde_json::Value, n: &mut usize, card: &str) -> bool {
    match value {
        serde_json::Value::String(s) => {
            if *n == 0 {
                *s = format!("{s} {card} ");
                return true;
            }
            *n -= 1;
            false
        }
        serde_json::Value::Array(items) => items.iter_mut().any(|v| insert_card(v, n, card)),
        serde_json::Value::Object(map) => map.values_mut().any(|v| insert_card(v, n, card)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn json_with_a_card_stays_json_without_the_card(
        mut value in prop::collection::btree_map("[a-z_]{1,8}", json_value(), 1..5)
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        n in 0usize..6,
        card in prop::sample::select(vec!["4111111111111111", "5555 5555 5555 4444", "3782-822463-10005", "6011111111111117"]),
        escape in any::<bool>(),
    ) {
        let mut k = n;
        if !insert_card(&mut value, &mut k, card) {
            value.as_object_mut().unwrap().insert("note".into(), serde_json::json!(format!("paid {card}")));
        }
        let mut line = serde_json::to_string(&value).unwrap();
        if escape {
            // Hide the card's digits behind \u escapes.
            line = line.replace(card, &card.replace('4', "\\u0034"));
        }
        let out = logscrub::redact::scrub_with(scanner(), line.as_bytes());
        let text = String::from_utf8(out).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        let digits: String = card.chars().filter(char::is_ascii_digit).collect();
        let all = serde_json::to_string(&parsed).unwrap();
        let all_digits: String = all.chars().filter(char::is_ascii_digit).collect();
        prop_assert!(!all_digits.contains(&digits) || !all.contains(card), "{text}");
        prop_assert!(!all.contains(card), "{text}");
        // A card under a sensitive key (`"cvv": "… 4111…"`) goes with the
        // whole value, under that key's label.
        prop_assert!(all.contains("_REDACTED]"), "{text}");
    }
}

/// `secret` as the value shape `shape`: a string, in a list, in a nested
/// list, in an object, or after an ordinary element.
fn shaped(secret: &str, shape: usize) -> serde_json::Value {
    match shape {
        0 => serde_json::json!(secret),
        1 => serde_json::json!([secret]),
        2 => serde_json::json!([[secret]]),
        3 => serde_json::json!({ "value": secret }),
        _ => serde_json::json!(["x", secret]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A sensitive key holding a string, a list or an object, in JSON that
    /// is itself the string of another JSON value zero to two times, in a
    /// Docker record: the record stays valid JSON, its other members and
    /// the members after the secret come out whole, and the secret is gone.
    /// A list or object is replaced whole by a string as far as quotes
    /// can be written (a string inside the record's string); deeper, by the
    /// bare label (the JSON there no longer parses, the record does).
    #[test]
    fn structured_values_in_embedded_json_keep_the_rest_of_the_record(
        (key, secret) in prop::sample::select(vec![
            ("cvv", "846"),
            ("password", "Zq8wLm2pTe9xK"),
            ("card_number", "4111111111111111"),
            ("ssn", "219-09-9999"),
            ("api_key", "Zk29xQ7mWv8LpR4t"),
        ]),
        shape in 0usize..5,
        depth in 0usize..3,
    ) {
        let mut text = serde_json::json!({ key: shaped(secret, shape), "note": "done" }).to_string();
        for _ in 0..depth {
            text = serde_json::json!({ "body": text, "level": "info" }).to_string();
        }
        let record = serde_json::json!({
            "log": format!("{text}\n"),
            "stream": "stdout",
            "time": "2024-01-01T00:00:00.000000001Z",
        })
        .to_string();
        let out = logscrub::redact::scrub_with(scanner(), format!("{record}\n").as_bytes());
        let out = String::from_utf8(out).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&out)
            .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
        prop_assert_eq!(&parsed["stream"], "stdout", "{}", out);
        prop_assert_eq!(&parsed["time"], "2024-01-01T00:00:00.000000001Z", "{}", out);
        let mut inner = parsed["log"].as_str().unwrap_or_default().trim_end().to_string();
        for _ in 0..depth {
            let level: serde_json::Value = serde_json::from_str(&inner)
                .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
            prop_assert_eq!(&level["level"], "info", "{}", out);
            inner = level["body"].as_str().unwrap_or_default().to_string();
        }
        if depth == 0 || shape == 0 {
            let innermost: serde_json::Value = serde_json::from_str(&inner)
                .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
            prop_assert_eq!(&innermost["note"], "done", "{}", out);
        } else {
            prop_assert!(inner.contains(r#""note":"done""#), "{}", out);
        }
        prop_assert!(!out.contains(secret), "{}", out);
    }
}

/// Three JSON decodings leave room for HTML and percent-decoding after
/// them: a card hidden behind `&#x25;34…` (`%34` is `4`) in a string that
/// JSON-decodes three times still goes.
#[test]
fn three_json_decodings_leave_room_for_html_and_percent() {
    let line =
        r#"{"log":"{\"body\":\"{\\\"q\\\":\\\"x \\\\\\\" &#x25;34111111111111111 y\\\"}\"}\n"}"#;
    let out = logscrub::redact::scrub_with(scanner(), format!("{line}\n").as_bytes());
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("[CARD_REDACTED]") && !out.contains("4111111111111"),
        "{out}"
    );
}
