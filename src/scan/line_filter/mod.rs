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
//! either could act goes unflagged.
//!
//! The automaton reports every occurrence of every pattern (standard
//! Aho-Corasick semantics: a state knows all the patterns that end where
//! it stands), so a hit that fails its condition never hides another. The
//! batch is cut at line starts into four lanes walked in lock step, so the
//! table loads of the lanes overlap.
//!
//! The walk also hands back every literal occurrence that counts
//! ([`LiteralHit`]), so that the scan of a flagged line takes its indexed
//! rules from them rather than searching the line again.

mod table;

use crate::format::views::ByteSet;
use aho_corasick::dfa::DFA;
use aho_corasick::nfa::contiguous;
use aho_corasick::{MatchKind, StartKind};
use table::{fold, Folding, Packed, Table};

/// How many pieces of a batch are walked at once.
const LANES: usize = 4;

/// What a pattern of the filter stands for, and when its hit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A literal matched case-sensitively: confirmed byte for byte.
    Exact,
    /// A literal or keyword matched in any ASCII case.
    AnyCase,
    /// A name spelling (any ASCII case); `whole` when it must end the name.
    Name { whole: bool },
}

/// One occurrence of a literal, found by [`LineFilter::flag_lines_by_kind`]:
/// `batch[start..end]` is literal number `literal` (in the order given to
/// [`LineFilter::new`]), and the hit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LiteralHit {
    pub end: usize,
    pub start: usize,
    pub literal: usize,
}

/// The compiled filter.
#[derive(Debug, Default)]
pub struct LineFilter {
    automaton: Option<Compiled>,
    /// The patterns as given, and what each stands for.
    patterns: Vec<Vec<u8>>,
    kinds: Vec<Kind>,
    /// Patterns `0..literals` are the literals, the rest the names.
    literals: usize,
    /// The bytes a literal's hit can hold (both cases where the literal is
    /// matched in any case).
    literal_bytes: ByteSet,
}

/// The automaton over the folded patterns ([`table`]): packed, or when the
/// patterns are too many for that, the `aho-corasick` DFA, or for still
/// more its slower contiguous NFA (same answers).
#[derive(Debug)]
enum Engine {
    Packed(Packed),
    Dfa(DFA),
    Nfa(contiguous::NFA),
}

/// The automaton and what its walk needs.
#[derive(Debug)]
struct Compiled {
    engine: Engine,
    /// The patterns (indexes into `LineFilter::patterns`) that fold to each
    /// folded pattern of the automaton.
    members: Vec<Vec<usize>>,
    /// One lane when a pattern holds a newline: a hit may then cross the
    /// line starts where lanes are cut.
    lanes: usize,
}

/// Which engine to build: the best that builds, or (tests compare them)
/// the DFA or the NFA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
enum Choice {
    Best,
    Dfa,
    Nfa,
}

impl LineFilter {
    /// The filter for `literals` (bytes, and whether they are matched
    /// case-sensitively) and `names` (spellings, and whether each is a
    /// whole key). None of either: a filter that flags nothing.
    pub fn new(literals: &[(bool, &[u8])], names: &[(String, bool)]) -> LineFilter {
        LineFilter::build(literals, names, Choice::Best)
    }

