//! The line filter's transition table: the Aho-Corasick DFA of the folded
//! patterns, built in rows small enough for the first-level cache.
//!
//! The filter walks every byte of every line, one dependent table load per
//! byte, so its speed is the speed of those loads. The `aho-corasick` DFA
//! of the default catalog's literals and names has rows of about 520 bytes
//! (1.8 MB in all), and the rows the walk visits most (the start and the
//! states one or two bytes deep) miss the first-level cache. [`Packed`]
//! holds the automaton of the folded patterns (a third fewer states) in rows
//! exactly as wide as its byte classes (188 bytes, 0.47 MB in all), its
//! match states numbered first, so that "is this state special" is one
//! compare. The rows sit at the start of one array of fixed length, read
//! with a masked index: no bounds check on the walk, and the array's pages
//! past the rows are never written, so never resident.
//!
//! Folding: the walk reads each byte through [`fold`] (ASCII case, and the
//! separators of name spellings `-`, `.` and space read as `_`). The five
//! spellings of a name (`card_number`, `card-number`, …) are then one path
//! of the automaton, a third fewer states. A hit of a folded pattern is a
//! candidate for every pattern that folds to it; the filter confirms each
//! against its own bytes (see `LineFilter::accepts`), so folding changes
//! what the walk costs, never what the filter flags.
//!
//! Guarantee: [`Packed`] steps exactly as `aho-corasick`'s DFA of the
//! same patterns on folded input (standard match semantics: every pattern
//! ending at a byte is reported there); `tests::packed_steps_as_the_dfa*`
//! check every state and byte, on the default catalog too. Patterns too
//! many to pack take `aho-corasick`'s own DFA or NFA ([`Folding`]).

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::Anchored;

/// How the walk reads a byte: ASCII lower case, with `-`, `.` and space as
/// `_`.
pub fn fold(b: u8) -> u8 {
    match b {
        b'-' | b'.' | b' ' => b'_',
        _ => b.to_ascii_lowercase(),
    }
}

/// What the filter's walk needs of an automaton over folded bytes.
pub trait Table {
    type Id: Copy + Eq;
    fn start(&self) -> Self::Id;
    /// The state after reading `byte` (not yet folded) in state `s`.
    fn next(&self, s: Self::Id, byte: u8) -> Self::Id;
    /// Whether the walk must stop and look at `s` (a match state).
    fn is_special(&self, s: Self::Id) -> bool;
    fn is_match(&self, s: Self::Id) -> bool;
    /// How many folded patterns end in match state `s`.
    fn match_len(&self, s: Self::Id) -> usize;
    /// The `j`th folded pattern ending in `s`, and its length.
    fn match_at(&self, s: Self::Id, j: usize) -> (usize, usize);
}

/// An `aho-corasick` automaton built over folded patterns, fed folded
/// bytes: the filter's engine when the patterns are too many to pack.
pub struct Folding<'a, A>(pub &'a A);

impl<A: Automaton> Table for Folding<'_, A> {
    type Id = StateID;

    fn start(&self) -> StateID {
        self.0
            .start_state(Anchored::No)
            .expect("an unanchored start state, asked for at build")
    }

    #[inline(always)]
    fn next(&self, s: StateID, byte: u8) -> StateID {
        self.0.next_state(Anchored::No, s, fold(byte))
    }

    #[inline(always)]
    fn is_special(&self, s: StateID) -> bool {
        self.0.is_special(s)
    }

    fn is_match(&self, s: StateID) -> bool {
        self.0.is_match(s)
    }

    fn match_len(&self, s: StateID) -> usize {
        self.0.match_len(s)
    }

    fn match_at(&self, s: StateID, j: usize) -> (usize, usize) {
        let p = self.0.match_pattern(s, j);
        (p.as_usize(), self.0.pattern_len(p))
    }
}

