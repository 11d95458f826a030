//! The literal index: one Aho-Corasick search finds the rules that can run
//! on a line, for the rules that begin with a literal or carry `keywords`,
//! so that their cost does not grow with their number.
//!
//! Two kinds of rule are indexed:
//!
//! - *prefix rules*: every match of the regex begins with one of a few
//!   literals of at least [`MIN_LITERAL`] bytes (`ghp_`, `glpat-`), or one
//!   byte less with an uppercase letter or digit (`SG.`, `eyJ`),
//!   as the regex syntax's prefix extractor proves; the literals are
//!   matched case-sensitively, exactly as the regex would; where the regex
//!   ignores case (`(?i)password`), the literals are taken with their case
//!   folded and matched ignoring ASCII case (a superset: still sound);
//! - *keyword rules*: rules with a `keywords` field run only on lines that
//!   hold one of their keywords (ASCII case-insensitive).
//!
//! Every other rule stays in the scanner's automaton and its line gate.
//!
//! Guarantees: [`Literals::active`] lists every indexed rule whose literal
//! or keyword occurs in the text, so a prefix rule that matches the text is
//! listed, and a keyword rule is listed exactly when one of its keywords
//! occurs. The line filter ([`super::line_filter`]) flags every line
//! holding one of [`Literals::patterns`], in its single pass over a batch,
//! so no line on which `active` would list a rule goes unscanned. The automaton here
//! (case-insensitive, overlapping) runs on flagged lines only; a
//! case-sensitive literal's hits are confirmed byte for byte.

use super::line_filter::{LineFilter, LiteralHit};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Capture, Class, Hir, HirKind, Repetition};

use crate::rules::Rule;

/// The shortest literal that indexes a rule: shorter ones (`pi_`, `SK`)
/// are frequent in logs and would flag too many lines; such rules stay in
/// the automaton, whose gate sees the whole pattern.
pub const MIN_LITERAL: usize = 4;

/// Prefix literals are cut to this many bytes: longer ones are no rarer.
const MAX_LITERAL_LEN: usize = 12;

/// A literal one byte shorter than [`MIN_LITERAL`] is enough when it is
/// matched case-sensitively and holds an uppercase letter or a digit
/// (`eyJ`, `SG.`, `dt0`, `r8_`): such mixes are rare in log text, while
/// short lowercase ones (`pi_`, `in_`, `://`, `pat`) flagged a quarter of
/// the loghub lines when tried.
fn long_enough(literal: &[u8], folded: bool) -> bool {
    literal.len() >= MIN_LITERAL
        || (literal.len() + 1 == MIN_LITERAL
            && !folded
            && literal
                .iter()
                .any(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

/// The most literals one rule may contribute. The line filter's cost does
/// not grow with their number, while every rule left in the automaton adds
/// states to the gate and the scanner: `kv_secret`, `account` and
/// `heroku_key` (128–193 case variants of their key words) are indexed.
const MAX_LITERALS_PER_RULE: usize = 256;

/// One pattern of the automaton.
#[derive(Clone, Debug)]
struct Pattern {
    /// Matched case-sensitively (a prefix literal) or not (a keyword).
    case_sensitive: bool,
    /// The literal, for the case-sensitive confirmation.
    bytes: Vec<u8>,
    /// The rules (indexes into the scanner's rules) it activates.
    rules: Vec<usize>,
}

/// The literal index of a rule list.
#[derive(Clone, Debug)]
pub struct Literals {
    patterns: Vec<Pattern>,
    /// Per rule: true when the rule is indexed here (not in the automaton).
    indexed: Vec<bool>,
}

/// `hir` with each one-letter case class (`[Pp]`, what `(?i)p` becomes in
/// ASCII mode) replaced by the lowercase letter; `folded` tells whether
/// any was. A literal of the result matches, ignoring case, whatever a
/// literal of `hir` matches.
fn fold_case(hir: &Hir, folded: &mut bool) -> Hir {
    match hir.kind() {
        HirKind::Class(Class::Bytes(c)) => {
            if let [u, l] = c.ranges() {
                let (upper, lower) = (u.start(), l.start());
                if u.end() == upper
                    && l.end() == lower
                    && upper.is_ascii_uppercase()
                    && lower == upper.to_ascii_lowercase()
                {
                    *folded = true;
                    return Hir::literal(vec![lower]);
                }
            }
            hir.clone()
        }
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(|h| fold_case(h, folded)).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.iter().map(|h| fold_case(h, folded)).collect())
        }
        HirKind::Capture(c) => Hir::capture(Capture {
            index: c.index,
            name: c.name.clone(),
            sub: Box::new(fold_case(&c.sub, folded)),
        }),
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(fold_case(&r.sub, folded)),
        }),
        _ => hir.clone(),
    }
}

