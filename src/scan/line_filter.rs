//! The line filter: one Aho-Corasick pass over a batch that flags the lines
//! holding a literal of an indexed rule ([`super::literal`]) or a spelling
//! of a sensitive name ([`crate::format::SensitiveKeys`]), so that the
//! indexed rules and the field recognizer run on flagged lines only. The
//! rules' automaton has its own gate ([`super::gate`]): literals and names
//! folded into that automaton multiply its states, while here they cost
//! one search whatever their number.
//!
//! Guarantees: a line is flagged when it holds
//! - a case-sensitive literal, byte for byte;
//! - a case-insensitive literal or keyword, in any ASCII case;
//! - a name spelling (ASCII case-insensitive) that starts a word (after a
//!   byte that is not a letter or digit, or as a camel-case capital) and,
//!   for a whole key, ends the name (no letter or digit follows).
//!
//! These are exactly the conditions under which [`super::literal::Literals::active`]
//! lists a rule and the field recognizer can find a name, so no line where
//! either could act goes unflagged. The search is leftmost-longest: no hit
//! starts before the one reported; when that one fails its condition, the
//! shorter patterns that also match at its start (its prefixes, known from
//! the build) are tried, and the search goes on one byte later, so a failed
//! hit never hides another.

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

/// What a pattern of the filter stands for, and when its hit counts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// A literal matched case-sensitively: confirmed byte for byte.
    Exact(Vec<u8>),
    /// A literal or keyword matched in any ASCII case.
    AnyCase,
    /// A name spelling; `whole` when it must end the name.
    Name { whole: bool },
}

/// The compiled filter.
#[derive(Debug, Default)]
pub struct LineFilter {
    ac: Option<AhoCorasick>,
    kinds: Vec<Kind>,
    /// Per pattern: the other patterns that equal a prefix of it (ASCII
    /// case ignored), with their lengths: they match wherever it does.
    prefixes: Vec<Vec<(usize, usize)>>,
}

