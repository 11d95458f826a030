//! Property tests of the scrubber's core promises, through the library API
//! (`logscrub::redact`, `logscrub::scan`, `logscrub::pipe`), with the
//! built-in rules compiled once (`OnceLock`).
//!
//! * [`every_card_is_redacted`]: Luhn-valid numbers of every network
//!   (Visa 13/16/19, Mastercard 51–55 and 2221–2720, Amex 34/37, Discover
//!   6011/644–649/65, JCB 3528–3589, Diners 300–305/36/38, UnionPay 62,
//!   Maestro), contiguous or grouped as cards are printed (4-4-4-4, Amex
//!   4-6-5, Diners 4-6-4, 4-4-4-4-3; other lengths in fours with a shorter
//!   last group) by spaces or dashes, put at a word boundary of a random
//!   real log line (between a space or punctuation byte on each side), never
//!   survive: no digit group of the output line (digits separated by at most
//!   3 non-alphanumeric characters, the eval scorer's rule) holds the card's
//!   digits, and the neighbouring lines are untouched.
//! * [`loghub_lines_pass_unchanged`] and [`secret_free_text_passes_unchanged`]:
//!   no false positives on real logs (bar the four lines with genuine e-mail
//!   addresses) nor on random text from a generator that cannot spell any
//!   secret (see [`secret_free_line`] for why).
//! * [`chunking_does_not_change_the_output`]: scrubbing a text whole, in
//!   pieces cut at line boundaries on one `Redactor`, and through the
//!   parallel pipeline (2–4 threads, several 256 KiB batches, small and
//!   default line limits) gives the same bytes, private-key blocks, CRI
//!   partial lines and over-long lines included.
//! * [`engine_covers_the_naive_reference`]: a differential test of the
//!   one-automaton engine against a naive per-rule reference that tries
//!   every start offset; see [`reference_findings`] for what is compared and
//!   the one documented restriction, and [`the_differential_check_can_fail`].
//! * Regressions of misses found by these tests, now fixed:
//!   [`cvv_keyword_before_a_grouped_number`],
//!   [`stripe_card_id_shadows_a_cvv_key`],
//!   [`cri_run_completed_by_an_unterminated_last_line`].
//!
//! Case counts are modest so the file runs in a few seconds in release and
//! well under a minute in debug; `PROPTEST_CASES` raises them all. Failure
//! persistence is off (the minimal failing input is printed instead).

use std::collections::BTreeSet;
use std::io::Cursor;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

mod common;
use common::{digit_groups, leaks};

use logscrub::pipe::PipeOptions;
use logscrub::redact::{scrub_with, Redactor};
use logscrub::rules::validate::{card_network_valid, luhn_valid};
use logscrub::rules::{Rule, Validator};
use logscrub::scan::Scanner;
use logscrub::stats::Stats;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use regex_automata::{meta, util::captures::Captures, Anchored, Input, PatternID};

// ---------------------------------------------------------------------------
// Shared data
// ---------------------------------------------------------------------------

const LOGHUB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/loghub");
const EVAL_CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/eval_public.jsonl");

const LOGHUB_FILES: [&str; 16] = [
    "Android_2k.log",
    "Apache_2k.log",
    "BGL_2k.log",
    "HDFS_2k.log",
    "HPC_2k.log",
    "Hadoop_2k.log",
    "HealthApp_2k.log",
    "Linux_2k.log",
    "Mac_2k.log",
    "OpenSSH_2k.log",
    "OpenStack_2k.log",
    "Proxifier_2k.log",
    "Spark_2k.log",
    "Thunderbird_2k.log",
    "Windows_2k.log",
    "Zookeeper_2k.log",
];

/// The loghub lines (file, 1-based line) holding genuine e-mail addresses,
/// as listed in `tests/loghub_corpus.rs`: left out of [`loghub`].
const GENUINE_SECRETS: [(&str, usize); 4] = [
    ("Linux_2k.log", 1911),
    ("Mac_2k.log", 607),
    ("Mac_2k.log", 1393),
    ("Mac_2k.log", 1580),
];

/// The built-in scanner, compiled once for the whole file.
fn scanner() -> &'static Arc<Scanner> {
    static SCANNER: OnceLock<Arc<Scanner>> = OnceLock::new();
    SCANNER.get_or_init(|| Arc::new(Scanner::builtin()))
}

/// Every loghub line without its `\n` (a `\r` before it is kept), except
/// the genuine-secret lines.
fn loghub() -> &'static [Vec<u8>] {
    static LINES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let mut lines = Vec::new();
        for file in LOGHUB_FILES {
            let path = format!("{LOGHUB_DIR}/{file}");
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
            let data = data.strip_suffix(b"\n").unwrap_or(&data);
            for (i, line) in data.split(|&b| b == b'\n').enumerate() {
                if !GENUINE_SECRETS.contains(&(file, i + 1)) {
                    lines.push(line.to_vec());
                }
            }
        }
        assert!(lines.len() > 30_000, "loghub corpus is missing");
        lines
    })
}

use common::proptest_config as config;

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------------------
// Card numbers
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Network {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Jcb,
    Diners,
    UnionPay,
    Maestro,
}

const NETWORKS: [Network; 8] = [
    Network::Visa,
    Network::Mastercard,
    Network::Amex,
    Network::Discover,
    Network::Jcb,
    Network::Diners,
    Network::UnionPay,
    Network::Maestro,
];

