//! The scanner: every enabled rule compiled into one multi-pattern automaton,
//! run once over each line (and once over each decoded view of it).
//!
//! Each match carries its rule's pattern id. The candidate is narrowed to the
//! rule's `secret` group, if it has one, and handed to the rule's validator.
//! A rejected candidate never hides a secret that overlaps or follows it: the
//! search resumes one byte after the rejected candidate's start, so every
//! later start position is still tried. Candidate regexes are bounded or
//! anchored on boundaries (`\b`), so this resumption stays linear.
//!
//! The scanner is immutable and shared; all mutable state (regex caches,
//! decoded views, findings, counters) lives in a [`Scratch`], one per thread.

pub mod gate;
pub mod views;

use std::ops::Range;

use regex_automata::{
    meta::{self, Regex},
    util::captures::Captures,
    Anchored, Input,
};

use crate::policy::Policy;
use crate::rules::{check_unique_ids, CatalogError, Rejection, Rule, Validator};
use crate::stats::Stats;
use gate::{Gate, GateScratch};
use views::View;

/// The size limits every rule is compiled with, alone and together. They
/// bound compile time and memory for pathological user patterns.
pub fn regex_config() -> meta::Config {
    meta::Config::new()
        .nfa_size_limit(Some(64 << 20))
        .onepass_size_limit(Some(0))
        .hybrid_cache_capacity(8 << 20)
}

/// A redaction found in a line: which rule, and which raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Index of the rule in [`Scanner::rules`].
    pub rule: usize,
    /// The raw byte range to replace.
    pub span: Range<usize>,
    /// The secret as found (decoded when found in a decoded view), as a
    /// range of [`Scratch::texts`]; what masks and hashes are computed from.
    pub text: Range<usize>,
    /// Quotes to write around the replacement (a bare JSON value).
    pub quote: crate::format::Quote,
    /// The encoding of the raw span (the decodings of the view the secret
    /// was found in): the replacement is written in it.
    pub enc: views::Encoding,
}

/// The compiled rule set.
pub struct Scanner {
    rules: Vec<Rule>,
    combined: Regex,
    /// For rules with a `secret` group: the rule alone, to read the group.
    secret_regex: Vec<Option<(Regex, usize)>>,
    pem_end: memchr::memmem::Finder<'static>,
    policy: Policy,
    sensitive_keys: crate::format::SensitiveKeys,
    /// Flags the lines of a batch the automaton must see (None: all).
    gate: Option<Gate>,
}

/// Per-thread mutable state for [`Scanner::scan_line`].
pub struct Scratch {
    cache: meta::Cache,
    secret_caches: Vec<Option<(meta::Cache, Captures)>>,
    views: [View; 4],
    /// The findings of the last scanned line, sorted, non-overlapping.
    pub findings: Vec<Finding>,
    /// The secrets' text for the findings of the last line.
    pub texts: Vec<u8>,
    /// Counters, summed per batch by the caller.
    pub stats: Stats,
    /// The gate's state, when there is a gate.
    gate: Option<GateScratch>,
    /// The start offsets of the lines the gate flagged in the last batch.
    pub flagged: Vec<usize>,
    /// The start offsets of the lines where a sensitive name may be.
    pub named: Vec<usize>,
}

/// An explanation of one candidate, for `explain` and tests.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub rule: usize,
    pub view: &'static str,
    pub span: Range<usize>,
    pub verdict: Result<Range<usize>, Rejection>,
}

