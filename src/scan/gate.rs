//! The line gate: one pass of the rules' own automaton over a whole batch of
//! lines, which flags the lines where some rule matches, so that the full
//! per-line scan (captures, validators, decoded views) runs on those lines
//! only.
//!
//! Guarantee: every line in which the scanner's combined automaton finds a
//! match (validated or not), scanning the line alone, is flagged. Extra
//! lines may be flagged; none is missed. Why it holds:
//!
//! - the gate's automaton is built from the same rules, with text anchors
//!   (`^`, `$`, `\A`, `\z`) turned into line anchors that also accept `\r`
//!   before `\n`, so a match of a rule inside a line alone is a match at the
//!   same place in the batch (`\b` sees the `\n` around a line as the
//!   nothing around a lone line: neither is a word byte);
//! - an unanchored automaton that starts at a line start reports the match
//!   that ends first among all matches starting there or later; the line
//!   holding that end is flagged and the search starts afresh at the next
//!   line, so no line in between can hold a match;
//! - each branch is cut after its first wide counted repetition
//!   (`x{12,18}` becomes `x{12}`, what follows is dropped): a match of the
//!   rule starts with a match of the cut pattern, in the same line, and the
//!   automaton has far fewer states to build;
//! - starting afresh at a line start only forgets matches that would span
//!   lines, which a line alone cannot hold; so the automaton may restart at
//!   any line start, which is how a cache reset or an unknown transition
//!   is handled;
//! - a state the gate cannot follow (a quit byte, a dead state) flags the
//!   line it is in.
//!
//! Speed: a lazy DFA walks one byte per dependent memory load, which bounds
//! it at a few hundred MB/s on its own. The gate cuts the batch into
//! [`LANES`] pieces at line boundaries and walks them in lock step, so the
//! loads of different lanes overlap. When the cache is too small or a limit
//! is hit, the batch is reported as not gated and every line is scanned.

use regex_automata::{
    hybrid::{
        dfa::{Cache, DFA},
        LazyStateID,
    },
    nfa::thompson::{self, WhichCaptures},
    util::start,
    Anchored,
};
use regex_syntax::hir::{Hir, HirKind, Look};

use crate::rules::Rule;

/// The number of lanes walked in lock step.
pub const LANES: usize = 4;

/// The rules' automaton, for whole batches.
#[derive(Debug)]
pub struct Gate {
    dfa: DFA,
}

/// Per-thread state of a [`Gate`].
#[derive(Debug)]
pub struct GateScratch {
    cache: Cache,
}

/// The cache failed (too small, or gave up): the batch is not gated.
struct GaveUp;

impl Gate {
    /// The gate for `rules`, or None when their automaton cannot be built
    /// for it (a Unicode word boundary, a size limit).
    pub fn new(rules: &[Rule]) -> Option<Gate> {
        Gate::build(rules, &[])
    }

    /// The gate for `rules` that also flags every line holding one of
    /// `literals` (bytes, and whether they are matched case-sensitively):
    /// the literal index's rules (see `scan::literal`) are found in the
    /// same pass. The literals form one pattern, an alternation the
    /// compiler turns into a trie, so they add one start state, not one per
    /// literal.
    pub fn with_literals(rules: &[Rule], literals: &[(bool, &[u8])]) -> Option<Gate> {
        Gate::build(rules, literals)
    }

    /// The gate for `rules` and the literal index's `literals`, in one
    /// automaton. The scanner gates its rules alone: folding the literals
    /// in multiplied the automaton's states (a whole run on the 4 MiB
    /// benchmark corpus took 1.8× the instructions; with the sensitive
    /// names too, 2.4×), so literals and names have their own one-pass
    /// filter (`scan::line_filter`).
    fn build(rules: &[Rule], literals: &[(bool, &[u8])]) -> Option<Gate> {
        let cache = DFA::config()
            .cache_capacity(8 << 20)
            .minimum_cache_clear_count(Some(3));
        Gate::build_with_cache(rules, literals, cache)
    }

