//! Generated positives and near-misses for every built-in rule, from its
//! own examples: the secret of each example (the bytes its output replaces)
//! has its last third (but the final two bytes) re-drawn: its digits,
//! lowercase and uppercase letters shuffled within their class, so each
//! position keeps its class and the secret its alphabet; and
//!
//! - positive: the re-drawn line must still be redacted (for rules whose
//!   validator is not a checksum, which a random draw breaks; a rule's
//!   keywords inside the secret are kept);
//! - near-miss: the secret cut to its first quarter, alone in a neutral
//!   line, must not be found by the rule.

use std::sync::{Arc, OnceLock};

use logscrub::redact::scrub_with;
use logscrub::rules::{builtin_rules, Rule, Validator};
use logscrub::scan::Scanner;
use proptest::prelude::*;

fn everything() -> &'static (Arc<Scanner>, Vec<Rule>) {
    static S: OnceLock<(Arc<Scanner>, Vec<Rule>)> = OnceLock::new();
    S.get_or_init(|| {
        let rules = builtin_rules();
        (Arc::new(Scanner::new(rules.clone()).unwrap()), rules)
    })
}

/// The replaced span of `input`: what lies between the common prefix and
/// the common suffix of input and output.
fn secret_span(input: &str, output: &str) -> Option<(usize, usize)> {
    let (a, b) = (input.as_bytes(), output.as_bytes());
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (pre + suf < a.len()).then_some((pre, a.len() - suf))
}

/// Re-draws the letters and digits of `bytes`, except those of an
/// occurrence of one of `keep` (a rule's keywords, any case).
fn redraw_keeping(bytes: &[u8], seed: &[u8], keep: &[String]) -> Vec<u8> {
    let mut kept = vec![false; bytes.len()];
    for k in keep {
        let k = k.as_bytes();
        for i in 0..bytes.len().saturating_sub(k.len() - 1) {
            if bytes[i..i + k.len()].eq_ignore_ascii_case(k) {
                kept[i..i + k.len()].iter_mut().for_each(|x| *x = true);
            }
        }
    }
    let drawn = redraw(bytes, seed);
    bytes
        .iter()
        .zip(drawn)
        .zip(kept)
        .map(|((&b, d), k)| if k { b } else { d })
        .collect()
}

/// Shuffles, within each alphanumeric run, the digits among the digit
/// positions, the lowercase letters among theirs and the uppercase among
/// theirs, with `seed`: every position keeps its class and every segment
/// its alphabet (hex, base32, …).
fn redraw(bytes: &[u8], seed: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let classes: [fn(&u8) -> bool; 3] = [
        u8::is_ascii_digit,
        u8::is_ascii_lowercase,
        u8::is_ascii_uppercase,
    ];
    // Within each run of letters and digits (a token's segments, such as
    // a hex part and a base62 part, keep their own alphabets).
    let mut start = 0;
    while start < out.len() {
        let end = (start..out.len())
            .find(|&i| !out[i].is_ascii_alphanumeric())
            .unwrap_or(out.len());
        for class in classes {
            let positions: Vec<usize> = (start..end).filter(|&i| class(&out[i])).collect();
            for k in (1..positions.len()).rev() {
                let r = usize::from(seed[k % seed.len()]) * 31 + k;
                out.swap(positions[k], positions[r % (k + 1)]);
            }
        }
        start = end + 1;
    }
    out
}

const CHECKSUMMED: &[Validator] = &[
    Validator::Pan,
    Validator::Luhn,
    Validator::Aba,
    Validator::Iban,
    Validator::Crc32Base62,
    Validator::Ssn,
    Validator::GenericSecret,
    Validator::UrlPassword,
    Validator::SecretValue,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_rule_finds_redrawn_secrets_and_spares_near_misses(
        seed in proptest::collection::vec(any::<u8>(), 8..64),
    ) {
        let (scanner, rules) = everything();
        for rule in rules {
            for ex in &rule.examples {
                let Some((s, e)) = secret_span(&ex.input, &ex.output) else { continue };
                let secret = &ex.input.as_bytes()[s..e];
                if secret.len() < 12 {
                    continue;
                }
                if !rule.validator.is_some_and(|v| CHECKSUMMED.contains(&v)) && rule.entropy.is_none() {
                    let mut line = ex.input.as_bytes()[..s].to_vec();
                    // Keep the first two thirds (provider prefixes and inner
                    // markers such as `:APA91b`), re-draw the rest.
                    let keep = (secret.len() * 2 / 3).max(8);
                    let tail = secret.len().saturating_sub(2).max(keep);
                    line.extend_from_slice(&secret[..keep]);
                    line.extend_from_slice(&redraw_keeping(&secret[keep..tail], &seed, &rule.keywords));
                    line.extend_from_slice(&secret[tail..]);
                    line.extend_from_slice(&ex.input.as_bytes()[e..]);
                    let out = scrub_with(scanner, &line);
                    prop_assert!(out != line, "{}: re-drawn secret not redacted: {:?}", rule.id, String::from_utf8_lossy(&line));
                }
                let cut = &secret[..secret.len() / 4];
                let mut near = b"near ".to_vec();
                near.extend_from_slice(&redraw(cut, &seed));
                near.extend_from_slice(b" end");
                // Not found by this rule (a shorter token of another rule,
                // `xoxp-…` inside `xoxe.xoxp-…`, may still be).
                let mut scratch = scanner.scratch();
                scanner.scan_line(&near, &mut scratch);
                prop_assert!(
                    scratch.findings.iter().all(|f| scanner.rules()[f.rule].id != rule.id),
                    "{}: near-miss found: {:?}", rule.id, String::from_utf8_lossy(&near)
                );
            }
        }
    }
}