/// A prefix and a length the network issues.
fn prefix_and_length(network: Network) -> BoxedStrategy<(String, usize)> {
    let n = |r: std::ops::RangeInclusive<u32>| r.prop_map(|p| p.to_string());
    match network {
        Network::Visa => (Just("4".to_string()), select(vec![13usize, 16, 19])).boxed(),
        Network::Mastercard => (prop_oneof![n(51..=55), n(2221..=2720)], Just(16usize)).boxed(),
        Network::Amex => (
            select(vec!["34".to_string(), "37".to_string()]),
            Just(15usize),
        )
            .boxed(),
        Network::Discover => (
            prop_oneof![
                Just("6011".to_string()),
                n(644..=649),
                Just("65".to_string())
            ],
            16usize..=19,
        )
            .boxed(),
        Network::Jcb => (n(3528..=3589), 16usize..=19).boxed(),
        Network::Diners => (
            prop_oneof![n(300..=305), Just("36".to_string()), Just("38".to_string())],
            Just(14usize),
        )
            .boxed(),
        Network::UnionPay => (Just("62".to_string()), 16usize..=19).boxed(),
        Network::Maestro => (
            select(vec![
                5018u32, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763,
            ])
            .prop_map(|p| p.to_string()),
            13usize..=19,
        )
            .boxed(),
    }
}

/// The Luhn check digit that completes `partial` (digit values).
fn luhn_check_digit(partial: &[u8]) -> u8 {
    (0..10u8)
        .find(|&d| {
            let mut all = partial.to_vec();
            all.push(d);
            luhn_valid(&all)
        })
        .expect("some check digit completes any number")
}

#[derive(Clone, Debug)]
struct Card {
    network: Network,
    /// ASCII digits.
    digits: String,
}

/// A Luhn-valid number of a random network, with that network's prefix
/// and one of its lengths.
fn card() -> impl Strategy<Value = Card> {
    select(NETWORKS.to_vec()).prop_flat_map(|network| {
        prefix_and_length(network).prop_flat_map(move |(prefix, len)| {
            let body = len - prefix.len() - 1;
            prop::collection::vec(0u8..10, body).prop_map(move |body| {
                let mut d: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
                d.extend(body);
                d.push(luhn_check_digit(&d));
                Card {
                    network,
                    digits: d.iter().map(|v| char::from(b'0' + v)).collect(),
                }
            })
        })
    })
}

/// How a card is written: contiguous, or grouped by one separator.
#[derive(Clone, Copy, Debug)]
enum Layout {
    Contiguous,
    Grouped(char),
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Contiguous),
        Just(Layout::Grouped(' ')),
        Just(Layout::Grouped('-')),
    ]
}

/// The group sizes cards of `len` digits are printed in.
fn group_sizes(len: usize) -> Vec<usize> {
    match len {
        15 => vec![4, 6, 5], // Amex
        14 => vec![4, 6, 4], // Diners
        _ => {
            // 4-4-4-4, 4-4-4-4-3, and 4-4-4-1, 4-4-4-4-1, 4-4-4-4-2.
            let mut sizes = vec![4; len / 4];
            if len % 4 != 0 {
                sizes.push(len % 4);
            }
            sizes
        }
    }
}

fn format_card(digits: &str, layout: Layout) -> String {
    match layout {
        Layout::Contiguous => digits.to_string(),
        Layout::Grouped(sep) => {
            let mut out = String::new();
            let mut at = 0;
            for size in group_sizes(digits.len()) {
                if at > 0 {
                    out.push(sep);
                }
                out.push_str(&digits[at..at + size]);
                at += size;
            }
            out
        }
    }
}

/// The bytes that may stand right before and after an inserted card.
const BEFORE: &[u8] = b" =:\"('[{,;|<\t";
const AFTER: &[u8] = b" =:\")'],;|>}!\t";

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The documented exception "the value of an id key is an identifier, not
/// a card" (`order_id=…`, `"shipmentId": "…"`, `ID: …`), modelled as the
/// validator reads it: the key before up to 6 bytes of `"':= \t(`.
fn after_id_key(before: &[u8]) -> bool {
    let mut i = before.len();
    let mut skipped = 0;
    while i > 0 && b"\"':= \t(".contains(&before[i - 1]) && skipped < 6 {
        i -= 1;
        skipped += 1;
    }
    if skipped == 0 {
        return false;
    }
    let end = i;
    while i > 0 && (before[i - 1].is_ascii_alphanumeric() || matches!(before[i - 1], b'_' | b'-')) {
        i -= 1;
    }
    let key = &before[i..end];
    let n = key.len();
    if n < 2 || !key[n - 2..].eq_ignore_ascii_case(b"id") {
        return false;
    }
    n == 2
        || matches!(key[n - 3], b'_' | b'-')
        || (key[n - 2] == b'I' && key[n - 3].is_ascii_lowercase())
        || key == b"ID"
}