    /// As [`Gate::build`], with the cache's limits in `cache` (tests force
    /// clears with a small one).
    fn build_with_cache(
        rules: &[Rule],
        literals: &[(bool, &[u8])],
        cache: regex_automata::hybrid::dfa::Config,
    ) -> Option<Gate> {
        let mut hirs = Vec::with_capacity(rules.len() + 1);
        for pattern in rules.iter().map(|r| r.regex.as_str()) {
            let hir =
                regex_automata::util::syntax::parse_with(pattern, &crate::rules::syntax_config())
                    .ok()?;
            hirs.push(line_anchored(&relaxed(&hir)));
        }
        if !literals.is_empty() {
            hirs.push(Hir::alternation(
                literals
                    .iter()
                    .map(|&(case_sensitive, bytes)| literal_hir(case_sensitive, bytes))
                    .collect(),
            ));
        }
        if hirs.is_empty() {
            return None;
        }
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .nfa_size_limit(Some(64 << 20))
                    .which_captures(WhichCaptures::None),
            )
            .build_many_from_hir(&hirs)
            .ok()?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .minimum_bytes_per_state(Some(10))
                    .specialize_start_states(false),
            )
            .configure(cache)
            .build_from_nfa(nfa)
            .ok()?;
        Some(Gate { dfa })
    }

    /// Fresh per-thread state.
    pub fn scratch(&self) -> GateScratch {
        GateScratch {
            cache: self.dfa.create_cache(),
        }
    }

    /// False when no rule can match anywhere in `hay`, read as one text
    /// (a decoded view of a line, which may hold newlines of its own): then
    /// the automaton need not run over it. True when some rule may match,
    /// or when the cache gives up. Sound for the same reasons as
    /// [`Gate::flag_lines`]: the gate's patterns match a prefix of every
    /// match of a rule, with text anchors widened to line anchors.
    pub fn may_match(&self, hay: &[u8], scratch: &mut GateScratch) -> bool {
        let input = regex_automata::Input::new(hay).earliest(true);
        !matches!(
            self.dfa.try_search_fwd(&mut scratch.cache, &input),
            Ok(None)
        )
    }

    /// Flags the lines of `batch` (whole lines, each ending in `\n` but
    /// perhaps the last) where a rule matches: their start offsets are left
    /// in `flagged`, sorted and unique. Returns false when the batch could
    /// not be gated: then every line must be scanned.
    pub fn flag_lines(
        &self,
        batch: &[u8],
        scratch: &mut GateScratch,
        flagged: &mut Vec<usize>,
    ) -> bool {
        let cache = &mut scratch.cache;
        flagged.clear();
        let mut walk = Walk {
            dfa: &self.dfa,
            cache,
            hay: batch,
            flagged,
            starts: [0; LANES],
            ends: [0; LANES],
            pos: [0; LANES],
            sid: [LazyStateID::default(); LANES],
            prev: [LazyStateID::default(); LANES],
            clears: 0,
        };
        let ok = walk.run().is_ok();
        flagged.sort_unstable();
        flagged.dedup();
        ok
    }
}

/// One walk of the lanes over a batch.
struct Walk<'a> {
    dfa: &'a DFA,
    cache: &'a mut Cache,
    hay: &'a [u8],
    flagged: &'a mut Vec<usize>,
    /// Each lane's piece of the batch: `starts[i]..ends[i]`, whole lines.
    starts: [usize; LANES],
    ends: [usize; LANES],
    /// The next byte each lane reads, and its state before reading it.
    pos: [usize; LANES],
    sid: [LazyStateID; LANES],
    /// Each lane's state before its last byte: an unknown transition is
    /// computed from it.
    prev: [LazyStateID; LANES],
    /// The cache's clear count the lanes' states are valid for.
    clears: usize,
}

