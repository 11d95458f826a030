//! The card rule's regex spells out the layouts a card is printed in
//! (contiguous; groups of four with a short last group; 4-6-4 and 4-6-5),
//! each with one kind of separator. The rule it replaced allowed a
//! separator before any digit and left the layout to the validator alone,
//! at the cost of many more lazy-DFA states. This test holds the two to
//! the same findings: over generated runs of digit groups (Luhn-valid
//! cards of every network and length, near-misses, every separator, odd
//! layouts, mixed separators, digits and words around them), the built-in
//! catalog scrubs every text byte for byte as the catalog with the earlier
//! card regex does, with the same redaction counts. Only the validator's
//! rejection counts may differ: a number of the wrong layout is no longer a
//! candidate at all.

mod common;

use std::sync::{Arc, OnceLock};

use logscrub::redact::Redactor;
use logscrub::scan::Scanner;
use proptest::prelude::*;

/// The card regex before layouts were spelled out.
const LAYOUT_FREE_PAN: &str = r"\b[2-6](?:(?:[ \t-]?[0-9]){12,18}|(?:\.?[0-9]){12,18}|(?:(?:  | - |\xC2\xA0|\xE2\x80[\x80-\x8B\x90-\x94\xAF]|\xE2\x81[\x9F\xA0]|\xE2\x88\x92|\xE3\x80\x80|\xEF\xBB\xBF)?[0-9]){12,18})\b";

/// The built-in catalog, and the same with the layout-free card regex.
fn scanners() -> &'static (Arc<Scanner>, Arc<Scanner>) {
    static BUILT: OnceLock<(Arc<Scanner>, Arc<Scanner>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let builtin = logscrub::rules::builtin_rules();
        let mut reference = builtin.clone();
        let pan = reference
            .iter_mut()
            .find(|r| r.id == "pan")
            .expect("the built-in catalog has a card rule");
        assert_ne!(pan.regex, LAYOUT_FREE_PAN, "the card rule changed");
        pan.regex = LAYOUT_FREE_PAN.to_string();
        (
            Arc::new(Scanner::new(builtin).expect("the built-in rules compile")),
            Arc::new(Scanner::new(reference).expect("the layout-free card rule compiles")),
        )
    })
}

/// The scrubbed text and the redactions by rule.
fn scrub(scanner: &Arc<Scanner>, text: &[u8]) -> (Vec<u8>, Vec<(String, u64)>) {
    let mut redactor = Redactor::new(Arc::clone(scanner));
    let mut out = Vec::new();
    redactor.scrub_lines(text, &mut out);
    let counts = redactor
        .take_stats()
        .by_rule
        .into_iter()
        .map(|(rule, totals)| (rule, totals.redactions))
        .filter(|&(_, n)| n > 0)
        .collect();
    (out, counts)
}

fn assert_same_findings(text: &[u8]) {
    let (layouts, layout_free) = scanners();
    let (got, got_counts) = scrub(layouts, text);
    let (want, want_counts) = scrub(layout_free, text);
    if got != want {
        // Name the first line the two scrub differently.
        let lines = text.split(|&b| b == b'\n');
        let outputs = got.split(|&b| b == b'\n').zip(want.split(|&b| b == b'\n'));
        let (line, (got, want)) = lines
            .zip(outputs)
            .find(|(_, (got, want))| got != want)
            .expect("some line differs");
        panic!(
            "the card regexes disagree on {:?}:\n  layouts:     {:?}\n  layout-free: {:?}",
            String::from_utf8_lossy(line),
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(want),
        );
    }
    assert_eq!(got_counts, want_counts, "redaction counts differ");
}

/// Every separator the card rule knows, and some it does not.
const SEPARATORS: &[&str] = &[
    " ", "\t", "-", ".", "  ", " - ", "\u{a0}", "\u{202f}", "\u{2009}", "\u{2002}", "\u{200b}",
    "\u{2060}", "\u{2013}", "\u{2014}", "\u{2212}", "\u{3000}", "\u{feff}", "\u{205f}", "/", ":",
    ",", "_", "   ", "--", "..", " -", "\u{2015}",
];

/// What may stand before a run of digits.
const BEFORE: &[&str] = &[
    "",
    " ",
    "card ",
    "=",
    "\"",
    ":",
    "_",
    "-",
    "x",
    "#",
    "(",
    "1",
    ".",
    "\u{a0}",
    "blk_-",
    "order_id=",
    "pan: ",
];

/// What may follow a run of digits: decimals, times, more digits.
const AFTER: &[&str] = &[
    "",
    " ",
    ".",
    ".5",
    ":46:52",
    " 20:46:52",
    "-",
    "x",
    "\"",
    ",",
    " 1111",
    "-003",
    "  2395",
    " 4",
    "\u{a0}1111",
    ".1111",
    "0",
    "_",
    " - 12",
];

/// Card-network prefixes (and a few that are none).
const PREFIXES: &[&str] = &[
    "4", "51", "55", "2221", "2720", "34", "37", "6011", "65", "644", "35", "36", "300", "62",
    "50", "56", "6", "3", "2", "5", "27", "28", "38", "63",
];