    fn build(literals: &[(bool, &[u8])], names: &[(String, bool)], choice: Choice) -> LineFilter {
        let mut patterns: Vec<Vec<u8>> = Vec::with_capacity(literals.len() + names.len());
        let mut kinds = Vec::with_capacity(patterns.capacity());
        // An empty pattern would match everywhere and stands for nothing.
        for &(case_sensitive, bytes) in literals.iter().filter(|(_, b)| !b.is_empty()) {
            patterns.push(bytes.to_vec());
            kinds.push(if case_sensitive {
                Kind::Exact
            } else {
                Kind::AnyCase
            });
        }
        for (name, whole) in names.iter().filter(|(n, _)| !n.is_empty()) {
            patterns.push(name.as_bytes().to_vec());
            kinds.push(Kind::Name { whole: *whole });
        }
        let literals = kinds
            .iter()
            .filter(|k| !matches!(k, Kind::Name { .. }))
            .count();
        let mut literal_bytes = ByteSet::default();
        for (pattern, kind) in patterns.iter().zip(&kinds).take(literals) {
            for &b in pattern {
                literal_bytes.insert(b);
                if *kind == Kind::AnyCase {
                    literal_bytes.insert(b.to_ascii_uppercase());
                    literal_bytes.insert(b.to_ascii_lowercase());
                }
            }
        }
        if patterns.is_empty() {
            return LineFilter::default();
        }
        // The automaton's patterns: each distinct folding, once.
        let mut folded: Vec<(Vec<u8>, usize)> = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| (p.iter().map(|&b| fold(b)).collect(), i))
            .collect();
        folded.sort();
        let mut unique: Vec<Vec<u8>> = Vec::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        for (f, i) in folded {
            if unique.last() != Some(&f) {
                unique.push(f);
                members.push(Vec::new());
            }
            members.last_mut().expect("pushed above").push(i);
        }
        let packed = (choice == Choice::Best)
            .then(|| Packed::new(&unique))
            .flatten();
        let engine = match packed {
            Some(packed) => Engine::Packed(packed),
            None => match (choice != Choice::Nfa)
                .then(|| {
                    DFA::builder()
                        .match_kind(MatchKind::Standard)
                        .start_kind(StartKind::Unanchored)
                        .prefilter(false)
                        .build(&unique)
                        .ok()
                })
                .flatten()
            {
                Some(dfa) => Engine::Dfa(dfa),
                None => Engine::Nfa(
                    contiguous::NFA::builder()
                        .match_kind(MatchKind::Standard)
                        .prefilter(false)
                        .build(&unique)
                        .expect("a contiguous NFA of literals and names"),
                ),
            },
        };
        let lanes = if patterns.iter().any(|p| p.contains(&b'\n')) {
            1
        } else {
            LANES
        };
        LineFilter {
            automaton: Some(Compiled {
                engine,
                members,
                lanes,
            }),
            patterns,
            kinds,
            literals,
            literal_bytes,
        }
    }

    /// True when the filter has no patterns (it flags nothing).
    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// Appends to `flagged` the start offsets of the lines of `batch`
    /// (whole lines, `\n`-terminated but perhaps the last) that hold a hit,
    /// in order. Returns how many were appended.
    pub fn flag_lines(&self, batch: &[u8], flagged: &mut Vec<usize>) -> usize {
        let (mut lines, mut named) = (Vec::new(), Vec::new());
        self.flag_lines_by_kind(batch, &mut lines, &mut named, &mut Vec::new());
        lines.extend_from_slice(&named);
        lines.sort_unstable();
        lines.dedup();
        flagged.extend_from_slice(&lines);
        lines.len()
    }

    /// As [`LineFilter::flag_lines`], apart: the lines holding a literal's
    /// hit go to `literal`, those holding a name's to `named` (a line with
    /// both, to both), each in order. Every literal occurrence that counts
    /// goes to `hits`, ordered by where it ends (then starts): what
    /// [`LineFilter::literal_hits`] would report for the batch.
    pub fn flag_lines_by_kind(
        &self,
        batch: &[u8],
        literal: &mut Vec<usize>,
        named: &mut Vec<usize>,
        hits: &mut Vec<LiteralHit>,
    ) {
        let Some(compiled) = &self.automaton else {
            return;
        };
        let (literal_before, named_before, hits_before) = (literal.len(), named.len(), hits.len());
        let members = &compiled.members;
        let found = Found {
            literal,
            named,
            hits,
        };
        match &compiled.engine {
            Engine::Packed(t) => Walk::new(self, t, members, batch, found).run(compiled.lanes),
            Engine::Dfa(a) => {
                Walk::new(self, &Folding(a), members, batch, found).run(compiled.lanes)
            }
            Engine::Nfa(a) => {
                Walk::new(self, &Folding(a), members, batch, found).run(compiled.lanes)
            }
        }
        literal[literal_before..].sort_unstable();
        named[named_before..].sort_unstable();
        hits[hits_before..].sort_unstable();
    }

    /// The bytes a hit of [`LineFilter::literal_hits`] can be made of.
    pub fn literal_bytes(&self) -> &ByteSet {
        &self.literal_bytes
    }

    /// Calls `each` with the index (in the order given to [`LineFilter::new`])
    /// of every literal occurrence in `hay` that counts, in order of where
    /// it ends: the literal index's search, sharing this automaton.
    pub fn literal_hits(&self, hay: &[u8], each: impl FnMut(usize)) {
        let Some(compiled) = &self.automaton else {
            return;
        };
        let members = &compiled.members;
        match &compiled.engine {
            Engine::Packed(t) => self.each_literal(t, members, hay, each),
            Engine::Dfa(a) => self.each_literal(&Folding(a), members, hay, each),
            Engine::Nfa(a) => self.each_literal(&Folding(a), members, hay, each),
        }
    }

    fn each_literal<T: Table>(
        &self,
        table: &T,
        members: &[Vec<usize>],
        hay: &[u8],
        mut each: impl FnMut(usize),
    ) {
        let mut sid = table.start();
        for (at, &byte) in hay.iter().enumerate() {
            sid = table.next(sid, byte);
            if !table.is_match(sid) {
                continue;
            }
            let e = at + 1;
            for j in 0..table.match_len(sid) {
                let (folded, len) = table.match_at(sid, j);
                for &p in &members[folded] {
                    if p < self.literals && self.accepts(hay, p, e - len, e) {
                        each(p);
                    }
                }
            }
        }
    }

    /// Whether `hay[s..e]`, where the folding of pattern `p` was found,
    /// is a hit of `p` that counts.
    fn accepts(&self, hay: &[u8], p: usize, s: usize, e: usize) -> bool {
        let (pattern, found) = (&self.patterns[p], &hay[s..e]);
        match self.kinds[p] {
            Kind::Exact => found == &pattern[..],
            Kind::AnyCase => found.eq_ignore_ascii_case(pattern),
            Kind::Name { whole } => {
                let first = hay[s];
                let starts_word = s == 0
                    || !hay[s - 1].is_ascii_alphanumeric()
                    || (hay[s - 1].is_ascii_lowercase() && first.is_ascii_uppercase());
                // A spelling that a longer one extends (`cvv`, `cvv2`) is
                // not held to ending the name.
                let ends_name = !whole || hay.get(e).is_none_or(|b| !b.is_ascii_alphanumeric());
                found.eq_ignore_ascii_case(pattern) && starts_word && ends_name
            }
        }
    }
}

