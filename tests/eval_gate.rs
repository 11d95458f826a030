//! Quality gate over the labeled eval cases in `tests/data/eval_public.jsonl`
//! (a copy of `/work/shared/eval/public.jsonl`), run through the real
//! `logscrub` binary.
//!
//! The leak and false-positive rules are a Rust port of the reference scorer
//! `/work/shared/eval/score.py` (see `/work/shared/eval/README.md`), so the
//! counts printed here are the counts `score.py` prints for the same output:
//!
//! * every check looks at the output line and at its *views*: decodings by
//!   JSON string unescaping, percent-decoding and HTML character references,
//!   applied up to 3 times in any order;
//! * `pan`, `ssn`, `routing`, `account` leak when their digits occur inside a
//!   *digit group* of a view (ASCII digits separated by at most 3 characters
//!   that are neither letters nor digits);
//! * `cvv` leaks when its digits survive as a whole digit run;
//! * `email` leaks when the address or its local part followed by `@` survives;
//! * every other type leaks when the value survives, or 16 consecutive
//!   characters of its secret part (the value minus its public prefix, the
//!   payload and signature of a JWT, each base64 chunk of a private key), or
//!   the whole secret part when it is shorter than 16;
//! * a keep token is damaged (a false positive) when it no longer occurs
//!   verbatim in its output line.
//!
//! Why: this is the quality bar the tool is judged by. The gate requires zero
//! leaked card numbers, recall >= 0.995 overall and >= 0.99 in every scenario
//! group that has secrets, and fp_rate <= 0.001. All 5000 texts go through
//! ONE process (as the scorer runs it), so framing and alignment are checked
//! too. A second test checks idempotence: scrubbing the scrubbed output again
//! changes nothing and reports `redactions=0`. The unit tests at the end show
//! the checker itself can fail (raw text counts as leaked) and pin it to the
//! scorer's own self-test examples.
//!
//! Known approximations of the Python scorer, none of which matter for the
//! eval data (pure ASCII, no `&name;` references): only the named HTML
//! references in [`NAMED_REFS`] are decoded (Python knows all 2,231; the
//! table has every HTML5 name whose value is ASCII, the legacy Latin-1 names,
//! common spaces, dashes and quotes, and every name that starts with a legacy
//! name, so the legacy `&ampx;` fallback never misfires); "letter or digit"
//! outside ASCII uses Rust's `char::is_alphanumeric`; bytes of invalid UTF-8
//! in the output are viewed as U+FFFD, one per byte (Python's
//! `surrogateescape` gives one lone surrogate per byte).

use std::collections::{BTreeMap, HashSet};

mod common;
use common::{digit_groups, run, BIN};
const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/eval_public.jsonl");

/// The scenario groups of the eval set; each must reach `MIN_GROUP_RECALL`.
const GROUPS: &[&str] = &[
    "plain",
    "logfmt",
    "json_app",
    "docker_json",
    "cri",
    "url_query",
    "stacktrace",
    "sql",
    "http_headers",
    "decoy",
    "background",
    "loghub_injected",
];
const MIN_RECALL: f64 = 0.995;
const MIN_GROUP_RECALL: f64 = 0.99;
const MAX_FP_RATE: f64 = 0.001;
const MAX_EXAMPLES: usize = 20;

/// Secret types checked with the digit-group rule.
const DIGIT_TYPES: &[&str] = &["pan", "ssn", "routing", "account"];
/// Length of the window of a secret part whose survival is a leak.
const WINDOW: usize = 16;

// ---------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------

/// Runs the real binary with `args`, feeding `input` on stdin from a thread
/// (so a full stdout pipe cannot deadlock us). Returns stdout and stderr;
/// panics unless the process exits successfully.
fn run_scrubber(args: &[&str], input: Vec<u8>) -> (Vec<u8>, String) {
    let output = run(args, input);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{BIN} {args:?} exited with {}; stderr:\n{stderr}",
        output.status
    );
    (output.stdout, stderr)
}

/// All case texts as the scorer feeds them: `\n`-joined with a final `\n`.
fn joined_input(cases: &[Case]) -> Vec<u8> {
    let mut input = Vec::new();
    for case in cases {
        input.extend_from_slice(case.text.as_bytes());
        input.push(b'\n');
    }
    input
}

/// Splits output like the scorer: on `\n` only, dropping the empty piece
/// after a final `\n`.
fn split_output(out: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

struct Case {
    id: String,
    group: String,
    text: String,
    secrets: Vec<Secret>,
    keep: Vec<String>,
}

fn load_cases() -> Vec<Case> {
    let data = std::fs::read_to_string(CASES).unwrap_or_else(|e| panic!("reading {CASES}: {e}"));
    let mut cases = Vec::new();
    for (n, line) in data.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{CASES}:{}: {e}", n + 1));
        let s = |key: &str| -> String {
            v[key]
                .as_str()
                .unwrap_or_else(|| panic!("{CASES}:{}: no string {key:?}", n + 1))
                .to_string()
        };
        let text = s("text");
        assert!(
            !text.contains('\n'),
            "{CASES}:{}: text contains a newline",
            n + 1
        );
        let secrets = v["secrets"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|sec| {
                Secret::new(
                    sec["type"].as_str().expect("secret type"),
                    sec["value"].as_str().expect("secret value"),
                )
            })
            .collect();
        let keep = v["keep"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|k| k.as_str().expect("keep token").to_string())
            .collect();
        cases.push(Case {
            id: s("id"),
            group: v["group"].as_str().unwrap_or("?").to_string(),
            text,
            secrets,
            keep,
        });
    }
    cases
}

// ---------------------------------------------------------------------------
// Views: JSON unescaping, percent-decoding, HTML character references
// ---------------------------------------------------------------------------