/// At most this many literals per rule are kept as they are extracted;
/// beyond it they are cut shorter until they merge (see [`shortened`]).
const FEW_LITERALS: usize = 16;

/// `literals` (as [`without_covered`] leaves them), cut shorter while they are
/// more than [`FEW_LITERALS`]: the longest are cut by one byte at a time
/// as long as each cut literal stays [`long_enough`], and literals that
/// then begin others replace them. A prefix of a literal begins every
/// match the literal begins, so the set stays sound. A digit class after a
/// fixed prefix (`ACME-[0-9]{10}`) otherwise expands into a hundred
/// literals (`ACME-00` … `ACME-99`) that find nothing `ACME-` does not:
/// 510 such user rules made 19,000 literals, too many for the line
/// filter's packed table.
fn shortened(mut literals: Vec<Vec<u8>>, folded: bool) -> Vec<Vec<u8>> {
    while literals.len() > FEW_LITERALS {
        let longest = literals.iter().map(Vec::len).max().unwrap_or(0);
        let mut changed = false;
        for l in literals.iter_mut().filter(|l| l.len() == longest) {
            if long_enough(&l[..longest - 1], folded) {
                l.truncate(longest - 1);
                changed = true;
            }
        }
        if !changed {
            break;
        }
        literals = without_covered(literals);
    }
    literals
}

/// `literals` sorted, each once, without those another one begins (it
/// finds every match they find).
fn without_covered(mut literals: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    literals.sort();
    literals.dedup();
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity(literals.len());
    for l in literals {
        // Sorted: a literal that begins this one is the last one kept
        // that begins it, if any.
        if !kept.last().is_some_and(|k| l.starts_with(k)) {
            kept.push(l);
        }
    }
    kept
}

/// The prefix literals that begin every match of `regex`, when there are
/// few enough of them and each is long enough to be worth searching for,
/// and whether they are matched case-sensitively (false: the regex ignores
/// case there, and the literals are lowercase).
pub fn prefix_literals(regex: &str) -> Option<(bool, Vec<Vec<u8>>)> {
    let hir =
        regex_automata::util::syntax::parse_with(regex, &crate::rules::syntax_config()).ok()?;
    let mut folded = false;
    let hir = fold_case(&hir, &mut folded);
    // Every match starts with one of the extracted literals (exact or
    // not): a finite sequence is a sound set of prefixes.
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let literals = seq.literals()?;
    let mut out: Vec<Vec<u8>> = literals
        .iter()
        .map(|l| {
            if folded {
                l.as_bytes().to_ascii_lowercase()
            } else {
                l.as_bytes().to_vec()
            }
        })
        .collect();
    // A literal's prefix finds every match the literal finds: cut long
    // ones, and drop those another one begins (`api-key` covers
    // `api-key"`), so the line filter's automaton stays small.
    for l in &mut out {
        l.truncate(MAX_LITERAL_LEN);
    }
    let out = shortened(without_covered(out), folded);
    if out.is_empty()
        || out.len() > MAX_LITERALS_PER_RULE
        || out.iter().any(|l| !long_enough(l, folded))
    {
        return None;
    }
    Some((!folded, out))
}