/// The table's length in entries: the states times the classes must fit
/// (the default catalog's take 117,000).
const TABLE_ENTRIES: usize = 1 << 20;

/// The packed automaton (see the module comment).
pub struct Packed {
    /// The class of each input byte; bytes that fold alike share a class.
    classes: [u8; 256],
    /// Row width: the number of classes.
    stride: usize,
    /// The number of states (rows in use).
    rows: usize,
    /// `trans[s + class]`: the next state, where a state is the offset of
    /// its row (premultiplied). Fixed in length, so that a masked index
    /// needs no bounds check; only the rows in use are ever written, and
    /// the zeroed pages past them are never resident.
    trans: Box<[u32; TABLE_ENTRIES]>,
    /// States below this are the match states.
    matches: u32,
    start: u32,
    /// The folded patterns (id, length) ending in match state `s` are
    /// `ends[ends_at[s]..ends_at[s + 1]]`.
    ends_at: Vec<u32>,
    ends: Vec<(u32, u32)>,
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed")
            .field("states", &self.rows)
            .field("classes", &self.stride)
            .field(
                "match_states",
                &(self.matches as usize / self.stride.max(1)),
            )
            .finish()
    }
}

impl Packed {
    /// The Aho-Corasick automaton of `patterns` (folded; a pattern's index
    /// is its id in matches), built straight into packed rows. None when
    /// its rows do not fit [`TABLE_ENTRIES`].
    ///
    /// The construction is the textbook one: a trie of the patterns, then,
    /// breadth first, each state's missing transitions taken from its
    /// failure state (whose row is complete, being shallower) and the
    /// patterns ending at its failure state added to its own. It visits
    /// each (state, class) once, where building `aho-corasick`'s DFA and
    /// repacking it took ten times the instructions (most of the start-up
    /// with hundreds of user rules).
    pub fn new(patterns: &[Vec<u8>]) -> Option<Packed> {
        let mut pattern_bytes = [false; 256];
        for &b in patterns.iter().flatten() {
            pattern_bytes[usize::from(b)] = true;
        }
        // Classes: one per folded byte some pattern holds, and class 0 for
        // every byte whose fold no pattern holds (all step alike).
        let mut class_of_folded = [0u8; 256];
        let mut classes = [0u8; 256];
        let mut stride = 1;
        for b in 0..=255u8 {
            let f = fold(b);
            if !pattern_bytes[usize::from(f)] {
                continue;
            }
            if class_of_folded[usize::from(f)] == 0 {
                if stride > 255 {
                    return None;
                }
                class_of_folded[usize::from(f)] = stride as u8;
                stride += 1;
            }
            classes[usize::from(b)] = class_of_folded[usize::from(f)];
        }

        // The trie, state 0 its root; NONE where it has no edge.
        const NONE: u32 = u32::MAX;
        let mut rows: Vec<u32> = vec![NONE; stride];
        let mut ends: Vec<Vec<(u32, u32)>> = vec![Vec::new()];
        for (id, pattern) in patterns.iter().enumerate() {
            let mut s = 0;
            for &b in pattern {
                // A folded byte folds to itself: its class is that of its fold.
                let at = s * stride + usize::from(classes[usize::from(b)]);
                s = match rows[at] {
                    NONE => {
                        let n = ends.len();
                        if (n + 1) * stride > TABLE_ENTRIES {
                            return None;
                        }
                        rows.resize((n + 1) * stride, NONE);
                        ends.push(Vec::new());
                        rows[at] = n as u32;
                        n
                    }
                    next => next as usize,
                };
            }
            ends[s].push((id as u32, pattern.len() as u32));
        }

        // Breadth first: every state's row completed from its failure
        // state's, which is shallower and so complete already.
        let states = ends.len();
        let mut fail = vec![0u32; states];
        let mut order: Vec<u32> = Vec::with_capacity(states);
        order.push(0);
        for edge in &mut rows[..stride] {
            match *edge {
                NONE => *edge = 0,
                child => order.push(child),
            }
        }
        let mut i = 1;
        while i < order.len() {
            let u = order[i] as usize;
            i += 1;
            let f = fail[u] as usize;
            if !ends[f].is_empty() {
                let inherited = ends[f].clone();
                ends[u].extend(inherited);
            }
            for c in 0..stride {
                let via_fail = rows[f * stride + c];
                match rows[u * stride + c] {
                    NONE => rows[u * stride + c] = via_fail,
                    child => {
                        fail[child as usize] = via_fail;
                        order.push(child);
                    }
                }
            }
        }

        // Match states first, then the rest, each breadth first; a state's
        // id is the offset of its row.
        let mut dense: Vec<usize> = order
            .iter()
            .map(|&s| s as usize)
            .filter(|&s| !ends[s].is_empty())
            .collect();
        let matches = dense.len();
        dense.extend(
            order
                .iter()
                .map(|&s| s as usize)
                .filter(|&s| ends[s].is_empty()),
        );
        let mut id = vec![0u32; states];
        for (d, &s) in dense.iter().enumerate() {
            id[s] = (d * stride) as u32;
        }
        // Zeroed pages are not resident until written: only the rows in
        // use take memory.
        let mut trans: Box<[u32; TABLE_ENTRIES]> = vec![0u32; TABLE_ENTRIES]
            .into_boxed_slice()
            .try_into()
            .expect("the length asked for");
        for (d, &s) in dense.iter().enumerate() {
            for c in 0..stride {
                trans[d * stride + c] = id[rows[s * stride + c] as usize];
            }
        }
        let mut ends_at = Vec::with_capacity(matches + 1);
        let mut flat = Vec::new();
        for &s in &dense[..matches] {
            ends_at.push(flat.len() as u32);
            flat.extend_from_slice(&ends[s]);
        }
        ends_at.push(flat.len() as u32);
        Some(Packed {
            classes,
            stride,
            rows: dense.len(),
            trans,
            matches: (matches * stride) as u32,
            start: id[0],
            ends_at,
            ends: flat,
        })
    }