/// What a walk finds: the lines flagged by a literal and by a name, and
/// the literals' hits.
struct Found<'a> {
    literal: &'a mut Vec<usize>,
    named: &'a mut Vec<usize>,
    hits: &'a mut Vec<LiteralHit>,
}

/// The line a lane's last hit was in.
#[derive(Clone, Copy)]
struct HitLine {
    /// The line is `start..end` (`end` past its newline).
    start: usize,
    end: usize,
    /// The kinds of hit found in it: bit 0 literal, bit 1 name.
    kinds: u8,
}

/// One walk over a batch.
struct Walk<'a, T: Table> {
    filter: &'a LineFilter,
    table: &'a T,
    members: &'a [Vec<usize>],
    start: T::Id,
    hay: &'a [u8],
    found: Found<'a>,
    /// Per lane: the line of its last hit.
    line: [HitLine; LANES],
}

impl<'a, T: Table> Walk<'a, T> {
    fn new(
        filter: &'a LineFilter,
        table: &'a T,
        members: &'a [Vec<usize>],
        hay: &'a [u8],
        found: Found<'a>,
    ) -> Walk<'a, T> {
        Walk {
            filter,
            table,
            members,
            start: table.start(),
            hay,
            found,
            line: [HitLine {
                start: 0,
                end: 0,
                kinds: 0,
            }; LANES],
        }
    }

    /// Walks `lanes` pieces of the batch, cut at line starts: in lock step
    /// while every lane has input, then each lane's rest alone.
    fn run(&mut self, lanes: usize) {
        let hay = self.hay;
        let mut pos = [0usize; LANES];
        let mut ends = [0usize; LANES];
        let mut from = 0;
        for i in 0..LANES {
            let to = if i + 1 >= lanes {
                hay.len()
            } else {
                next_line(hay, (hay.len() * (i + 1) / lanes).max(from))
            };
            pos[i] = from;
            ends[i] = to;
            self.line[i].start = from;
            self.line[i].end = from;
            from = to;
        }
        let mut sid = [self.start; LANES];
        let table = self.table;
        loop {
            let steps = (0..LANES).map(|i| ends[i] - pos[i]).min().unwrap_or(0);
            if steps == 0 {
                break;
            }
            // Each lane's next `steps` bytes, zipped: one step reads a byte
            // of every lane without bounds checks, and their table loads
            // interleave.
            let [a, b, c, d]: [&[u8]; LANES] =
                std::array::from_fn(|i| &hay[pos[i]..pos[i] + steps]);
            let mut taken = steps;
            for (k, (((&x0, &x1), &x2), &x3)) in a.iter().zip(b).zip(c).zip(d).enumerate() {
                sid[0] = table.next(sid[0], x0);
                sid[1] = table.next(sid[1], x1);
                sid[2] = table.next(sid[2], x2);
                sid[3] = table.next(sid[3], x3);
                if sid.iter().any(|&s| table.is_special(s)) {
                    taken = k + 1;
                    break;
                }
            }
            for i in 0..LANES {
                pos[i] += taken;
                if table.is_match(sid[i]) {
                    self.hits(i, pos[i], sid[i]);
                }
            }
        }
        for i in 0..LANES {
            while pos[i] < ends[i] {
                sid[i] = table.next(sid[i], hay[pos[i]]);
                pos[i] += 1;
                if table.is_match(sid[i]) {
                    self.hits(i, pos[i], sid[i]);
                }
            }
        }
    }

    /// Lane `lane` in match state `sid` after reading up to `e`: flags the
    /// line of each pattern ending there that counts, by its kind, and
    /// keeps each literal's hit.
    fn hits(&mut self, lane: usize, e: usize, sid: T::Id) {
        let (table, hay) = (self.table, self.hay);
        for j in 0..table.match_len(sid) {
            let (folded, len) = table.match_at(sid, j);
            let s = e - len;
            for &p in &self.members[folded] {
                if !self.filter.accepts(hay, p, s, e) {
                    continue;
                }
                let is_literal = p < self.filter.literals;
                if is_literal {
                    self.found.hits.push(LiteralHit {
                        end: e,
                        start: s,
                        literal: p,
                    });
                }
                let line = &mut self.line[lane];
                if s >= line.end {
                    // A later line: it starts at or after the end of the
                    // last one, so each byte of the lane is searched for
                    // line breaks at most once.
                    line.start = memchr::memrchr(b'\n', &hay[line.end..s])
                        .map_or(line.end, |i| line.end + i + 1);
                    line.end = next_line(hay, s);
                    line.kinds = 0;
                } else if s < line.start {
                    // An earlier line, which only a pattern across lines
                    // (one lane) can reach.
                    line.start = line_start(hay, s);
                    line.end = next_line(hay, s);
                    line.kinds = 0;
                }
                let bit = if is_literal { 1 } else { 2 };
                if line.kinds & bit == 0 {
                    line.kinds |= bit;
                    if is_literal {
                        self.found.literal.push(line.start);
                    } else {
                        self.found.named.push(line.start);
                    }
                }
            }
        }
    }
}

