//! The scanner: every enabled rule compiled into one multi-pattern automaton,
//! run once over each line (and once over each decoded view of it), except
//! the rules that begin with a distinctive literal or carry `keywords`: one
//! Aho-Corasick search ([`literal`]) finds which of those can match a line,
//! and only those run there, each with its own regex. Candidates of both
//! kinds are taken in the order one automaton of all rules would report
//! them: leftmost first, the rule loaded first on a tie.
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
pub mod line_filter;
pub mod literal;
/// The decoded views live with the formats, which read them too.
pub use crate::format::views;

use std::ops::Range;

use regex_automata::{
    meta::{self, Regex},
    util::captures::Captures,
    Anchored, Input,
};

use crate::policy::Policy;
pub use crate::rules::regex_config;
use crate::rules::{check_unique_ids, CatalogError, Rejection, Rule, Validator};
use crate::stats::Stats;
use gate::{Gate, GateScratch};
use line_filter::LineFilter;
use literal::{BatchHits, Literals};
use views::View;

// Every rejection reason has its counter slot.
const _: () = assert!(Rejection::ALL.len() == crate::stats::REJECTION_SLOTS);

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

/// One indexed rule's own regex and the index of its `secret` group.
type SingleRegex = (Regex, Option<usize>);

/// The compiled rule set.
pub struct Scanner {
    rules: Vec<Rule>,
    /// The rules not in the literal index, as one automaton.
    combined: Regex,
    /// The rule index of each pattern of `combined`.
    combined_rules: Vec<usize>,
    /// For automaton rules with a `secret` group: the rule alone, to read
    /// the group.
    secret_regex: Vec<Option<(Regex, usize)>>,
    /// For indexed rules: the rule alone, and its `secret` group if any,
    /// compiled the first time the rule's literal occurs.
    single: Vec<std::sync::OnceLock<Option<SingleRegex>>>,
    /// The literal index.
    literals: Literals,
    pem_end: memchr::memmem::Finder<'static>,
    /// Some rule can match a line break, or looks at more than ASCII or
    /// Unicode word boundaries and the ends of the text: decoding a line's
    /// closing `\n` escapes may then show it a match. Found on first use.
    line_breaks_matter: std::sync::OnceLock<bool>,
    policy: Policy,
    sensitive_keys: crate::format::SensitiveKeys,
    /// Flags the lines of a batch the automaton must see.
    gate: Option<Gate>,
    /// Flags the lines of a batch holding an indexed literal or a
    /// sensitive name; built on first use (the keys are often replaced
    /// right after the scanner is made).
    line_filter: std::sync::OnceLock<LineFilter>,
    /// Lines are gated (the gate was built and is not switched off).
    gated: bool,
    /// Per rule: its `<id>_unverified` sibling, which takes the candidates
    /// the rule's validator turns down (see [`unverified_siblings`]).
    unverified: Vec<Option<usize>>,
}

/// The next candidate of one indexed rule in the view being scanned.
#[derive(Clone, Debug)]
enum Next {
    /// Not searched yet (or from before the current position).
    Stale,
    /// No further match.
    Done,
    /// Match start, end, and the secret span.
    At(usize, usize, Range<usize>),
}

/// The parts of a [`Scratch`] a view scan uses (the views themselves are
/// borrowed apart).
struct Work<'a> {
    cache: &'a mut meta::Cache,
    /// The line gate's state, to skip decoded views no rule can match.
    gate: Option<&'a mut GateScratch>,
    /// Whether the automaton runs over the view being scanned: false where
    /// the gate has shown that none of its rules can match.
    automaton: bool,
    /// Whether an indexed literal may occur in the view being scanned:
    /// false for a decoded view whose escapes added no byte a literal is
    /// made of, when the raw line holds no literal.
    literals: bool,
    secret_caches: &'a mut [Option<(meta::Cache, Captures)>],
    single_caches: &'a mut [Option<(meta::Cache, Captures)>],
    active: &'a mut Vec<usize>,
    /// The literal hits of the batch the line lies in ([`Scanner::flag_lines`]),
    /// for [`Scanner::scan_gated_line`] only.
    batch_hits: Option<&'a BatchHits>,
    pending: &'a mut Vec<Next>,
    findings: &'a mut Vec<Finding>,
    texts: &'a mut Vec<u8>,
    stats: &'a mut Stats,
}