impl Walk<'_> {
    fn run(&mut self) -> Result<(), GaveUp> {
        let hay = self.hay;
        let mut from = 0;
        for i in 0..LANES {
            let to = if i + 1 == LANES {
                hay.len()
            } else {
                next_line(hay, (hay.len() * (i + 1) / LANES).max(from))
            };
            self.starts[i] = from;
            self.ends[i] = to;
            from = to;
        }
        self.pos = self.starts;
        self.clears = self.cache.clear_count();
        let start = self.start_state()?;
        self.sid = [start; LANES];
        self.after_compute(usize::MAX)?;
        loop {
            self.lock_step();
            let mut active = false;
            for i in 0..LANES {
                if self.sid[i].is_tagged() {
                    self.tagged(i)?;
                    active = true;
                } else if self.pos[i] < self.ends[i] {
                    // Another lane is done or tagged: step this one alone.
                    self.prev[i] = self.sid[i];
                    self.sid[i] =
                        self.dfa
                            .next_state_untagged(self.cache, self.sid[i], hay[self.pos[i]]);
                    self.pos[i] += 1;
                    active = true;
                }
            }
            if active {
                continue;
            }
            // Every lane is at its end in an untagged state. A last line
            // without a newline may hold a match that ends with the batch:
            // it shows after the end-of-input transition.
            if hay.is_empty() || hay.ends_with(b"\n") {
                return Ok(());
            }
            // The lane holding the last line: lanes may be empty.
            let last = (0..LANES)
                .rev()
                .find(|&i| self.ends[i] > self.starts[i])
                .unwrap_or(0);
            let eoi = self
                .dfa
                .next_eoi_state(self.cache, self.sid[last])
                .map_err(|_| GaveUp)?;
            if eoi.is_match() || eoi.is_quit() {
                self.flagged.push(line_start(hay, hay.len() - 1));
            }
            return Ok(());
        }
    }

    /// Walks all lanes one byte at a time while every lane has input and an
    /// untagged state: the lanes' table loads overlap.
    #[allow(unsafe_code)]
    fn lock_step(&mut self) {
        let hay = self.hay;
        if (0..LANES).any(|i| self.pos[i] >= self.ends[i] || self.sid[i].is_tagged()) {
            return;
        }
        let steps = (0..LANES)
            .map(|i| self.ends[i] - self.pos[i])
            .min()
            .unwrap_or(0);
        let (dfa, cache) = (self.dfa, &*self.cache);
        let mut sid = self.sid;
        // Each lane's next `steps` bytes, zipped: one step reads a byte of
        // every lane without bounds checks, and the lanes' table loads
        // interleave. A step that leads a lane into a tagged state is not
        // taken here: `run` takes it lane by lane, keeping the state before
        // (an unknown transition is computed from it).
        let [a, b, c, d]: [&[u8]; LANES] =
            std::array::from_fn(|i| &hay[self.pos[i]..self.pos[i] + steps]);
        let mut taken = steps;
        for (k, (((&x0, &x1), &x2), &x3)) in a.iter().zip(b).zip(c).zip(d).enumerate() {
            // SAFETY: `next_state_untagged_unchecked` asks for an untagged
            // state made by this cache since its last clear. Each `sid[i]`
            // is untagged: the walk enters lock step only when every lane
            // is, and a step that tags any lane is not taken. Each was
            // made by this cache: by a start or computed transition (in
            // `tagged` or `start_state`, after which `after_compute` moves
            // every other lane to a fresh start state if the cache was
            // cleared) or by a transition read from it; reads never clear.
            let next = unsafe {
                [
                    dfa.next_state_untagged_unchecked(cache, sid[0], x0),
                    dfa.next_state_untagged_unchecked(cache, sid[1], x1),
                    dfa.next_state_untagged_unchecked(cache, sid[2], x2),
                    dfa.next_state_untagged_unchecked(cache, sid[3], x3),
                ]
            };
            if next.iter().any(|s| s.is_tagged()) {
                taken = k;
                break;
            }
            sid = next;
        }
        let mut pos = self.pos;
        for p in &mut pos {
            *p += taken;
        }
        self.sid = sid;
        self.pos = pos;
    }

    /// Handles lane `i` in a tagged state.
    fn tagged(&mut self, i: usize) -> Result<(), GaveUp> {
        let hay = self.hay;
        let s = self.sid[i];
        if s.is_unknown() {
            // A transition not computed yet: compute it from the state
            // before (valid: a cache reset since would have restarted
            // this lane).
            self.sid[i] = self
                .dfa
                .next_state(self.cache, self.prev[i], hay[self.pos[i] - 1])
                .map_err(|_| GaveUp)?;
            return self.after_compute(i);
        }
        // A match ends just before the byte last read (matches show one
        // byte late); a quit or dead state is flagged to be safe.
        let last = self.pos[i] - 1;
        self.flagged.push(line_start(hay, last));
        self.pos[i] = next_line(hay, last).min(self.ends[i]);
        self.sid[i] = self.start_state()?;
        self.after_compute(i)
    }

    /// The unanchored start state at a line start.
    fn start_state(&mut self) -> Result<LazyStateID, GaveUp> {
        let config = start::Config::new()
            .anchored(Anchored::No)
            .look_behind(Some(b'\n'));
        self.dfa
            .start_state(self.cache, &config)
            .map_err(|_| GaveUp)
    }

    /// After lane `keep` computed states: if that cleared the cache, every
    /// other lane's state is void, so it starts afresh at the start of the
    /// line holding the last byte it read (whose state may be pending).
    fn after_compute(&mut self, keep: usize) -> Result<(), GaveUp> {
        while self.cache.clear_count() != self.clears {
            self.clears = self.cache.clear_count();
            let start = self.start_state()?;
            for j in 0..LANES {
                if j == keep {
                    continue;
                }
                if self.pos[j] > self.starts[j] {
                    self.pos[j] = line_start(self.hay, self.pos[j] - 1).max(self.starts[j]);
                }
                self.sid[j] = start;
            }
        }
        Ok(())
    }
}