/// JSON string unescaping as `score.json_unescape`: `\uXXXX` and
/// `\" \\ \/ \b \f \n \r \t`; any other backslash stays. Surrogate pairs
/// combine; lone surrogates become U+FFFD.
fn json_unescape(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut units: Vec<u16> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            let c = chars[i + 1];
            if c == 'u'
                && i + 6 <= chars.len()
                && chars[i + 2..i + 6].iter().all(|h| h.is_ascii_hexdigit())
            {
                let hex: String = chars[i + 2..i + 6].iter().collect();
                units.push(u16::from_str_radix(&hex, 16).expect("4 hex digits"));
                i += 6;
                continue;
            }
            let simple = match c {
                '"' => Some('"'),
                '\\' => Some('\\'),
                '/' => Some('/'),
                'b' => Some('\u{8}'),
                'f' => Some('\u{c}'),
                'n' => Some('\n'),
                'r' => Some('\r'),
                't' => Some('\t'),
                _ => None,
            };
            if let Some(r) = simple {
                units.push(r as u16);
                i += 2;
                continue;
            }
        }
        let mut buf = [0u16; 2];
        units.extend_from_slice(chars[i].encode_utf16(&mut buf));
        i += 1;
    }
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Percent-decoding as Python's `urllib.parse.unquote(s, errors="replace")`:
/// each maximal run of ASCII characters is unquoted to bytes and decoded as
/// UTF-8 with replacement; non-ASCII characters pass through.
fn url_unquote(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i].is_ascii() {
            let mut bytes = Vec::new();
            while i < b.len() && b[i].is_ascii() {
                if b[i] == b'%'
                    && i + 2 < b.len()
                    && b[i + 1].is_ascii_hexdigit()
                    && b[i + 2].is_ascii_hexdigit()
                {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("ascii");
                    bytes.push(u8::from_str_radix(hex, 16).expect("2 hex digits"));
                    i += 3;
                } else {
                    bytes.push(b[i]);
                    i += 1;
                }
            }
            out.push_str(&String::from_utf8_lossy(&bytes));
        } else {
            while i < b.len() && !b[i].is_ascii() {
                i += 1;
            }
            out.push_str(&s[start..i]);
        }
    }
    out
}