impl Scanner {
    /// Compiles `rules` (in priority order) into one automaton.
    pub fn new(rules: Vec<Rule>) -> Result<Scanner, CatalogError> {
        check_unique_ids(&rules)?;
        let patterns: Vec<&str> = rules.iter().map(|r| r.regex.as_str()).collect();
        let combined = Regex::builder()
            .syntax(crate::rules::syntax_config())
            .configure(regex_config())
            .build_many(&patterns)
            .map_err(|e| {
                let rule = e
                    .pattern()
                    .and_then(|p| rules.get(p.as_usize()))
                    .or(rules.first());
                CatalogError::Regex {
                    file: rule.map(|r| r.source.clone()).unwrap_or_default(),
                    rule: rule.map(|r| r.id.clone()).unwrap_or_default(),
                    source: Box::new(e),
                }
            })?;
        let mut secret_regex = Vec::with_capacity(rules.len());
        for (pid, rule) in rules.iter().enumerate() {
            let pid = regex_automata::PatternID::must(pid);
            let group = combined.group_info().to_index(pid, "secret");
            let entry = match group {
                None => None,
                Some(index) => {
                    let re = Regex::builder()
                        .syntax(crate::rules::syntax_config())
                        .configure(regex_config())
                        .build(&rule.regex)
                        .map_err(|e| CatalogError::Regex {
                            file: rule.source.clone(),
                            rule: rule.id.clone(),
                            source: Box::new(e),
                        })?;
                    Some((re, index))
                }
            };
            secret_regex.push(entry);
        }
        let sensitive_keys = crate::format::SensitiveKeys::new(
            crate::format::DEFAULT_SENSITIVE_KEYS.iter().copied(),
            &rules,
        );
        let gate = Gate::new(&rules);
        Ok(Scanner {
            gate,
            policy: Policy::labels(&rules),
            sensitive_keys,
            rules,
            combined,
            secret_regex,
            pem_end: memchr::memmem::Finder::new(b"-----END").into_owned(),
        })
    }

    /// The same scanner applying `policy` (built for these rules).
    pub fn with_policy(mut self, policy: Policy) -> Scanner {
        self.policy = policy;
        self
    }

    /// The same scanner without its line gate: every line goes through the
    /// automaton (for differential tests and benchmarks).
    pub fn without_gate(mut self) -> Scanner {
        self.gate = None;
        self
    }

    /// Flags the lines of `batch` where a sensitive name may be (the field
    /// recognizer finds nothing elsewhere), leaving their start offsets in
    /// `scratch.named`. Returns false when the batch is not flagged: then
    /// every line must be given to the recognizer.
    pub fn flag_names(&self, batch: &[u8], scratch: &mut Scratch) -> bool {
        self.sensitive_keys.flag_lines(batch, &mut scratch.named)
    }

    /// True when this scanner has a line gate.
    pub fn has_gate(&self) -> bool {
        self.gate.is_some()
    }

    /// Flags the lines of `batch` (whole lines) where the automaton could
    /// match, leaving their start offsets in `scratch.flagged`. Returns
    /// false when the batch is not gated: then every line must be scanned.
    pub fn flag_lines(&self, batch: &[u8], scratch: &mut Scratch) -> bool {
        match (&self.gate, &mut scratch.gate) {
            (Some(gate), Some(gs)) => gate.flag_lines(batch, gs, &mut scratch.flagged),
            _ => false,
        }
    }

    /// The redaction policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The same scanner with these sensitive keys (key → rule id).
    pub fn with_sensitive_keys<'a>(
        mut self,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Scanner {
        self.sensitive_keys = crate::format::SensitiveKeys::new(entries, &self.rules);
        self
    }

    /// The keys whose values are redacted whole in structured logs.
    pub fn sensitive_keys(&self) -> &crate::format::SensitiveKeys {
        &self.sensitive_keys
    }

    /// The built-in catalog, compiled.
    pub fn builtin() -> Scanner {
        match Scanner::new(crate::rules::builtin_rules()) {
            Ok(s) => s,
            Err(e) => panic!("built-in catalog: {e}"),
        }
    }

    /// The index of the private-key rule (the one with the `pem_block`
    /// validator), when enabled: multi-line key bodies are then followed.
    pub fn block_rule(&self) -> Option<usize> {
        self.rules
            .iter()
            .position(|r| r.validator == Some(Validator::PemBlock))
    }