/// Per-thread mutable state for [`Scanner::scan_line`].
pub struct Scratch {
    cache: meta::Cache,
    secret_caches: Vec<Option<(meta::Cache, Captures)>>,
    /// Caches of the indexed rules' own regexes, made on first use.
    single_caches: Vec<Option<(meta::Cache, Captures)>>,
    /// The indexed rules active in the view being scanned.
    active: Vec<usize>,
    /// Per active rule: its next candidate.
    pending: Vec<Next>,
    views: [View; 5],
    /// How many of `views` were decoded from the last scanned line.
    views_built: usize,
    /// The decodings each of those views is made of.
    view_encodings: [views::Encoding; 5],
    /// The findings of the last scanned line, sorted, non-overlapping.
    pub findings: Vec<Finding>,
    /// The secrets' text for the findings of the last line.
    pub texts: Vec<u8>,
    /// Counters, summed per batch by the caller.
    pub stats: Stats,
    /// The gate's state, when there is a gate.
    gate: Option<GateScratch>,
    /// The start offsets of the lines flagged in the last batch, by the
    /// gate or by the line filter.
    pub flagged: Vec<usize>,
    /// The start offsets of the lines the gate flagged in the last batch:
    /// the only lines where the automaton can match.
    pub automaton_flagged: Vec<usize>,
    /// The start offsets of the lines holding a sensitive name's spelling
    /// in the last batch: the only lines where a field can be named.
    pub named: Vec<usize>,
    /// The start offsets of the lines holding an indexed rule's literal in
    /// the last batch: the only lines where an indexed rule can match.
    pub literal_flagged: Vec<usize>,
    /// The line filter's literal hits in the last batch (see
    /// [`Scanner::flag_lines`]).
    batch_hits: BatchHits,
    /// The last line had more than [`MAX_FINDINGS_PER_LINE`] findings:
    /// scanning stopped there, and the line must fail closed.
    pub overflowed: bool,
}

impl Scratch {
    /// The decoded views of the last scanned line (JSON escapes, HTML
    /// references, percent-encoding undone), each mapping back to raw bytes.
    pub fn decoded_views(&self) -> impl Iterator<Item = (&View, views::Encoding)> {
        self.views[..self.views_built]
            .iter()
            .zip(self.view_encodings.iter().copied())
    }

    /// Drops what [`Scanner::flag_lines`] kept of its batch (the literal
    /// hits, known by the batch's address): call it before that batch is
    /// dropped or changed.
    pub fn forget_batch(&mut self) {
        self.batch_hits.forget();
    }
}

/// The most findings one line may have. Findings are kept in memory until
/// the line is written, so their number bounds the scan's memory (48 bytes
/// each, at most 3 MiB, plus the secrets' text, at most the line) whatever
/// the line holds; a line with more is failed closed (replaced whole,
/// counted). A line of the default 1 MiB limit full of card numbers has
/// fewer (about 62,000) and is scanned.
pub const MAX_FINDINGS_PER_LINE: usize = 65_536;