/// The start of the line holding offset `at`.
fn line_start(batch: &[u8], at: usize) -> usize {
    memchr::memrchr(b'\n', &batch[..at.min(batch.len())]).map_or(0, |i| i + 1)
}

/// A literal as a pattern: its bytes, or each ASCII letter as a class of
/// both cases when the literal is matched ignoring case.
fn literal_hir(case_sensitive: bool, bytes: &[u8]) -> Hir {
    if case_sensitive {
        return Hir::literal(bytes.to_vec());
    }
    Hir::concat(
        bytes
            .iter()
            .map(|&b| {
                if b.is_ascii_alphabetic() {
                    let (u, l) = (b.to_ascii_uppercase(), b.to_ascii_lowercase());
                    Hir::class(regex_syntax::hir::Class::Bytes(
                        regex_syntax::hir::ClassBytes::new([
                            regex_syntax::hir::ClassBytesRange::new(u, u),
                            regex_syntax::hir::ClassBytesRange::new(l, l),
                        ]),
                    ))
                } else {
                    Hir::literal(vec![b])
                }
            })
            .collect(),
    )
}

/// The start of the line after the one holding offset `at`.
fn next_line(batch: &[u8], at: usize) -> usize {
    let at = at.min(batch.len());
    memchr::memchr(b'\n', &batch[at..]).map_or(batch.len(), |i| at + i + 1)
}

/// A wider pattern with fewer automaton states. In each branch of a
/// top-level alternation, read as a flat sequence of parts, the first
/// counted repetition with a wide range (`x{m,n}`, `n - m >= 4`) becomes
/// `x{m}` and every part after it is dropped. A match of the branch starts
/// with a match of the shortened sequence (its first `m` repetitions are a
/// prefix of it), in the same line, so no flagged line is lost; the
/// automaton no longer counts digits up to 19 or characters up to 255.
fn relaxed(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(relaxed).collect()),
        HirKind::Capture(c) => relaxed(&c.sub),
        _ => {
            let parts = flat_parts(hir);
            let mut kept = Vec::with_capacity(parts.len());
            for part in parts {
                if let HirKind::Repetition(r) = part.kind() {
                    if r.max.is_some_and(|max| max - r.min >= 4) {
                        kept.push(Hir::repetition(regex_syntax::hir::Repetition {
                            min: r.min,
                            max: Some(r.min),
                            greedy: r.greedy,
                            sub: r.sub.clone(),
                        }));
                        break;
                    }
                }
                kept.push(part.clone());
            }
            Hir::concat(kept)
        }
    }
}

/// The parts of a concatenation, flattened through groups and nested
/// concatenations.
fn flat_parts(hir: &Hir) -> Vec<&Hir> {
    match hir.kind() {
        HirKind::Concat(subs) => subs.iter().flat_map(flat_parts).collect(),
        HirKind::Capture(c) => flat_parts(&c.sub),
        _ => vec![hir],
    }
}

/// `hir` with its text anchors made line anchors: `^` and `$` of a line
/// alone hold at its start and end inside the batch (before `\r\n` too).
fn line_anchored(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Look(look) => Hir::look(match look {
            Look::Start | Look::StartLF | Look::StartCRLF => Look::StartCRLF,
            Look::End | Look::EndLF | Look::EndCRLF => Look::EndCRLF,
            other => *other,
        }),
        HirKind::Capture(c) => Hir::capture(regex_syntax::hir::Capture {
            index: c.index,
            name: c.name.clone(),
            sub: Box::new(line_anchored(&c.sub)),
        }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(line_anchored).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(line_anchored).collect()),
        HirKind::Repetition(r) => Hir::repetition(regex_syntax::hir::Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(line_anchored(&r.sub)),
        }),
        _ => hir.clone(),
    }
}

#[cfg(test)]
mod tests {
    //! The gate's flags against the full automaton, line by line, are
    //! checked in `tests/gate_differential.rs`.
    use super::*;