/// The start of the line holding offset `at`.
fn line_start(batch: &[u8], at: usize) -> usize {
    memchr::memrchr(b'\n', &batch[..at]).map_or(0, |i| i + 1)
}

/// The start of the line after the one holding offset `at`.
fn next_line(batch: &[u8], at: usize) -> usize {
    let at = at.min(batch.len());
    memchr::memchr(b'\n', &batch[at..]).map_or(batch.len(), |i| at + i + 1)
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
    /// at every offset flags, with each engine.
    #[test]
    fn flags_what_a_naive_search_flags() {
        use proptest::prelude::*;
        // `_`, `-`, `.` and space fold alike in the walk: the filter must
        // still tell them apart.
        let alphabet = prop::sample::select(vec![
            b'a', b'A', b'b', b'B', b'_', b'-', b'.', b' ', b'\n', b'1',
        ]);
        let word = prop::collection::vec(alphabet.clone(), 1..4);
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &(
                    prop::collection::vec((any::<bool>(), word.clone()), 0..5),
                    prop::collection::vec((word, any::<bool>()), 0..5),
                    prop::collection::vec(alphabet, 0..200),
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
                    for choice in [Choice::Best, Choice::Dfa, Choice::Nfa] {
                        let filter = LineFilter::build(&lits, &names, choice);
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
                        // Apart by kind: a line holding a literal's hit, and one
                        // holding a name's.
                        let (mut want_literal, mut want_named) = (Vec::new(), Vec::new());
                        let mut start = 0;
                        for line in batch.split_inclusive(|&b| b == b'\n') {
                            let end = start + line.len();
                            for (kind, want) in [(0, &mut want_literal), (1, &mut want_named)] {
                                let range = if kind == 0 {
                                    0..lits.len()
                                } else {
                                    lits.len()..lits.len() + names.len()
                                };
                                let hit = (start..end).any(|s| {
                                    range.clone().any(|p| {
                                        let pat: &[u8] = if p < lits.len() {
                                            lits[p].1
                                        } else {
                                            names[p - lits.len()].0.as_bytes()
                                        };
                                        s + pat.len() <= batch.len()
                                            && batch[s..s + pat.len()].eq_ignore_ascii_case(pat)
                                            && filter.accepts(&batch, p, s, s + pat.len())
                                    })
                                });
                                if hit {
                                    want.push(start);
                                }
                            }
                            start = end;
                        }
                        let (mut literal, mut named, mut batch_hits) =
                            (Vec::new(), Vec::new(), Vec::new());
                        filter.flag_lines_by_kind(
                            &batch,
                            &mut literal,
                            &mut named,
                            &mut batch_hits,
                        );
                        literal.dedup();
                        named.dedup();
                        prop_assert_eq!(literal, want_literal);
                        prop_assert_eq!(named, want_named);
                        // The literal search: every occurrence of a literal that
                        // counts, each once.
                        let mut want_hits: Vec<usize> = (0..batch.len())
                            .flat_map(|s| (0..lits.len()).map(move |p| (s, p)))
                            .filter(|&(s, p)| {
                                let pat = lits[p].1;
                                s + pat.len() <= batch.len()
                                    && batch[s..s + pat.len()].eq_ignore_ascii_case(pat)
                                    && filter.accepts(&batch, p, s, s + pat.len())
                            })
                            .map(|(_, p)| p)
                            .collect();
                        let mut hits = Vec::new();
                        filter.literal_hits(&batch, |p| hits.push(p));
                        want_hits.sort_unstable();
                        hits.sort_unstable();
                        prop_assert_eq!(&hits, &want_hits);
                        // The walk's hits are the same, each where it is.
                        for h in &batch_hits {
                            prop_assert!(filter.accepts(&batch, h.literal, h.start, h.end));
                            prop_assert!(batch[h.start..h.end]
                                .eq_ignore_ascii_case(&filter.patterns[h.literal]));
                        }
                        let mut walked: Vec<usize> = batch_hits.iter().map(|h| h.literal).collect();
                        walked.sort_unstable();
                        prop_assert_eq!(walked, want_hits);
                        prop_assert!(batch_hits.windows(2).all(|w| w[0] <= w[1]));
                    }
                    Ok(())
                },
            )
            .unwrap();
    }

    #[test]
    fn literal_hits_report_literals_that_are_names_too() {
        // The same text as a keyword, a case-sensitive literal and a name:
        // every literal is reported, the name never.
        let names = [("token".to_string(), true)];
        let filter = LineFilter::new(&[(false, b"token"), (true, b"tok")], &names);
        let mut hits = Vec::new();
        filter.literal_hits(b"a TOKEN b token", |p| hits.push(p));
        assert_eq!(hits, vec![0, 1, 0]);
    }

    /// The default catalog's literals and names take the packed table, and
    /// it stays small: its size is the filter's speed (see `table`).
    #[test]
    fn the_default_filter_is_packed_and_small() {
        let scanner = crate::scan::Scanner::builtin();
        let compiled = scanner.line_filter().automaton.as_ref().unwrap();
        let Engine::Packed(packed) = &compiled.engine else {
            panic!("the default filter is not packed");
        };
        assert!(
            packed.memory_usage() < 640 << 10,
            "{}",
            packed.memory_usage()
        );
        // Folding merged the spellings of names: fewer automaton patterns
        // than patterns.
        assert!(compiled.members.len() * 5 < scanner.line_filter().patterns.len() * 4);
    }

    #[test]
    fn an_empty_filter_flags_nothing() {
        let filter = LineFilter::new(&[], &[]);
        assert!(filter.is_empty());
        assert!(flagged(&filter, b"token\n").is_empty());
    }
}