/// The prefix literals of each rule without keywords ([`prefix_literals`]),
/// in rule order. Extracting them parses every regex, a large part of
/// start-up, so a large catalog is split between this thread and one more.
fn all_prefix_literals(rules: &[Rule]) -> Vec<Option<(bool, Vec<Vec<u8>>)>> {
    let extract = |rules: &[Rule]| -> Vec<_> {
        rules
            .iter()
            .map(|rule| {
                if rule.keywords.is_empty() {
                    prefix_literals(&rule.regex)
                } else {
                    None
                }
            })
            .collect()
    };
    if rules.len() < 64 {
        return extract(rules);
    }
    let (first, second) = rules.split_at(rules.len() / 2);
    std::thread::scope(|scope| {
        let second = scope.spawn(|| extract(second));
        let mut all = extract(first);
        all.extend(second.join().expect("extracting prefix literals"));
        all
    })
}

impl Literals {
    /// Indexes the rules that have keywords or usable prefix literals.
    pub fn new(rules: &[Rule]) -> Literals {
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut by_key: std::collections::HashMap<(bool, Vec<u8>), usize> =
            std::collections::HashMap::new();
        let mut indexed = vec![false; rules.len()];
        let prefixes = all_prefix_literals(rules);
        for (i, (rule, prefix)) in rules.iter().zip(prefixes).enumerate() {
            let entries: Vec<(bool, Vec<u8>)> = if !rule.keywords.is_empty() {
                rule.keywords
                    .iter()
                    .map(|k| (false, k.to_ascii_lowercase().into_bytes()))
                    .collect()
            } else if let Some((case_sensitive, lits)) = prefix {
                lits.into_iter().map(|l| (case_sensitive, l)).collect()
            } else {
                continue;
            };
            indexed[i] = true;
            for key in entries {
                let slot = *by_key.entry(key.clone()).or_insert_with(|| {
                    patterns.push(Pattern {
                        case_sensitive: key.0,
                        bytes: key.1.clone(),
                        rules: Vec::new(),
                    });
                    patterns.len() - 1
                });
                if patterns[slot].rules.last() != Some(&i) {
                    patterns[slot].rules.push(i);
                }
            }
        }
        Literals { patterns, indexed }
    }

    /// True when rule `i` is indexed here rather than in the automaton.
    pub fn is_indexed(&self, i: usize) -> bool {
        self.indexed.get(i).copied().unwrap_or(false)
    }

    /// The number of indexed rules.
    pub fn indexed_count(&self) -> usize {
        self.indexed.iter().filter(|&&x| x).count()
    }

    /// The literal (or keyword) of each pattern, for reports.
    pub fn pattern_bytes(&self, pattern: usize) -> &[u8] {
        &self.patterns[pattern].bytes
    }

    /// The patterns that occur in `hay` (each occurrence), for reports.
    /// `filter` is the line filter built from [`Literals::patterns`] (its
    /// automaton does this index's search).
    pub fn hits(&self, hay: &[u8], filter: &LineFilter, each: impl FnMut(usize)) {
        filter.literal_hits(hay, each);
    }

    /// Appends to `out` the indexed rules whose literal or keyword occurs in
    /// `hay`, sorted and unique. `filter` as for [`Literals::hits`].
    pub fn active(&self, hay: &[u8], filter: &LineFilter, out: &mut Vec<usize>) {
        out.clear();
        filter.literal_hits(hay, |p| out.extend_from_slice(&self.patterns[p].rules));
        out.sort_unstable();
        out.dedup();
    }

    /// As [`Literals::active`], from the literals' hits in `hay` found
    /// beforehand (see [`BatchHits`]).
    pub fn active_from(&self, hits: impl Iterator<Item = LiteralHit>, out: &mut Vec<usize>) {
        out.clear();
        for h in hits {
            out.extend_from_slice(&self.patterns[h.literal].rules);
        }
        out.sort_unstable();
        out.dedup();
    }

    /// Every literal and keyword, with whether it is matched
    /// case-sensitively: what the line filter must also flag.
    pub fn patterns(&self) -> Vec<(bool, &[u8])> {
        self.patterns
            .iter()
            .map(|p| (p.case_sensitive, p.bytes.as_slice()))
            .collect()
    }
}