impl LineFilter {
    /// The filter for `literals` (bytes, and whether they are matched
    /// case-sensitively) and `names` (spellings, and whether each is a
    /// whole key). None of either: a filter that flags nothing.
    pub fn new(literals: &[(bool, &[u8])], names: &[(String, bool)]) -> LineFilter {
        let mut patterns: Vec<Vec<u8>> = Vec::with_capacity(literals.len() + names.len());
        let mut kinds = Vec::with_capacity(patterns.capacity());
        for &(case_sensitive, bytes) in literals {
            patterns.push(bytes.to_vec());
            kinds.push(if case_sensitive {
                Kind::Exact(bytes.to_vec())
            } else {
                Kind::AnyCase
            });
        }
        for (name, whole) in names {
            patterns.push(name.as_bytes().to_vec());
            kinds.push(Kind::Name { whole: *whole });
        }
        if patterns.is_empty() {
            return LineFilter::default();
        }
        let folded: Vec<Vec<u8>> = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
        let mut by_text: std::collections::HashMap<&[u8], Vec<usize>> =
            std::collections::HashMap::new();
        for (i, p) in folded.iter().enumerate() {
            by_text.entry(p.as_slice()).or_default().push(i);
        }
        let prefixes = folded
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (1..=p.len())
                    .filter_map(|k| by_text.get(&p[..k]).map(|ids| (k, ids)))
                    .flat_map(|(k, ids)| ids.iter().filter(move |&&q| q != i).map(move |&q| (q, k)))
                    .collect()
            })
            .collect();
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .or_else(|_| {
                // Too large for a DFA: the slower automaton, same answers.
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .ascii_case_insensitive(true)
                    .build(&patterns)
            })
            .ok();
        LineFilter {
            ac,
            kinds,
            prefixes,
        }
    }

    /// True when the filter has no patterns (it flags nothing).
    pub fn is_empty(&self) -> bool {
        self.ac.is_none()
    }

    /// Appends to `flagged` the start offsets of the lines of `batch`
    /// (whole lines, `\n`-terminated but perhaps the last) that hold a hit,
    /// in order. Returns how many were appended.
    pub fn flag_lines(&self, batch: &[u8], flagged: &mut Vec<usize>) -> usize {
        let Some(ac) = &self.ac else { return 0 };
        let mut count = 0;
        let mut from = 0;
        while let Some(m) = ac.find(Input::new(batch).span(from..batch.len())) {
            let (p, s) = (m.pattern().as_usize(), m.start());
            let hit = self.accepts(batch, p, s, m.end())
                || self.prefixes[p]
                    .iter()
                    .any(|&(q, len)| self.accepts(batch, q, s, s + len));
            if hit {
                let line = memchr::memrchr(b'\n', &batch[..s]).map_or(0, |p| p + 1);
                flagged.push(line);
                count += 1;
                from = memchr::memchr(b'\n', &batch[s..]).map_or(batch.len(), |p| s + p + 1);
            } else {
                from = s + 1;
            }
        }
        count
    }

    /// Whether the hit of pattern `p` at `s..e` of `hay` counts.
    fn accepts(&self, hay: &[u8], p: usize, s: usize, e: usize) -> bool {
        match &self.kinds[p] {
            Kind::Exact(bytes) => hay[s..e] == bytes[..],
            Kind::AnyCase => true,
            Kind::Name { whole } => {
                let first = hay[s];
                let starts_word = s == 0
                    || !hay[s - 1].is_ascii_alphanumeric()
                    || (hay[s - 1].is_ascii_lowercase() && first.is_ascii_uppercase());
                // A spelling that a longer one extends (`cvv`, `cvv2`) is
                // not held to ending the name.
                let ends_name = !whole || hay.get(e).is_none_or(|b| !b.is_ascii_alphanumeric());
                starts_word && ends_name
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(filter: &LineFilter, batch: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        filter.flag_lines(batch, &mut out);
        out
    }

    #[test]
    fn literals_keep_their_case_and_names_their_word_bounds() {
        let names = [("cvv".to_string(), false), ("cvv2".to_string(), true)];
        let filter = LineFilter::new(&[(true, b"ghp_"), (false, b"token")], &names);
        let batch = b"a GHP_x\nb ghp_x\nc TOKEN\nd xcvv2\ne cvv2x\nf cvv2\ng aCvv\n";
        // ghp_ exact; TOKEN any case; `xcvv2` is no word start; `cvv2x`
        // still holds the container spelling `cvv`; camel case starts a word.
        assert_eq!(flagged(&filter, batch), vec![8, 16, 32, 40, 47]);
    }

    #[test]
    fn a_failed_hit_does_not_hide_another_at_the_same_byte() {
        // `key` as a whole name fails (a letter follows); the literal `keyz`
        // starting at the same byte still flags the line.
        let names = [("key".to_string(), true)];
        let filter = LineFilter::new(&[(true, b"keyz")], &names);
        assert_eq!(flagged(&filter, b"no\nx keyz\n"), vec![3]);
        // The longer hit fails (case), its prefix holds.
        let filter = LineFilter::new(&[(true, b"KEYZ")], &[("key".to_string(), false)]);
        assert_eq!(flagged(&filter, b"no\nx keyz\n"), vec![3]);
        // Nor does a failed hit hide one that starts inside it.
        let filter = LineFilter::new(&[(true, b"ABCD"), (true, b"bcd")], &[]);
        assert_eq!(flagged(&filter, b"no\nabcd\n"), vec![3]);
    }

    /// The filter flags exactly the lines a naive search of every pattern
    /// at every offset flags.
    #[test]
    fn flags_what_a_naive_search_flags() {
        use proptest::prelude::*;
        let alphabet = prop::sample::select(vec![b'a', b'A', b'b', b'B', b'_', b' ', b'\n', b'1']);
        let word = prop::collection::vec(alphabet.clone(), 1..4);
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &(
                    prop::collection::vec((any::<bool>(), word.clone()), 0..5),
                    prop::collection::vec((word, any::<bool>()), 0..5),
                    prop::collection::vec(alphabet, 0..40),
                ),
                |(literals, names, batch)| {
                    let literals: Vec<(bool, Vec<u8>)> = literals
                        .into_iter()
                        .filter(|(_, l)| !l.contains(&b'\n'))
                        .collect();
                    let names: Vec<(String, bool)> = names
                        .into_iter()
                        .filter(|(n, _)| !n.contains(&b'\n'))
                        .map(|(n, whole)| (String::from_utf8(n).unwrap(), whole))
                        .collect();
                    let lits: Vec<(bool, &[u8])> =
                        literals.iter().map(|(c, l)| (*c, l.as_slice())).collect();
                    let filter = LineFilter::new(&lits, &names);
                    let mut want = Vec::new();
                    let mut start = 0;
                    for line in batch.split_inclusive(|&b| b == b'\n') {
                        let end = start + line.len();
                        let hit = (start..end).any(|s| {
                            (0..filter.kinds.len()).any(|p| {
                                let len = if p < lits.len() {
                                    lits[p].1.len()
                                } else {
                                    names[p - lits.len()].0.len()
                                };
                                let pat: &[u8] = if p < lits.len() {
                                    lits[p].1
                                } else {
                                    names[p - lits.len()].0.as_bytes()
                                };
                                s + len <= batch.len()
                                    && batch[s..s + len].eq_ignore_ascii_case(pat)
                                    && filter.accepts(&batch, p, s, s + len)
                            })
                        });
                        if hit {
                            want.push(start);
                        }
                        start = end;
                    }
                    prop_assert_eq!(flagged(&filter, &batch), want);
                    Ok(())
                },
            )
            .unwrap();
    }

    #[test]
    fn an_empty_filter_flags_nothing() {
        let filter = LineFilter::new(&[], &[]);
        assert!(filter.is_empty());
        assert!(flagged(&filter, b"token\n").is_empty());
    }
}