    /// The rules, in priority order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Fresh per-thread state.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            cache: self.combined.create_cache(),
            secret_caches: self
                .secret_regex
                .iter()
                .map(|e| {
                    e.as_ref()
                        .map(|(re, _)| (re.create_cache(), re.create_captures()))
                })
                .collect(),
            views: Default::default(),
            findings: Vec::new(),
            texts: Vec::new(),
            stats: Stats::new(self.rules.len()),
            gate: self.gate.as_ref().map(Gate::scratch),
            flagged: Vec::new(),
            named: Vec::new(),
        }
    }

    /// Scans one line (without its line terminator). The findings, in raw
    /// byte offsets, sorted and merged, are left in `scratch.findings`.
    pub fn scan_line(&self, line: &[u8], scratch: &mut Scratch) {
        self.scan(line, true, scratch, &mut |_| {})
    }

    /// As [`Scanner::scan_line`] for a line the gate did not flag when
    /// `flagged` is false: the automaton is not run over its raw bytes
    /// (it cannot match there), only over its decoded views.
    pub fn scan_gated_line(&self, line: &[u8], flagged: bool, scratch: &mut Scratch) {
        self.scan(line, flagged, scratch, &mut |_| {})
    }

    /// As [`Scanner::scan_line`], reporting every candidate to `explain`.
    pub fn scan_line_with(
        &self,
        line: &[u8],
        scratch: &mut Scratch,
        explain: &mut dyn FnMut(Candidate),
    ) {
        self.scan(line, true, scratch, explain)
    }

    fn scan(
        &self,
        line: &[u8],
        raw: bool,
        scratch: &mut Scratch,
        explain: &mut dyn FnMut(Candidate),
    ) {
        scratch.findings.clear();
        scratch.texts.clear();
        let Scratch {
            cache,
            secret_caches,
            views,
            findings,
            texts,
            stats,
            ..
        } = scratch;
        if raw {
            self.scan_view(
                line,
                "raw",
                cache,
                secret_caches,
                findings,
                texts,
                stats,
                explain,
            );
        }

        // Decoded views, each decoded from the one before: JSON escapes
        // (twice, for JSON inside a JSON string), HTML references once, and
        // percent-decoding (twice for a doubly encoded redirect parameter).
        let (mut json_passes, mut html_done, mut form_done) = (0, false, false);
        let mut enc = views::Encoding::default();
        let steps = if views::may_need_decoding(line) {
            views.len()
        } else {
            0
        };
        for step in 0..steps {
            let (done, rest) = views.split_at_mut(step);
            let source = done.last();
            let src: &[u8] = source.map_or(line, |v| v.bytes.as_slice());
            let out = &mut rest[0];
            if json_passes < 2 && views::has_json_escape(src) {
                views::json_unescape(src, source, out);
                json_passes += 1;
                enc = enc.then(views::Decoding::Json);
            } else if !html_done && views::has_html_reference(src) {
                views::html_unescape(src, source, out);
                html_done = true;
                enc = enc.then(views::Decoding::Html);
            } else if !form_done && views::has_form_plus(src) {
                // A form body: `+` for spaces (and `%XX`).
                views::form_decode(src, source, out);
                form_done = true;
                enc = enc.then(views::Decoding::Form);
            } else if views::has_percent_escape(src) {
                views::percent_decode(src, source, out);
                enc = enc.then(views::Decoding::Percent);
            } else {
                break;
            }
            let before = findings.len();
            self.scan_view(
                &out.bytes,
                "decoded",
                cache,
                secret_caches,
                findings,
                texts,
                stats,
                explain,
            );
            for f in &mut findings[before..] {
                f.span = out.to_raw(f.span.clone());
                f.enc = enc;
            }
        }
        // A finding of the raw view may start inside an escape sequence
        // (`\u003calice@…`, `%3Calice@…`): widen it to the whole sequence,
        // so a replacement never leaves half an escape behind.
        for f in findings.iter_mut() {
            let s = f.span.start;
            if s >= 1 && line[s - 1] == b'\\' {
                f.span.start = s - 1;
            } else if s >= 2 && line[s - 2] == b'%' && line[s - 1].is_ascii_hexdigit() {
                f.span.start = s - 2;
            } else if s >= 1 && line[s - 1] == b'%' {
                f.span.start = s - 1;
            }
        }
        merge_findings(findings);
        // Counted after merging, so a secret seen in several views counts once.
        for f in findings.iter() {
            stats.redactions[f.rule] += 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn scan_view(
        &self,
        hay: &[u8],
        view_name: &'static str,
        cache: &mut meta::Cache,
        secret_caches: &mut [Option<(meta::Cache, Captures)>],
        findings: &mut Vec<Finding>,
        texts: &mut Vec<u8>,
        stats: &mut Stats,
        explain: &mut dyn FnMut(Candidate),
    ) {
        let mut at = 0;
        while at < hay.len() {
            let input = Input::new(hay).range(at..);
            let Some(m) = self.combined.search_with(cache, &input) else {
                break;
            };
            let pid = m.pattern().as_usize();
            let rule = &self.rules[pid];
            if inside_hash_token(hay, m.start()) {
                // Inside a hash token this scanner wrote (`[SECRET:k1:…]`).
                at = m.start() + 1;
                continue;
            }
            let mut span = m.range();
            if let (Some((re, group)), Some((gcache, caps))) =
                (&self.secret_regex[pid], secret_caches[pid].as_mut())
            {
                let sub = Input::new(hay)
                    .range(m.start()..m.end())
                    .anchored(Anchored::Yes);
                re.search_captures_with(gcache, &sub, caps);
                // When the group did not take part (another branch of an
                // alternation matched), the whole match is the secret.
                if let Some(g) = caps.get_group(*group) {
                    span = g.range();
                }
            }
            let mut verdict = match rule.validator {
                Some(Validator::PemBlock) => {
                    // The body runs to the END marker; without one, to the
                    // end of the quoted string it sits in (so JSON framing
                    // survives), else to the end of the line (fail closed).
                    // A marker that ends the line opens a multi-line block,
                    // which the redactor follows.
                    let rest = &hay[m.end()..];
                    let end = self
                        .pem_end
                        .find(rest)
                        .or_else(|| memchr::memchr(b'"', rest))
                        .map_or(hay.len(), |p| m.end() + p);
                    Ok(m.end()..end)
                }
                Some(v) => v.check(hay, span.clone()),
                None => Ok(span.clone()),
            };
            if let Ok(found) = &verdict {
                if !found.is_empty() && self.policy.allows(pid, &hay[found.clone()]) {
                    verdict = Err(Rejection::Allowlist);
                }
            }
            explain(Candidate {
                rule: pid,
                view: view_name,
                span: span.clone(),
                verdict: verdict.clone(),
            });
            match verdict {
                Ok(found) if !found.is_empty() && !self.is_label(&hay[found.clone()]) => {
                    let pid = if self.secret_regex[pid].is_some() {
                        self.more_specific_rule(hay, found.clone(), pid, cache)
                    } else {
                        pid
                    };
                    // Resume where the secret starts when it lies inside the
                    // match after its start (`cvv 4111 1111 1111 1111`: the
                    // CVV rule takes the first group, the card rule must
                    // still see the card); else after the secret. Findings
                    // that overlap are merged.
                    let resume = if found.start > m.start() && found.end <= m.end() {
                        found.start
                    } else {
                        found.end.max(m.start() + 1)
                    };
                    let text = texts.len()..texts.len() + found.len();
                    texts.extend_from_slice(&hay[found.clone()]);
                    findings.push(Finding {
                        rule: pid,
                        span: found,
                        text,
                        quote: Default::default(),
                        enc: Default::default(),
                    });
                    at = resume;
                }
                Ok(_) => at = m.start() + 1,
                Err(reason) => {
                    stats.reject(pid, reason);
                    at = m.start() + 1;
                }
            }
        }
    }

    /// For a keyed value (`token=ghp_…`), the rule that recognises the value
    /// itself, when one does, so that it gets that rule's label.
    fn more_specific_rule(
        &self,
        hay: &[u8],
        value: Range<usize>,
        pid: usize,
        cache: &mut meta::Cache,
    ) -> usize {
        let input = Input::new(hay).range(value.clone()).anchored(Anchored::Yes);
        match self.combined.search_with(cache, &input) {
            Some(m)
                if m.pattern().as_usize() != pid
                    && self.secret_regex[m.pattern().as_usize()].is_none() =>
            {
                let other = m.pattern().as_usize();
                match self.rules[other].validator {
                    None => other,
                    Some(Validator::PemBlock) => pid,
                    Some(v) if v.check(hay, m.range()).is_ok() => other,
                    Some(_) => pid,
                }
            }
            _ => pid,
        }
    }

    /// True when `text` starts with a label: the value was already redacted.
    pub fn is_label(&self, text: &[u8]) -> bool {
        text.first() == Some(&b'[')
            && (is_hash_token(text)
                || (0..self.rules.len()).any(|i| text.starts_with(&self.policy.rule(i).label))
                || self
                    .rules
                    .iter()
                    .any(|r| text.starts_with(r.label.as_bytes())))
    }
}

/// True when `pos` is inside the name of a hash token (`[STRIPE_SECRET_KEY:…`).
fn inside_hash_token(hay: &[u8], pos: usize) -> bool {
    let mut i = pos;
    while i > 0 && pos - i < 40 && (hay[i - 1].is_ascii_uppercase() || hay[i - 1] == b'_') {
        i -= 1;
    }
    i > 0 && hay[i - 1] == b'[' && is_hash_token(&hay[i - 1..])
}

/// True when `text` starts with a hash token: `[NAME:keyid:mac]`, NAME in
/// `[A-Z_]`, the MAC in the letters `a`–`p` (see `policy::hash`).
fn is_hash_token(text: &[u8]) -> bool {
    let mut parts = text[1..].splitn(3, |&b| b == b':');
    let (Some(name), Some(id), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let mac_len = rest
        .iter()
        .take_while(|b| (b'a'..=b'p').contains(b))
        .count();
    !name.is_empty()
        && name.iter().all(|&b| b.is_ascii_uppercase() || b == b'_')
        && !id.is_empty()
        && id
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && mac_len >= 12
        && rest.get(mac_len) == Some(&b']')
}

/// Sorts findings by start and merges overlapping ones; a merged span keeps
/// the label of the finding that starts first.
pub(crate) fn merge_findings(findings: &mut Vec<Finding>) {
    findings.sort_by_key(|f| (f.span.start, std::cmp::Reverse(f.span.end)));
    let mut out = 0;
    for i in 0..findings.len() {
        if out > 0 && findings[i].span.start < findings[out - 1].span.end {
            let (end, quote, enc) = (findings[i].span.end, findings[i].quote, findings[i].enc);
            let last = &mut findings[out - 1];
            last.span.end = last.span.end.max(end);
            if last.quote == crate::format::Quote::None {
                last.quote = quote;
            }
            // The same secret seen raw and in a view: write the replacement
            // in the view's encoding (it escapes only what needs it).
            if last.enc.is_raw() {
                last.enc = enc;
            }
        } else {
            findings.swap(out, i);
            out += 1;
        }
    }
    findings.truncate(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(line: &str) -> Vec<(String, String)> {
        let scanner = Scanner::builtin();
        let mut scratch = scanner.scratch();
        scanner.scan_line(line.as_bytes(), &mut scratch);
        scratch
            .findings
            .iter()
            .map(|f| {
                (
                    scanner.rules()[f.rule].id.clone(),
                    line[f.span.clone()].to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn builtin_scanner_is_gated_with_names() {
        let scanner = Scanner::builtin();
        assert!(scanner.has_gate());
        let mut scratch = scanner.scratch();
        let batch = b"a span\nx cardNumber=1\ncvv2: 1\nb passwords\nc PASSWORD=x\n";
        assert!(scanner.flag_names(batch, &mut scratch));
        assert_eq!(scratch.named, vec![7, 22, 42]);
        let scanner = scanner.with_sensitive_keys([("session_id", "kv_secret")]);
        assert!(scanner.flag_names(b"a\nx SessionId=1\nb session\n", &mut scratch));
        assert_eq!(scratch.named, vec![2]);
    }

    #[test]
    fn rejected_card_does_not_hide_the_next() {
        let got = spans("ids 5105103577806870 / 5105105105105100 done");
        assert_eq!(got, vec![("pan".into(), "5105105105105100".into())]);
    }

    #[test]
    fn card_inside_long_digit_run_is_not_cut() {
        assert!(spans("batch_id=454012888888881881534741").is_empty());
    }

    #[test]
    fn card_before_time_is_found() {
        let got = spans("card 4111111111111111 20:46:52 ok");
        assert_eq!(got, vec![("pan".into(), "4111111111111111".into())]);
    }

    #[test]
    fn merge_overlaps() {
        let mut f = vec![
            Finding {
                rule: 1,
                span: 5..9,
                text: 0..0,
                quote: Default::default(),
                enc: Default::default(),
            },
            Finding {
                rule: 0,
                span: 0..6,
                text: 0..0,
                quote: Default::default(),
                enc: Default::default(),
            },
            Finding {
                rule: 2,
                span: 12..14,
                text: 0..0,
                quote: Default::default(),
                enc: Default::default(),
            },
        ];
        merge_findings(&mut f);
        assert_eq!(
            f,
            vec![
                Finding {
                    rule: 0,
                    span: 0..9,
                    text: 0..0,
                    quote: Default::default(),
                    enc: Default::default(),
                },
                Finding {
                    rule: 2,
                    span: 12..14,
                    text: 0..0,
                    quote: Default::default(),
                    enc: Default::default(),
                }
            ]
        );
    }
}