/// The literal hits of the last batch the line filter walked, and where
/// that batch lies in memory: the scan of a line inside the batch takes its
/// indexed rules from them instead of searching the line again.
///
/// The batch is known by its address, so the hits are valid only while it
/// is borrowed unchanged: [`BatchHits::forget`] must be called before the
/// batch is dropped or changed (the redactor does, at the end of each
/// batch), or a later buffer at the same address would take its hits.
#[derive(Debug, Default)]
pub struct BatchHits {
    /// The batch's address and length; None when no batch is known.
    batch: Option<(usize, usize)>,
    /// Every literal hit in the batch, ordered by where it ends.
    pub hits: Vec<LiteralHit>,
}

impl BatchHits {
    /// `hits` (ordered by where they end) are those of `batch`.
    pub fn remember(&mut self, batch: &[u8]) {
        self.batch = Some((batch.as_ptr() as usize, batch.len()));
    }

    /// No batch is known.
    pub fn forget(&mut self) {
        self.batch = None;
        self.hits.clear();
    }

    /// The hits lying wholly in `hay`, when `hay` lies in the batch: every
    /// occurrence of a literal in `hay` that counts (a hit is confirmed by
    /// its own bytes, whatever surrounds it).
    pub fn within(&self, hay: &[u8]) -> Option<impl Iterator<Item = LiteralHit> + '_> {
        let (addr, len) = self.batch?;
        let at = (hay.as_ptr() as usize).checked_sub(addr)?;
        if at + hay.len() > len {
            return None;
        }
        let end = at + hay.len();
        let first = self.hits.partition_point(|h| h.end <= at);
        Some(
            self.hits[first..]
                .iter()
                .take_while(move |h| h.end <= end)
                .filter(move |h| h.start >= at)
                .copied(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_hits_serve_the_lines_of_their_batch_only() {
        let filter = LineFilter::new(&[(true, b"ghp_"), (false, b"token")], &[]);
        let batch = b"a ghp_x TOKEN\nb token\n".to_vec();
        let mut hits = BatchHits::default();
        filter.flag_lines_by_kind(&batch, &mut Vec::new(), &mut Vec::new(), &mut hits.hits);
        hits.remember(&batch);
        let literals = |hay: &[u8]| -> Option<Vec<(usize, usize)>> {
            hits.within(hay)
                .map(|i| i.map(|h| (h.start, h.literal)).collect())
        };
        assert_eq!(literals(&batch), Some(vec![(2, 0), (8, 1), (16, 1)]));
        // A line, and a part of one: only the hits wholly inside.
        assert_eq!(literals(&batch[..13]), Some(vec![(2, 0), (8, 1)]));
        assert_eq!(literals(&batch[3..12]), Some(vec![]));
        assert_eq!(literals(&batch[14..]), Some(vec![(16, 1)]));
        // The same bytes elsewhere, and a batch forgotten: not known.
        let copy = batch.clone();
        assert_eq!(literals(&copy), None);
        hits.forget();
        assert_eq!(hits.within(&batch).map(|i| i.count()), None);
    }

    fn rule(id: &str, regex: &str, keywords: &[&str]) -> Rule {
        let text = format!(
            "family = \"t\"\n[[rule]]\nid = \"{id}\"\ndescription = \"d\"\nregex = '''{regex}'''\nlabel = \"[X]\"\nkeywords = [{}]\n",
            keywords
                .iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        crate::rules::parse_pattern_file("t.toml", &text)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn prefixes_are_extracted_and_short_ones_refused() {
        assert_eq!(
            prefix_literals(r"\bglpat-[A-Za-z0-9_-]{20,}"),
            Some((true, vec![b"glpat-".to_vec()]))
        );
        assert_eq!(
            prefix_literals(r"\bdo[por]_v1_[a-f0-9]{64}"),
            Some((
                true,
                vec![
                    b"doo_v1_".to_vec(),
                    b"dop_v1_".to_vec(),
                    b"dor_v1_".to_vec()
                ]
            ))
        );
        // Case-insensitive words: folded, matched ignoring case.
        assert_eq!(
            prefix_literals(r"(?i)\b(?:password|passwd)[=:]"),
            Some((
                false,
                vec![
                    b"passwd:".to_vec(),
                    b"passwd=".to_vec(),
                    b"password:".to_vec(),
                    b"password=".to_vec()
                ]
            ))
        );
        // Too short, no literal, or unbounded alternatives.
        assert_eq!(prefix_literals(r"\bSK[0-9a-f]{32}"), None);
        assert_eq!(prefix_literals(r"\bpi_[A-Za-z0-9]{14,}"), None);
        assert_eq!(prefix_literals(r"\b[2-6](?:[ -]?[0-9]){12,18}\b"), None);
        assert_eq!(prefix_literals(r"(?:^|[^a-z])x+"), None);
        // Three bytes suffice with an uppercase letter or a digit, matched
        // case-sensitively.
        assert_eq!(
            prefix_literals(r"\beyJ[A-Za-z0-9_-]{10,}"),
            Some((true, vec![b"eyJ".to_vec()]))
        );
        assert_eq!(
            prefix_literals(r"\br8_[A-Za-z0-9]{37}"),
            Some((true, vec![b"r8_".to_vec()]))
        );
        assert_eq!(prefix_literals(r"(?i)\beyj[a-z]{10,}"), None);
        assert_eq!(prefix_literals(r"\bhf_[A-Za-z]{34}"), None);
    }

    /// A digit class after a fixed prefix expands into many literals: they
    /// are cut back to the prefix, never below the shortest usable length.
    #[test]
    fn many_literals_are_cut_back_to_their_prefix() {
        // `ACME-00` … `ACME-99` (and longer) are cut until they are few:
        // `ACME-0` … `ACME-9`.
        let digits: Vec<Vec<u8>> = (b'0'..=b'9')
            .map(|d| [&b"ACME-"[..], &[d]].concat())
            .collect();
        assert_eq!(prefix_literals(r"\bACME-[0-9]{10}\b"), Some((true, digits)));
        // Two prefixes, each expanded: two literals.
        assert_eq!(
            prefix_literals(r"\b(?:ACME|CORP)_[0-9]{8}"),
            Some((true, vec![b"ACME_".to_vec(), b"CORP_".to_vec()]))
        );
        // Case-insensitive: cut no shorter than four bytes.
        let (case_sensitive, cut) = prefix_literals(r"(?i)\bab[0-9]{6}").unwrap();
        assert!(!case_sensitive);
        assert_eq!(cut.len(), 100, "`ab00` … `ab99`");
        assert!(cut
            .iter()
            .all(|l| l.len() == MIN_LITERAL && l.starts_with(b"ab")));
        // Few literals stay as extracted.
        assert_eq!(
            prefix_literals(r"\bab[xyz]_key"),
            Some((
                true,
                vec![
                    b"abx_key".to_vec(),
                    b"aby_key".to_vec(),
                    b"abz_key".to_vec()
                ]
            ))
        );
    }

    #[test]
    fn active_rules_and_flagged_lines() {
        let rules = vec![
            rule("a", r"\bglpat-[A-Za-z0-9_-]{20,}", &[]),
            rule("b", r"\b[0-9]{9}\b", &[]),
            rule("c", r"(?i)mykey=(?P<secret>[a-z]{8})", &["mykey"]),
        ];
        let lit = Literals::new(&rules);
        assert!(lit.is_indexed(0) && !lit.is_indexed(1) && lit.is_indexed(2));
        let mut out = Vec::new();
        let filter = LineFilter::new(&lit.patterns(), &[]);
        lit.active(b"x glpat-abc MYKEY=abcdefgh", &filter, &mut out);
        assert_eq!(out, vec![0, 2]);
        // Case-sensitive prefixes are confirmed byte for byte.
        lit.active(b"x GLPAT-abc", &filter, &mut out);
        assert!(out.is_empty());
        assert_eq!(lit.patterns().len(), 2);
        // The gate with these literals flags the lines that hold them.
        let gate = crate::scan::gate::Gate::with_literals(&rules[1..2], &lit.patterns()).unwrap();
        let mut scratch = gate.scratch();
        let batch = b"one\nGLPAT- no\nyes glpat-\nMyKey\nlast glpat-\nid 123456789\n";
        let mut flagged = Vec::new();
        assert!(gate.flag_lines(batch, &mut scratch, &mut flagged));
        assert_eq!(flagged, vec![14, 25, 31, 43]);
    }
}