/// Inserts `card`, with the `before` and `after` bytes around it, into
/// `line` at the first word boundary at or after `at` (never inside a word,
/// nor inside a UTF-8 character), returning the new line.
fn insert_card(line: &[u8], at: usize, before: u8, after: u8, card: &str) -> Vec<u8> {
    let content_len = line.strip_suffix(b"\r").map_or(line.len(), <[u8]>::len);
    let text = std::str::from_utf8(line).ok();
    let fits = |i: usize| {
        let word_boundary =
            i == 0 || i == content_len || !is_word(line[i - 1]) || !is_word(line[i]);
        word_boundary && text.is_none_or(|t| t.is_char_boundary(i))
    };
    let mut at = at.min(content_len);
    while !fits(at) {
        at += 1;
    }
    // Keep clear of the id-key exception: a separator that ends the key
    // context instead.
    let before = if after_id_key(&[&line[..at], &[before][..]].concat()) {
        b','
    } else {
        before
    };
    let mut out = line[..at].to_vec();
    out.push(before);
    out.extend_from_slice(card.as_bytes());
    out.push(after);
    out.extend_from_slice(&line[at..]);
    out
}

#[test]
fn generated_cards_are_valid_for_their_network() {
    let mut runner = proptest::test_runner::TestRunner::new(config(200));
    runner
        .run(&(card(), layout()), |(card, layout)| {
            let d: Vec<u8> = card.digits.bytes().map(|b| b - b'0').collect();
            prop_assert!(luhn_valid(&d), "{card:?}");
            prop_assert!(card_network_valid(&d), "{card:?}");
            let text = format_card(&card.digits, layout);
            prop_assert_eq!(text.chars().filter(char::is_ascii_digit).count(), d.len());
            Ok(())
        })
        .unwrap();
    // The layouts the README promises.
    assert_eq!(
        format_card("4111111111111111", Layout::Grouped(' ')),
        "4111 1111 1111 1111"
    );
    assert_eq!(
        format_card("378282246310005", Layout::Grouped('-')),
        "3782-822463-10005"
    );
    assert_eq!(
        format_card("30569309025904", Layout::Grouped(' ')),
        "3056 930902 5904"
    );
    assert_eq!(
        format_card("4111111111111111003", Layout::Grouped('-')),
        "4111-1111-1111-1111-003"
    );
    // The leak check sees every separator form, and not a redacted card.
    for out in [
        "x 4111111111111111 y",
        "x 4111 1111 1111 1111 y",
        "x 4111-1111-1111-1111",
        "4111 - 1111 . 1111 / 1111",
    ] {
        assert!(leaks(out.as_bytes(), "4111111111111111"), "{out}");
    }
    assert!(!leaks(b"x [CARD_REDACTED] 1111 y", "4111111111111111"));
    assert!(!leaks(b"4111 1111 x 1111 1111", "4111111111111111"));
}

proptest! {
    #![proptest_config(config(256))]

    /// A card put at a word boundary of a real log line never survives,
    /// and the lines around it pass unchanged.
    #[test]
    fn every_card_is_redacted(
        card in card(),
        layout in layout(),
        line in any::<Index>(),
        at in any::<Index>(),
        before in select(BEFORE.to_vec()),
        after in select(AFTER.to_vec()),
        neighbours in prop::collection::vec(any::<Index>(), 0..4),
    ) {
        let corpus = loghub();
        let line = &corpus[line.index(corpus.len())];
        let text = format_card(&card.digits, layout);
        let planted = insert_card(line, at.index(line.len() + 1), before, after, &text);
        // The card line, between neighbours: [n0, card, n1, n2, ...].
        let mut lines: Vec<&[u8]> = neighbours
            .iter()
            .map(|i| corpus[i.index(corpus.len())].as_slice())
            .collect();
        let card_at = lines.len().min(1);
        lines.insert(card_at, &planted);
        let mut input = lines.join(&b'\n');
        input.push(b'\n');

        let out = scrub_with(scanner(), &input);
        let out_lines: Vec<&[u8]> = out
            .strip_suffix(b"\n")
            .unwrap_or(&out)
            .split(|&b| b == b'\n')
            .collect();
        prop_assert_eq!(out_lines.len(), lines.len(), "line count changed:\n{}", show(&out));
        prop_assert!(
            !leaks(out_lines[card_at], &card.digits),
            "{:?} card {} leaked:\n  in:  {}\n  out: {}",
            card.network, text, show(&planted), show(out_lines[card_at])
        );
        for (i, (got, want)) in out_lines.iter().zip(&lines).enumerate() {
            if i != card_at {
                prop_assert_eq!(show(got), show(want), "a neighbouring line changed");
            }
        }
    }

    /// Random real log lines come out byte-identical.
    #[test]
    fn loghub_lines_pass_unchanged(
        picks in prop::collection::vec(any::<Index>(), 1..200),
        final_newline in any::<bool>(),
    ) {
        let corpus = loghub();
        let lines: Vec<&[u8]> = picks
            .iter()
            .map(|i| corpus[i.index(corpus.len())].as_slice())
            .collect();
        let mut input = lines.join(&b'\n');
        if final_newline {
            input.push(b'\n');
        }
        let out = scrub_with(scanner(), &input);
        if out != input {
            let a: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
            let b: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
            let diff = a.iter().zip(&b).find(|(x, y)| x != y);
            let diff = diff.map(|(x, y)| (show(x), show(y)));
            prop_assert!(false, "a loghub line changed: {:?}", diff);
        }
    }

    /// Text that cannot spell a secret comes out byte-identical.
    #[test]
    fn secret_free_text_passes_unchanged(
        lines in prop::collection::vec(secret_free_line(), 1..12),
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
    ) {
        let mut input = lines.join(if crlf { "\r\n" } else { "\n" }).into_bytes();
        if final_newline {
            input.push(b'\n');
        }
        let out = scrub_with(scanner(), &input);
        prop_assert_eq!(show(&out), show(&input));
    }
}