/// The base62 alphabet of GitHub's and npm's tokens.
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The ids of the rules that find `line`'s secrets.
fn found_by(scanner: &Scanner, line: &[u8]) -> Vec<String> {
    let mut scratch = scanner.scratch();
    scanner.scan_line(line, &mut scratch);
    scratch
        .findings
        .iter()
        .map(|f| scanner.rules()[f.rule].id.clone())
        .collect()
}

/// The built-in rules without the `_unverified` siblings: the checksums
/// are strict.
fn strict() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| {
        let rules = builtin_rules()
            .into_iter()
            .filter(|r| !r.id.ends_with("_unverified"))
            .collect();
        Scanner::new(rules).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// GitHub and npm tokens made as their providers document (30 random
    /// base62 characters, then their CRC32 as 6 base62 digits) are found by
    /// the verified rule in any context; one changed character (in the
    /// body or the check digits) makes the checksum fail, and the token is
    /// then still redacted, as the `_unverified` rule's lower-confidence
    /// finding; without that rule (strict) it is left alone.
    #[test]
    fn provider_checksums(
        prefix in prop::sample::select(vec!["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"]),
        body in proptest::collection::vec(prop::sample::select(BASE62.to_vec()), 30),
        context in prop::sample::select(vec![
            ("echo ", " done"),
            ("GITHUB_TOKEN=", ""),
            ("{\"token\": \"", "\"}"),
            ("https://x:", "@github.com/a/b.git"),
            ("Authorization: token ", " ok"),
            ("//registry.npmjs.org/:_authToken=", ""),
        ]),
        flip in 0usize..36,
        by in 1usize..62,
    ) {
        let (scanner, _) = everything();
        let verified = if prefix == "npm_" { "npm_token" } else { "github_token" };
        let check = logscrub::rules::checksum::base62_6(logscrub::rules::checksum::crc32(&body));
        let mut token = prefix.as_bytes().to_vec();
        token.extend_from_slice(&body);
        token.extend_from_slice(&check);
        let line = [context.0.as_bytes(), &token, context.1.as_bytes()].concat();
        let out = scrub_with(scanner, &line);
        prop_assert!(!out.windows(token.len()).any(|w| w == token.as_slice()), "{:?}", String::from_utf8_lossy(&out));
        let rules = found_by(scanner, &line);
        // A keyed value takes the token rule's identity when it is valid.
        prop_assert!(rules.iter().any(|r| r == verified), "{rules:?} {:?}", String::from_utf8_lossy(&line));
        prop_assert!(found_by(strict(), &line).iter().any(|r| r == verified));

        // One character changed: the checksum fails.
        let mut broken = token.clone();
        let at = prefix.len() + flip;
        let pos = BASE62.iter().position(|&c| c == broken[at]).unwrap();
        broken[at] = BASE62[(pos + by) % 62];
        prop_assert!(!logscrub::rules::checksum::crc32_base62_valid(&broken));
        let line = [context.0.as_bytes(), &broken, context.1.as_bytes()].concat();
        let out = scrub_with(scanner, &line);
        prop_assert!(!out.windows(broken.len()).any(|w| w == broken.as_slice()), "{:?}", String::from_utf8_lossy(&out));
        let rules = found_by(scanner, &line);
        prop_assert!(!rules.iter().any(|r| r == verified), "{rules:?}");
        let unverified = format!("{verified}_unverified");
        prop_assert!(rules.contains(&unverified), "{rules:?} {:?}", String::from_utf8_lossy(&line));
        prop_assert!(!found_by(strict(), &line).iter().any(|r| r == verified || *r == unverified));
    }
}