    #[test]
    fn wide_repetitions_end_the_gate_pattern() {
        let parse = |re: &str| {
            regex_automata::util::syntax::parse_with(re, &crate::rules::syntax_config()).unwrap()
        };
        let relaxed_of = |re: &str| relaxed(&parse(re)).to_string();
        assert_eq!(
            relaxed_of(r"\b[2-6](?:[ -]?[0-9]){12,18}\b"),
            Hir::concat(
                flat_parts(&parse(r"\b[2-6](?:[ -]?[0-9]){12}"))
                    .into_iter()
                    .cloned()
                    .collect()
            )
            .to_string()
        );
        // Narrow ranges and unbounded repetitions stay; branches are relaxed
        // one by one; a wide range nested in a group is left alone.
        let narrow = relaxed_of("a{1,3}b+c");
        assert!(narrow.contains('c'), "{narrow}");
        let alt = relaxed(&parse("x[0-9]{2,20}y|(?:ab{1,9}c)+d"));
        let HirKind::Alternation(branches) = alt.kind() else {
            panic!("{alt}")
        };
        assert_eq!(branches.len(), 2);
        assert!(!branches[0].to_string().contains('y'), "{}", branches[0]);
        let second = branches[1].to_string();
        assert!(second.contains('c') && second.contains('d'), "{second}");
    }

    /// The walk survives its cache being cleared again and again, in lock
    /// step and lane by lane (the unchecked steps rely on the states being
    /// renewed after each clear): it flags what a gate that never clears
    /// flags.
    #[test]
    fn a_cache_cleared_mid_walk_flags_the_same_lines() {
        let rules = crate::rules::builtin_rules();
        let roomy = Gate::new(&rules).expect("the catalog is gated");
        let small = DFA::config()
            .cache_capacity(1 << 16)
            .skip_cache_capacity_check(true)
            .minimum_cache_clear_count(None);
        let cramped = Gate::build_with_cache(&rules, &[], small).expect("builds");
        // Varied lines: digits, keys, e-mails and prose, so the automaton
        // keeps meeting states it has not built.
        let mut batch = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..3000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let line = match i % 5 {
                0 => format!(
                    "pay {} {:04} {:04} {:04}\n",
                    4000 + x % 999,
                    x % 9973,
                    x % 7919,
                    x % 6007
                ),
                1 => format!(
                    "user{}@host{}.example key=sk_live_{:x}\n",
                    x % 97,
                    x % 13,
                    x
                ),
                2 => format!(
                    "ssn {:03}-{:02}-{:04} routing {:09}\n",
                    x % 899,
                    x % 99,
                    x % 9999,
                    x % 999_999_999
                ),
                3 => format!("GET /v1/{:x}?id={} HTTP/1.1 200\n", x, x % 100_000),
                _ => format!(
                    "ts={} level=info msg=\"order {} shipped\"\n",
                    x,
                    x % 1_000_000
                ),
            };
            batch.extend_from_slice(line.as_bytes());
        }
        let (mut want, mut got) = (Vec::new(), Vec::new());
        let mut roomy_scratch = roomy.scratch();
        assert!(roomy.flag_lines(&batch, &mut roomy_scratch, &mut want));
        let mut cramped_scratch = cramped.scratch();
        assert!(cramped.flag_lines(&batch, &mut cramped_scratch, &mut got));
        assert!(
            cramped_scratch.cache.clear_count() > 10,
            "only {} clears",
            cramped_scratch.cache.clear_count()
        );
        assert!(!want.is_empty());
        assert_eq!(got, want);
    }

    #[test]
    fn unicode_word_boundaries_are_not_gated() {
        let rules = crate::rules::parse_pattern_file(
            "test.toml",
            "family = \"t\"\n\
             [[rule]]\nid = \"u\"\ndescription = \"d\"\nregex = '(?u)\\bwort\\b'\nlabel = \"[X]\"\n",
        );
        let rules = rules.expect("a Unicode rule parses");
        // The lazy DFA cannot follow a Unicode word boundary without quitting
        // on non-ASCII bytes: no gate, and the scanner scans every line.
        assert!(Gate::new(&rules).is_none());
        let scanner = crate::scan::Scanner::new(rules).expect("compiles");
        assert!(!scanner.has_gate());
        let mut scratch = scanner.scratch();
        assert!(!scanner.flag_lines(b"x wort\n", &mut scratch));
    }
}
