//! Structured logs: JSON lines, Docker json-file, Kubernetes CRI and logfmt.
//!
//! The scanner finds secrets by their shape in every format (it also scans
//! decoded views, so JSON escapes cannot hide one). This module adds what
//! only the structure tells:
//!
//! - the value of a **sensitive key** (`password`, `cvv`, `card_number`,
//!   `ssn`, … configurable) is redacted whole, whatever it holds: a string,
//!   a number, a nested object;
//! - a replacement of a bare JSON value (`"cvv": 123`) is written as a JSON
//!   string (`"cvv": "[CVV_REDACTED]"`), so valid JSON stays valid;
//! - a JSON string holding JSON or logfmt (the `log` field of Docker's
//!   json-file lines, a `message` that is itself JSON) is walked too, after
//!   unescaping, and its findings are mapped back to the escaped bytes;
//! - CRI lines are split into header and message.
//!
//! Key matching is case-insensitive and ignores `-`, `_` and `.`; a key
//! matches when its last words spell a sensitive key (`stripe_api_key`,
//! `cardNumber`, `X-Api-Key`), but not a key merely ending in the same
//! letters (`span` is not `pan`). A line that is not valid in its format
//! is scanned as raw text and counted as malformed.

pub mod carry;
pub mod fields;
pub mod json;
pub mod logfmt;
pub mod views;

use std::ops::Range;

use crate::rules::Rule;
use views::View;

/// How lines are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Decide per line: JSON when it starts with `{`, CRI when it has a CRI
    /// header, logfmt pairs when it starts with `key=`; else raw.
    #[default]
    Auto,
    /// Plain text: only the scanner.
    Raw,
    /// JSON lines.
    Json,
    /// Docker json-file lines (JSON with a `log` string).
    Docker,
    /// Kubernetes CRI lines: `<time> <stream> <P|F> <message>`.
    Cri,
    /// logfmt lines.
    Logfmt,
}

impl Format {
    /// Parses a format name.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "auto" => Format::Auto,
            "raw" => Format::Raw,
            "json" => Format::Json,
            "docker" => Format::Docker,
            "cri" => Format::Cri,
            "logfmt" => Format::Logfmt,
            _ => return None,
        })
    }
}

/// The default sensitive keys and the rule whose label and action their
/// values get. Words are written apart (`card_number`): the name filter of
/// [`fields`] looks for the words joined by one of ` ._-` or nothing, in
/// any case (`cardNumber`, `Card Number`, `card-number`).
pub const DEFAULT_SENSITIVE_KEYS: &[(&str, &str)] = &[
    ("password", "kv_secret"),
    ("passwd", "kv_secret"),
    ("passphrase", "kv_secret"),
    ("secret", "kv_secret"),
    ("client_secret", "kv_secret"),
    ("secret_key", "kv_secret"),
    ("token", "kv_secret"),
    ("api_key", "kv_secret"),
    ("authorization", "kv_secret"),
    ("ocp_apim_subscription_key", "kv_secret"),
    ("subscription_key", "kv_secret"),
    ("password_confirmation", "kv_secret"),
    ("password_confirm", "kv_secret"),
    ("password_repeat", "kv_secret"),
    ("password_again", "kv_secret"),
    ("password_digest", "kv_secret"),
    ("password_hash", "kv_secret"),
    ("basic_auth", "kv_secret"),
    ("private_key", "kv_secret"),
    ("secret_access_key", "kv_secret"),
    ("secret_key_base", "kv_secret"),
    ("cookie", "kv_secret"),
    ("set_cookie", "kv_secret"),
    ("card_number", "pan"),
    ("card_no", "pan"),
    ("card_num", "pan"),
    ("pan", "pan"),
    ("cc_number", "pan"),
    ("cc_num", "pan"),
    ("credit_card", "pan"),
    ("credit_card_number", "pan"),
    ("primary_account_number", "pan"),
    ("cvv", "cvv"),
    ("cvc", "cvv"),
    ("cvv2", "cvv"),
    ("cvc2", "cvv"),
    ("cvn", "cvv"),
    ("cvn2", "cvv"),
    ("security_code", "cvv"),
    ("card_verification_value", "cvv"),
    ("card_verification_code", "cvv"),
    ("cvd", "cvv"),
    ("card_code", "cvv"),
    ("verification_value", "cvv"),
    ("card_cid", "cvv"),
    ("ssn", "ssn"),
    ("social_security_number", "ssn"),
    ("social_security_no", "ssn"),
    ("ssn_number", "ssn"),
    ("ssn_no", "ssn"),
    ("ssn_full", "ssn"),
    ("ssn_value", "ssn"),
    ("account_number", "account"),
    ("account_no", "account"),
    ("account_num", "account"),
    ("acct_number", "account"),
    ("acct_no", "account"),
    ("acct_num", "account"),
    ("bank_account", "account"),
    ("bank_account_number", "account"),
    ("acct", "account"),
    ("routing", "routing"),
    ("routing_number", "routing"),
    ("routing_no", "routing"),
    ("routing_transit_number", "routing"),
    ("routing_code", "routing"),
    ("aba", "routing"),
    ("aba_number", "routing"),
    ("rtn", "routing"),
];