    /// Bytes of heap the table holds.
    #[cfg(test)]
    pub fn memory_usage(&self) -> usize {
        self.rows * self.stride * 4 + self.ends_at.len() * 4 + self.ends.len() * 8
    }
}

impl Table for Packed {
    type Id = u32;

    fn start(&self) -> u32 {
        self.start
    }

    #[inline(always)]
    fn next(&self, s: u32, byte: u8) -> u32 {
        // Masked: the index is in bounds without a check (it always is
        // below the rows in use).
        self.trans
            [(s as usize + usize::from(self.classes[usize::from(byte)])) & (TABLE_ENTRIES - 1)]
    }

    #[inline(always)]
    fn is_special(&self, s: u32) -> bool {
        s < self.matches
    }

    fn is_match(&self, s: u32) -> bool {
        s < self.matches
    }

    fn match_len(&self, s: u32) -> usize {
        let s = s as usize / self.stride;
        (self.ends_at[s + 1] - self.ends_at[s]) as usize
    }

    fn match_at(&self, s: u32, j: usize) -> (usize, usize) {
        let (p, len) = self.ends[self.ends_at[s as usize / self.stride] as usize + j];
        (p as usize, len as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::dfa::DFA;
    use aho_corasick::{MatchKind, StartKind};

    fn dfa(patterns: &[&[u8]]) -> DFA {
        DFA::builder()
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .prefilter(false)
            .build(patterns)
            .unwrap()
    }

    fn owned(patterns: &[&[u8]]) -> Vec<Vec<u8>> {
        patterns.iter().map(|p| p.to_vec()).collect()
    }

    /// From every state the packed table reaches, every byte leads where
    /// the DFA leads on the folded byte, and the same patterns end there.
    fn assert_steps_as_the_dfa(patterns: &[Vec<u8>]) -> usize {
        let refs: Vec<&[u8]> = patterns.iter().map(Vec::as_slice).collect();
        let dfa = dfa(&refs);
        let packed = Packed::new(patterns).unwrap();
        let folding = Folding(&dfa);
        // Walk both in step from the start over every (state, byte) pair
        // the packed table can reach.
        let mut pairs = vec![(packed.start(), folding.start())];
        let mut seen = std::collections::HashSet::new();
        while let Some((p, d)) = pairs.pop() {
            if !seen.insert(p) {
                continue;
            }
            assert_eq!(packed.is_match(p), folding.is_match(d));
            assert_eq!(packed.is_special(p), folding.is_match(d));
            let ends = |t: &dyn Fn(usize) -> (usize, usize), n: usize| {
                let mut v: Vec<_> = (0..n).map(t).collect();
                v.sort_unstable();
                v
            };
            if packed.is_match(p) {
                assert_eq!(
                    ends(&|j| packed.match_at(p, j), packed.match_len(p)),
                    ends(&|j| folding.match_at(d, j), folding.match_len(d))
                );
            }
            for b in 0..=255u8 {
                pairs.push((packed.next(p, b), folding.next(d, b)));
            }
        }
        assert_eq!(seen.len(), packed.rows, "every state is reachable");
        seen.len()
    }

    #[test]
    fn packed_steps_as_the_dfa() {
        let patterns: [&[u8]; 6] = [
            b"card_number",
            b"cardno",
            b"ghp_",
            b"sk_proj_",
            b"cvv2",
            b"\xc2\xa0x",
        ];
        assert!(assert_steps_as_the_dfa(&owned(&patterns)) > 20);
        // The walk of a text finds what the DFA finds.
        let packed = Packed::new(&owned(&patterns)).unwrap();
        let dfa = dfa(&patterns);
        let folding = Folding(&dfa);
        let text = b"x CARD-NUMBER y Card.No ghp_ SK-PROJ-1 cvv2\xc2\xa0x";
        let (mut p, mut d) = (packed.start(), folding.start());
        for &b in text {
            p = packed.next(p, b);
            d = folding.next(d, b);
            assert_eq!(packed.is_match(p), folding.is_match(d));
        }
    }

    /// The same, over the default catalog's folded literals and names.
    #[test]
    fn packed_steps_as_the_dfa_on_the_default_catalog() {
        let scanner = crate::scan::Scanner::builtin();
        let mut folded: Vec<Vec<u8>> = scanner
            .line_filter()
            .patterns
            .iter()
            .map(|p| p.iter().map(|&b| fold(b)).collect())
            .collect();
        folded.sort();
        folded.dedup();
        let states = assert_steps_as_the_dfa(&folded);
        assert!(states > 1000, "{states}");
    }

    /// Rows that do not fit the table: no packed table (the filter then
    /// walks the DFA itself).
    #[test]
    fn an_automaton_too_large_is_not_packed() {
        // 800 patterns of 24 pseudo-random bytes of 180 values: about 180
        // classes and 19,000 states, more than the table's rows.
        let mut x = 1u64;
        let patterns: Vec<Vec<u8>> = (0..800)
            .map(|_| {
                (0..24)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        fold(0x60u8.wrapping_add(((x >> 33) % 180) as u8))
                    })
                    .collect()
            })
            .collect();
        assert!(Packed::new(&patterns).is_none());
    }

    #[test]
    fn too_many_classes_or_none_pack_or_refuse_cleanly() {
        // Every byte value in the patterns: no byte is left for class 0.
        let all: Vec<u8> = (0..=255u8).map(fold).collect();
        let packed = Packed::new(std::slice::from_ref(&all)).unwrap();
        let mut s = packed.start();
        for &b in &all {
            s = packed.next(s, b);
        }
        assert!(packed.is_match(s));
    }
}