// ---------------------------------------------------------------------------
// Secret-free text
// ---------------------------------------------------------------------------

/// ASCII letters minus `c e i n w x` (both cases): every keyword, key prefix
/// and sensitive structured-log key of the catalog needs one of them.
const LETTERS: &str = "abdfghjklmopqrstuvyzABDFGHJKLMOPQRSTUVYZ";
/// Bytes between tokens: whitespace, punctuation without `@` (e-mail) and
/// `%`, `&`, `\` (they start the percent, HTML and JSON decoded views,
/// which could turn into anything), control bytes but `\n`.
const SEPARATORS: &str =
    " \t !\"#$'()*+,-./:;<=>?[]^_`{|}~\u{0}\u{1}\u{7}\u{b}\u{c}\u{1b}\u{7f}\u{a0}\u{2003}\u{3000}";
/// What may end a number: never a digit, a space or a dash.
const NUMBER_ENDS: &str = "!\"#$'()*+,./:;<=>?[]^_`{|}~\u{a0}";

/// A line that cannot hold a secret of the built-in catalog.
///
/// The line is `token (separator token)*`, where a separator is 1–3
/// characters from [`SEPARATORS`] and a token is either a word of 1–8
/// characters from [`LETTERS`] and non-ASCII characters, or a number of
/// 1–8 digits always followed by one character of [`NUMBER_ENDS`]. Why no
/// rule can fire:
///
/// - no `@`: no e-mail; no `%`, `&`, `\`: no decoded view differs from the
///   raw line, so only the raw text is scanned;
/// - runs of ASCII letters and digits are at most 8 long (tokens are
///   separated by non-alphanumeric separators), while AWS keys need 20,
///   Stripe ids 14 after `_`, GitHub tokens 36, Google keys 39;
/// - a digit is only ever followed by a digit or a non-space non-dash
///   character, so digits never chain across `[ -]`: no grouped card, no
///   dashed SSN, and a contiguous card (13), keyed SSN or routing number
///   (9) or account number (8 after `acct`) is longer than any digit run
///   (the account keyword needs `c` anyway);
/// - every keyword needs a letter that is never generated: `c` (cvv, cvc,
///   cvn, cid, csc, security code, card verification, secret, account,
///   acct, basic, `hooks.slack.com`), `e` (token, bearer, `eyJ` of a JWT,
///   BEGIN), `i` (api_key, apikey, routing, AIza), `n` (ssn, rtn, token),
///   `w` (password, passwd), `x` (`xox` of Slack tokens), so no keyed rule,
///   no JWT, no private-key marker;
/// - structured logs: a line may start with `{` or look like logfmt, but
///   every sensitive key (password, passwd, secret, token, apikey,
///   authorization, privatekey, cardnumber, pan, ccnumber, cvv, cvc,
///   securitycode, ssn, …number) needs `c`, `e`, `i`, `n` or `w`; and a CRI
///   header needs `stdout`/`stderr`.
fn secret_free_line() -> impl Strategy<Value = String> {
    let letters: Vec<char> = LETTERS.chars().collect();
    let non_ascii = prop_oneof![
        prop::char::range('\u{80}', '\u{d7ff}'),
        prop::char::range('\u{e000}', '\u{10ffff}'),
    ];
    let word_char = prop_oneof![4 => select(letters), 1 => non_ascii];
    let word =
        prop::collection::vec(word_char, 1..=8).prop_map(|cs| cs.into_iter().collect::<String>());
    let number = (
        "[0-9]{1,8}",
        select(NUMBER_ENDS.chars().collect::<Vec<_>>()),
    )
        .prop_map(|(d, end)| format!("{d}{end}"));
    let token = prop_oneof![3 => word, 2 => number];
    let separator = prop::collection::vec(select(SEPARATORS.chars().collect::<Vec<_>>()), 1..=3)
        .prop_map(|cs| cs.into_iter().collect::<String>());
    (
        token.clone(),
        prop::collection::vec((separator, token), 0..30),
    )
        .prop_map(|(first, rest)| {
            let mut line = first;
            for (sep, tok) in rest {
                line.push_str(&sep);
                line.push_str(&tok);
            }
            line
        })
}