/// Words that end a key without saying what it is (`card_number`): the
/// word before them names a container whose fields complete the key
/// (`Card(number=…)`), so it is looked for too.
const GENERIC_LAST_WORDS: &[&str] = &["number", "no", "num", "nbr", "code", "value"];

/// The words of a key as written: split at non-alphanumeric bytes and at
/// a lowercase-to-uppercase step, lowercased.
fn key_words(key: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut prev = '_';
    for c in key.chars() {
        if c.is_ascii_alphanumeric() {
            if !prev.is_ascii_alphanumeric()
                || (c.is_ascii_uppercase() && prev.is_ascii_lowercase())
            {
                words.push(String::new());
            }
            if let Some(w) = words.last_mut() {
                w.push(c.to_ascii_lowercase());
            }
        }
        prev = c;
    }
    words
}

/// The name filter's pattern for a key: its words, joined by at most one
/// of ` `, `.`, `_` and `-`, ASCII case-insensitive, starting where a word starts
/// (after a byte that is not a letter or digit, or as the capital of a
/// camel-case word) and ending where the name ends (a key matches the end
/// of a name: `span`, `panic` and `cvv_check` are not looked at).
fn name_pattern(words: &[String]) -> String {
    let mut rest = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            rest.push_str("[ ._-]?");
        }
        rest.push_str(if i == 0 { &w[1..] } else { w });
    }
    let first = words[0].as_bytes()[0];
    let camel = if first.is_ascii_alphabetic() {
        format!("|[a-z]{}", char::from(first.to_ascii_uppercase()))
    } else {
        String::new()
    };
    format!(
        "(?:(?:^|[^A-Za-z0-9])(?i:{}){camel})(?i:{rest})(?:[^A-Za-z0-9]|$)",
        char::from(first)
    )
}

/// Every spelling of a name's words (at most four) that the name filter
/// accepts, bar case: joined by nothing, `_`, `-`, `.` or a space.
fn spellings(words: &[String], each: &mut dyn FnMut(String)) {
    const SEPS: [&str; 5] = ["", "_", "-", ".", " "];
    let joins = words.len().saturating_sub(1).min(3) as u32;
    for mut n in 0..5usize.pow(joins) {
        let mut s = words[0].clone();
        for w in &words[1..] {
            s.push_str(SEPS[n % 5]);
            n /= 5;
            s.push_str(w);
        }
        each(s);
    }
}

/// Ids for name filters, so a cache is never used with another filter.
static NEXT_FILTER_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// Sensitive keys, resolved to rule indexes of one scanner.
#[derive(Clone, Debug, Default)]
pub struct SensitiveKeys {
    /// Normalised keys and their rules.
    keys: Vec<(Vec<u8>, usize)>,
    /// Bit `b` of `last`: some normalised key ends with byte `b`. A matching suffix
    /// ends with the key's last alphanumeric byte, so most keys of a log
    /// line are rejected by this one lookup, before any normalising.
    last: [u64; 4],
    /// The last two bytes of every normalised key (sorted), or empty when
    /// some key is a single byte: a finer reject after `last`.
    ends: Vec<[u8; 2]>,
    /// The name filter: where a sensitive name may be (see [`fields`]),
    /// compiled on first use (a scanner's keys are often replaced before
    /// any line is read).
    filter: std::sync::OnceLock<Option<(usize, regex_automata::meta::Regex)>>,
    /// The filter's patterns.
    patterns: Vec<String>,
    /// The names' literal spellings (words joined by nothing, `_`, `-`,
    /// `.` or a space; ASCII case-insensitive), which the scanner's line
    /// filter searches over whole batches to flag the lines the recognizer
    /// must read; and for each, whether it is a whole key (which must end
    /// its name) or a container word.
    spellings: Vec<(String, bool)>,
    /// What each rule with keys asks of its values.
    shapes: Vec<(usize, fields::ValueShape)>,
}

