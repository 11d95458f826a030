//! The line gate changes nothing: scrubbing with it gives the same bytes and
//! the same counters as scrubbing every line with the full automaton, and
//! it flags every line where the automaton finds a candidate.
//!
//! Inputs: the loghub corpus, the eval cases, the example user rules, and
//! generated texts mixing secrets, near-misses, CRLF, invalid UTF-8, empty
//! lines and a missing final newline, cut into batches at random line
//! boundaries (so lane borders and batch ends fall everywhere).

mod common;

use std::sync::{Arc, OnceLock};

use logscrub::redact::Redactor;
use logscrub::rules::Rule;
use logscrub::scan::Scanner;
use logscrub::stats::Stats;
use proptest::prelude::*;
use proptest::sample::Index;

const LOGHUB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/loghub");
const EVAL_CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/eval_public.jsonl");
const USER_RULES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/patterns/internal.toml"
);

/// The built-in rules, and the built-in rules with the example user rules.
fn rule_sets() -> &'static [Vec<Rule>] {
    static SETS: OnceLock<Vec<Vec<Rule>>> = OnceLock::new();
    SETS.get_or_init(|| {
        let builtin = logscrub::rules::builtin_rules();
        let mut with_user = builtin.clone();
        with_user.extend(
            logscrub::rules::load_pattern_file(std::path::Path::new(USER_RULES))
                .expect("the example user rules"),
        );
        vec![builtin, with_user]
    })
}

fn scanners(rules: &[Rule]) -> (Arc<Scanner>, Arc<Scanner>) {
    // The shared rule sets' scanners are compiled once.
    static BUILT: OnceLock<Vec<(Arc<Scanner>, Arc<Scanner>)>> = OnceLock::new();
    if let Some(i) = rule_sets()
        .iter()
        .position(|set| std::ptr::eq(set.as_slice(), rules))
    {
        let built =
            BUILT.get_or_init(|| rule_sets().iter().map(|set| build_scanners(set)).collect());
        return (Arc::clone(&built[i].0), Arc::clone(&built[i].1));
    }
    build_scanners(rules)
}

fn build_scanners(rules: &[Rule]) -> (Arc<Scanner>, Arc<Scanner>) {
    let gated = Scanner::new(rules.to_vec()).expect("rules compile");
    assert!(gated.has_gate(), "the rules are gated");
    let plain = Scanner::new(rules.to_vec())
        .expect("rules compile")
        .without_gate();
    (Arc::new(gated), Arc::new(plain))
}

/// Scrubs `text` cut into batches at the given line boundaries.
fn scrub(scanner: &Arc<Scanner>, text: &[u8], cuts: &[usize]) -> (Vec<u8>, Stats) {
    let mut redactor = Redactor::new(Arc::clone(scanner));
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([text.len()].iter()) {
        if cut > from {
            redactor.scrub_lines(&text[from..cut], &mut out);
            from = cut;
        }
    }
    (out, redactor.take_stats())
}

/// Cuts at line boundaries chosen by `picks`.
fn line_cuts(text: &[u8], picks: &[Index]) -> Vec<usize> {
    let starts: Vec<usize> = memchr::memchr_iter(b'\n', text).map(|i| i + 1).collect();
    if starts.is_empty() {
        return Vec::new();
    }
    let mut cuts: Vec<usize> = picks
        .iter()
        .map(|p| starts[p.index(starts.len())])
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

fn assert_same(rules: &[Rule], text: &[u8], cuts: &[usize]) {
    let (gated, plain) = scanners(rules);
    let (out_g, stats_g) = scrub(&gated, text, cuts);
    let (out_p, stats_p) = scrub(&plain, text, cuts);
    if out_g != out_p {
        let at = out_g
            .iter()
            .zip(&out_p)
            .position(|(a, b)| a != b)
            .unwrap_or(out_g.len().min(out_p.len()));
        let from = at.saturating_sub(80);
        panic!(
            "outputs differ at byte {at}:\n gated: {:?}\n plain: {:?}",
            String::from_utf8_lossy(&out_g[from..out_g.len().min(at + 80)]),
            String::from_utf8_lossy(&out_p[from..out_p.len().min(at + 80)])
        );
    }
    assert_eq!(stats_g, stats_p, "counters differ");
}

/// The start offsets of the lines flagged in `text`, as one batch: by the
/// gate or the line filter, and by the gate alone.
fn flagged(rules: &[Rule], text: &[u8]) -> (Vec<usize>, Vec<usize>) {
    let (gated, _) = scanners(rules);
    let mut scratch = gated.scratch();
    assert!(gated.flag_lines(text, &mut scratch), "batch gated");
    (
        std::mem::take(&mut scratch.flagged),
        std::mem::take(&mut scratch.automaton_flagged),
    )
}

/// Every line where the scanner reports a candidate (raw view) is flagged,
/// and by the gate itself when the candidate's rule is in the automaton
/// (elsewhere the automaton is not run over the raw line).
fn assert_flags_every_candidate(rules: &[Rule], text: &[u8]) {
    let (gated, _) = scanners(rules);
    let mut scratch = gated.scratch();
    let (flagged, automaton_flagged) = flagged(rules, text);
    let mut start = 0;
    while start < text.len() {
        let end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i + 1);
        let mut line = &text[start..end];
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        let (mut candidate, mut automaton) = (false, false);
        gated.scan_line_with(line, &mut scratch, &mut |c| {
            candidate |= c.view == "raw";
            automaton |= c.view == "raw" && !gated.literals().is_indexed(c.rule);
        });
        assert!(
            !candidate || flagged.binary_search(&start).is_ok(),
            "line at {start} has a candidate but is not flagged: {:?}",
            String::from_utf8_lossy(line)
        );
        assert!(
            !automaton || automaton_flagged.binary_search(&start).is_ok(),
            "line at {start} has a candidate of the automaton but the gate did not flag it: {:?}",
            String::from_utf8_lossy(line)
        );
        start = end;
    }
}