#[test]
fn the_secret_free_generator_has_what_it_promises() {
    let mut runner = proptest::test_runner::TestRunner::new(config(300));
    runner
        .run(&secret_free_line(), |line| {
            prop_assert!(!line.contains(['@', '%', '&', '\\', '\n']));
            let mut run = 0;
            for b in line.bytes() {
                run = if b.is_ascii_digit() { run + 1 } else { 0 };
                prop_assert!(run < 9, "{line:?}");
            }
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------
// Chunking independence
// ---------------------------------------------------------------------------

/// A piece of test input: one or more lines, each with its terminator.
#[derive(Clone)]
struct Piece {
    lines: Vec<Vec<u8>>,
    /// A run of CRI partial lines and the line completing it: never cut
    /// inside (see [`chunking_does_not_change_the_output`]).
    keep_together: bool,
}

impl std::fmt::Debug for Piece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.lines.iter().map(|l| show(l)).collect();
        if lines.len() > 4 {
            write!(f, "{} lines from {:?}", lines.len(), lines[0])
        } else {
            write!(f, "{lines:?}")
        }
    }
}

fn piece(lines: Vec<String>) -> Piece {
    Piece {
        lines: lines
            .into_iter()
            .map(|l| format!("{l}\n").into_bytes())
            .collect(),
        keep_together: false,
    }
}

/// Lines with secrets of many kinds, and the multi-line constructs whose
/// state crosses line boundaries.
fn secret_piece() -> impl Strategy<Value = Piece> {
    let b64 = "[A-Za-z0-9+/]{16,64}";
    prop_oneof![
        (card(), layout()).prop_map(|(c, l)| piece(vec![format!(
            "charge ok card={} amount=12.00",
            format_card(&c.digits, l)
        )])),
        (card(), "[0-9]{3}").prop_map(|(c, cvv)| piece(vec![format!(
            r#"{{"event":"pay","card_number":"{}","cvv":{cvv},"ok":true}}"#,
            c.digits
        )])),
        "[a-z]{3,10}".prop_map(|u| piece(vec![format!(
            "GET /cb?email={u}%40example.com&next=%2Fhome HTTP/1.1 200"
        )])),
        "[A-Za-z0-9]{24}".prop_map(|k| piece(vec![format!(
            "stripe key sk_live_{k} for {k}@mail.example.org"
        )])),
        "[A-Za-z0-9]{20,40}"
            .prop_map(|t| piece(vec![format!("Authorization: Bearer {t} password={t}")])),
        // A private-key block, closed or not (an open one is followed for
        // 200 lines, across batches).
        (prop::collection::vec(b64, 1..6), any::<bool>()).prop_map(|(body, closed)| {
            let mut lines = vec!["-----BEGIN RSA PRIVATE KEY-----".to_string()];
            lines.extend(body);
            if closed {
                lines.push("-----END RSA PRIVATE KEY-----".to_string());
            }
            piece(lines)
        }),
        // CRI partial lines with a card split across them.
        (card(), 1..4usize).prop_map(|(c, parts)| {
            let digits = c.digits;
            let step = digits.len().div_ceil(parts);
            let mut lines = Vec::new();
            let chunks: Vec<&str> = digits
                .as_bytes()
                .chunks(step)
                .map(|ch| std::str::from_utf8(ch).unwrap())
                .collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let tag = if i + 1 == chunks.len() { "F" } else { "P" };
                let text = if i == 0 {
                    format!("card {chunk}")
                } else {
                    chunk.to_string()
                };
                lines.push(format!(
                    "2024-04-13T16:22:02.416120330Z stdout {tag} {text}"
                ));
            }
            let mut p = piece(lines);
            p.keep_together = true;
            p
        }),
        // A line that may pass the line limit.
        (card(), 100..3000usize).prop_map(|(c, n)| piece(vec![format!(
            "{} {} end",
            "x".repeat(n),
            c.digits
        )])),
        Just(piece(vec![String::new()])),
        Just(Piece {
            lines: vec![b"windows line 4111111111111111\r\n".to_vec()],
            keep_together: false
        }),
    ]
}

/// A text of loghub lines and secret pieces; sometimes larger than
/// several read chunks, so the pipeline cuts it into many batches.
fn mixed_text() -> impl Strategy<Value = Vec<Piece>> {
    let filler = (any::<Index>(), 1..2500usize).prop_map(|(start, n)| {
        let corpus = loghub();
        let start = start.index(corpus.len() - n);
        Piece {
            lines: corpus[start..start + n]
                .iter()
                .map(|l| [l.as_slice(), b"\n"].concat())
                .collect(),
            keep_together: false,
        }
    });
    prop::collection::vec(prop_oneof![1 => filler, 3 => secret_piece()], 1..40)
}

fn scrub_whole(text: &[u8], max_line_bytes: usize) -> Vec<u8> {
    let mut redactor = Redactor::new(Arc::clone(scanner()));
    redactor.set_max_line_bytes(max_line_bytes);
    let mut out = Vec::new();
    redactor.scrub_lines(text, &mut out);
    out
}