impl SensitiveKeys {
    /// Resolves `entries` (key → rule id) against `rules`; keys of rules
    /// that are not active are left out.
    pub fn new<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
        rules: &[Rule],
    ) -> SensitiveKeys {
        let mut keys: Vec<(Vec<u8>, usize)> = Vec::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut literals: Vec<(String, bool)> = Vec::new();
        let mut shapes: Vec<(usize, fields::ValueShape)> = Vec::new();
        for (key, rule) in entries {
            if let Some(i) = rules.iter().position(|r| r.id == rule) {
                let words = key_words(key);
                if !words.is_empty() {
                    patterns.push(name_pattern(&words));
                    if words.len() <= 4 {
                        spellings(&words, &mut |lit| literals.push((lit, true)));
                    } else {
                        literals.push((words[0].clone(), false));
                    }
                    if words.len() >= 2
                        && words[0].len() >= 3
                        && GENERIC_LAST_WORDS.contains(&words[words.len() - 1].as_str())
                    {
                        patterns.push(name_pattern(&words[..1]));
                        literals.push((words[0].clone(), false));
                    }
                }
                if !shapes.iter().any(|(r, _)| *r == i) {
                    // The digit rules: how many digits a number has, and
                    // for bank numbers, how many their values must have.
                    let (max_digits, min_digits, digits) = match rules[i].id.as_str() {
                        "pan" => (19, 12, None),
                        "cvv" => (4, 3, None),
                        "ssn" => (9, 9, None),
                        "routing" => (9, 0, Some((9, 9))),
                        "account" => (17, 0, Some((6, 17))),
                        _ => (0, 0, None),
                    };
                    shapes.push((
                        i,
                        fields::ValueShape {
                            max_digits,
                            min_digits,
                            secret_value: rules[i].validator
                                == Some(crate::rules::Validator::SecretValue),
                            digits,
                        },
                    ));
                }
                let norm: Vec<u8> = key
                    .bytes()
                    .filter(|b| b.is_ascii_alphanumeric())
                    .map(|b| b.to_ascii_lowercase())
                    .collect();
                if !norm.is_empty() {
                    keys.retain(|(k, _)| *k != norm);
                    keys.push((norm, i));
                }
            }
        }
        keys.sort();
        let mut last = [0u64; 4];
        for (k, _) in &keys {
            if let Some(&b) = k.last() {
                last[usize::from(b >> 6)] |= 1 << (b & 63);
            }
        }
        let mut ends: Vec<[u8; 2]> = Vec::new();
        if keys.iter().all(|(k, _)| k.len() >= 2) {
            ends = keys
                .iter()
                .map(|(k, _)| [k[k.len() - 2], k[k.len() - 1]])
                .collect();
            ends.sort_unstable();
            ends.dedup();
        }
        // Longer names first: at one position the automaton reports the
        // first pattern that matches, and `security code` must win over
        // the container word `security`.
        patterns.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        patterns.dedup();
        literals.sort();
        literals.dedup_by(|a, b| {
            a.0 == b.0 && {
                b.1 &= a.1;
                true
            }
        });
        // Sorted, a literal's extensions follow it.
        for i in 0..literals.len() {
            if literals
                .get(i + 1)
                .is_some_and(|(next, _)| next.starts_with(literals[i].0.as_str()))
            {
                literals[i].1 = false;
            }
        }
        SensitiveKeys {
            keys,
            last,
            ends,
            filter: std::sync::OnceLock::new(),
            patterns,
            spellings: literals,
            shapes,
        }
    }

    /// The names' spellings and whether each is a whole key (see
    /// [`crate::scan::line_filter`], which flags the lines holding one).
    pub fn spellings(&self) -> &[(String, bool)] {
        &self.spellings
    }

    /// The name filter and its id, when there are keys.
    pub(crate) fn name_filter(&self) -> Option<(usize, &regex_automata::meta::Regex)> {
        self.filter
            .get_or_init(|| {
                if self.patterns.is_empty() {
                    return None;
                }
                regex_automata::meta::Regex::builder()
                    .syntax(crate::rules::syntax_config())
                    .configure(crate::rules::regex_config())
                    .build_many(&self.patterns)
                    .ok()
                    .map(|re| {
                        let id = NEXT_FILTER_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        (id, re)
                    })
            })
            .as_ref()
            .map(|(id, re)| (*id, re))
    }

    /// What `rule` asks of its values.
    pub(crate) fn shape(&self, rule: usize) -> fields::ValueShape {
        self.shapes.iter().find(|(r, _)| *r == rule).map_or(
            fields::ValueShape {
                max_digits: 0,
                min_digits: 0,
                secret_value: false,
                digits: None,
            },
            |(_, s)| *s,
        )
    }

    /// True when `value` can be a value of `rule` under a sensitive name:
    /// always, but for the numeric rules, whose values are numbers of their
    /// length (bank accounts 6–17 digits, ABA routing numbers 9). The
    /// name vouches for a routing number: its checksum is not asked (a
    /// mistyped one is still a bank detail).
    /// A container (`{…}`, `[…]`, `(…)`) under such a name holds its
    /// fields, and is redacted whole as under any sensitive name.
    pub(crate) fn fits(&self, rule: usize, value: &[u8]) -> bool {
        let shape = self.shape(rule);
        let structure = matches!(value.first(), Some(b'{' | b'[' | b'('));
        structure
            || (shape
                .digits
                .is_none_or(|range| fields::is_number(value, range))
                && value.iter().filter(|b| b.is_ascii_digit()).count() >= shape.min_digits)
    }

    /// True unless `rule`'s values go through the `secret_value` validator
    /// and it refuses `span` of `line` (a status word, a reference, a
    /// path): the same verdict in a JSON or logfmt value as in any syntax.
    pub(crate) fn is_secret_value(&self, rule: usize, line: &[u8], span: Range<usize>) -> bool {
        !self.shape(rule).secret_value
            || crate::rules::Validator::SecretValue
                .check(line, span)
                .is_ok()
    }

    /// True when `name` is a cookie header (`Cookie`, `Set-Cookie`): its
    /// whole value is the secret.
    pub(crate) fn is_cookie(&self, _rule: usize, name: &[u8]) -> bool {
        name.len() >= 6 && name[name.len() - 6..].eq_ignore_ascii_case(b"cookie")
    }

    /// The rule for a raw key, if it is sensitive.
    pub fn lookup(&self, key: &[u8], scratch: &mut Vec<u8>) -> Option<usize> {
        if self.keys.is_empty() || key.len() > 128 {
            return None;
        }
        let mut tail = key
            .iter()
            .rev()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(u8::to_ascii_lowercase);
        match tail.next() {
            Some(b) if self.last[usize::from(b >> 6)] & (1 << (b & 63)) != 0 => {
                if !self.ends.is_empty() {
                    let before = tail.next()?;
                    if !self.ends.contains(&[before, b]) {
                        return None;
                    }
                }
            }
            _ => return None,
        }
        // Normalise, remembering where words start.
        scratch.clear();
        let mut starts = [0usize; 16];
        let mut n_starts = 0;
        let mut prev: u8 = b'_';
        for &b in key {
            if b.is_ascii_alphanumeric() {
                let boundary = !prev.is_ascii_alphanumeric()
                    || (b.is_ascii_uppercase() && prev.is_ascii_lowercase());
                if boundary && n_starts < starts.len() {
                    starts[n_starts] = scratch.len();
                    n_starts += 1;
                }
                scratch.push(b.to_ascii_lowercase());
            }
            prev = b;
        }
        let len = scratch.len();
        starts[..n_starts].iter().find_map(|&s| {
            let suffix = &scratch[s..];
            // Cheap tests first: most keys of a log line match nothing.
            self.keys
                .iter()
                .find(|(k, _)| {
                    k.len() == len - s
                        && k[0] == suffix[0]
                        && k[k.len() - 1] == suffix[suffix.len() - 1]
                        && k == suffix
                })
                .map(|(_, rule)| *rule)
        })
    }
}