/// Named character references decoded by [`html_unescape`]: every HTML5
/// name whose value is ASCII, the legacy (Latin-1) names, and common spaces,
/// dashes and quotes, and every HTML5 name that begins with a legacy name
/// (so the legacy fallback never misfires). Names are without the `;`.
#[rustfmt::skip]
const NAMED_REFS: &[(&str, &str)] = &[
    ("AElig", "\u{c6}"), ("AMP", "&"), ("Aacute", "\u{c1}"), ("Acirc", "\u{c2}"),
    ("Agrave", "\u{c0}"), ("Aring", "\u{c5}"), ("Atilde", "\u{c3}"), ("Auml", "\u{c4}"),
    ("COPY", "\u{a9}"), ("Ccedil", "\u{c7}"), ("CenterDot", "\u{b7}"),
    ("CloseCurlyDoubleQuote", "\u{201d}"), ("CloseCurlyQuote", "\u{2019}"), ("Dagger", "\u{2021}"),
    ("DiacriticalGrave", "`"), ("ETH", "\u{d0}"), ("Eacute", "\u{c9}"), ("Ecirc", "\u{ca}"),
    ("Egrave", "\u{c8}"), ("Euml", "\u{cb}"), ("GT", ">"), ("Hat", "^"), ("Iacute", "\u{cd}"),
    ("Icirc", "\u{ce}"), ("Igrave", "\u{cc}"), ("Iuml", "\u{cf}"), ("LT", "<"),
    ("MediumSpace", "\u{205f}"), ("NegativeMediumSpace", "\u{200b}"),
    ("NegativeThickSpace", "\u{200b}"), ("NegativeThinSpace", "\u{200b}"),
    ("NegativeVeryThinSpace", "\u{200b}"), ("NewLine", "\n"), ("NoBreak", "\u{2060}"),
    ("NonBreakingSpace", "\u{a0}"), ("Ntilde", "\u{d1}"), ("Oacute", "\u{d3}"),
    ("Ocirc", "\u{d4}"), ("Ograve", "\u{d2}"), ("OpenCurlyDoubleQuote", "\u{201c}"),
    ("OpenCurlyQuote", "\u{2018}"), ("Oslash", "\u{d8}"), ("Otilde", "\u{d5}"), ("Ouml", "\u{d6}"),
    ("Prime", "\u{2033}"), ("QUOT", "\""), ("REG", "\u{ae}"), ("THORN", "\u{de}"),
    ("TRADE", "\u{2122}"), ("Tab", "\t"), ("ThinSpace", "\u{2009}"), ("Uacute", "\u{da}"),
    ("Ucirc", "\u{db}"), ("Ugrave", "\u{d9}"), ("UnderBar", "_"), ("Uuml", "\u{dc}"),
    ("VerticalLine", "|"), ("VeryThinSpace", "\u{200a}"), ("Yacute", "\u{dd}"),
    ("ZeroWidthSpace", "\u{200b}"), ("aacute", "\u{e1}"), ("acirc", "\u{e2}"), ("acute", "\u{b4}"),
    ("aelig", "\u{e6}"), ("agrave", "\u{e0}"), ("amp", "&"), ("apos", "'"), ("aring", "\u{e5}"),
    ("ast", "*"), ("atilde", "\u{e3}"), ("auml", "\u{e4}"), ("bdquo", "\u{201e}"),
    ("brvbar", "\u{a6}"), ("bsol", "\\"), ("bull", "\u{2022}"), ("bullet", "\u{2022}"),
    ("ccedil", "\u{e7}"), ("cedil", "\u{b8}"), ("cent", "\u{a2}"), ("centerdot", "\u{b7}"),
    ("colon", ":"), ("comma", ","), ("commat", "@"), ("copy", "\u{a9}"), ("copysr", "\u{2117}"),
    ("curren", "\u{a4}"), ("dagger", "\u{2020}"), ("dash", "\u{2010}"), ("deg", "\u{b0}"),
    ("divide", "\u{f7}"), ("divideontimes", "\u{22c7}"), ("dollar", "$"), ("eacute", "\u{e9}"),
    ("ecirc", "\u{ea}"), ("egrave", "\u{e8}"), ("emsp", "\u{2003}"), ("emsp13", "\u{2004}"),
    ("emsp14", "\u{2005}"), ("ensp", "\u{2002}"), ("equals", "="), ("eth", "\u{f0}"),
    ("euml", "\u{eb}"), ("euro", "\u{20ac}"), ("excl", "!"), ("fjlig", "fj"), ("frac12", "\u{bd}"),
    ("frac14", "\u{bc}"), ("frac34", "\u{be}"), ("grave", "`"), ("gt", ">"), ("gtcc", "\u{2aa7}"),
    ("gtcir", "\u{2a7a}"), ("gtdot", "\u{22d7}"), ("gtlPar", "\u{2995}"), ("gtquest", "\u{2a7c}"),
    ("gtrapprox", "\u{2a86}"), ("gtrarr", "\u{2978}"), ("gtrdot", "\u{22d7}"),
    ("gtreqless", "\u{22db}"), ("gtreqqless", "\u{2a8c}"), ("gtrless", "\u{2277}"),
    ("gtrsim", "\u{2273}"), ("hairsp", "\u{200a}"), ("hellip", "\u{2026}"), ("horbar", "\u{2015}"),
    ("hyphen", "\u{2010}"), ("iacute", "\u{ed}"), ("icirc", "\u{ee}"), ("iexcl", "\u{a1}"),
    ("igrave", "\u{ec}"), ("iquest", "\u{bf}"), ("iuml", "\u{ef}"), ("laquo", "\u{ab}"),
    ("lbrace", "{"), ("lbrack", "["), ("lcub", "{"), ("ldquo", "\u{201c}"), ("ldquor", "\u{201e}"),
    ("lowbar", "_"), ("lpar", "("), ("lsaquo", "\u{2039}"), ("lsqb", "["), ("lsquo", "\u{2018}"),
    ("lsquor", "\u{201a}"), ("lt", "<"), ("ltcc", "\u{2aa6}"), ("ltcir", "\u{2a79}"),
    ("ltdot", "\u{22d6}"), ("lthree", "\u{22cb}"), ("ltimes", "\u{22c9}"), ("ltlarr", "\u{2976}"),
    ("ltquest", "\u{2a7b}"), ("ltrPar", "\u{2996}"), ("ltri", "\u{25c3}"), ("ltrie", "\u{22b4}"),
    ("ltrif", "\u{25c2}"), ("macr", "\u{af}"), ("mdash", "\u{2014}"), ("micro", "\u{b5}"),
    ("midast", "*"), ("middot", "\u{b7}"), ("minus", "\u{2212}"), ("mldr", "\u{2026}"),
    ("nbsp", "\u{a0}"), ("ndash", "\u{2013}"), ("not", "\u{ac}"), ("notin", "\u{2209}"),
    ("notinE", "\u{22f9}\u{338}"), ("notindot", "\u{22f5}\u{338}"), ("notinva", "\u{2209}"),
    ("notinvb", "\u{22f7}"), ("notinvc", "\u{22f6}"), ("notni", "\u{220c}"),
    ("notniva", "\u{220c}"), ("notnivb", "\u{22fe}"), ("notnivc", "\u{22fd}"),
    ("ntilde", "\u{f1}"), ("num", "#"), ("numsp", "\u{2007}"), ("oacute", "\u{f3}"),
    ("ocirc", "\u{f4}"), ("ograve", "\u{f2}"), ("ordf", "\u{aa}"), ("ordm", "\u{ba}"),
    ("oslash", "\u{f8}"), ("otilde", "\u{f5}"), ("ouml", "\u{f6}"), ("para", "\u{b6}"),
    ("parallel", "\u{2225}"), ("percnt", "%"), ("period", "."), ("permil", "\u{2030}"),
    ("plus", "+"), ("plusmn", "\u{b1}"), ("pound", "\u{a3}"), ("prime", "\u{2032}"),
    ("puncsp", "\u{2008}"), ("quest", "?"), ("quot", "\""), ("raquo", "\u{bb}"), ("rbrace", "}"),
    ("rbrack", "]"), ("rcub", "}"), ("rdquo", "\u{201d}"), ("rdquor", "\u{201d}"),
    ("reg", "\u{ae}"), ("rpar", ")"), ("rsaquo", "\u{203a}"), ("rsqb", "]"), ("rsquo", "\u{2019}"),
    ("rsquor", "\u{2019}"), ("sbquo", "\u{201a}"), ("sdot", "\u{22c5}"), ("sect", "\u{a7}"),
    ("semi", ";"), ("shy", "\u{ad}"), ("sol", "/"), ("sup1", "\u{b9}"), ("sup2", "\u{b2}"),
    ("sup3", "\u{b3}"), ("szlig", "\u{df}"), ("thinsp", "\u{2009}"), ("thorn", "\u{fe}"),
    ("times", "\u{d7}"), ("timesb", "\u{22a0}"), ("timesbar", "\u{2a31}"), ("timesd", "\u{2a30}"),
    ("trade", "\u{2122}"), ("uacute", "\u{fa}"), ("ucirc", "\u{fb}"), ("ugrave", "\u{f9}"),
    ("uml", "\u{a8}"), ("uuml", "\u{fc}"), ("verbar", "|"), ("vert", "|"), ("yacute", "\u{fd}"),
    ("yen", "\u{a5}"), ("yuml", "\u{ff}"),
];