proptest! {
    #![proptest_config(config(24))]

    /// Scrubbing does not depend on how the input is cut into buffers.
    ///
    /// `Redactor::scrub_lines` ends each buffer by writing the CRI partial
    /// lines it still holds (the line reader never ends a batch inside such
    /// a run), so the cuts avoid the inside of a partial run; any other
    /// line boundary is allowed, including inside private-key blocks.
    #[test]
    fn chunking_does_not_change_the_output(
        pieces in mixed_text(),
        cuts in prop::collection::vec(any::<Index>(), 0..10),
        drop_final_newline in any::<bool>(),
        small_limit in prop::option::of(64..4096usize),
        threads in 2..=4usize,
    ) {
        let max_line_bytes = small_limit.unwrap_or(logscrub::framing::DEFAULT_MAX_LINE_BYTES);
        let mut text = Vec::new();
        // Byte offsets where a cut is allowed.
        let mut boundaries = vec![0];
        for p in &pieces {
            for (i, line) in p.lines.iter().enumerate() {
                text.extend_from_slice(line);
                if !p.keep_together || i + 1 == p.lines.len() {
                    boundaries.push(text.len());
                }
            }
        }
        // (Not after a CRI partial run: the pipeline then hands the run and
        // its unterminated completing line to different batches, a known
        // bug pinned by `cri_run_completed_by_an_unterminated_last_line`.)
        if drop_final_newline && !pieces.last().is_some_and(|p| p.keep_together) {
            text.pop();
            *boundaries.last_mut().unwrap() = text.len();
        }

        let whole = scrub_whole(&text, max_line_bytes);

        let mut cut_at: Vec<usize> = cuts
            .iter()
            .map(|c| boundaries[c.index(boundaries.len())])
            .collect();
        cut_at.push(0);
        cut_at.push(text.len());
        cut_at.sort_unstable();
        cut_at.dedup();
        let mut redactor = Redactor::new(Arc::clone(scanner()));
        redactor.set_max_line_bytes(max_line_bytes);
        let mut split = Vec::new();
        for w in cut_at.windows(2) {
            redactor.scrub_lines(&text[w[0]..w[1]], &mut split);
        }
        let diff = first_difference(&whole, &split);
        prop_assert!(split == whole, "split at {:?} differs: {}", cut_at, diff);

        let piped = scrub_piped(&text, threads, max_line_bytes);
        let diff = first_difference(&whole, &piped);
        prop_assert!(
            piped == whole,
            "{} threads (limit {}) differ: {}",
            threads, max_line_bytes, diff
        );
    }
}

/// Scrubs `text` through the pipeline, reading it from a `Cursor`.
fn scrub_piped(text: &[u8], threads: usize, max_line_bytes: usize) -> Vec<u8> {
    let options = PipeOptions {
        threads,
        max_line_bytes,
        ..PipeOptions::default()
    };
    let mut piped = Vec::new();
    let mut stats = Stats::new(scanner().rules().len());
    let input = Cursor::new(text.to_vec());
    logscrub::pipe::run("test", input, &mut piped, scanner(), &options, &mut stats)
        .expect("an in-memory pipe does not fail");
    piped
}

/// The first line where `b` differs from `a`.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let la: Vec<&[u8]> = a.split_inclusive(|&x| x == b'\n').collect();
    let lb: Vec<&[u8]> = b.split_inclusive(|&x| x == b'\n').collect();
    for (i, (x, y)) in la.iter().zip(&lb).enumerate() {
        if x != y {
            return format!("line {}: {:?} vs {:?}", i + 1, show(x), show(y));
        }
    }
    format!("{} lines vs {} lines", la.len(), lb.len())
}

// ---------------------------------------------------------------------------
// Differential test: the engine against a naive reference
// ---------------------------------------------------------------------------

/// One rule compiled alone.
struct Reference {
    rule: Rule,
    regex: meta::Regex,
    secret: Option<usize>,
}

fn references() -> &'static [Reference] {
    static REFS: OnceLock<Vec<Reference>> = OnceLock::new();
    REFS.get_or_init(|| {
        logscrub::rules::builtin_rules()
            .into_iter()
            // Private-key blocks are followed by the redactor, not by the
            // rule's match: left out (their bodies are only ever covered
            // more by the engine).
            .filter(|r| r.validator != Some(Validator::PemBlock))
            .map(|rule| {
                let regex = meta::Regex::builder()
                    .syntax(logscrub::rules::syntax_config())
                    .build(&rule.regex)
                    .unwrap_or_else(|e| panic!("rule {}: {e}", rule.id));
                let secret = regex.group_info().to_index(PatternID::ZERO, "secret");
                Reference {
                    rule,
                    regex,
                    secret,
                }
            })
            .collect()
    })
}

/// A finding of the reference: rule id and byte span.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RefFinding {
    rule: String,
    span: Range<usize>,
}

/// The naive reference: for each rule alone, every start offset of `line`
/// is tried with an anchored search (leftmost-first within the rule); the
/// `secret` group, when the rule has one and it took part, is the
/// candidate, else the whole match; the rule's validator confirms or
/// narrows it. Every accepted, non-empty span is a finding: nothing is
/// skipped after an accepted or a rejected candidate, and rules never
/// shadow each other.
///
/// (Offsets before the next unanchored match of the rule are skipped
/// without an anchored search: no anchored match can start there, since an
/// unanchored search reports the leftmost start that has a match.)
fn reference_findings(line: &[u8]) -> Vec<RefFinding> {
    let mut found = Vec::new();
    for r in references() {
        let mut caps: Captures = r.regex.create_captures();
        let mut at = 0;
        while at < line.len() {
            let Some(next) = r.regex.search(&Input::new(line).range(at..)) else {
                break;
            };
            let start = next.start();
            r.regex.search_captures(
                &Input::new(line).range(start..).anchored(Anchored::Yes),
                &mut caps,
            );
            let whole = caps.get_match().expect("a match starts here").range();
            let span = r
                .secret
                .and_then(|g| caps.get_group(g))
                .map_or(whole, |g| g.range());
            let verdict = match r.rule.validator {
                Some(v) => v.check(line, span),
                None => Ok(span),
            };
            if let Ok(span) = verdict {
                if !span.is_empty() {
                    found.push(RefFinding {
                        rule: r.rule.id.clone(),
                        span,
                    });
                }
            }
            at = start + 1;
        }
    }
    found.sort_by_key(|f| (f.span.start, f.span.end, f.rule.clone()));
    found
}