/// How a replacement of a bare (unquoted) JSON value must be quoted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Quote {
    /// Not a bare JSON value: write the replacement as it is.
    #[default]
    None,
    /// A value of a JSON line: `"…"`.
    Plain,
    /// A value of JSON inside a JSON string: `\"…\"`.
    Escaped,
}

impl Quote {
    /// The bytes written on each side of the replacement.
    pub fn mark(self) -> &'static [u8] {
        match self {
            Quote::None => b"",
            Quote::Plain => b"\"",
            Quote::Escaped => b"\\\"",
        }
    }
}

/// What the structure of a line contributed.
#[derive(Debug, Default)]
pub struct StructureScratch {
    /// Values of sensitive keys: (rule, raw span, quote).
    pub findings: Vec<(usize, Range<usize>, Quote)>,
    /// Bare JSON numbers: a finding inside one must be quoted.
    pub scalars: Vec<(Range<usize>, Quote)>,
    key_buf: Vec<u8>,
    view: View,
    /// The field recognizer's state.
    fields: fields::FieldScratch,
    /// The field recognizer's findings in a decoded view, before they are
    /// mapped to raw spans.
    view_findings: Vec<(usize, Range<usize>, Quote)>,
}

/// A CRI line's header: `<time> <stdout|stderr> <P|F>[:…] ` and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CriLine {
    /// The message span.
    pub message: Range<usize>,
    /// A partial line (`P`): the message goes on in the next line.
    pub partial: bool,
}