/// The digit to append to `digits` (ASCII) to make them Luhn-valid.
fn luhn_check_digit(digits: &[u8]) -> u8 {
    let mut values: Vec<u8> = digits.iter().map(|d| d - b'0').collect();
    values.push(0);
    let last = values.len() - 1;
    let check = (0..10).find(|&d| {
        values[last] = d;
        logscrub::rules::validate::luhn_valid(&values)
    });
    b'0' + check.unwrap_or(0)
}

/// A number of `len` digits after a network prefix, Luhn-valid when `luhn`.
fn card_digits() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(PREFIXES),
        11usize..21,
        prop::collection::vec(0u8..10, 20),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(prefix, len, fill, luhn)| {
            let mut digits = prefix.as_bytes().to_vec();
            digits.extend(fill.iter().map(|d| b'0' + d));
            digits.truncate(len.max(prefix.len() + 1));
            if luhn {
                digits.pop();
                let check = luhn_check_digit(&digits);
                digits.push(check);
            }
            digits
        })
}

/// Group sizes for `n` digits: a card layout, contiguous, or any.
fn grouping() -> impl Strategy<Value = (u8, Vec<usize>)> {
    (0u8..5, prop::collection::vec(1usize..8, 1..8))
}

fn groups_of(digits: &[u8], (kind, random): &(u8, Vec<usize>)) -> Vec<Vec<u8>> {
    let sizes: Vec<usize> = match kind {
        0 => vec![digits.len()],
        1 | 2 => std::iter::repeat_n(4, 5).collect(),
        3 => vec![4, 6, 5, 4],
        _ => random.clone(),
    };
    let mut groups = Vec::new();
    let mut rest = digits;
    for size in sizes.into_iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let take = size.min(rest.len());
        groups.push(rest[..take].to_vec());
        rest = &rest[take..];
    }
    groups
}

/// Now and then (true) another separator than the run's own.
fn odd_separator() -> impl Strategy<Value = (bool, &'static str)> {
    (prop::bool::weighted(0.1), prop::sample::select(SEPARATORS))
}

/// A card-like run: digits in groups, the same separator between them but
/// now and then another, with something before and after it.
fn card_run() -> impl Strategy<Value = Vec<u8>> {
    (
        card_digits(),
        grouping(),
        prop::sample::select(SEPARATORS),
        prop::collection::vec(odd_separator(), 8),
        prop::sample::select(BEFORE),
        prop::sample::select(AFTER),
    )
        .prop_map(|(digits, grouping, sep, odd, before, after)| {
            let mut run = before.as_bytes().to_vec();
            for (i, group) in groups_of(&digits, &grouping).iter().enumerate() {
                if i > 0 {
                    let (other, with) = odd[(i - 1) % odd.len()];
                    run.extend_from_slice(if other { with } else { sep }.as_bytes());
                }
                run.extend_from_slice(group);
            }
            run.extend_from_slice(after.as_bytes());
            run
        })
}

/// Lines of card-like runs among digits, words and spaces.
fn text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => card_run(),
        1 => "[0-9 .-]{1,24}".prop_map(String::into_bytes),
        1 => prop::sample::select(vec![" ", "\n", "\r\n", "a", "é", " at ", "\t", "=", ";"])
            .prop_map(|s| s.as_bytes().to_vec()),
    ];
    prop::collection::vec(piece, 1..12).prop_map(|pieces| {
        let mut text = pieces.concat();
        text.push(b'\n');
        text
    })
}

proptest! {
    #![proptest_config(common::proptest_config(2048))]

    #[test]
    fn layouts_find_what_the_layout_free_regex_found(text in text()) {
        assert_same_findings(&text);
    }
}

/// The shapes the property is built on, each also checked on its own: every
/// layout of a valid card with every separator, and the near-misses around
/// them.
#[test]
fn every_layout_and_separator() {
    let cards = [
        "4111111111111111",
        "378282246310005",
        "6011000990139424",
        "2223003122003222",
    ];
    let mut text = Vec::new();
    for card in cards {
        for sep in SEPARATORS {
            for grouping in [(0, vec![]), (1, vec![]), (3, vec![]), (4, vec![4, 4, 5])] {
                let groups = groups_of(card.as_bytes(), &grouping);
                let joined = groups.join(sep.as_bytes());
                for (before, after) in [("", ""), ("card ", " ok"), ("=", ".5"), ("x", " 20:46:52")]
                {
                    text.extend_from_slice(before.as_bytes());
                    text.extend_from_slice(&joined);
                    text.extend_from_slice(after.as_bytes());
                    text.push(b'\n');
                }
            }
        }
    }
    assert_same_findings(&text);
    // The test is not vacuous: cards are found.
    let (_, counts) = scrub(&scanners().0, &text);
    let cards = counts
        .iter()
        .find(|(rule, _)| rule == "pan")
        .map_or(0, |c| c.1);
    assert!(cards > 100, "{counts:?}");
}