/// The rules the differential test asserts on.
fn asserted(rule: &Rule) -> bool {
    matches!(rule.id.as_str(), "pan" | "cvv" | "ssn" | "email")
        || rule.family == "stripe"
        || rule.family == "keys"
}

/// A byte range the reference redacts and the engine does not.
#[derive(Debug)]
struct Miss {
    rule: String,
    reference: Range<usize>,
    missed: Vec<usize>,
}

/// Compares the engine with the reference on one line: every byte of every
/// reference finding of an [`asserted`] rule must be redacted by the engine
/// (by a finding of any rule; the engine may redact more).
///
/// The one restriction, and why it is legitimate: a reference finding of a
/// rule that **starts strictly inside an engine finding of the same rule**
/// is not asserted on. Those are overlapping matches of one pattern, and
/// like any regex iterator the engine reports non-overlapping leftmost
/// matches and resumes after an accepted one: in `a@b.com@c.org` it redacts
/// `a@b.com`, while the reference, trying every offset, also matches
/// `b.com@c.org` and would count `@c.org` as missed.
///
/// Candidates of *another* rule that start inside an accepted finding are
/// skipped by the engine in the same way, but that is not excused here,
/// because it can hide a secret: on `cvv 4111 1111 1111 1111` the engine
/// takes `4111` as the CVV and never looks at the card again, so
/// `compare` reports rule `pan`, reference span 4..23, missed bytes 8..23
/// (the known bug pinned by [`cvv_keyword_before_a_grouped_number`]).
/// Neither case occurs in the eval texts: the comparison passes there with
/// no restriction at all. Everything else must be covered byte for byte: a
/// missed rule, a rejected candidate that hides a later one, a secret group
/// read wrongly, a candidate the combined automaton never reports because a
/// higher-priority rule matched at the same start.
fn compare(scanner: &Scanner, line: &[u8]) -> Vec<Miss> {
    compare_with(scanner, line, &reference_findings(line))
}

fn compare_with(scanner: &Scanner, line: &[u8], reference: &[RefFinding]) -> Vec<Miss> {
    let mut scratch = scanner.scratch();
    scanner.scan_line(line, &mut scratch);
    let engine: BTreeSet<usize> = scratch
        .findings
        .iter()
        .flat_map(|f| f.span.clone())
        .collect();
    let mut misses = Vec::new();
    for f in reference {
        let rule = &references()
            .iter()
            .find(|r| r.rule.id == f.rule)
            .expect("a reference rule")
            .rule;
        if !asserted(rule) {
            continue;
        }
        let missed: Vec<usize> = f.span.clone().filter(|b| !engine.contains(b)).collect();
        if missed.is_empty() {
            continue;
        }
        let overlapping_match_of_the_same_rule = scratch.findings.iter().any(|e| {
            scanner.rules()[e.rule].id == f.rule
                && e.span.start < f.span.start
                && f.span.start < e.span.end
        });
        if overlapping_match_of_the_same_rule {
            continue;
        }
        // A URL's password (`scheme://user:PASSWORD@host`) is redacted
        // alone by `url_password`: the e-mail and keyed-value shapes that
        // run on over `@host/path` are by design not followed there.
        let url_password_there = scratch.findings.iter().any(|e| {
            e.span.start == f.span.start
                && line.get(e.span.end) == Some(&b'@')
                && line[..e.span.start].windows(3).any(|w| w == b"://")
        });
        if url_password_there {
            continue;
        }
        misses.push(Miss {
            rule: f.rule.clone(),
            reference: f.span.clone(),
            missed,
        });
    }
    misses
}

/// The eval texts the decoded views do not apply to.
fn eval_lines() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(EVAL_CASES).expect("reading the eval cases");
    let mut lines = Vec::new();
    for row in text.lines() {
        let case: serde_json::Value = serde_json::from_str(row).expect("a JSON case");
        let t = case["text"].as_str().expect("a text field");
        if !t.contains(['\\', '%', '&', '\n', '\r']) {
            lines.push((
                case["id"].as_str().unwrap_or("?").to_string(),
                t.to_string(),
            ));
        }
    }
    lines
}