/// Parses a CRI line, or None when the header is not CRI.
pub fn parse_cri(line: &[u8]) -> Option<CriLine> {
    let sp1 = memchr::memchr(b' ', line)?;
    let time = &line[..sp1];
    // RFC 3339: 2024-04-13T16:22:02.416120330Z or with an offset.
    if time.len() < 20
        || !time[..4].iter().all(u8::is_ascii_digit)
        || time[4] != b'-'
        || time[10] != b'T'
        || !time
            .iter()
            .all(|&b| b.is_ascii_digit() || matches!(b, b'-' | b'T' | b':' | b'.' | b'Z' | b'+'))
    {
        return None;
    }
    let rest = &line[sp1 + 1..];
    let stream_len = if rest.starts_with(b"stdout ") || rest.starts_with(b"stderr ") {
        6
    } else {
        return None;
    };
    let tag_start = sp1 + 1 + stream_len + 1;
    let tag_end =
        tag_start + memchr::memchr(b' ', &line[tag_start..]).unwrap_or(line.len() - tag_start);
    let tag = &line[tag_start..tag_end];
    let partial = match tag.split(|&b| b == b':').next() {
        Some(b"P") => true,
        Some(b"F") => false,
        _ => return None,
    };
    let message = (tag_end + 1).min(line.len())..line.len();
    Some(CriLine { message, partial })
}

/// True when a line is logfmt: its first token is a `key=value` pair.
pub fn looks_like_logfmt(line: &[u8]) -> bool {
    // Most values and lines have no `=` at all: one vectorised search
    // rejects them before the byte-by-byte key scan.
    if memchr::memchr(b'=', line).is_none() {
        return false;
    }
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let token = &line[start..];
    let key_len = token
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
        .unwrap_or(token.len());
    key_len > 0 && token.get(key_len) == Some(&b'=')
}

/// True when a value holds nothing to redact: a boolean or null flag
/// (`requires_cvc=true`), an empty list, or a value already redacted or
/// masked (a run of four mask characters `****`, `XXXX`, `####`, or a label
/// or hash token: `[CARD_REDACTED]`, `[FILTERED]`, `[CARD:k1:…]`). A value
/// in brackets that is not a label (`acct=[51874633191]`) is a value.
fn already_redacted(value: &[u8]) -> bool {
    const FLAGS: &[&[u8]] = &[
        b"true", b"false", b"null", b"none", b"yes", b"no", b"pass", b"fail", b"[]",
    ];
    if is_label(value) || FLAGS.iter().any(|f| value.eq_ignore_ascii_case(f)) {
        return true;
    }
    // A redacted value in brackets (`acct=([ACCOUNT_REDACTED])`).
    if let [open, inner @ .., close] = value {
        if closing_bracket(*open) == Some(*close) && is_label(inner.trim_ascii()) {
            return true;
        }
    }
    if value
        .iter()
        .all(|b| matches!(b, b'*' | b'X' | b'x' | b'#' | b'.' | b'-'))
    {
        return true;
    }
    let mut run = 0;
    let mut last = 0u8;
    for &b in value {
        if matches!(b, b'*' | b'X' | b'x' | b'#') && (run == 0 || b == last) {
            run += 1;
            if run >= 4 {
                return true;
            }
        } else {
            run = usize::from(matches!(b, b'*' | b'X' | b'x' | b'#'));
        }
        last = b;
    }
    false
}

/// The bracket that closes `open` (`[`, `(`, `{` or `<`).
pub(crate) fn closing_bracket(open: u8) -> Option<u8> {
    match open {
        b'[' => Some(b']'),
        b'(' => Some(b')'),
        b'{' => Some(b'}'),
        b'<' => Some(b'>'),
        _ => None,
    }
}