/// The HTML5 names that are also recognised without a `;` (so `&ampx;`
/// decodes to `&x;`, as Python's `html.unescape` does).
#[rustfmt::skip]
const LEGACY_REFS: &[&str] = &[
    "AElig", "AMP", "Aacute", "Acirc", "Agrave", "Aring", "Atilde", "Auml", "COPY", "Ccedil",
    "ETH", "Eacute", "Ecirc", "Egrave", "Euml", "GT", "Iacute", "Icirc", "Igrave", "Iuml", "LT",
    "Ntilde", "Oacute", "Ocirc", "Ograve", "Oslash", "Otilde", "Ouml", "QUOT", "REG", "THORN",
    "Uacute", "Ucirc", "Ugrave", "Uuml", "Yacute", "aacute", "acirc", "acute", "aelig", "agrave",
    "amp", "aring", "atilde", "auml", "brvbar", "ccedil", "cedil", "cent", "copy", "curren", "deg",
    "divide", "eacute", "ecirc", "egrave", "eth", "euml", "frac12", "frac14", "frac34", "gt",
    "iacute", "icirc", "iexcl", "igrave", "iquest", "iuml", "laquo", "lt", "macr", "micro",
    "middot", "nbsp", "not", "ntilde", "oacute", "ocirc", "ograve", "ordf", "ordm", "oslash",
    "otilde", "ouml", "para", "plusmn", "pound", "quot", "raquo", "reg", "sect", "shy", "sup1",
    "sup2", "sup3", "szlig", "thorn", "times", "uacute", "ucirc", "ugrave", "uml", "uuml",
    "yacute", "yen", "yuml",
];

fn named_ref(name: &str) -> Option<&'static str> {
    NAMED_REFS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The value of `&#NUM;` / `&#xHEX;` as Python's `html.unescape` gives it.
fn numeric_ref(num: u32) -> String {
    const CP1252: [u32; 32] = [
        0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039,
        0x152, 0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
        0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
    ];
    let invalid_codepoint = matches!(num, 0x1..=0x8 | 0xb | 0xe..=0x1f | 0x7f..=0x9f | 0xfdd0..=0xfdef)
        || (num & 0xfffe) == 0xfffe;
    let c = match num {
        0 => Some(char::REPLACEMENT_CHARACTER),
        0x0d => Some('\r'),
        0x80..=0x9f => char::from_u32(CP1252[(num - 0x80) as usize]),
        0xd800..=0xdfff | 0x110000.. => Some(char::REPLACEMENT_CHARACTER),
        _ if invalid_codepoint => None,
        _ => char::from_u32(num),
    };
    c.map(String::from).unwrap_or_default()
}

/// HTML character references that end in `;` (`score.html_unescape`): the
/// reference must match `&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});`.
fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'&' {
            i += 1;
            continue;
        }
        let run = |from: usize, ok: fn(&u8) -> bool| {
            b[from.min(b.len())..].iter().take_while(|c| ok(c)).count()
        };
        let mut found: Option<(usize, String)> = None; // (end, replacement)
        if b.get(i + 1) == Some(&b'#') {
            if matches!(b.get(i + 2), Some(b'x' | b'X')) {
                let n = run(i + 3, u8::is_ascii_hexdigit);
                if (1..=6).contains(&n) && b.get(i + 3 + n) == Some(&b';') {
                    let num = u32::from_str_radix(&s[i + 3..i + 3 + n], 16).expect("hex");
                    found = Some((i + 3 + n + 1, numeric_ref(num)));
                }
            } else {
                let n = run(i + 2, u8::is_ascii_digit);
                if (1..=7).contains(&n) && b.get(i + 2 + n) == Some(&b';') {
                    let num: u32 = s[i + 2..i + 2 + n].parse().expect("digits");
                    found = Some((i + 2 + n + 1, numeric_ref(num)));
                }
            }
        } else if b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            let n = run(i + 1, u8::is_ascii_alphanumeric);
            if (2..=32).contains(&n) && b.get(i + 1 + n) == Some(&b';') {
                let name = &s[i + 1..i + 1 + n];
                let rep = if let Some(v) = named_ref(name) {
                    v.to_string()
                } else if let Some(p) = (2..=n)
                    .rev()
                    .map(|x| &name[..x])
                    .find(|p| LEGACY_REFS.contains(p))
                {
                    format!(
                        "{}{};",
                        named_ref(p).expect("legacy name"),
                        &name[p.len()..]
                    )
                } else {
                    format!("&{name};")
                };
                found = Some((i + 1 + n + 1, rep));
            }
        }
        match found {
            Some((end, rep)) => {
                out.push_str(&s[last..i]);
                out.push_str(&rep);
                last = end;
                i = end;
            }
            None => i += 1,
        }
    }
    out.push_str(&s[last..]);
    out
}

/// The string and its distinct decodings, up to 3 deep, in the scorer's order.
fn views(s: &str) -> Vec<String> {
    type Decoder = fn(&str) -> String;
    const DECODERS: [(Decoder, char); 3] = [
        (json_unescape, '\\'),
        (url_unquote, '%'),
        (html_unescape, '&'),
    ];
    let mut out = vec![s.to_string()];
    let mut seen: HashSet<String> = HashSet::from([s.to_string()]);
    let mut frontier = vec![s.to_string()];
    for _ in 0..3 {
        let mut next = Vec::new();
        for v in &frontier {
            for (decode, trigger) in DECODERS {
                if v.contains(trigger) {
                    let w = decode(v);
                    if seen.insert(w.clone()) {
                        out.push(w.clone());
                        next.push(w);
                    }
                }
            }
        }
        frontier = next;
        if frontier.is_empty() {
            break;
        }
    }
    out
}

/// The maximal runs of ASCII digits of `v`.
fn digit_runs(v: &str) -> impl Iterator<Item = &str> {
    v.split(|c: char| !c.is_ascii_digit())
        .filter(|r| !r.is_empty())
}

fn uniq(xs: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    xs.into_iter().filter(|x| seen.insert(x.clone())).collect()
}

// ---------------------------------------------------------------------------
// Secrets and the leak rules
// ---------------------------------------------------------------------------

/// How a secret is looked for in the views of an output line.
enum Rule {
    /// `pan`, `ssn`, `routing`, `account`: these digits inside a digit group.
    DigitGroup(String),
    /// `cvv`: these digits as a whole digit run.
    DigitRun(String),
    /// Everything else: any form survives (value, its decodings, for e-mail
    /// the local part with `@`), or any window of the secret part.
    Text {
        forms: Vec<String>,
        windows: Vec<String>,
    },
}