#[test]
fn engine_covers_the_naive_reference() {
    let lines = eval_lines();
    assert!(lines.len() > 3000, "{} eval lines", lines.len());
    let mut failures = Vec::new();
    let mut compared = 0;
    for (id, text) in &lines {
        let reference = reference_findings(text.as_bytes());
        compared += reference.len();
        let misses = compare_with(scanner(), text.as_bytes(), &reference);
        for m in misses {
            failures.push(format!(
                "{id}: rule {} found {:?} = {:?}, engine misses bytes {:?} of it\n    {text}",
                m.rule,
                m.reference,
                &text[m.reference.clone()],
                m.missed
            ));
        }
    }
    eprintln!(
        "{} eval lines, {compared} reference findings, {} not covered",
        lines.len(),
        failures.len()
    );
    assert!(compared > 4000, "only {compared} reference findings");
    assert!(
        failures.is_empty(),
        "{} reference findings not covered by the engine:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The comparison is not vacuous: an engine without the e-mail rule misses
/// what the reference finds, and the comparison says so.
#[test]
fn the_differential_check_can_fail() {
    let rules: Vec<Rule> = logscrub::rules::builtin_rules()
        .into_iter()
        .filter(|r| r.id != "email")
        .collect();
    let crippled = Scanner::new(rules).expect("the catalog without one rule compiles");
    let line = b"user bob.smith@example.com logged in with card 4111 1111 1111 1111";
    assert!(compare(scanner(), line).is_empty());
    let misses = compare(&crippled, line);
    // The reference finds the address from every word start of its local
    // part (`bob.smith@…`, `smith@…`); the engine, without the rule, none.
    assert!(!misses.is_empty());
    assert!(misses.iter().all(|m| m.rule == "email"), "{misses:?}");
    let missed: BTreeSet<usize> = misses.iter().flat_map(|m| m.missed.clone()).collect();
    assert_eq!(missed, (5..26).collect::<BTreeSet<_>>());

    // The one excused case: overlapping matches of the same rule.
    let line = b"a@b.com@c.org";
    let reference = reference_findings(line);
    assert!(
        reference.contains(&RefFinding {
            rule: "email".into(),
            span: 2..13
        }),
        "{reference:?}"
    );
    assert_eq!(scrub_with(scanner(), line), b"[EMAIL_REDACTED]@c.org");
    assert!(compare(scanner(), line).is_empty());
}

// ---------------------------------------------------------------------------
// Known misses: these fail today and must pass once the bug is fixed
// ---------------------------------------------------------------------------

/// True when a digit group of `out` holds 4 or more consecutive digits of
/// `secret`.
fn keeps_part_of(out: &[u8], secret: &str) -> bool {
    digit_groups(&String::from_utf8_lossy(out)).iter().any(|g| {
        (0..g.len().saturating_sub(3)).any(|i| (i + 4..=g.len()).any(|j| secret.contains(&g[i..j])))
    })
}

/// Regression (fixed): after a CVV keyword, `[0-9]{3,4}\b` accepts the first group of a
/// grouped card (or of a dashed SSN) as the CVV; the engine resumes after
/// it, so the card candidate that starts inside the CVV finding is never
/// looked at and the remaining groups are written raw:
/// `cvv 4111 1111 1111 1111` → `cvv [CVV_REDACTED] 1111 1111 1111`.
#[test]
fn cvv_keyword_before_a_grouped_number() {
    for (line, secret) in [
        ("cvv 4111 1111 1111 1111", "4111111111111111"),
        ("CVV2 5555 5555 5555 4444", "5555555555554444"),
        ("security code 3782 822463 10005", "378282246310005"),
        ("cid: 3056-930902-5904", "30569309025904"),
        ("cvv: 123-45-6789", "123456789"),
    ] {
        let out = scrub_with(scanner(), line.as_bytes());
        assert!(!keeps_part_of(&out, secret), "{line:?} -> {:?}", show(&out));
        assert!(compare(scanner(), line.as_bytes()).is_empty(), "{line:?}");
    }
}

/// Regression (fixed): `stripe_card` (`\bcard_[A-Za-z0-9]{14,}\b`) comes before `cvv` in
/// priority and matches the key `card_verificationCode` at the same start,
/// so the CVV rule's candidate there is never reported and the code leaks,
/// while the key name is labelled as a card id:
/// `{"card_verificationCode": "123"}` → `{"[CARD_ID_REDACTED]": "123"}`.
///
/// Fixed by giving the card rules priority over the Stripe rules: the CVV
/// rule now wins at that start and the key is left alone. (The naive
/// reference still reports `stripe_card` on the key name, a false positive
/// of that rule alone, so the differential comparison does not apply.)
#[test]
fn stripe_card_id_shadows_a_cvv_key() {
    for line in [
        "card_verificationCode=123",
        r#"{"card_verificationCode": "123"}"#,
        "card_verificationValue: 123",
    ] {
        let out = scrub_with(scanner(), line.as_bytes());
        assert!(!show(&out).contains("123"), "{line:?} -> {:?}", show(&out));
        assert!(
            show(&out).contains("card_verification"),
            "{line:?} -> {:?}",
            show(&out)
        );
    }
}

/// Regression (fixed): when the line completing a run of CRI partial lines is the last
/// line of the input and has no newline, the line reader hands the partial
/// run out as one batch and the completing line as the next, so they are
/// never joined and a card split across them passes raw (the binary does
/// the same): `…Z stdout P card 4111 1111⏎…Z stdout F  1111 1111` (no final
/// newline) comes out unchanged, while with a final newline the card is
/// redacted. `Redactor::scrub_lines` over the same bytes joins them.
#[test]
fn cri_run_completed_by_an_unterminated_last_line() {
    let text = b"2024-04-13T16:22:02.416120330Z stdout P card 4111 1111\n\
                 2024-04-13T16:22:02.416120330Z stdout F  1111 1111";
    let whole = scrub_whole(text, logscrub::framing::DEFAULT_MAX_LINE_BYTES);
    assert!(!leaks(&whole, "4111111111111111"), "{}", show(&whole));
    for threads in [1, 2] {
        let piped = scrub_piped(text, threads, logscrub::framing::DEFAULT_MAX_LINE_BYTES);
        // The halves of the card sit on two lines: look for them as text.
        assert!(
            !show(&piped).contains("4111 1111"),
            "{threads} threads: {}",
            show(&piped)
        );
        assert_eq!(show(&piped), show(&whole));
    }
}