/// A redaction label or hash token: `[` and a capital letter, then
/// capitals, digits and `_` up to `]`, or up to a `:` and anything to the
/// closing `]` (`[CARD_REDACTED]`, `[REDACTED]`, `[CARD:k1:3f…]`).
fn is_label(value: &[u8]) -> bool {
    let Some(inner) = value.strip_prefix(b"[") else {
        return false;
    };
    if !inner.first().is_some_and(u8::is_ascii_uppercase) {
        return false;
    }
    let name_len = inner
        .iter()
        .position(|&b| !(b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
        .unwrap_or(inner.len());
    match inner.get(name_len) {
        Some(b']') => true,
        Some(b':') => memchr::memchr(b']', &inner[name_len..]).is_some(),
        _ => false,
    }
}

/// The outcome of [`structure`] for one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The line was read in its format (or no format applied).
    Ok,
    /// The line claimed a format but is not valid in it.
    Malformed,
}

/// Reads the structure of `line` in `format`, leaving its findings in
/// `scratch` (cleared first).
pub fn structure(
    line: &[u8],
    format: Format,
    keys: &SensitiveKeys,
    scratch: &mut StructureScratch,
) -> Parsed {
    scratch.findings.clear();
    scratch.scalars.clear();
    let json_line = |scratch: &mut StructureScratch| {
        if json::looks_like_json(line) && message(line, 0, Quote::Plain, true, keys, scratch) {
            Parsed::Ok
        } else {
            Parsed::Malformed
        }
    };
    let cri_line = |cri: CriLine, scratch: &mut StructureScratch| {
        let m = cri.message;
        message(
            &line[m.clone()],
            m.start,
            Quote::Plain,
            false,
            keys,
            scratch,
        );
        Parsed::Ok
    };
    match format {
        Format::Raw => Parsed::Ok,
        Format::Json | Format::Docker => json_line(scratch),
        Format::Logfmt => {
            logfmt_message(line, 0, keys, scratch);
            Parsed::Ok
        }
        Format::Cri => parse_cri(line).map_or(Parsed::Malformed, |cri| cri_line(cri, scratch)),
        Format::Auto if json::looks_like_json(line) => json_line(scratch),
        Format::Auto => match parse_cri(line) {
            Some(cri) => cri_line(cri, scratch),
            None => {
                if looks_like_logfmt(line) {
                    logfmt_message(line, 0, keys, scratch);
                }
                Parsed::Ok
            }
        },
    }
}

/// True when [`structure`] would report `line` as malformed in `format`,
/// without reading its keys: the check for lines whose structure cannot
/// hold a sensitive key.
pub fn malformed(line: &[u8], format: Format) -> bool {
    match format {
        Format::Raw | Format::Logfmt => false,
        Format::Json | Format::Docker => !(json::looks_like_json(line) && json::is_valid(line)),
        Format::Cri => parse_cri(line).is_none(),
        Format::Auto => json::looks_like_json(line) && !json::is_valid(line),
    }
}

/// Adds the values of sensitive names in any syntax (see [`fields`]) to
/// the findings of the last [`structure`] call.
pub fn fields(line: &[u8], keys: &SensitiveKeys, scratch: &mut StructureScratch) {
    fields::find(line, keys, &mut scratch.fields, &mut scratch.findings);
}

/// As [`fields`], in a decoded view of the line (a Docker record's `log`
/// string, JSON inside a JSON string, a percent-encoded query): each value
/// found maps back to the whole raw escape sequences it was decoded from.
/// A bare value's replacement is quoted as the view's JSON depth allows
/// (`\"…\"` one string down); deeper, it is written bare.
pub fn fields_in_view(
    view: &View,
    encoding: views::Encoding,
    keys: &SensitiveKeys,
    scratch: &mut StructureScratch,
) {
    scratch.view_findings.clear();
    fields::find(
        &view.bytes,
        keys,
        &mut scratch.fields,
        &mut scratch.view_findings,
    );
    let down = encoding.json_steps();
    for (rule, span, quote) in scratch.view_findings.drain(..) {
        let quote = match (quote, down) {
            (quote, 0) => quote,
            (Quote::Plain, 1) => Quote::Escaped,
            _ => Quote::None,
        };
        scratch.findings.push((rule, view.to_raw(span), quote));
    }
}

/// A message: JSON when it looks like JSON, else logfmt pairs when it looks
/// like logfmt. `offset` maps its bytes to the raw line. Returns false when
/// it looked like JSON but is not valid JSON. When `must_be_json` is set,
/// nothing else is tried.
fn message(
    msg: &[u8],
    offset: usize,
    quote: Quote,
    must_be_json: bool,
    keys: &SensitiveKeys,
    scratch: &mut StructureScratch,
) -> bool {
    if json::looks_like_json(msg) {
        // Findings of this message start here; earlier ones belong to an
        // enclosing message and are in other coordinates.
        let first = scratch.findings.len();
        let ok = json::walk(msg, &mut |m| {
            let value = &msg[m.value.clone()];
            if let Some(rule) = keys.lookup(&msg[m.key.clone()], &mut scratch.key_buf) {
                if !value.is_empty()
                    && (m.kind == json::ValueKind::Container || !already_redacted(value))
                    && keys.fits(rule, value)
                    && (m.kind != json::ValueKind::String
                        || keys.is_secret_value(rule, msg, m.value.clone()))
                {
                    let q = if m.kind == json::ValueKind::String {
                        Quote::None
                    } else {
                        quote
                    };
                    let span = offset + m.value.start..offset + m.value.end;
                    // Members are visited innermost first: a container
                    // redacted whole takes the place of its members'
                    // findings.
                    let mut i = first;
                    while i < scratch.findings.len() {
                        let f = &scratch.findings[i].1;
                        if span.start <= f.start && f.end <= span.end {
                            scratch.findings.remove(i);
                        } else {
                            i += 1;
                        }
                    }
                    scratch.findings.push((rule, span, q));
                    return;
                }
            }
            match m.kind {
                json::ValueKind::Scalar
                    if value
                        .first()
                        .is_some_and(|b| b.is_ascii_digit() || *b == b'-') =>
                {
                    scratch
                        .scalars
                        .push((offset + m.value.start..offset + m.value.end, quote));
                }
                json::ValueKind::String
                    if quote == Quote::Plain && views::has_json_escape(value) =>
                {
                    // JSON or logfmt inside a JSON string (Docker's `log`).
                    nested_string(value, offset + m.value.start, keys, scratch);
                }
                json::ValueKind::String
                    if quote == Quote::Plain
                        && (json::looks_like_json(value) || looks_like_logfmt(value)) =>
                {
                    message(
                        value,
                        offset + m.value.start,
                        Quote::Escaped,
                        false,
                        keys,
                        scratch,
                    );
                }
                _ => {}
            }
        });
        return ok;
    }
    if !must_be_json && looks_like_logfmt(msg) {
        logfmt_message(msg, offset, keys, scratch);
    }
    true
}

/// An escaped JSON string's content: decoded, read as a message, and its
/// findings mapped back through the escapes.
fn nested_string(raw: &[u8], offset: usize, keys: &SensitiveKeys, scratch: &mut StructureScratch) {
    let mut view = std::mem::take(&mut scratch.view);
    views::json_unescape(raw, None, &mut view);
    let decoded = std::mem::take(&mut view.bytes);
    if json::looks_like_json(&decoded) || looks_like_logfmt(&decoded) {
        let before_f = scratch.findings.len();
        let before_s = scratch.scalars.len();
        message(&decoded, 0, Quote::Escaped, false, keys, scratch);
        view.bytes = decoded;
        for f in &mut scratch.findings[before_f..] {
            if !f.1.is_empty() {
                let r = view.to_raw(f.1.clone());
                f.1 = offset + r.start..offset + r.end;
            }
        }
        for s in &mut scratch.scalars[before_s..] {
            let r = view.to_raw(s.0.clone());
            s.0 = offset + r.start..offset + r.end;
        }
    } else {
        view.bytes = decoded;
    }
    scratch.view = view;
}

fn logfmt_message(msg: &[u8], offset: usize, keys: &SensitiveKeys, scratch: &mut StructureScratch) {
    let StructureScratch {
        findings, key_buf, ..
    } = scratch;
    logfmt::pairs(msg, &mut |p| {
        let mut value = &msg[p.value.clone()];
        // A query string read as one logfmt pair: an unquoted value ends
        // at the next `&` (as the `kv_secret` rule's values do).
        let mut end = p.value.end;
        let quoted = p.value.start > 0 && matches!(msg[p.value.start - 1], b'"' | b'\'');
        if let Some(amp) = memchr::memchr(b'&', value).filter(|_| !quoted) {
            end = p.value.start + amp;
            value = &msg[p.value.start..end];
        }
        if value.is_empty() || already_redacted(value) {
            return;
        }
        if let Some(rule) = keys.lookup(&msg[p.key.clone()], key_buf) {
            if keys.fits(rule, value) && keys.is_secret_value(rule, msg, p.value.start..end) {
                findings.push((rule, offset + p.value.start..offset + end, Quote::None));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SensitiveKeys {
        SensitiveKeys::new(
            DEFAULT_SENSITIVE_KEYS.iter().copied(),
            &crate::rules::builtin_rules(),
        )
    }

    #[test]
    fn key_matching_by_words() {
        let k = keys();
        let mut buf = Vec::new();
        let rules = crate::rules::builtin_rules();
        let mut id = |key: &str| {
            k.lookup(key.as_bytes(), &mut buf)
                .map(|i| rules[i].id.clone())
        };
        assert_eq!(id("password").as_deref(), Some("kv_secret"));
        assert_eq!(id("stripe_api_key").as_deref(), Some("kv_secret"));
        assert_eq!(id("X-Api-Key").as_deref(), Some("kv_secret"));
        // Rails' secret_key_base, in a config dump or the environment.
        assert_eq!(id("SECRET_KEY_BASE").as_deref(), Some("kv_secret"));
        assert_eq!(id("cardNumber").as_deref(), Some("pan"));
        assert_eq!(id("card_cvv").as_deref(), Some("cvv"));
        // The primary account number is the card number.
        assert_eq!(id("primary_account_number").as_deref(), Some("pan"));
        assert_eq!(id("bank_account_number").as_deref(), Some("account"));
        for not in [
            "span",
            "token_type",
            "max_tokens",
            "cvc_check",
            "company",
            "idempotency_key",
        ] {
            assert_eq!(id(not), None, "{not}");
        }
    }

    /// The lookup without its fast reject: normalise, then compare every
    /// word-start suffix.
    fn lookup_reference(keys: &SensitiveKeys, key: &[u8]) -> Option<usize> {
        if keys.keys.is_empty() || key.len() > 128 {
            return None;
        }
        let mut norm = Vec::new();
        let mut starts = Vec::new();
        let mut prev = b'_';
        for &b in key {
            if b.is_ascii_alphanumeric() {
                if (!prev.is_ascii_alphanumeric()
                    || (b.is_ascii_uppercase() && prev.is_ascii_lowercase()))
                    && starts.len() < 16
                {
                    starts.push(norm.len());
                }
                norm.push(b.to_ascii_lowercase());
            }
            prev = b;
        }
        starts.iter().find_map(|&s| {
            keys.keys
                .iter()
                .find(|(k, _)| k[..] == norm[s..])
                .map(|(_, r)| *r)
        })
    }

    #[test]
    fn key_fast_reject_changes_nothing() {
        let rules = crate::rules::builtin_rules();
        let words = [
            "", "x", "api", "Key", "pass", "word", "PassWord", "passwd", "card", "Number", "pan",
            "span", "cvv", "cvc2", "ssn", "token", "tokens", "type", "secret", "id", "account",
            "routing", "n", "2", "v",
        ];
        let seps = ["", "_", "-", ".", " ", "__"];
        let sets = [
            keys(),
            SensitiveKeys::new([("n", "pan"), ("x", "ssn"), ("token", "kv_secret")], &rules),
            SensitiveKeys::new(std::iter::empty(), &rules),
        ];
        let mut buf = Vec::new();
        let mut n = 0;
        for a in words {
            for s in seps {
                for b in words {
                    for t in ["", "_", "\\"] {
                        let key = format!("{a}{s}{b}{t}");
                        for k in &sets {
                            assert_eq!(
                                k.lookup(key.as_bytes(), &mut buf),
                                lookup_reference(k, key.as_bytes()),
                                "{key:?}"
                            );
                            n += 1;
                        }
                    }
                }
            }
        }
        assert!(n > 10_000);
    }

    #[test]
    fn cri_headers() {
        let l = b"2024-04-13T16:22:02.416120330Z stdout F hello world";
        assert_eq!(
            parse_cri(l),
            Some(CriLine {
                message: 40..51,
                partial: false
            })
        );
        assert!(
            parse_cri(b"2024-04-13T16:22:02Z stderr P part")
                .unwrap()
                .partial
        );
        assert_eq!(parse_cri(b"2024-04-13T16:22:02Z stdin F x"), None);
        assert_eq!(parse_cri(b"hello world"), None);
    }

    fn found(line: &str, format: Format) -> (Parsed, Vec<String>) {
        let mut s = StructureScratch::default();
        let parsed = structure(line.as_bytes(), format, &keys(), &mut s);
        (
            parsed,
            s.findings
                .iter()
                .map(|f| format!("{}{:?}", &line[f.1.clone()], f.2))
                .collect(),
        )
    }

    #[test]
    fn sensitive_values_in_every_format() {
        let (p, f) = found(
            r#"{"user": {"password": {"old": "a", "new": "b"}, "cvv": 123, "pan": "****4242"}}"#,
            Format::Auto,
        );
        assert_eq!(p, Parsed::Ok);
        assert_eq!(
            f,
            vec![
                r#"{"old": "a", "new": "b"}Plain"#.to_string(),
                "123Plain".into()
            ]
        );
        let (_, f) = found(
            r#"{"log":"{\"ssn\":\"123456789\",\"cvv\":999}\n","stream":"stdout"}"#,
            Format::Docker,
        );
        assert_eq!(f, vec!["123456789None".to_string(), "999Escaped".into()]);
        let (_, f) = found(
            r#"2024-04-13T16:22:02.416120330Z stdout F time=1 password="a b" level=info"#,
            Format::Auto,
        );
        assert_eq!(f, vec!["a bNone".to_string()]);
        assert_eq!(found(r#"{"a": 1"#, Format::Auto).0, Parsed::Malformed);
        assert_eq!(found("not cri", Format::Cri).0, Parsed::Malformed);
        // Plain text with a pair somewhere is not logfmt.
        assert!(
            found("wtoken = AppWindowToken{9f4 token=Token{a64", Format::Auto)
                .1
                .is_empty()
        );
    }
}
