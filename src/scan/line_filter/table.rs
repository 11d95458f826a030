//! The line filter's transition table: the Aho-Corasick DFA of the folded
//! patterns, repacked small enough for the first-level cache.
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
//! Guarantee: [`Packed`] steps exactly as the DFA it was built from on
//! folded input; `tests::packed_steps_as_the_dfa` checks every state and
//! byte.

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
    /// Packs `dfa`, an automaton built over patterns made of the folded
    /// bytes `pattern_bytes`. None when its rows do not fit
    /// [`TABLE_ENTRIES`].
    pub fn new<A: Automaton>(dfa: &A, pattern_bytes: &[bool; 256]) -> Option<Packed> {
        // Classes: one per folded byte some pattern holds, and class 0 for
        // every byte whose fold no pattern holds (all step alike).
        let mut class_of_folded = [0u8; 256];
        let mut reps: Vec<u8> = Vec::new();
        let mut classes = [0u8; 256];
        let mut other = None;
        for b in 0..=255u8 {
            let f = fold(b);
            if !pattern_bytes[usize::from(f)] {
                other.get_or_insert(f);
                continue;
            }
            if class_of_folded[usize::from(f)] == 0 {
                if reps.len() >= 255 {
                    return None;
                }
                reps.push(f);
                class_of_folded[usize::from(f)] = reps.len() as u8;
            }
            classes[usize::from(b)] = class_of_folded[usize::from(f)];
        }
        // Row of class 0 first: a representative byte, if any byte is in it.
        let reps: Vec<Option<u8>> = std::iter::once(other)
            .chain(reps.into_iter().map(Some))
            .collect();
        let stride = reps.len();

        // Every state reachable from the start, indexed by the DFA's own id
        // (a small integer: the offset of its row).
        let start = dfa.start_state(Anchored::No).ok()?;
        let mut order = vec![start];
        let mut seen = IdMap::default();
        seen.insert(start, 0);
        let mut i = 0;
        while i < order.len() {
            let s = order[i];
            i += 1;
            for &rep in reps.iter().flatten() {
                let n = dfa.next_state(Anchored::No, s, rep);
                if seen.get(n).is_none() {
                    if (order.len() + 1) * stride > TABLE_ENTRIES {
                        return None;
                    }
                    seen.insert(n, order.len() as u32);
                    order.push(n);
                }
            }
        }
        // Match states first, then the rest, each in discovery order; a
        // state's id is the offset of its row.
        let mut dense: Vec<StateID> = order.iter().copied().filter(|&s| dfa.is_match(s)).collect();
        let matches = dense.len();
        dense.extend(order.iter().copied().filter(|&s| !dfa.is_match(s)));
        let mut id = IdMap::default();
        for (d, &s) in dense.iter().enumerate() {
            id.insert(s, (d * stride) as u32);
        }
        // Zeroed pages are not resident until written: only the rows in
        // use take memory.
        let mut trans: Box<[u32; TABLE_ENTRIES]> = vec![0u32; TABLE_ENTRIES]
            .into_boxed_slice()
            .try_into()
            .expect("the length asked for");
        for (d, &s) in dense.iter().enumerate() {
            for (c, rep) in reps.iter().enumerate() {
                if let Some(rep) = rep {
                    let next = dfa.next_state(Anchored::No, s, *rep);
                    trans[d * stride + c] =
                        id.get(next).expect("every reachable state is numbered");
                }
            }
        }
        let mut ends_at = Vec::with_capacity(matches + 1);
        let mut ends = Vec::new();
        for &s in &dense[..matches] {
            ends_at.push(ends.len() as u32);
            for j in 0..dfa.match_len(s) {
                let p = dfa.match_pattern(s, j);
                ends.push((p.as_u32(), dfa.pattern_len(p) as u32));
            }
        }
        ends_at.push(ends.len() as u32);
        Some(Packed {
            classes,
            stride,
            rows: dense.len(),
            trans,
            matches: (matches * stride) as u32,
            start: id.get(start).expect("the start is numbered"),
            ends_at,
            ends,
        })
    }

    /// Bytes of heap the table holds.
    #[cfg(test)]
    pub fn memory_usage(&self) -> usize {
        self.rows * self.stride * 4 + self.ends_at.len() * 4 + self.ends.len() * 8
    }
}

/// A map from the DFA's state ids (small integers) to numbers.
#[derive(Default)]
struct IdMap(Vec<u32>);

impl IdMap {
    const NONE: u32 = u32::MAX;

    fn insert(&mut self, s: StateID, n: u32) {
        let i = s.as_usize();
        if i >= self.0.len() {
            self.0.resize(i + 1, Self::NONE);
        }
        self.0[i] = n;
    }

    fn get(&self, s: StateID) -> Option<u32> {
        self.0
            .get(s.as_usize())
            .copied()
            .filter(|&n| n != Self::NONE)
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

    fn bytes_of(patterns: &[&[u8]]) -> [bool; 256] {
        let mut set = [false; 256];
        for p in patterns {
            for &b in *p {
                set[usize::from(b)] = true;
            }
        }
        set
    }

    /// From every state the packed table reaches, every byte leads where
    /// the DFA leads on the folded byte, and the same patterns end there.
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
        let dfa = dfa(&patterns);
        let packed = Packed::new(&dfa, &bytes_of(&patterns)).unwrap();
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
        assert!(seen.len() > 20);
        // Every reachable state was visited, and the walk of a text finds
        // what the DFA finds.
        let text = b"x CARD-NUMBER y Card.No ghp_ SK-PROJ-1 cvv2\xc2\xa0x";
        let (mut p, mut d) = (packed.start(), folding.start());
        for &b in text {
            p = packed.next(p, b);
            d = folding.next(d, b);
            assert_eq!(packed.is_match(p), folding.is_match(d));
        }
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
        let refs: Vec<&[u8]> = patterns.iter().map(Vec::as_slice).collect();
        let dfa = dfa(&refs);
        assert!(Packed::new(&dfa, &bytes_of(&refs)).is_none());
    }

    #[test]
    fn too_many_classes_or_none_pack_or_refuse_cleanly() {
        // Every byte value in the patterns: no byte is left for class 0.
        let all: Vec<u8> = (0..=255u8).map(fold).collect();
        let patterns: [&[u8]; 1] = [&all];
        let dfa = dfa(&patterns);
        let packed = Packed::new(&dfa, &bytes_of(&patterns)).unwrap();
        let mut s = packed.start();
        for &b in &all {
            s = packed.next(s, b);
        }
        assert!(packed.is_match(s));
    }
}
