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
//! either could act goes unflagged. The search is overlapping: a hit that
//! fails its condition never hides another that starts at the same byte.

use aho_corasick::{automaton::OverlappingState, AhoCorasick, AhoCorasickKind, Input, MatchKind};

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
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .or_else(|_| {
                // Too large for a DFA: the slower automaton, same answers.
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .ascii_case_insensitive(true)
                    .build(&patterns)
            })
            .ok();
        LineFilter { ac, kinds }
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
        'lines: while from < batch.len() {
            let input = Input::new(batch).span(from..batch.len());
            let mut state = OverlappingState::start();
            loop {
                ac.find_overlapping(input.clone(), &mut state);
                let Some(m) = state.get_match() else {
                    break 'lines;
                };
                if self.accepts(batch, m.pattern().as_usize(), m.start(), m.end()) {
                    let line = memchr::memrchr(b'\n', &batch[..m.start()]).map_or(0, |p| p + 1);
                    flagged.push(line);
                    count += 1;
                    from = memchr::memchr(b'\n', &batch[m.end()..])
                        .map_or(batch.len(), |p| m.end() + p + 1);
                    continue 'lines;
                }
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
    }

    #[test]
    fn an_empty_filter_flags_nothing() {
        let filter = LineFilter::new(&[], &[]);
        assert!(filter.is_empty());
        assert!(flagged(&filter, b"token\n").is_empty());
    }
}