/// How much of a line's raw bytes [`Scanner::scan_gated_line`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawView {
    /// Not at all: the gate did not flag the line and the line filter
    /// found no literal of an indexed rule in it (a sensitive name there is
    /// the structure walks' business, not the scan's).
    Skip,
    /// The indexed rules whose literals occur, not the automaton: the line
    /// filter flagged the line, the gate did not (so no rule of the
    /// automaton can match it).
    Indexed,
    /// The automaton, not the indexed rules: the gate flagged the line,
    /// the line filter found none of their literals in it.
    Automaton,
    /// The automaton and the indexed rules.
    Full,
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
        let literals = Literals::new(&rules);
        let sensitive_keys = crate::format::SensitiveKeys::new(
            crate::format::DEFAULT_SENSITIVE_KEYS.iter().copied(),
            &rules,
        );
        let combined_rules: Vec<usize> = (0..rules.len())
            .filter(|&i| !literals.is_indexed(i))
            .collect();
        // The line filter and the gate are built on a thread of their own
        // while the automaton is compiled here: they are the costly parts
        // of start-up and need nothing of each other.
        let (automaton, filter, gate) = std::thread::scope(|scope| {
            let side = scope.spawn(|| {
                let filter = LineFilter::new(&literals.patterns(), sensitive_keys.spellings());
                let rest: Vec<Rule> = combined_rules.iter().map(|&i| rules[i].clone()).collect();
                (filter, Gate::new(&rest))
            });
            let automaton = compile_automaton(&rules, &combined_rules);
            let (filter, gate) = side.join().expect("building the line filter and the gate");
            (automaton, filter, gate)
        });
        let Automaton {
            combined,
            secret_regex,
        } = automaton?;
        Ok(Scanner {
            gated: gate.is_some(),
            gate,
            line_filter: std::sync::OnceLock::from(filter),
            unverified: unverified_siblings(&rules),
            policy: Policy::labels(&rules),
            sensitive_keys,
            single: rules.iter().map(|_| std::sync::OnceLock::new()).collect(),
            rules,
            combined,
            combined_rules,
            secret_regex,
            literals,
            pem_end: memchr::memmem::Finder::new(b"-----END").into_owned(),
            line_breaks_matter: std::sync::OnceLock::new(),
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
        self.gated = false;
        self
    }

    /// True when this scanner has a line gate.
    pub fn has_gate(&self) -> bool {
        self.gated
    }

    /// The number of rules found through the literal index rather than
    /// the automaton.
    pub fn indexed_rules(&self) -> usize {
        self.literals.indexed_count()
    }

    /// The literal index (for reports: `examples/literal_hits.rs`).
    pub fn literals(&self) -> &Literals {
        &self.literals
    }

    /// Flags the lines of `batch` (whole lines) where the automaton could
    /// match, an indexed rule's literal occurs or a sensitive name is
    /// spelled, leaving their start offsets in `scratch.flagged` (those of
    /// the gate also in `scratch.automaton_flagged`, those of a name also
    /// in `scratch.named`). Returns false when the batch is not gated: then
    /// every line must be read whole.
    ///
    /// The filter's literal hits are kept, so that scanning a line of
    /// `batch` does not search it for literals again: call
    /// [`Scratch::forget_batch`] before `batch` is dropped or changed.
    pub fn flag_lines(&self, batch: &[u8], scratch: &mut Scratch) -> bool {
        scratch.batch_hits.forget();
        let gated = match (&self.gate, &mut scratch.gate) {
            (Some(g), Some(gs)) => g.flag_lines(batch, gs, &mut scratch.automaton_flagged),
            _ => false,
        };
        let (flagged, literal, named) = (
            &mut scratch.flagged,
            &mut scratch.literal_flagged,
            &mut scratch.named,
        );
        flagged.clear();
        literal.clear();
        named.clear();
        if !gated {
            scratch.automaton_flagged.clear();
            return false;
        }
        self.line_filter()
            .flag_lines_by_kind(batch, literal, named, &mut scratch.batch_hits.hits);
        scratch.batch_hits.remember(batch);
        flagged.extend_from_slice(&scratch.automaton_flagged);
        if !literal.is_empty() || !named.is_empty() {
            flagged.extend_from_slice(literal);
            flagged.extend_from_slice(named);
            flagged.sort_unstable();
            flagged.dedup();
        }
        true
    }

    /// SHA-256 (hex) over the active rules in order: id, family, regex,
    /// validator, action and label of each. Two runs with the same hash
    /// redact the same way; any change of a rule or of its action changes
    /// it (the run report's rule-set identity).
    pub fn catalog_sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let policy = self.policy.rule(i);
            for field in [
                rule.id.as_bytes(),
                rule.family.as_bytes(),
                rule.regex.as_bytes(),
                format!("{:?}", rule.validator).as_bytes(),
                policy.action.as_str().as_bytes(),
                &policy.label,
            ] {
                // Length-prefixed, so fields cannot run into each other.
                h.update((field.len() as u64).to_le_bytes());
                h.update(field);
            }
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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
        let keys = crate::format::SensitiveKeys::new(entries, &self.rules);
        let sorted = |k: &crate::format::SensitiveKeys| {
            let mut spellings = k.spellings().to_vec();
            spellings.sort_unstable();
            spellings
        };
        // The filter flags the same lines for the same set of spellings.
        if sorted(&keys) != sorted(&self.sensitive_keys) {
            self.line_filter = std::sync::OnceLock::new();
        }
        self.sensitive_keys = keys;
        self
    }

    /// The line filter of the indexed literals and the sensitive names; its
    /// automaton also finds the literals in a line (see [`Literals::active`]).
    pub fn line_filter(&self) -> &LineFilter {
        self.line_filter.get_or_init(|| {
            LineFilter::new(&self.literals.patterns(), self.sensitive_keys.spellings())
        })
    }

    /// The keys whose values are redacted whole in structured logs.
    pub fn sensitive_keys(&self) -> &crate::format::SensitiveKeys {
        &self.sensitive_keys
    }

    /// The built-in catalog, compiled.
    pub fn builtin() -> Scanner {
        match Scanner::new(crate::rules::default_rules()) {
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
            single_caches: self.rules.iter().map(|_| None).collect(),
            active: Vec::new(),
            pending: Vec::new(),
            views: Default::default(),
            views_built: 0,
            view_encodings: Default::default(),
            findings: Vec::new(),
            texts: Vec::new(),
            stats: Stats::new(self.rules.len()),
            gate: self.gate.as_ref().map(Gate::scratch),
            flagged: Vec::new(),
            automaton_flagged: Vec::new(),
            named: Vec::new(),
            literal_flagged: Vec::new(),
            batch_hits: BatchHits::default(),
            overflowed: false,
        }
    }

    /// Scans one line (without its line terminator). The findings, in raw
    /// byte offsets, sorted and merged, are left in `scratch.findings`.
    pub fn scan_line(&self, line: &[u8], scratch: &mut Scratch) {
        self.scan(line, RawView::Full, false, scratch, &mut |_| {})
    }

    /// As [`Scanner::scan_line`], reading the raw bytes as far as the line
    /// gate and filter allow (see [`RawView`]); decoded views are scanned
    /// as always. A line lying in the batch of the last
    /// [`Scanner::flag_lines`] takes its indexed rules from the literal
    /// hits found there.
    pub fn scan_gated_line(&self, line: &[u8], raw: RawView, scratch: &mut Scratch) {
        self.scan(line, raw, true, scratch, &mut |_| {})
    }

    /// As [`Scanner::scan_line`], reporting every candidate to `explain`.
    pub fn scan_line_with(
        &self,
        line: &[u8],
        scratch: &mut Scratch,
        explain: &mut dyn FnMut(Candidate),
    ) {
        self.scan(line, RawView::Full, false, scratch, explain)
    }

    fn scan(
        &self,
        line: &[u8],
        raw: RawView,
        in_batch: bool,
        scratch: &mut Scratch,
        explain: &mut dyn FnMut(Candidate),
    ) {
        scratch.findings.clear();
        scratch.overflowed = false;
        scratch.texts.clear();
        scratch.views_built = 0;
        let Scratch {
            cache,
            secret_caches,
            single_caches,
            active,
            pending,
            views,
            views_built,
            view_encodings,
            findings,
            texts,
            stats,
            gate,
            batch_hits,
            ..
        } = scratch;
        let mut work = Work {
            cache,
            gate: gate.as_mut(),
            automaton: matches!(raw, RawView::Full | RawView::Automaton),
            literals: raw != RawView::Automaton,
            secret_caches,
            single_caches,
            active,
            batch_hits: in_batch.then_some(&*batch_hits),
            pending,
            findings,
            texts,
            stats,
        };
        if raw != RawView::Skip {
            self.scan_view(line, "raw", &mut work, explain);
        }
        // A literal in a decoded view is in the raw line too unless it
        // holds a byte an escape decoded to. (A line not read raw was
        // gated: the line filter found no literal in it.)
        let raw_literal = raw != RawView::Skip && !work.active.is_empty();

        // Decoded views, each decoded from the one before: JSON escapes
        // (up to three times: JSON inside a JSON string inside a Docker
        // record), HTML references once, and percent-decoding (twice for a
        // doubly encoded redirect parameter); five views in all, so three
        // JSON decodings leave room for HTML and percent-decoding.
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
            // Closing `\n` escapes alone need no decoded view (see
            // `views::only_closing_line_breaks`).
            if json_passes < 3
                && views::has_json_escape(src)
                && (!views::only_closing_line_breaks(src)
                    || *self
                        .line_breaks_matter
                        .get_or_init(|| line_breaks_matter(&self.rules)))
            {
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
            *views_built = step + 1;
            if let Some(slot) = view_encodings.get_mut(step) {
                *slot = enc;
            }
            let before = work.findings.len();
            work.literals = raw_literal || !out.adds_none_of(self.line_filter().literal_bytes());
            self.scan_view(&out.bytes, "decoded", &mut work, explain);
            for f in &mut work.findings[before..] {
                f.span = out.to_raw(f.span.clone());
                f.enc = enc;
            }
        }
        let Work {
            findings, stats, ..
        } = work;
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
        if findings.len() >= MAX_FINDINGS_PER_LINE {
            // Not counted as redactions: the whole line fails closed.
            findings.clear();
            texts.clear();
            scratch.overflowed = true;
            return;
        }
        merge_findings(findings);
        // Counted after merging, so a secret seen in several views counts once.
        for f in findings.iter() {
            stats.redactions[f.rule] += 1;
        }
    }

    /// The next candidate at or after `at`: the automaton's, or an active
    /// indexed rule's, whichever starts first (the rule loaded first on a
    /// tie), as (rule, start, end, secret span).
    fn next_candidate(
        &self,
        hay: &[u8],
        at: usize,
        w: &mut Work,
    ) -> Option<(usize, usize, usize, Range<usize>)> {
        let input = Input::new(hay).range(at..);
        let mut best = if w.automaton {
            self.combined.search_with(w.cache, &input).map(|m| {
                let rule = self.combined_rules[m.pattern().as_usize()];
                (rule, m.start(), m.end(), m.range())
            })
        } else {
            None
        };
        for (k, &rule) in w.active.iter().enumerate() {
            if matches!(w.pending[k], Next::Stale)
                || matches!(w.pending[k], Next::At(start, ..) if start < at)
            {
                let Some((re, group)) = self.single(rule) else {
                    w.pending[k] = Next::Done;
                    continue;
                };
                let (gcache, caps) = w.single_caches[rule]
                    .get_or_insert_with(|| (re.create_cache(), re.create_captures()));
                re.search_captures_with(gcache, &input, caps);
                w.pending[k] = match caps.get_match() {
                    None => Next::Done,
                    Some(m) => {
                        let span = group
                            .and_then(|g| caps.get_group(g))
                            .map_or(m.range(), |g| g.range());
                        Next::At(m.start(), m.end(), span)
                    }
                };
            }
            if let Next::At(start, end, span) = &w.pending[k] {
                let better = match &best {
                    None => true,
                    Some((b_rule, b_start, ..)) => (*start, rule) < (*b_start, *b_rule),
                };
                if better {
                    best = Some((rule, *start, *end, span.clone()));
                }
            }
        }
        let (rule, start, end, mut span) = best?;
        if let (Some((re, group)), Some((gcache, caps))) =
            (&self.secret_regex[rule], w.secret_caches[rule].as_mut())
        {
            let sub = Input::new(hay).range(start..end).anchored(Anchored::Yes);
            re.search_captures_with(gcache, &sub, caps);
            // When the group did not take part (another branch of an
            // alternation matched), the whole match is the secret.
            if let Some(g) = caps.get_group(*group) {
                span = g.range();
            }
        }
        Some((rule, start, end, span))
    }

    /// The regex of indexed rule `i` alone, and its `secret` group; None
    /// for a rule of the automaton. Rules that fail to compile alone were
    /// refused when loaded (built-in ones are compiled by a unit test).
    fn single(&self, i: usize) -> Option<&SingleRegex> {
        if !self.literals.is_indexed(i) {
            return None;
        }
        self.single[i]
            .get_or_init(|| {
                let re = Regex::builder()
                    .syntax(crate::rules::syntax_config())
                    .configure(regex_config())
                    .build(&self.rules[i].regex)
                    .ok()?;
                let group = re
                    .group_info()
                    .to_index(regex_automata::PatternID::ZERO, "secret");
                Some((re, group))
            })
            .as_ref()
    }

    /// True when rule `i` has a `secret` group.
    fn has_secret_group(&self, i: usize) -> bool {
        self.secret_regex[i].is_some() || self.single(i).is_some_and(|(_, group)| group.is_some())
    }

    fn scan_view(
        &self,
        hay: &[u8],
        view_name: &'static str,
        w: &mut Work,
        explain: &mut dyn FnMut(Candidate),
    ) {
        if w.literals {
            // The raw view of a line of the batch the filter walked: its
            // hits there. (A decoded view may hold literals the batch
            // does not, and is searched.)
            match (view_name == "raw")
                .then(|| w.batch_hits.and_then(|b| b.within(hay)))
                .flatten()
            {
                Some(hits) => self.literals.active_from(hits, w.active),
                None => self.literals.active(hay, self.line_filter(), w.active),
            }
        } else {
            w.active.clear();
        }
        if view_name != "raw" {
            // A decoded view: the automaton runs over it when the gate sees
            // that one of its rules may match; with no indexed literal
            // either, the view is skipped.
            w.automaton = match (&self.gate, w.gate.as_deref_mut()) {
                (Some(gate), Some(gs)) => gate.may_match(hay, gs),
                _ => true,
            };
            if !w.automaton && w.active.is_empty() {
                return;
            }
        }
        w.pending.clear();
        w.pending.resize(w.active.len(), Next::Stale);
        let mut at = 0;
        while at < hay.len() {
            if w.findings.len() >= MAX_FINDINGS_PER_LINE {
                // (Checked by the caller through `Scratch::overflowed`.)
                break;
            }
            let Some((pid, m_start, m_end, span)) = self.next_candidate(hay, at, w) else {
                break;
            };
            let rule = &self.rules[pid];
            if inside_hash_token(hay, m_start) {
                // Inside a hash token this scanner wrote (`[SECRET:k1:…]`).
                at = m_start + 1;
                continue;
            }
            let mut verdict = match rule.validator {
                Some(Validator::PemBlock) => {
                    // The body runs to the END marker; without one, to the
                    // end of the quoted string it sits in (so JSON framing
                    // survives), else to the end of the line (fail closed).
                    // A marker that ends the line opens a multi-line block,
                    // which the redactor follows.
                    let rest = &hay[m_end..];
                    let end = self
                        .pem_end
                        .find(rest)
                        .or_else(|| memchr::memchr(b'"', rest))
                        .map_or(hay.len(), |p| m_end + p);
                    Ok(m_end..end)
                }
                Some(v) => v.check(hay, span.clone()),
                None => Ok(span.clone()),
            };
            // What the validator turns down is still redacted when the rule
            // has an `_unverified` sibling: counted as rejected by the rule,
            // found by the sibling (a lower-confidence finding).
            let (pid, rule) = match (&verdict, self.unverified[pid]) {
                (Err(reason), Some(sibling)) => {
                    w.stats.reject(pid, reason.slot());
                    verdict = Ok(span.clone());
                    (sibling, &self.rules[sibling])
                }
                _ => (pid, rule),
            };
            if let Ok(found) = &verdict {
                // A keyword rule outside the literal index (it could not be
                // built) checks its keywords here; the entropy floor applies
                // to the text to redact.
                let no_keyword = !rule.keywords.is_empty()
                    && !self.literals.is_indexed(pid)
                    && !contains_keyword(hay, &rule.keywords);
                let low_entropy = rule.entropy.is_some_and(|min| {
                    crate::rules::checksum::shannon_entropy(&hay[found.clone()]) < min
                });
                if no_keyword || low_entropy {
                    verdict = Err(Rejection::Context);
                }
            }
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
                Ok(found) if !found.is_empty() && !self.is_labelled(hay, found.clone()) => {
                    let pid = if self.has_secret_group(pid) {
                        self.more_specific_rule(hay, found.clone(), pid, w)
                    } else {
                        pid
                    };
                    // Resume where the secret starts when it lies inside the
                    // match after its start (`cvv 4111 1111 1111 1111`: the
                    // CVV rule takes the first group, the card rule must
                    // still see the card); else after the secret. Findings
                    // that overlap are merged.
                    let resume = if found.start > m_start && found.end <= m_end {
                        found.start
                    } else {
                        found.end.max(m_start + 1)
                    };
                    let text = w.texts.len()..w.texts.len() + found.len();
                    w.texts.extend_from_slice(&hay[found.clone()]);
                    w.findings.push(Finding {
                        rule: pid,
                        span: found,
                        text,
                        quote: Default::default(),
                        enc: Default::default(),
                    });
                    at = resume;
                }
                Ok(_) => at = m_start + 1,
                Err(reason) => {
                    w.stats.reject(pid, reason.slot());
                    at = m_start + 1;
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
        w: &mut Work,
    ) -> usize {
        let input = Input::new(hay).range(value.clone()).anchored(Anchored::Yes);
        // Where the gate showed the automaton cannot match, it cannot match
        // inside a value either.
        let mut best = if w.automaton {
            self.combined
                .search_with(w.cache, &input)
                .map(|m| (self.combined_rules[m.pattern().as_usize()], m.range()))
        } else {
            None
        };
        for &rule in w.active.iter() {
            if best.as_ref().is_some_and(|(b, _)| *b < rule) {
                break;
            }
            let Some((re, _)) = self.single(rule) else {
                continue;
            };
            let (gcache, _) = w.single_caches[rule]
                .get_or_insert_with(|| (re.create_cache(), re.create_captures()));
            if let Some(m) = re.search_with(gcache, &input) {
                best = Some((rule, m.range()));
                break;
            }
        }
        match best {
            Some((other, range)) if other != pid && !self.has_secret_group(other) => {
                match self.rules[other].validator {
                    None => other,
                    Some(Validator::PemBlock) => pid,
                    Some(v) if v.check(hay, range).is_ok() => other,
                    Some(_) => self.unverified[other].unwrap_or(pid),
                }
            }
            _ => pid,
        }
    }

    /// True when `found` in `hay` is a replacement already written: a
    /// label, or a label's inside after its `[` (`password=[[SECRET_REDACTED]]`
    /// read as a list holding a value).
    fn is_labelled(&self, hay: &[u8], found: Range<usize>) -> bool {
        self.is_label(&hay[found.clone()])
            || (found.start > 0
                && hay[found.start - 1] == b'['
                && self.is_label(&hay[found.start - 1..]))
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

/// True when one of `keywords` occurs in `hay` (ASCII case-insensitive).
fn contains_keyword(hay: &[u8], keywords: &[String]) -> bool {
    keywords.iter().any(|k| {
        let k = k.as_bytes();
        !k.is_empty() && hay.windows(k.len()).any(|w| w.eq_ignore_ascii_case(k))
    })
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

/// The automaton of the rules not in the literal index, and the regexes
/// that read their `secret` groups.
struct Automaton {
    combined: Regex,
    /// Per rule: its own regex and its `secret` group's index, for a rule
    /// of the automaton that has one (the group is read on a candidate).
    secret_regex: Vec<Option<(Regex, usize)>>,
}

/// The [`Automaton`] of the rules at `combined_rules`.
fn compile_automaton(rules: &[Rule], combined_rules: &[usize]) -> Result<Automaton, CatalogError> {
    let patterns: Vec<&str> = combined_rules
        .iter()
        .map(|&i| rules[i].regex.as_str())
        .collect();
    let combined = Regex::builder()
        .syntax(crate::rules::syntax_config())
        .configure(regex_config())
        .build_many(&patterns)
        .map_err(|e| {
            let rule = e
                .pattern()
                .and_then(|p| combined_rules.get(p.as_usize()))
                .and_then(|&i| rules.get(i))
                .or(rules.first());
            CatalogError::Regex {
                file: rule.map(|r| r.source.clone()).unwrap_or_default(),
                rule: rule.map(|r| r.id.clone()).unwrap_or_default(),
                source: Box::new(e),
            }
        })?;
    let build_one = |rule: &Rule| {
        Regex::builder()
            .syntax(crate::rules::syntax_config())
            .configure(regex_config())
            .build(&rule.regex)
            .map_err(|e| CatalogError::Regex {
                file: rule.source.clone(),
                rule: rule.id.clone(),
                source: Box::new(e),
            })
    };
    let mut secret_regex: Vec<Option<(Regex, usize)>> = (0..rules.len()).map(|_| None).collect();
    for (pid, &i) in combined_rules.iter().enumerate() {
        let pid = regex_automata::PatternID::must(pid);
        if let Some(index) = combined.group_info().to_index(pid, "secret") {
            secret_regex[i] = Some((build_one(&rules[i])?, index));
        }
    }
    Ok(Automaton {
        combined,
        secret_regex,
    })
}

/// Per rule, the index of the rule named `<id>_unverified`, when the rule
/// has a validator and that rule is loaded: a candidate the validator turns
/// down is then redacted as the sibling's finding rather than left in place
/// (a GitHub token whose checksum fails is still a token). The sibling must
/// be loaded after the rule (on a tie the first rule sees the candidate);
/// disabling it makes the validator strict again.
fn unverified_siblings(rules: &[Rule]) -> Vec<Option<usize>> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if r.validator.is_none() || r.validator == Some(Validator::PemBlock) {
                return None;
            }
            let want = format!("{}_unverified", r.id);
            // Only a sibling loaded after the rule: on a tie the rule
            // loaded first sees the candidate.
            rules
                .iter()
                .skip(i + 1)
                .position(|s| s.id == want)
                .map(|p| i + 1 + p)
        })
        .collect()
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

/// Whether some rule of `rules` can match a newline or uses a look other
/// than `^`, `$` (of the whole text) and `\b`: then the newlines that
/// decoding adds can change what matches. A regex that does not parse
/// counts as mattering. (Loaded rules never match a newline: see
/// `rules::check_rule`.)
fn line_breaks_matter(rules: &[Rule]) -> bool {
    use regex_syntax::hir::{Hir, HirKind, Look};
    fn looks_past_word_bounds(hir: &Hir) -> bool {
        match hir.kind() {
            HirKind::Look(look) => !matches!(
                look,
                Look::Start | Look::End | Look::WordAscii | Look::WordUnicode
            ),
            HirKind::Repetition(r) => looks_past_word_bounds(&r.sub),
            HirKind::Capture(c) => looks_past_word_bounds(&c.sub),
            HirKind::Concat(subs) | HirKind::Alternation(subs) => {
                subs.iter().any(looks_past_word_bounds)
            }
            HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) => false,
        }
    }
    rules.iter().any(|r| {
        regex_automata::util::syntax::parse_with(&r.regex, &crate::rules::syntax_config())
            .map_or(true, |hir| {
                crate::rules::can_match_newline(&hir) || looks_past_word_bounds(&hir)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line filter built with the scanner (for the default names) is
    /// kept for the same names in another order, and rebuilt for others.
    #[test]
    fn the_line_filter_follows_the_sensitive_keys() {
        let batch = b"x=1\nfrobnicator=hunter2\npassword=a\n";
        let named = |scanner: &Scanner| {
            let mut scratch = scanner.scratch();
            assert!(scanner.flag_lines(batch, &mut scratch));
            scratch.named.clone()
        };
        let defaults = crate::format::DEFAULT_SENSITIVE_KEYS;
        assert_eq!(named(&Scanner::builtin()), vec![24]);
        let reordered = Scanner::builtin().with_sensitive_keys(defaults.iter().rev().copied());
        assert_eq!(named(&reordered), vec![24]);
        let added = Scanner::builtin().with_sensitive_keys(
            defaults
                .iter()
                .copied()
                .chain([("frobnicator", "kv_secret")]),
        );
        assert_eq!(named(&added), vec![4, 24]);
        let removed = Scanner::builtin().with_sensitive_keys(
            defaults
                .iter()
                .copied()
                .filter(|(k, _)| !k.contains("pass")),
        );
        assert!(!named(&removed).contains(&24));
    }

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

    /// A literal spelled in part by an escape is not in the raw line, so
    /// the line filter does not flag it: its decoded view still runs the
    /// literal's rule. Every byte of the literal, in every escape syntax.
    #[test]
    fn a_literal_made_by_an_escape_is_found_in_the_decoded_view() {
        let scanner = Scanner::builtin();
        let mut scratch = scanner.scratch();
        let literal = "glpat-";
        let tail = "rckbMZE3VnrWepH7HPJQ";
        for k in 0..literal.len() {
            let b = literal.as_bytes()[k];
            for escaped in [
                format!("\\u{:04x}", b),
                format!("%{:02X}", b),
                format!("&#{};", b),
            ] {
                let line = format!(
                    "{{\"msg\":\"clone {}{}{}{} ok\"}}",
                    &literal[..k],
                    escaped,
                    &literal[k + 1..],
                    tail
                );
                let mut batch = line.clone().into_bytes();
                batch.push(b'\n');
                assert!(scanner.flag_lines(&batch, &mut scratch));
                assert!(scratch.flagged.is_empty(), "{line}");
                scanner.scan_gated_line(line.as_bytes(), RawView::Skip, &mut scratch);
                assert!(
                    scratch
                        .findings
                        .iter()
                        .any(|f| scanner.rules()[f.rule].id.contains("gitlab")),
                    "{line}"
                );
            }
        }
    }

    fn rule_of(id: &str, regex: &str) -> Rule {
        let text = format!(
            "family = \"t\"\n[[rule]]\nid = \"{id}\"\ndescription = \"d\"\nregex = '''{regex}'''\nlabel = \"[X]\"\n"
        );
        crate::rules::parse_pattern_file("t.toml", &text)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn which_rules_see_line_breaks() {
        assert!(!line_breaks_matter(&crate::rules::builtin_rules()));
        for regex in [r"(?m)^abc", r"abc(?m:$)", r"\Babc", r"\b{start}abc"] {
            assert!(line_breaks_matter(&[rule_of("x", regex)]), "{regex}");
        }
        assert!(!line_breaks_matter(&[rule_of("x", r"^\babc[^\n]\b$")]));
    }

    /// Lines whose only escapes are closing line breaks are not decoded
    /// when no rule sees line breaks: the findings are those of a scanner
    /// that decodes them (one with a rule that sees line breaks, matching
    /// nothing here), for secrets and words right next to the escapes.
    #[test]
    fn closing_line_breaks_need_no_decoded_view() {
        use proptest::prelude::*;
        let skipping = Scanner::builtin();
        let mut rules = crate::rules::default_rules();
        rules.push(rule_of("sees_line_breaks", r"(?m)^qqqzzz$"));
        let decoding = Scanner::new(rules).unwrap();
        assert!(*decoding
            .line_breaks_matter
            .get_or_init(|| line_breaks_matter(&decoding.rules)));
        let piece = prop::sample::select(vec![
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "4111 1111 1111 1111",
            "4111111111111111",
            "user@example.com",
            "glpat-rckbMZE3VnrWepH7HPJQ",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX3Rlc3Q",
            "password=hunter2hunter2",
            "word",
            " ",
            ":",
            "'",
            "\\n",
            "\\t",
        ]);
        let ending = prop::sample::select(vec!["\\n", "\\r\\n", "\\n\\n", "\\r", ""]);
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &(prop::collection::vec(piece, 0..6), ending, any::<bool>()),
                |(pieces, ending, envelope)| {
                    let text = pieces.concat();
                    let line = if envelope {
                        format!("{{\"log\":\"{text}{ending}\",\"stream\":\"stdout\"}}")
                    } else {
                        format!("{text}{ending}")
                    };
                    let found = |scanner: &Scanner| {
                        let mut scratch = scanner.scratch();
                        scanner.scan_line(line.as_bytes(), &mut scratch);
                        scratch
                            .findings
                            .iter()
                            .map(|f| (scanner.rules()[f.rule].id.clone(), f.span.clone()))
                            .collect::<Vec<_>>()
                    };
                    prop_assert_eq!(found(&skipping), found(&decoding), "{}", line);
                    Ok(())
                },
            )
            .unwrap();
    }

    #[test]
    fn builtin_scanner_flags_lines_with_names() {
        let scanner = Scanner::builtin();
        assert!(scanner.has_gate());
        let mut scratch = scanner.scratch();
        let batch = b"a span\nx cardNumber=1\ncvv2: 1\nb passwords\nc PASSWORD=x\n";
        assert!(scanner.flag_lines(batch, &mut scratch));
        // `passwords` is no sensitive name, but `pass` is a prefix literal
        // of the indexed rule `kv_secret`.
        assert_eq!(scratch.flagged, vec![7, 22, 30, 42]);
        assert!(scratch.automaton_flagged.is_empty());
        let scanner = scanner.with_sensitive_keys([("session_id", "kv_secret")]);
        assert!(scanner.flag_lines(b"a\nx SessionId=1\nb session\n", &mut scratch));
        assert_eq!(scratch.flagged, vec![2]);
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