fn loghub_text() -> Vec<u8> {
    let mut text = Vec::new();
    for entry in std::fs::read_dir(LOGHUB_DIR).expect("loghub corpus") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "log") {
            text.extend(std::fs::read(&path).expect("loghub file"));
        }
    }
    assert!(text.len() > 1_000_000, "loghub corpus is missing");
    text
}

fn eval_texts() -> Vec<String> {
    let text = std::fs::read_to_string(EVAL_CASES).expect("eval cases");
    text.lines()
        .map(|row| {
            let case: serde_json::Value = serde_json::from_str(row).expect("a JSON case");
            case["text"].as_str().expect("a text field").to_string()
        })
        .collect()
}

#[test]
fn flags_lines_with_candidates() {
    let text = b"plain line\ncard 4111111111111111 ok\nnothing\r\nmail a@b.example\r\nx";
    assert_eq!(flagged(&rule_sets()[0], text).0, vec![11, 45]);
    assert_flags_every_candidate(&rule_sets()[0], text);
}

#[test]
fn every_lane_split_and_line_end() {
    // Candidates at line starts and ends, CRLF, no final newline, empty
    // lines: for every prefix length, so lane borders fall everywhere.
    let text = b"4111111111111111\n\nx 4111111111111111\r\nAKIAIOSFODNN7EXAMPLE\nok\n\ncvv=123";
    for cut in 0..=text.len() {
        let part = &text[..cut];
        let end = memchr::memrchr(b'\n', part).map_or(0, |i| i + 1);
        assert_flags_every_candidate(&rule_sets()[0], &part[..end]);
        assert_flags_every_candidate(&rule_sets()[0], part);
    }
}

#[test]
fn anchors_are_per_line() {
    let rules = logscrub::rules::parse_pattern_file(
        "test.toml",
        "family = \"t\"\n\
         [[rule]]\nid = \"starts\"\ndescription = \"d\"\nregex = '^[a-z]bc'\nlabel = \"[X]\"\n\
         [[rule]]\nid = \"ends\"\ndescription = \"d\"\nregex = '[a-z]yz\\z'\nlabel = \"[Y]\"\n",
    )
    .expect("test rules");
    let text = b"abc first\nnot abc\n  xyz\nthe end xyz\r\nabc\nlast xyz";
    assert_flags_every_candidate(&rules, text);
    assert_eq!(flagged(&rules, text).0, vec![0, 18, 24, 37, 41]);
    assert_same(&rules, text, &[]);
}

#[test]
fn loghub_is_unchanged_by_the_gate() {
    let text = loghub_text();
    let cuts: Vec<usize> = (1..40).map(|i| text.len() * i / 40).collect();
    let cuts: Vec<usize> = cuts
        .into_iter()
        .map(|c| memchr::memchr(b'\n', &text[c..]).map_or(text.len(), |i| c + i + 1))
        .collect();
    for rules in rule_sets() {
        assert_same(rules, &text, &cuts);
        assert_flags_every_candidate(rules, &text);
    }
}

#[test]
fn eval_cases_are_unchanged_by_the_gate() {
    let mut text = Vec::new();
    for t in eval_texts() {
        text.extend_from_slice(t.as_bytes());
        text.push(b'\n');
    }
    // Also every case with CRLF and in one batch each.
    let crlf: Vec<u8> = String::from_utf8_lossy(&text)
        .replace('\n', "\r\n")
        .into_bytes();
    for rules in rule_sets() {
        assert_same(rules, &text, &[]);
        assert_same(rules, &crlf, &line_cuts(&crlf, &[]));
        assert_flags_every_candidate(rules, &text);
        assert_flags_every_candidate(rules, &crlf);
    }
    for t in eval_texts().iter().take(2000) {
        assert_same(&rule_sets()[0], t.as_bytes(), &[]);
    }
}