struct Secret {
    stype: String,
    value: String,
    rule: Rule,
}

/// Public prefixes that may stay, per type (first match wins).
fn public_prefixes(stype: &str) -> &'static [&'static str] {
    match stype {
        "stripe_key" => &[
            "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "whsec_",
        ],
        "github_token" => &["github_pat_", "ghp_", "gho_", "ghs_", "ghu_", "ghr_"],
        "aws_key" => &["AKIA", "ASIA"],
        "google_api_key" => &["AIza"],
        _ => &[],
    }
}

/// Python's `\s` (`str.isspace`): Rust's whitespace plus U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The parts of a (decoded) value whose survival counts as a leak.
fn secret_parts(stype: &str, value: &str) -> Vec<String> {
    match stype {
        "stripe_id" => vec![value.split_once('_').map_or(value, |(_, b)| b).to_string()],
        "stripe_key" | "github_token" | "aws_key" | "google_api_key" => {
            let part = public_prefixes(stype)
                .iter()
                .find_map(|p| value.strip_prefix(p))
                .unwrap_or(value);
            vec![part.to_string()]
        }
        "slack_token" => vec![value.rsplit('-').next().unwrap_or(value).to_string()],
        "jwt" => {
            let segs: Vec<String> = value
                .split('.')
                .skip(1)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if segs.is_empty() {
                vec![value.to_string()]
            } else {
                segs
            }
        }
        "private_key" => {
            // re.split(r"(?:\\[nr]|\s)+", value), empty chunks dropped
            let chars: Vec<char> = value.chars().collect();
            let mut chunks = Vec::new();
            let mut cur = String::new();
            let mut i = 0;
            while i < chars.len() {
                if chars[i] == '\\' && matches!(chars.get(i + 1), Some('n' | 'r')) {
                    chunks.push(std::mem::take(&mut cur));
                    i += 2;
                } else if is_py_space(chars[i]) {
                    chunks.push(std::mem::take(&mut cur));
                    i += 1;
                } else {
                    cur.push(chars[i]);
                    i += 1;
                }
            }
            chunks.push(cur);
            chunks.retain(|c| !c.is_empty());
            chunks
        }
        _ => vec![value.to_string()],
    }
}

impl Secret {
    fn new(stype: &str, value: &str) -> Secret {
        let dec = views(value);
        let rule = if DIGIT_TYPES.contains(&stype) || stype == "cvv" {
            // The shortest non-empty digit string of all decodings (separators
            // such as %20 or &#160; carry digits of their own); the first on ties.
            let mut digits: Option<String> = None;
            for d in &dec {
                let ds: String = d.chars().filter(|c| c.is_ascii_digit()).collect();
                let shorter = match &digits {
                    Some(best) => ds.len() < best.len(),
                    None => true,
                };
                if !ds.is_empty() && shorter {
                    digits = Some(ds);
                }
            }
            let digits = digits.unwrap_or_default();
            if stype == "cvv" {
                Rule::DigitRun(digits)
            } else {
                Rule::DigitGroup(digits)
            }
        } else if stype == "email" {
            let mut forms = dec.clone();
            for d in &dec {
                if let Some((local, _)) = d.rsplit_once('@') {
                    if !local.is_empty() {
                        forms.push(format!("{local}@"));
                    }
                }
            }
            Rule::Text {
                forms: uniq(forms),
                windows: Vec::new(),
            }
        } else {
            let mut windows = Vec::new();
            for d in &dec {
                for part in secret_parts(stype, d) {
                    let chars: Vec<char> = part.chars().collect();
                    if chars.len() <= WINDOW {
                        windows.push(part);
                    } else {
                        windows.extend(chars.windows(WINDOW).map(|w| w.iter().collect()));
                    }
                }
            }
            Rule::Text {
                forms: uniq(dec),
                windows: uniq(windows),
            }
        };
        Secret {
            stype: stype.to_string(),
            value: value.to_string(),
            rule,
        }
    }
}

/// The views of one output line, with what the rules need computed lazily.
struct OutputViews {
    views: Vec<String>,
    groups: Option<Vec<String>>,
    windows: Option<HashSet<String>>,
}

impl OutputViews {
    fn new(line: &str) -> OutputViews {
        OutputViews {
            views: views(line),
            groups: None,
            windows: None,
        }
    }

    fn groups(&mut self) -> &[String] {
        let views = &self.views;
        self.groups
            .get_or_insert_with(|| views.iter().flat_map(|v| digit_groups(v)).collect())
    }

    /// Every WINDOW-character substring of every view.
    fn windows(&mut self) -> &HashSet<String> {
        let views = &self.views;
        self.windows.get_or_insert_with(|| {
            let mut set = HashSet::new();
            for v in views {
                let starts: Vec<usize> =
                    v.char_indices().map(|(i, _)| i).chain([v.len()]).collect();
                for w in starts.windows(WINDOW + 1) {
                    set.insert(v[w[0]..w[WINDOW]].to_string());
                }
            }
            set
        })
    }

    fn leaks(&mut self, secret: &Secret) -> bool {
        match &secret.rule {
            Rule::DigitRun(d) => self.views.iter().any(|v| digit_runs(v).any(|r| r == d)),
            Rule::DigitGroup(d) => self.groups().iter().any(|g| g.contains(d.as_str())),
            Rule::Text { forms, windows } => {
                if forms
                    .iter()
                    .any(|f| self.views.iter().any(|v| v.contains(f.as_str())))
                {
                    return true;
                }
                windows.iter().any(|w| {
                    if w.chars().count() == WINDOW {
                        self.windows().contains(w)
                    } else {
                        self.views.iter().any(|v| v.contains(w.as_str()))
                    }
                })
            }
        }
    }
}

