//! Counters kept while scrubbing: plain integers in each worker's scratch,
//! added up per batch, so counting costs nothing measurable on the scan path.

use std::collections::BTreeMap;

/// Rejection reasons counted per rule: the slots of
/// [`RuleTotals::rejections`], in the order of the catalog's `Rejection`
/// (luhn, network, context, checksum, allowlist). The scanner checks at
/// compile time that the catalog has as many.
pub const REJECTION_SLOTS: usize = 5;

/// Counts of one rule, by id: what survives a configuration reload that
/// renumbers the rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleTotals {
    /// Redactions.
    pub redactions: u64,
    /// Rejected candidates, by rejection reason (luhn, network, context,
    /// checksum, allowlist).
    pub rejections: [u64; 5],
}

/// Counts for one run (or one batch) of scrubbing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Redactions per rule, indexed like the scanner's rules.
    pub redactions: Vec<u64>,
    /// Rejected candidates per rule and reason (`Rejection` order).
    pub rejections: Vec<[u64; 5]>,
    /// Lines read.
    pub lines: u64,
    /// Bytes read and written.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Lines replaced whole because they could not be scanned (too long).
    pub failed_closed: u64,
    /// Lines dropped by the `drop` action or the over-long `drop` policy.
    pub dropped: u64,
    /// Lines not valid in their structured format, scanned as raw text.
    pub malformed: u64,
    /// Lines dropped because the output buffer was full (`--when-full
    /// drop`).
    pub dropped_output_full: u64,
    /// Per-rule counts moved out of the index-based vectors, by rule id.
    pub by_rule: BTreeMap<String, RuleTotals>,
}

impl Stats {
    /// Zeroed counters for `rules` rules.
    pub fn new(rules: usize) -> Stats {
        Stats {
            redactions: vec![0; rules],
            rejections: vec![[0; 5]; rules],
            ..Stats::default()
        }
    }

    /// Counts one rejected candidate of rule `rule`.
    pub fn reject(&mut self, rule: usize, slot: usize) {
        self.rejections[rule][slot] += 1;
    }

    /// Total redactions over all rules.
    pub fn total_redactions(&self) -> u64 {
        self.redactions.iter().sum::<u64>()
            + self.by_rule.values().map(|t| t.redactions).sum::<u64>()
    }

    /// Moves the per-rule vectors (indexed like `ids`, the rules' ids) into
    /// [`Stats::by_rule`] and zeroes them, resized for `next_len` rules.
    pub fn fold_by_id<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>, next_len: usize) {
        for (i, id) in ids.into_iter().enumerate() {
            let red = self.redactions.get(i).copied().unwrap_or(0);
            let rej = self.rejections.get(i).copied().unwrap_or([0; 5]);
            if red == 0 && rej == [0; 5] {
                continue;
            }
            let t = self.by_rule.entry(id.to_string()).or_default();
            t.redactions += red;
            for (a, b) in t.rejections.iter_mut().zip(rej) {
                *a += b;
            }
        }
        self.redactions = vec![0; next_len];
        self.rejections = vec![[0; 5]; next_len];
    }

    /// Adds `other` into `self` and zeroes `other`.
    pub fn drain_from(&mut self, other: &mut Stats) {
        if self.redactions.len() < other.redactions.len() {
            self.redactions.resize(other.redactions.len(), 0);
            self.rejections.resize(other.rejections.len(), [0; 5]);
        }
        for (a, b) in self.redactions.iter_mut().zip(other.redactions.iter_mut()) {
            *a += std::mem::take(b);
        }
        for (a, b) in self.rejections.iter_mut().zip(other.rejections.iter_mut()) {
            for (x, y) in a.iter_mut().zip(b.iter_mut()) {
                *x += std::mem::take(y);
            }
        }
        self.lines += std::mem::take(&mut other.lines);
        self.bytes_in += std::mem::take(&mut other.bytes_in);
        self.bytes_out += std::mem::take(&mut other.bytes_out);
        self.failed_closed += std::mem::take(&mut other.failed_closed);
        self.dropped += std::mem::take(&mut other.dropped);
        self.dropped_output_full += std::mem::take(&mut other.dropped_output_full);
        self.malformed += std::mem::take(&mut other.malformed);
        for (id, t) in std::mem::take(&mut other.by_rule) {
            let mine = self.by_rule.entry(id).or_default();
            mine.redactions += t.redactions;
            for (a, b) in mine.rejections.iter_mut().zip(t.rejections) {
                *a += b;
            }
        }
    }
}