/// `line` as Docker's json-file driver stores it.
fn docker_wrap(line: &str) -> String {
    format!(
        "{{\"log\":{},\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:00.000000001Z\"}}",
        serde_json::to_string(&format!("{line}\n")).expect("a JSON string")
    )
}

/// `line` as the Kubernetes CRI runtime stores it (one full line).
fn cri_wrap(line: &str) -> String {
    format!("2024-01-01T00:00:00.000000001Z stdout F {line}")
}

#[test]
fn container_runtime_files_are_unchanged_by_the_gate() {
    // The eval cases and loghub lines as the runtimes store them, plus
    // JSON with sensitive keys under every spelling the walks accept.
    // Mostly clean lines, so that the gate stays on (it rests while most
    // lines of a batch are flagged), with keyed lines among them.
    let mut keyed = Vec::new();
    for key in [
        "cvv",
        "customer_cvv",
        "cardNumber",
        "card-number",
        "Card.Number",
        "SSN",
        "acct no",
        "x_api_key",
    ] {
        keyed.push(format!("{{\"{key}\":\"123\",\"ok\":1}}"));
        keyed.push(format!("{{\"a\":{{\"{key}\":4111111111111111}}}}"));
        keyed.push(format!("level=info {key}=0193456 msg=x"));
    }
    let mut lines: Vec<String> = Vec::new();
    for (i, line) in String::from_utf8_lossy(&loghub_text())
        .lines()
        .step_by(7)
        .enumerate()
    {
        lines.push(line.to_string());
        if i % 20 == 0 {
            lines.push(keyed[(i / 20) % keyed.len()].clone());
        }
    }
    lines.extend(eval_texts());
    let docker: String = lines.iter().map(|l| docker_wrap(l) + "\n").collect();
    let cri: String = lines.iter().map(|l| cri_wrap(l) + "\n").collect();
    for text in [docker, cri] {
        let text = text.into_bytes();
        let cuts: Vec<usize> = (1..16).map(|i| text.len() * i / 16).collect();
        let cuts = line_cuts(&text, &[])
            .into_iter()
            .chain(cuts)
            .collect::<Vec<_>>();
        let mut cuts: Vec<usize> = cuts
            .into_iter()
            .map(|c| {
                memchr::memchr(b'\n', &text[c.min(text.len())..]).map_or(text.len(), |i| c + i + 1)
            })
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        for rules in rule_sets() {
            assert_same(rules, &text, &cuts);
        }
    }
}

/// Pieces of text: secrets, near-misses and awkward bytes.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    let texts: &'static [String] = {
        static T: OnceLock<Vec<String>> = OnceLock::new();
        T.get_or_init(eval_texts)
    };
    prop_oneof![
        4 => any::<Index>().prop_map(move |i| texts[i.index(texts.len())].clone().into_bytes()),
        2 => "[0-9 -]{1,24}".prop_map(String::into_bytes),
        1 => "[2-6][0-9]{12,18}".prop_map(String::into_bytes),
        1 => prop::sample::select(vec![
            "\n", "\r\n", "\r", " ", "@", "=", ":", "\"", "\\", "%40", "&#64;", "_", "-",
            "é", "名前", "\u{0}", "-----BEGIN PRIVATE KEY-----", "eyJ", "cvv", "ssn ",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 1..12),
        1 => "[A-Za-z0-9_]{1,40}".prop_map(String::into_bytes),
        // Structure: JSON members, Docker and CRI envelopes, keyed values.
        1 => prop::sample::select(vec![
            "{\"cvv\":\"", "\",\"cardNumber\":", "{\"log\":\"", "\\n\",\"stream\":\"stdout\"}",
            "\\\"", "\\u0034", "2024-01-01T00:00:00.1Z stdout F ", "2024-01-01T00:00:00.1Z stderr P ",
            "\"}", "}", "{\"a\":[", "customer_cvv=", "Card-Number: ",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

proptest! {
    #![proptest_config(common::proptest_config(128))]

    #[test]
    fn generated_texts_are_unchanged_by_the_gate(
        parts in prop::collection::vec(fragment(), 1..120),
        picks in prop::collection::vec(any::<Index>(), 0..6),
        user_rules in any::<bool>(),
    ) {
        let text = parts.concat();
        let rules = &rule_sets()[usize::from(user_rules)];
        assert_same(rules, &text, &line_cuts(&text, &picks));
        assert_flags_every_candidate(rules, &text);
    }
}