/// Decodes output bytes, one U+FFFD per byte of invalid UTF-8 (the scorer
/// decodes with `surrogateescape`, one lone surrogate per byte).
fn decode_output(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).expect("valid prefix"));
                let bad = e.error_len().unwrap_or(rest.len());
                out.extend(std::iter::repeat_n(char::REPLACEMENT_CHARACTER, bad));
                bytes = &rest[bad..];
            }
        }
    }
}

fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// `score.check_line`: the indices of the leaked secrets and of the damaged
/// keep tokens of one output line.
fn check_line(out: &[u8], secrets: &[Secret], keep: &[String]) -> (Vec<usize>, Vec<usize>) {
    let mut leaked = Vec::new();
    if !secrets.is_empty() {
        let mut views = OutputViews::new(&decode_output(out));
        for (i, s) in secrets.iter().enumerate() {
            if views.leaks(s) {
                leaked.push(i);
            }
        }
    }
    let damaged = keep
        .iter()
        .enumerate()
        .filter(|(_, k)| !contains_bytes(out, k.as_bytes()))
        .map(|(i, _)| i)
        .collect();
    (leaked, damaged)
}

// ---------------------------------------------------------------------------
// Scoring and the report
// ---------------------------------------------------------------------------

#[derive(Default)]
struct TypeStats {
    total: usize,
    leaked: usize,
}

#[derive(Default)]
struct GroupStats {
    cases: usize,
    secrets: usize,
    leaked: usize,
    keep: usize,
    false_positives: usize,
    clean_lines: usize,
    clean_lines_changed: usize,
}

#[derive(Default)]
struct Report {
    lines: usize,
    secrets: usize,
    leaks: usize,
    keep_tokens: usize,
    false_positives: usize,
    clean_lines: usize,
    clean_lines_changed: usize,
    per_type: BTreeMap<String, TypeStats>,
    per_group: BTreeMap<String, GroupStats>,
    leak_examples: Vec<String>,
    fp_examples: Vec<String>,
}

fn ratio(good: usize, total: usize) -> Option<f64> {
    (total > 0).then(|| good as f64 / total as f64)
}

impl Report {
    fn recall(&self) -> f64 {
        ratio(self.secrets - self.leaks, self.secrets).unwrap_or(1.0)
    }

    fn fp_rate(&self) -> f64 {
        ratio(self.false_positives, self.keep_tokens).unwrap_or(0.0)
    }

    /// The scorer's last line.
    fn summary(&self) -> String {
        format!(
            "recall={:.4} fp_rate={:.4} leaks={} false_positives={} lines={}",
            self.recall(),
            self.fp_rate(),
            self.leaks,
            self.false_positives,
            self.lines
        )
    }

    fn table(&self) -> String {
        let fmt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.4}"));
        let mut s = String::from("per type                 total  removed  leaked  recall\n");
        for (t, v) in &self.per_type {
            s += &format!(
                "  {t:<20} {:>8} {:>8} {:>7}  {}\n",
                v.total,
                v.total - v.leaked,
                v.leaked,
                fmt(ratio(v.total - v.leaked, v.total))
            );
        }
        s += "\nper group                cases  secrets  leaked  recall   keep    fp  fp_rate  clean_changed\n";
        for (g, v) in &self.per_group {
            s += &format!(
                "  {g:<20} {:>7} {:>8} {:>7}  {:>6} {:>6} {:>5}  {:>6}  {}/{}\n",
                v.cases,
                v.secrets,
                v.leaked,
                fmt(ratio(v.secrets - v.leaked, v.secrets)),
                v.keep,
                v.false_positives,
                fmt(ratio(v.false_positives, v.keep)),
                v.clean_lines_changed,
                v.clean_lines
            );
        }
        s += &format!(
            "\nsecrets: {}  leaked: {}  recall: {:.4}\n",
            self.secrets,
            self.leaks,
            self.recall()
        );
        s += &format!(
            "keep tokens: {}  damaged: {}  fp_rate: {:.4}\n",
            self.keep_tokens,
            self.false_positives,
            self.fp_rate()
        );
        s += &format!(
            "lines without secrets that changed: {} of {}\n",
            self.clean_lines_changed, self.clean_lines
        );
        s + &self.summary()
    }

    fn examples(&self) -> String {
        let mut s = String::new();
        if !self.leak_examples.is_empty() {
            s += &format!("first leaks:\n{}\n", self.leak_examples.join("\n"));
        }
        if !self.fp_examples.is_empty() {
            s += &format!("first false positives:\n{}\n", self.fp_examples.join("\n"));
        }
        s
    }
}

/// Scores output lines against the cases (`score.score`). The caller checks
/// alignment first.
fn score(cases: &[Case], out_lines: &[&[u8]]) -> Report {
    assert_eq!(cases.len(), out_lines.len(), "misaligned output");
    let mut r = Report {
        lines: out_lines.len(),
        ..Report::default()
    };
    for (case, &out) in cases.iter().zip(out_lines) {
        let (leaked, damaged) = check_line(out, &case.secrets, &case.keep);
        let g = r.per_group.entry(case.group.clone()).or_default();
        g.cases += 1;
        g.secrets += case.secrets.len();
        g.leaked += leaked.len();
        g.keep += case.keep.len();
        g.false_positives += damaged.len();
        if case.secrets.is_empty() {
            g.clean_lines += 1;
            r.clean_lines += 1;
            if out != case.text.as_bytes() {
                g.clean_lines_changed += 1;
                r.clean_lines_changed += 1;
            }
        }
        for (i, s) in case.secrets.iter().enumerate() {
            let t = r.per_type.entry(s.stype.clone()).or_default();
            t.total += 1;
            if leaked.contains(&i) {
                t.leaked += 1;
            }
        }
        r.secrets += case.secrets.len();
        r.leaks += leaked.len();
        r.keep_tokens += case.keep.len();
        r.false_positives += damaged.len();
        let shown = String::from_utf8_lossy(out);
        for &i in &leaked {
            if r.leak_examples.len() < MAX_EXAMPLES {
                let s = &case.secrets[i];
                r.leak_examples.push(format!(
                    "  [{} {}] {} {:?}\n      out: {shown}",
                    case.id, case.group, s.stype, s.value
                ));
            }
        }
        for &i in &damaged {
            if r.fp_examples.len() < MAX_EXAMPLES {
                r.fp_examples.push(format!(
                    "  [{} {}] keep {:?}\n      in:  {}\n      out: {shown}",
                    case.id, case.group, case.keep[i], case.text
                ));
            }
        }
    }
    r
}

// ---------------------------------------------------------------------------
// The gate
// ---------------------------------------------------------------------------

#[test]
fn eval_gate() {
    let cases = load_cases();
    assert_eq!(cases.len(), 5000, "expected the 5000 public cases");
    let (stdout, _) = run_scrubber(&[], joined_input(&cases));
    let out_lines = split_output(&stdout);
    assert_eq!(
        out_lines.len(),
        cases.len(),
        "misaligned output: {} lines for {} cases (every secret would count as leaked)",
        out_lines.len(),
        cases.len()
    );
    let r = score(&cases, &out_lines);
    eprintln!("{}", r.table());
    eprint!("{}", r.examples());

    let groups: Vec<&str> = r.per_group.keys().map(String::as_str).collect();
    let mut expected = GROUPS.to_vec();
    expected.sort_unstable();
    assert_eq!(groups, expected, "the eval set's groups changed");

    let mut failures = Vec::new();
    let pan_leaks = r.per_type.get("pan").map_or(0, |t| t.leaked);
    if pan_leaks > 0 {
        failures.push(format!("{pan_leaks} card numbers (pan) leaked; must be 0"));
    }
    if r.recall() < MIN_RECALL {
        failures.push(format!("recall {:.4} < {MIN_RECALL}", r.recall()));
    }
    if r.fp_rate() > MAX_FP_RATE {
        failures.push(format!("fp_rate {:.4} > {MAX_FP_RATE}", r.fp_rate()));
    }
    for name in GROUPS {
        let g = &r.per_group[*name];
        if let Some(recall) = ratio(g.secrets - g.leaked, g.secrets) {
            if recall < MIN_GROUP_RECALL {
                failures.push(format!(
                    "group {name}: recall {recall:.4} < {MIN_GROUP_RECALL} ({} of {} leaked)",
                    g.leaked, g.secrets
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "eval gate failed:\n  {}\n{}\n{}",
        failures.join("\n  "),
        r.summary(),
        r.examples()
    );
}

/// Scrubbing scrubbed output again must change nothing: byte-identical
/// output and no redaction counted.
#[test]
fn scrubbing_is_idempotent() {
    let cases = load_cases();
    let (first, _) = run_scrubber(&[], joined_input(&cases));
    let (second, stats) = run_scrubber(&["--stats"], first.clone());
    if first != second {
        let a = split_output(&first);
        let b = split_output(&second);
        let diffs: Vec<String> = a
            .iter()
            .zip(&b)
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .take(MAX_EXAMPLES)
            .map(|(i, (x, y))| {
                format!(
                    "  [{}] first:  {}\n        second: {}",
                    cases.get(i).map_or("?", |c| c.id.as_str()),
                    String::from_utf8_lossy(x),
                    String::from_utf8_lossy(y)
                )
            })
            .collect();
        panic!(
            "second pass changed the output ({} vs {} lines); first differences:\n{}",
            a.len(),
            b.len(),
            diffs.join("\n")
        );
    }
    let summary = stats
        .lines()
        .find(|l| l.starts_with("lines="))
        .unwrap_or_else(|| panic!("no stats line on stderr:\n{stats}"));
    let redactions = summary
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("redactions="))
        .unwrap_or_else(|| panic!("no redactions= in {summary:?}"));
    assert_eq!(
        redactions, "0",
        "second pass redacted something: {summary}\n{stats}"
    );
    eprintln!("second pass: {summary}");
}

// ---------------------------------------------------------------------------
// The checker itself
// ---------------------------------------------------------------------------

/// Does `out` leak a secret of this type and value?
fn leaks(stype: &str, value: &str, out: &str) -> bool {
    !check_line(out.as_bytes(), &[Secret::new(stype, value)], &[])
        .0
        .is_empty()
}

/// The raw text of a case, used as "output", must count as leaking its
/// secrets: the checker can fail.
#[test]
fn checker_reports_unredacted_lines() {
    type Pred = fn(&Secret) -> bool;
    let cases = load_cases();
    let pick = |what: &str, pred: Pred| {
        cases
            .iter()
            .find_map(|c| {
                let i = c.secrets.iter().position(pred)?;
                Some((c, i))
            })
            .unwrap_or_else(|| panic!("no case with a {what} secret"))
    };
    let wanted: [(&str, Pred); 5] = [
        ("pan", |s| s.stype == "pan"),
        ("email", |s| s.stype == "email" && s.value.contains('@')),
        ("jwt", |s| s.stype == "jwt"),
        ("cvv", |s| s.stype == "cvv"),
        ("percent-encoded email", |s| {
            s.stype == "email" && s.value.contains("%40")
        }),
    ];
    for (what, pred) in wanted {
        let (case, i) = pick(what, pred);
        let (leaked, damaged) = check_line(case.text.as_bytes(), &case.secrets, &case.keep);
        assert!(
            leaked.contains(&i),
            "{what} {:?} not reported as leaked in its own raw text {:?}",
            case.secrets[i].value,
            case.text
        );
        assert!(damaged.is_empty(), "raw text damages no keep token");
    }

    // The same percent-encoded e-mail, decoded in the output, still leaks;
    // so does a PAN whose digits survive with other separators, or encoded.
    assert!(leaks(
        "email",
        "schmidt.omar%40fastmail.fm",
        "to=schmidt.omar@fastmail.fm"
    ));
    assert!(leaks(
        "email",
        "schmidt.omar%40fastmail.fm",
        "next=%2Fx%3Femail%3Dschmidt.omar%2540fastmail.fm"
    ));
    assert!(leaks(
        "pan",
        "4624-7237-3057-9773",
        "pan=4624 7237 3057 9773"
    ));
    assert!(leaks("pan", "4624723730579773", "pan=&#52;624723730579773"));
    assert!(leaks(
        "pan",
        "4624723730579773",
        r#"{"pan":"\u0034624723730579773"}"#
    ));
    assert!(!leaks("pan", "4624723730579773", "pan=[CARD_REDACTED]"));

    // Like `score.py -- cat`: identity output leaks every secret, damages nothing.
    let lines: Vec<&[u8]> = cases.iter().map(|c| c.text.as_bytes()).collect();
    let r = score(&cases, &lines);
    assert_eq!(r.leaks, r.secrets, "identity output must leak every secret");
    assert_eq!(r.false_positives, 0);
    assert_eq!(r.secrets, 6214);
    assert_eq!(r.keep_tokens, 15081);
    assert_eq!(
        r.summary(),
        "recall=0.0000 fp_rate=0.0000 leaks=6214 false_positives=0 lines=5000"
    );
}

/// The scorer's own `--selftest` examples (`score.SELFTESTS`).
#[test]
fn checker_agrees_with_score_py_selftests() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MTIzNDU2Nzg5MCIsImlhdCI6MTcxMDQ5ODE1MX0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    let cases: &[(&str, &str, &str, bool)] = &[
        ("pan", "4111111111111111", "card 4111111111111111 ok", true),
        (
            "pan",
            "4111111111111111",
            "card 4111-1111-1111-1111 ok",
            true,
        ),
        (
            "pan",
            "4111 1111 1111 1111",
            "card 4111\u{a0}1111\u{a0}1111\u{a0}1111 ok",
            true,
        ),
        (
            "pan",
            "4111%201111%201111%201111",
            "card=4111%201111%201111%201111&x=1",
            true,
        ),
        (
            "pan",
            "4111111111111111",
            "{\"c\":\"\\u0034111111111111111\"}",
            true,
        ),
        ("pan", "4111111111111111", "card ************1111 ok", false),
        ("pan", "4111111111111111", "card 411111******1111 ok", false),
        ("pan", "4111111111111111", "card [CARD_REDACTED] ok", false),
        (
            "pan",
            "378282246310005",
            "amex 3782-822463-10005|12/28",
            true,
        ),
        (
            "pan",
            "4111111111111111",
            "card XXXX-XXXX-XXXX-1111 exp 12/28",
            false,
        ),
        ("ssn", "536-22-1234", "ssn 536221234", true),
        ("ssn", "536-22-1234", "ssn ***-**-1234", false),
        ("cvv", "123", "cvv=123 exp=1228", true),
        ("cvv", "123", "cvv=[CVV] id=41234", false),
        ("cvv", "042", "cvv=[CVV] ts=10:22:31.042", true),
        ("email", "alice.smith@example.com", "to [EMAIL]", false),
        (
            "email",
            "alice.smith@example.com",
            "to alice.smith@[REDACTED]",
            true,
        ),
        (
            "email",
            "alice.smith@example.com",
            "to ***@example.com",
            false,
        ),
        (
            "email",
            "alice.smith%40example.com",
            "q=alice.smith%40example.com",
            true,
        ),
        (
            "email",
            "alice.smith%40example.com",
            "q=alice.smith@example.com",
            true,
        ),
        (
            "stripe_key",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "key sk_live_...p7dc",
            false,
        ),
        (
            "stripe_key",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "key [REDACTED]4eC39HqLyjWDarjtT1zdp7dc",
            true,
        ),
        (
            "stripe_id",
            "cus_NffrFeUfNV2Hib",
            "customer cus_[REDACTED]",
            false,
        ),
        (
            "stripe_id",
            "cus_NffrFeUfNV2Hib",
            "customer [ID]NffrFeUfNV2Hib",
            true,
        ),
        (
            "google_api_key",
            "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
            "key=[KEY]-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
            true,
        ),
        ("jwt", jwt, "tok eyJhbGciOiJIUzI1NiJ9.[REDACTED]", false),
        (
            "jwt",
            jwt,
            "tok [JWT].eyJzdWIiOiJ1MTIzNDU2Nzg5MCIsImlhdCI6MTcxMDQ5ODE1MX0.[SIG]",
            true,
        ),
    ];
    let bad: Vec<String> = cases
        .iter()
        .filter(|(t, v, out, want)| leaks(t, v, out) != *want)
        .map(|(t, v, out, want)| format!("{t} {v:?} in {out:?}: expected leaked={want}"))
        .collect();
    assert!(bad.is_empty(), "checker disagrees:\n{}", bad.join("\n"));
}

/// The decoders on the corner cases the scorer handles.
#[test]
fn decoders_match_python() {
    assert_eq!(json_unescape(r#"a\"b\\u0034\/\n\x"#), "a\"b\\u0034/\n\\x");
    assert_eq!(
        json_unescape(r"\ud83d\ude00 \ud83d x \u0041"),
        "\u{1f600} \u{fffd} x A"
    );
    assert_eq!(url_unquote("a%40b%2540%zz%4"), "a@b%40%zz%4");
    assert_eq!(url_unquote("%C3%A9%C3"), "\u{e9}\u{fffd}");
    assert_eq!(url_unquote("%C3\u{e9}%A9"), "\u{fffd}\u{e9}\u{fffd}");
    assert_eq!(html_unescape("&#52;&#x34;&#X34;&amp;&commat;"), "444&@");
    assert_eq!(
        html_unescape("&#52 &#12345678; &nosuch; &ampx; &#128; &#1;"),
        "&#52 &#12345678; &nosuch; &x; \u{20ac} "
    );
    assert_eq!(html_unescape("&#xD800;&#0;&#13;"), "\u{fffd}\u{fffd}\r");
    assert_eq!(
        digit_groups("4111 - 1111|1111 x 1111 ____9 ab12"),
        ["411111111111", "1111", "9", "12"]
    );
    assert_eq!(
        views("a%2526b"),
        ["a%2526b", "a%26b", "a&b"].map(String::from).to_vec()
    );
}
