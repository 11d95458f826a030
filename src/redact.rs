//! The redactor: turns a line into its scrubbed form.
//!
//! It runs the [`Scanner`] over each line and writes the line with every
//! finding replaced as the scanner's [`Policy`](crate::policy::Policy)
//! says (label, mask, hash), or drops the line when a finding's action is
//! `drop`. Every other byte is copied as it is:
//! invalid UTF-8, NUL bytes, `\r\n` and a missing final newline included.
//! It also carries the state that spans lines: the body of a multi-line
//! private-key block, which is redacted line by line until its END marker,
//! for at most [`MAX_BLOCK_LINES`] lines; and fields named on an earlier
//! line (a table header's columns, a dump key whose value is on the next
//! line), followed for a bounded number of lines (see [`format::carry`]).

use std::ops::Range;
use std::sync::Arc;

use crate::findings::FindingRecord;
use crate::format::carry::Carry;
use crate::format::{self, Format, Parsed, Quote, StructureScratch};
use crate::policy::Action;
use crate::scan::{Finding, RawView, Scanner, Scratch};
use crate::stats::Stats;

/// The longest private-key body followed across lines; a block without an
/// END marker stops being followed after this many lines.
pub const MAX_BLOCK_LINES: u32 = 200;

/// What replaces a line that is longer than the limit.
pub const OVERLONG_MARKER: &[u8] = b"[LINE_TOO_LONG_REDACTED]";

/// After a batch of at least [`GATE_MIN_LINES`] lines in which the line gate
/// flagged more than half, or in which its cache gave up, this many batches
/// are scrubbed without it (a log with a secret on most lines gains nothing
/// from it); then it is tried again.
const GATE_REST_BATCHES: u32 = 16;
/// Batches shorter than this say too little to rest the gate.
const GATE_MIN_LINES: usize = 64;

/// What happens to a line longer than the limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OverlongPolicy {
    /// Replace it with [`OVERLONG_MARKER`].
    #[default]
    Replace,
    /// Drop it (counted).
    Drop,
}

/// How a [`Redactor`] scrubs: one value, set whole when the redactor is
/// made and kept whole when its configuration is swapped on reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScrubOptions {
    /// Lines longer than this many bytes (terminator excluded) are replaced
    /// whole (fail closed).
    pub max_line_bytes: usize,
    /// What happens to over-long lines.
    pub overlong: OverlongPolicy,
    /// How lines are read.
    pub format: Format,
    /// Keep a record of every finding (see [`Redactor::take_records`]).
    pub record_findings: bool,
}

impl ScrubOptions {
    /// Whether the framer must keep a run of CRI partial lines in one
    /// batch: the redactor joins them only within a batch (formats `auto`
    /// and `cri`).
    pub fn holds_cri_partials(&self) -> bool {
        matches!(self.format, Format::Auto | Format::Cri)
    }
}

impl Default for ScrubOptions {
    fn default() -> ScrubOptions {
        ScrubOptions {
            max_line_bytes: crate::framing::DEFAULT_MAX_LINE_BYTES,
            overlong: OverlongPolicy::Replace,
            format: Format::Auto,
            record_findings: false,
        }
    }
}

/// A scrubber for one stream of lines.
pub struct Redactor {
    scanner: Arc<Scanner>,
    scratch: Scratch,
    /// Index of the private-key rule, when enabled.
    block_rule: Option<usize>,
    /// Lines of a private-key body still to redact, when inside one.
    block_lines_left: u32,
    /// Fields named on an earlier line, at the next line.
    carry: Carry,
    /// Scratch: the id cells of the current table row.
    id_cells: Vec<Range<usize>>,
    /// Scratch for name look-ups of the carried state.
    carry_buf: Vec<u8>,
    /// How lines are read and what happens to over-long ones.
    options: ScrubOptions,
    structure: StructureScratch,
    /// CRI partial lines held until their message is complete.
    partials: Partials,
    /// Where each finding was, when asked for (scan mode, `--findings`).
    records: Option<Vec<FindingRecord>>,
    /// Lines seen before the next one, for records.
    line_no: u64,
    /// Batches still to scrub without the line gate: when it flagged most
    /// lines of a batch, it only costs time, so it rests for a while.
    gate_rest: u32,
}

/// Held CRI partial lines.
#[derive(Default)]
struct Partials {
    /// The lines' bytes, terminators included.
    bytes: Vec<u8>,
    /// Each line's range in `bytes`, and its message's range in the line.
    lines: Vec<(Range<usize>, Range<usize>)>,
    /// `stdout` or `stderr`.
    stream: [u8; 6],
    /// Scratch for the joined message.
    joined: Vec<u8>,
}

impl Partials {
    fn push(&mut self, line: &[u8], message: Range<usize>, stream: [u8; 6]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(line);
        self.lines.push((start..self.bytes.len(), message));
        self.stream = stream;
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.lines.clear();
    }
}

/// The stream name of a CRI line (`stdout`/`stderr`), known to parse.
fn cri_stream(content: &[u8]) -> [u8; 6] {
    let sp = memchr::memchr(b' ', content).unwrap_or(0);
    let mut s = [0u8; 6];
    if let Some(name) = content.get(sp + 1..sp + 7) {
        s.copy_from_slice(name);
    }
    s
}

/// How deep a line is read, as the line gate and filter found.
#[derive(Clone, Copy, Debug)]
struct Depth {
    /// The indexed rules run over the raw bytes: the line filter found one
    /// of their literals there.
    literal: bool,
    /// The automaton runs over the raw bytes too: the gate flagged the
    /// line (or did not look at it).
    automaton: bool,
    /// The JSON and logfmt walks and the field recognizer read the line
    /// for sensitive keys. A key matches a sensitive name by its words (see
    /// `SensitiveKeys::lookup`), so it holds one of the name's spellings at
    /// a word start, which the line filter flags: joined by nothing, `_`,
    /// `-`, `.` or a space.
    walk: bool,
}

/// A sorted list of flagged line starts, asked in increasing order.
struct FlaggedLines<'a> {
    starts: &'a [usize],
    next: usize,
}

impl<'a> FlaggedLines<'a> {
    fn new(starts: &'a [usize]) -> FlaggedLines<'a> {
        FlaggedLines { starts, next: 0 }
    }

    /// Whether the line starting at `start` is flagged; `start` must not
    /// be below the one asked before.
    fn holds(&mut self, start: usize) -> bool {
        while self.starts.get(self.next).is_some_and(|&f| f < start) {
            self.next += 1;
        }
        self.starts.get(self.next) == Some(&start)
    }
}

impl Depth {
    /// Everything: a line the gate did not look at.
    const FULL: Depth = Depth {
        literal: true,
        automaton: true,
        walk: true,
    };

    /// What the raw view of the scan reads.
    fn raw_view(self) -> RawView {
        match (self.literal, self.automaton) {
            (true, true) => RawView::Full,
            (false, true) => RawView::Automaton,
            (true, false) => RawView::Indexed,
            (false, false) => RawView::Skip,
        }
    }
}

impl Redactor {
    /// A redactor using `scanner`'s rules.
    pub fn new(scanner: Arc<Scanner>) -> Redactor {
        let scratch = scanner.scratch();
        let block_rule = scanner.block_rule();
        Redactor {
            scanner,
            scratch,
            block_rule,
            block_lines_left: 0,
            carry: Carry::NONE,
            id_cells: Vec::new(),
            carry_buf: Vec::new(),
            options: ScrubOptions::default(),
            structure: StructureScratch::default(),
            partials: Partials::default(),
            records: None,
            line_no: 0,
            gate_rest: 0,
        }
    }

    /// A redactor using `scanner`'s rules, scrubbing as `options` say.
    pub fn with_options(scanner: Arc<Scanner>, options: ScrubOptions) -> Redactor {
        let mut redactor = Redactor::new(scanner);
        redactor.options = options;
        redactor.set_record_findings(options.record_findings);
        redactor
    }

    /// How it scrubs.
    pub fn options(&self) -> ScrubOptions {
        self.options
    }

    /// Records where each finding is (see [`Redactor::take_records`]).
    pub fn set_record_findings(&mut self, yes: bool) {
        self.options.record_findings = yes;
        self.records = if yes { Some(Vec::new()) } else { None };
    }

    /// Sets how many lines of the input came before the next line, so
    /// records carry input line numbers.
    pub fn set_line_number(&mut self, lines_before: u64) {
        self.line_no = lines_before;
    }

    /// The records since the last call.
    pub fn take_records(&mut self) -> Vec<FindingRecord> {
        self.records
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Records the findings of the current line: `part` is the range of
    /// finding coordinates it covers, `shift` maps them to line offsets.
    fn record(&mut self, part: Range<usize>, shift: isize) {
        let Some(records) = self.records.as_mut() else {
            return;
        };
        let policy = self.scanner.policy();
        for f in &self.scratch.findings {
            if f.span.end <= part.start || f.span.start >= part.end {
                continue;
            }
            let start = f.span.start.max(part.start) as isize + shift;
            let end = f.span.end.min(part.end) as isize + shift;
            records.push(FindingRecord {
                line: self.line_no,
                start: start.max(0) as usize,
                end: end.max(0) as usize,
                rule: self.scanner.rules()[f.rule].id.clone(),
                fingerprint: policy.fingerprint(f.rule, &self.scratch.texts[f.text.clone()]),
            });
        }
    }

    /// Sets how lines are read (default: auto).
    pub fn set_format(&mut self, format: Format) {
        self.options.format = format;
    }

    /// Sets what happens to over-long lines.
    pub fn set_overlong_policy(&mut self, policy: OverlongPolicy) {
        self.options.overlong = policy;
    }

    /// Sets the over-long-line limit (terminator excluded).
    pub fn set_max_line_bytes(&mut self, max: usize) {
        self.options.max_line_bytes = max;
    }

    /// Writes the marker for a line that cannot be scanned, and counts it.
    pub fn fail_closed(&mut self, terminated: bool, out: &mut Vec<u8>) {
        self.scratch.stats.lines += 1;
        self.scratch.stats.failed_closed += 1;
        self.line_no += 1;
        if let Some(records) = self.records.as_mut() {
            records.push(FindingRecord {
                line: self.line_no,
                start: 0,
                end: 0,
                rule: "line_too_long".into(),
                fingerprint: None,
            });
        }
        if self.options.overlong == OverlongPolicy::Drop {
            self.scratch.stats.dropped += 1;
            return;
        }
        out.extend_from_slice(OVERLONG_MARKER);
        if terminated {
            out.push(b'\n');
        }
        self.scratch.stats.bytes_out += (OVERLONG_MARKER.len() + usize::from(terminated)) as u64;
    }

    /// The counters accumulated so far.
    pub fn stats_mut(&mut self) -> &mut Stats {
        &mut self.scratch.stats
    }

    /// Takes the counters, per-rule counts keyed by rule id.
    pub fn take_stats(&mut self) -> Stats {
        let n = self.scanner.rules().len();
        let mut stats = std::mem::replace(&mut self.scratch.stats, Stats::new(n));
        stats.fold_by_id(self.scanner.rules().iter().map(|r| r.id.as_str()), 0);
        stats
    }

    /// The rules and policy in use.
    pub fn scanner(&self) -> &Arc<Scanner> {
        &self.scanner
    }

    /// Switches to another configuration (rules, policy, sensitive keys)
    /// between two lines. Everything else is the stream's and carries on:
    /// the options, the counters (folded by rule id), the finding records
    /// and line number, held CRI partial lines, the line gate's rest and the
    /// private-key block state (while the new rules still follow blocks).
    pub fn replace_scanner(&mut self, scanner: Arc<Scanner>) {
        let mut stats = std::mem::take(&mut self.scratch.stats);
        stats.fold_by_id(
            self.scanner.rules().iter().map(|r| r.id.as_str()),
            scanner.rules().len(),
        );
        self.scratch = scanner.scratch();
        self.scratch.stats = stats;
        self.block_rule = scanner.block_rule();
        if self.block_rule.is_none() {
            self.block_lines_left = 0;
        }
        self.scanner = scanner;
    }

    /// Scrubs a buffer of whole lines (the last one may lack its newline)
    /// and appends the result to `out`. CRI partial lines are joined within
    /// the buffer (the line reader keeps a run of them in one batch).
    ///
    /// The scanner's line gate runs over the whole buffer first; the
    /// automaton then runs only over the lines it flags.
    pub fn scrub_lines(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let gated = if self.gate_rest > 0 {
            self.gate_rest -= 1;
            false
        } else if self.scanner.flag_lines(input, &mut self.scratch) {
            true
        } else {
            // No gate, or its cache gave up on this input: rest it.
            self.gate_rest = GATE_REST_BATCHES;
            false
        };
        let flagged = std::mem::take(&mut self.scratch.flagged);
        let automaton_flagged = std::mem::take(&mut self.scratch.automaton_flagged);
        let literal_flagged = std::mem::take(&mut self.scratch.literal_flagged);
        let named = std::mem::take(&mut self.scratch.named);
        let mut automaton_lines = FlaggedLines::new(&automaton_flagged);
        let mut literal_lines = FlaggedLines::new(&literal_flagged);
        let mut named_lines = FlaggedLines::new(&named);
        let mut lines = 0usize;
        let mut start = 0;
        while start < input.len() {
            let end = memchr::memchr(b'\n', &input[start..]).map_or(input.len(), |i| start + i + 1);
            // The automaton reads the lines the gate flagged, the indexed
            // rules those holding one of their literals, and the field
            // recognizer and the structure walks those where the line filter
            // found a sensitive name's spelling.
            let depth = if gated {
                Depth {
                    literal: literal_lines.holds(start),
                    automaton: automaton_lines.holds(start),
                    walk: named_lines.holds(start),
                }
            } else {
                Depth::FULL
            };
            self.scrub_gated_line(&input[start..end], depth, out);
            lines += 1;
            start = end;
        }
        if gated && flagged.len() * 2 > lines && lines >= GATE_MIN_LINES {
            self.gate_rest = GATE_REST_BATCHES;
        }
        self.scratch.flagged = flagged;
        self.scratch.automaton_flagged = automaton_flagged;
        self.scratch.literal_flagged = literal_flagged;
        self.scratch.named = named;
        self.scratch.forget_batch();
        self.finish(out);
    }

    /// Scrubs one line, with or without its terminator, appending to `out`.
    ///
    /// A CRI partial line (`P`) is held until the line that completes it,
    /// and the joined message is scanned, so a secret split across the
    /// partial boundary is caught; each line keeps its own framing. Held
    /// lines are written by the completing line, by a line of another kind
    /// or stream, when they pass the line limit together, or by
    /// [`Redactor::finish`].
    pub fn scrub_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        self.scrub_gated_line(line, Depth::FULL, out)
    }

    /// As [`Redactor::scrub_line`], reading the line as deep as `depth`
    /// says the line gate allows.
    fn scrub_gated_line(&mut self, line: &[u8], depth: Depth, out: &mut Vec<u8>) {
        if matches!(self.options.format, Format::Auto | Format::Cri) {
            let content = line_content(line);
            let cri = if content.len() <= self.options.max_line_bytes {
                format::parse_cri(content)
            } else {
                None
            };
            match cri {
                Some(c) if c.partial => {
                    let same = self.partials.lines.is_empty()
                        || self.partials.stream == cri_stream(content);
                    if !same || self.partials.bytes.len() + line.len() > self.options.max_line_bytes
                    {
                        self.finish(out);
                    }
                    if line.len() <= self.options.max_line_bytes {
                        self.partials.push(line, c.message, cri_stream(content));
                        return;
                    }
                }
                Some(c) if !self.partials.lines.is_empty() => {
                    if self.partials.stream == cri_stream(content) {
                        self.partials.push(line, c.message, cri_stream(content));
                        self.join_partials(out);
                        return;
                    }
                    self.finish(out);
                }
                _ => self.finish(out),
            }
        }
        self.scrub_one(line, depth, out);
    }

    /// Writes the CRI partial lines still held, each scrubbed alone. Call it
    /// at the end of the input.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.partials.lines.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.partials);
        for (line, _) in &held.lines {
            self.scrub_one(&held.bytes[line.clone()], Depth::FULL, out);
        }
        self.partials = held;
        self.partials.clear();
    }

    /// Scans the held partial lines and the completing line as one message,
    /// and writes each line with its part of every finding.
    fn join_partials(&mut self, out: &mut Vec<u8>) {
        let mut held = std::mem::take(&mut self.partials);
        // Private-key blocks inside partial lines: scrub line by line.
        let mut left = self.block_lines_left;
        let mut blocky = false;
        for (line, _) in &held.lines {
            let (after, body) = block_step(line_content(&held.bytes[line.clone()]), left);
            blocky |= body.is_some() || after > 0;
            left = after;
        }
        if blocky {
            self.partials = held;
            self.finish(out);
            return;
        }
        for (line, _) in &held.lines {
            let content = line_content(&held.bytes[line.clone()]);
            format::carry::step(
                content,
                &mut self.carry,
                self.scanner.sensitive_keys(),
                &mut self.carry_buf,
            );
        }
        held.joined.clear();
        let mut parts = Vec::with_capacity(held.lines.len());
        for (line, msg) in &held.lines {
            let start = held.joined.len();
            let content = line_content(&held.bytes[line.clone()]);
            held.joined
                .extend_from_slice(&content[msg.start.min(content.len())..]);
            parts.push(start..held.joined.len());
        }
        let joined = std::mem::take(&mut held.joined);
        self.scanner.scan_line(&joined, &mut self.scratch);
        // The joined message has no CRI header: read it as JSON, logfmt or
        // raw text.
        self.add_structure(&joined, Format::Auto, Depth::FULL, None);
        let policy = self.scanner.policy();
        let dropped = self
            .scratch
            .findings
            .iter()
            .any(|f| policy.rule(f.rule).action == Action::Drop);
        for ((line, msg), part) in held.lines.iter().zip(&parts) {
            let bytes = &held.bytes[line.clone()];
            self.scratch.stats.lines += 1;
            self.scratch.stats.bytes_in += bytes.len() as u64;
            self.line_no += 1;
            if self.records.is_some() {
                let msg_start = msg.start.min(line_content(bytes).len());
                self.record(part.clone(), msg_start as isize - part.start as isize);
            }
            let policy = self.scanner.policy();
            if dropped {
                self.scratch.stats.dropped += 1;
                continue;
            }
            let out_before = out.len();
            let content = line_content(bytes);
            let msg_start = msg.start.min(content.len());
            out.extend_from_slice(&content[..msg_start]);
            let mut copied = part.start;
            for f in &self.scratch.findings {
                if f.span.end <= part.start || f.span.start >= part.end {
                    continue;
                }
                let s = f.span.start.max(part.start);
                out.extend_from_slice(&joined[copied..s]);
                if f.span.start >= part.start {
                    // The replacement goes where the secret starts; later
                    // parts of it are removed.
                    out.extend_from_slice(f.quote.mark());
                    write_replacement(policy, f, &self.scratch.texts, out);
                    out.extend_from_slice(f.quote.mark());
                }
                copied = f.span.end.min(part.end);
            }
            out.extend_from_slice(&joined[copied..part.end]);
            out.extend_from_slice(&bytes[content.len()..]);
            self.scratch.stats.bytes_out += (out.len() - out_before) as u64;
        }
        held.joined = joined;
        held.clear();
        self.partials = held;
    }

    /// Scrubs one line on its own.
    fn scrub_one(&mut self, line: &[u8], depth: Depth, out: &mut Vec<u8>) {
        let content = line_content(line);
        if content.len() > self.options.max_line_bytes {
            self.scratch.stats.bytes_in += line.len() as u64;
            self.carry = Carry::NONE;
            self.fail_closed(line.last() == Some(&b'\n'), out);
            return;
        }
        // Copied only when open: the state is small, not free.
        let carried = self.carry.is_open().then_some(self.carry);
        format::carry::step(
            content,
            &mut self.carry,
            self.scanner.sensitive_keys(),
            &mut self.carry_buf,
        );
        let out_before = out.len();
        self.scratch.stats.lines += 1;
        self.scratch.stats.bytes_in += line.len() as u64;
        self.line_no += 1;

        self.scanner
            .scan_gated_line(content, depth.raw_view(), &mut self.scratch);
        if self.scratch.overflowed {
            // More findings than memory is allowed for: fail closed.
            self.scratch.stats.lines -= 1;
            self.line_no -= 1;
            self.fail_closed(line.last() == Some(&b'\n'), out);
            return;
        }
        if self.block_rule.is_some() {
            let (left, body) = block_step(content, self.block_lines_left);
            self.block_lines_left = left;
            if let Some(body) = body {
                self.redact_block_body(content, body);
            }
        }

        if self.options.format != Format::Raw {
            // The field recognizer runs where the name gate saw a sensitive
            // name may be (or on every line when the batch was not gated).
            self.add_structure(content, self.options.format, depth, carried);
        }
        if self.records.is_some() {
            self.record(0..content.len(), 0);
        }

        let policy = self.scanner.policy();
        let findings = &self.scratch.findings;
        if findings
            .iter()
            .any(|f| policy.rule(f.rule).action == Action::Drop)
        {
            self.scratch.stats.dropped += 1;
            return;
        }
        let mut copied = 0;
        for f in findings {
            out.extend_from_slice(&content[copied..f.span.start]);
            out.extend_from_slice(f.quote.mark());
            write_replacement(policy, f, &self.scratch.texts, out);
            out.extend_from_slice(f.quote.mark());
            copied = f.span.end;
        }
        out.extend_from_slice(&line[copied..]);
        self.scratch.stats.bytes_out += (out.len() - out_before) as u64;
    }

    /// Adds what the line's structure shows: values of sensitive keys, and
    /// quotes around replacements of bare JSON numbers.
    /// `carried` is the state of fields named on earlier lines.
    fn add_structure(
        &mut self,
        content: &[u8],
        format: Format,
        depth: Depth,
        carried: Option<Carry>,
    ) {
        if !depth.walk && carried.is_none() && self.scratch.findings.is_empty() {
            // No sensitive key or carried field can be in the line and no
            // finding needs its structure: only whether it is well-formed
            // is counted.
            if format::malformed(content, format) {
                self.scratch.stats.malformed += 1;
            }
            return;
        }
        let names = depth.walk;
        let parsed = format::structure(
            content,
            format,
            self.scanner.sensitive_keys(),
            &mut self.structure,
        );
        if names {
            format::fields(content, self.scanner.sensitive_keys(), &mut self.structure);
            // The same names in the decoded views: `\u003cpassword\u003e…`
            // in a Docker record, a list in JSON inside a JSON string.
            for (view, encoding) in self.scratch.decoded_views() {
                format::fields_in_view(
                    view,
                    encoding,
                    self.scanner.sensitive_keys(),
                    &mut self.structure,
                );
            }
        }
        if let Some(carried) = carried {
            self.carried_fields(content, carried);
        }
        if parsed == Parsed::Malformed {
            self.scratch.stats.malformed += 1;
        }
        let st = &self.structure;
        if st.findings.is_empty() && (st.scalars.is_empty() || self.scratch.findings.is_empty()) {
            return;
        }
        for f in &mut self.scratch.findings {
            if let Some((span, quote)) = st
                .scalars
                .iter()
                .find(|(s, _)| s.start <= f.span.start && f.span.end <= s.end)
            {
                // A finding in a bare number replaces the whole number,
                // as a string.
                f.span = span.clone();
                f.quote = *quote;
            }
        }
        let mut added = false;
        for (rule, span, quote) in &st.findings {
            let value = &content[span.clone()];
            if self.scanner.is_label(value) || self.scanner.policy().allows(*rule, value) {
                continue;
            }
            // Counted once: a value the scanner found already is only
            // widened to the whole value.
            let seen = self
                .scratch
                .findings
                .iter()
                .any(|f| f.span.start < span.end && span.start < f.span.end);
            if !seen {
                self.scratch.stats.redactions[*rule] += 1;
            }
            let text = self.scratch.texts.len()..self.scratch.texts.len() + span.len();
            self.scratch.texts.extend_from_slice(value);
            self.scratch.findings.push(Finding {
                rule: *rule,
                span: span.clone(),
                text,
                quote: *quote,
                enc: Default::default(),
            });
            added = true;
        }
        if added {
            crate::scan::merge_findings(&mut self.scratch.findings);
        }
    }

    /// Adds the values of fields named on earlier lines (table cells, a
    /// dump key's value) to the structure's findings, and drops the card
    /// findings that are the whole cell of an id column (as the `pan`
    /// validator does for the value of an id key).
    fn carried_fields(&mut self, content: &[u8], carried: Carry) {
        self.id_cells.clear();
        format::carry::cells(
            content,
            carried,
            self.scanner.sensitive_keys(),
            &mut self.structure.findings,
            &mut self.id_cells,
        );
        if self.id_cells.is_empty() {
            return;
        }
        let rules = self.scanner.rules();
        let stats = &mut self.scratch.stats;
        let id_cells = &self.id_cells;
        self.scratch.findings.retain(|f| {
            let id = rules[f.rule].validator == Some(crate::rules::Validator::Pan)
                && id_cells.contains(&f.span);
            if id {
                stats.redactions[f.rule] -= 1;
            }
            !id
        });
    }

    /// Adds the private-key body span of a line to its findings.
    fn redact_block_body(&mut self, content: &[u8], body: Range<usize>) {
        let Some(rule) = self.block_rule else { return };
        self.scratch.stats.redactions[rule] += 1;
        let text = self.scratch.texts.len()..self.scratch.texts.len() + body.len();
        self.scratch.texts.extend_from_slice(&content[body.clone()]);
        self.scratch.findings.push(Finding {
            rule,
            span: body,
            text,
            quote: Quote::None,
            enc: Default::default(),
        });
        crate::scan::merge_findings(&mut self.scratch.findings);
    }

    /// Sets the private-key block state at the start of the next line: the
    /// number of body lines still to redact (see [`block_state_after`]).
    pub fn set_block_state(&mut self, lines_left: u32) {
        self.block_lines_left = lines_left;
    }

    /// Sets the state of fields named on earlier lines at the start of the
    /// next line (see [`format::carry::state_after`]).
    pub fn set_carry(&mut self, carry: Carry) {
        self.carry = carry;
    }

    /// Where the stream stands at the next line: what
    /// [`Redactor::set_line_number`], [`Redactor::set_block_state`] and
    /// [`Redactor::set_carry`] restore (to scrub several streams in turn).
    pub fn cursor(&self) -> StreamCursor {
        StreamCursor {
            lines: self.line_no,
            block_lines_left: self.block_lines_left,
            carry: self.carry,
        }
    }
}

/// One line's step of the private-key block state machine: given the lines
/// left before `content`, returns the lines left after it and the span of
/// `content` that is key body, if any.
///
/// A block opens on a line that ends with a `-----BEGIN … PRIVATE KEY-----`
/// marker; inside it every line up to the `-----END` marker is body; it
/// closes at that marker or after [`MAX_BLOCK_LINES`] lines.
fn block_step(content: &[u8], left: u32) -> (u32, Option<Range<usize>>) {
    let mut body = None;
    let mut after = left;
    if left > 0 {
        let end = memchr::memmem::find(content, b"-----END");
        let region = &content[..end.unwrap_or(content.len())];
        let first = region.iter().position(|b| !b.is_ascii_whitespace());
        let last = region.iter().rposition(|b| !b.is_ascii_whitespace());
        if let (Some(first), Some(last)) = (first, last) {
            body = Some(first..last + 1);
        }
        after = if end.is_some() { 0 } else { left - 1 };
    }
    if opens_block(content) {
        after = MAX_BLOCK_LINES;
    }
    (after, body)
}

/// True when `content` ends (bar whitespace) with a private-key BEGIN marker.
fn opens_block(content: &[u8]) -> bool {
    const TAIL: &[u8] = b"PRIVATE KEY-----";
    let end = content
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let trimmed = &content[..end];
    if !trimmed.ends_with(TAIL) {
        return false;
    }
    let head = &trimmed[..trimmed.len() - TAIL.len()];
    match memchr::memmem::rfind(head, b"-----BEGIN ") {
        Some(i) => head[i + 11..]
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' '),
        None => false,
    }
}

/// The block state after a buffer of whole lines, starting from `left`: what
/// a [`Redactor`] would carry into the next line. Lets a pipeline hand each
/// batch its starting state without scrubbing the batches in sequence.
///
/// Reads only the batch's last [`MAX_BLOCK_LINES`] lines that the redactor
/// steps through (those within `max_line_bytes`): a block opened before
/// them has closed by their end, whatever `left` was, so the state after
/// them is the state they give from a closed block. Costs one substring
/// search of that tail unless a block is open or begins in it.
pub fn block_state_after(lines: &[u8], left: u32, max_line_bytes: usize) -> u32 {
    let (tail, mut left) =
        match start_of_last_lines(lines, MAX_BLOCK_LINES as usize, max_line_bytes) {
            Some(from) => (&lines[from..], 0),
            None => (lines, left),
        };
    if left == 0 && memchr::memmem::find(tail, b"PRIVATE KEY-----").is_none() {
        return 0;
    }
    let mut start = 0;
    while start < tail.len() {
        let end = memchr::memchr(b'\n', &tail[start..]).map_or(tail.len(), |i| start + i + 1);
        let content = line_content(&tail[start..end]);
        if content.len() <= max_line_bytes {
            left = block_step(content, left).0;
        }
        start = end;
    }
    left
}

/// Where the last `count` lines of `lines` that are at most `max_line_bytes`
/// long (terminator excluded) begin, the longer lines between them
/// included; `None` when `lines` holds fewer such lines.
fn start_of_last_lines(lines: &[u8], count: usize, max_line_bytes: usize) -> Option<usize> {
    if lines.is_empty() || count == 0 {
        return None;
    }
    // The last line's own newline does not start a line.
    let body = lines.strip_suffix(b"\n").unwrap_or(lines);
    let starts = memchr::memrchr_iter(b'\n', body)
        .map(|newline| newline + 1)
        .chain(std::iter::once(0));
    let (mut end, mut seen) = (lines.len(), 0);
    for start in starts {
        if line_content(&lines[start..end]).len() <= max_line_bytes {
            seen += 1;
            if seen == count {
                return Some(start);
            }
        }
        end = start;
    }
    None
}

/// Writes the replacement of `f` in the encoding of its raw span (a
/// finding of a percent-decoded view is written percent-encoded, …).
fn write_replacement(policy: &crate::policy::Policy, f: &Finding, texts: &[u8], out: &mut Vec<u8>) {
    let text = &texts[f.text.clone()];
    if f.enc.is_raw() {
        policy.write_replacement(f.rule, text, out);
    } else {
        let mut plain = Vec::with_capacity(32);
        policy.write_replacement(f.rule, text, &mut plain);
        f.enc.encode(&plain, out);
    }
}

/// A line without its `\n` or `\r\n` terminator.
fn line_content(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    if end > 0 && line[end - 1] == b'\n' {
        end -= 1;
    }
    if end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    &line[..end]
}

/// Prepares a chunk's lines at the generation seams of their file before
/// the main scan: where a partial line carried over from the previous
/// generation meets its continuation (`join`, see [`prescrub_seam`]), and
/// where a partial line was ended alone (`cuts`: the offsets just after
/// the newline that was added to end it; 0 when the chunk's first line may
/// continue a line that went out alone). Lines are scanned whole, but a
/// line cut in two is two lines: a card split between them is in neither,
/// so at a cut the digits that end the line before it and the digits that
/// start the line after it are replaced ([`fail_closed_at_cut`]). Returns
/// how many lines were failed closed (also counted, reason `seam`).
pub fn prepare_seams(
    scanner: &Arc<Scanner>,
    lines: &mut Vec<u8>,
    join: Option<usize>,
    cuts: &[usize],
) -> u64 {
    let join = join.filter(|&j| j > 0 && j < lines.len() && lines[j] != b'\n');
    if join.is_none() && cuts.is_empty() {
        return 0;
    }
    let mut out = Vec::with_capacity(lines.len() + 64);
    let mut failed = 0;
    let mut start = 0;
    for line in lines.split_inclusive(|&b| b == b'\n') {
        let end = start + line.len();
        let head_cut = cuts.contains(&start);
        let tail_cut = line.ends_with(b"\n") && cuts.contains(&end);
        let joined_at = join.filter(|&j| j > start && j < end).map(|j| j - start);
        if !head_cut && !tail_cut && joined_at.is_none() {
            out.extend_from_slice(line);
            start = end;
            continue;
        }
        let mut l = line.to_vec();
        let mut closed = false;
        if let Some(at) = joined_at {
            // A join that is also a cut: the continuation is uncertain.
            let uncertain = join.is_some_and(|j| cuts.contains(&j));
            closed |= prescrub_seam(scanner, &mut l, at, uncertain);
        }
        if head_cut {
            closed |= fail_closed_at_cut(&mut l, Edge::Head);
        }
        if tail_cut {
            closed |= fail_closed_at_cut(&mut l, Edge::Tail);
        }
        failed += u64::from(closed);
        out.extend_from_slice(&l);
        start = end;
    }
    *lines = out;
    crate::telemetry::count_failed_closed("seam", failed);
    failed
}

/// Prepares the line of `lines` where a carried partial line meets its
/// continuation (at byte `seam`) for scanning. The writer usually continued
/// that line in the next generation, and the joined line is scanned whole.
/// But copytruncate can lose bytes in between, and then the two parts are
/// pieces of different lines, glued: a card number at the start of the
/// continuation, glued to digits before the seam, would no longer look like
/// one. So each part is scrubbed alone first, and the joined result is
/// scrubbed again by the caller: what either reading finds is redacted.
/// A digit run across the seam that holds a card-like window is replaced
/// whole ([`fail_closed_across_seam`]); so is, when the continuation is
/// `uncertain` (copytruncate), a run with more than four digits on either
/// side of the seam: those could be a card cut in two with the bytes in
/// between lost. Returns whether a run was replaced.
pub fn prescrub_seam(
    scanner: &Arc<Scanner>,
    lines: &mut Vec<u8>,
    seam: usize,
    uncertain: bool,
) -> bool {
    if seam == 0 || seam >= lines.len() {
        return false;
    }
    let start = memchr::memrchr(b'\n', &lines[..seam]).map_or(0, |i| i + 1);
    let end = memchr::memchr(b'\n', &lines[seam..]).map_or(lines.len(), |i| seam + i + 1);
    // (The line limit is the main pass's business.)
    let mut redactor = Redactor::new(Arc::clone(scanner));
    redactor.set_max_line_bytes(usize::MAX);
    let mut joined = Vec::with_capacity(end - start + 64);
    redactor.scrub_lines(&lines[start..seam], &mut joined);
    let mid = joined.len();
    redactor.scrub_lines(&lines[seam..end], &mut joined);
    let closed = fail_closed_across_seam(&mut joined, mid, uncertain);
    lines.splice(start..end, joined);
    closed
}

/// Whether `b` may sit between the digit groups of a card number (the
/// separators the card rule accepts: blanks, dashes, dots, and the bytes of
/// Unicode spaces and dashes).
fn is_card_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'-' | b'.') || b >= 0x80
}

/// The longest separator run between two digit groups of a card.
const MAX_CARD_SEPARATOR: usize = 3;

/// The digit run around `at` (`from..to`, digits at both ends, groups
/// separated by at most [`MAX_CARD_SEPARATOR`] separator bytes), the way
/// a card number is written. `at` is a position between two bytes: the
/// run may end just before it or start at it.
fn digit_run(text: &[u8], at: usize) -> Option<(usize, usize)> {
    let (mut from, mut to) = match (digit_before(text, at), digit_from(text, at)) {
        (Some(l), Some(r)) => (l, r + 1),
        (Some(l), None) => (l, l + 1),
        (None, Some(r)) => (r, r + 1),
        (None, None) => return None,
    };
    while let Some(l) = digit_before(text, from) {
        from = l;
    }
    while let Some(r) = digit_from(text, to) {
        to = r + 1;
    }
    Some((from, to))
}

/// The last digit before `at`, across at most one separator gap.
fn digit_before(text: &[u8], at: usize) -> Option<usize> {
    let mut j = at.min(text.len());
    let mut gap = 0;
    while j > 0 {
        let b = text[j - 1];
        if b.is_ascii_digit() {
            return Some(j - 1);
        }
        if !is_card_separator(b) || gap == MAX_CARD_SEPARATOR {
            return None;
        }
        gap += 1;
        j -= 1;
    }
    None
}

/// The first digit at or after `at`, across at most one separator gap.
fn digit_from(text: &[u8], at: usize) -> Option<usize> {
    let mut j = at;
    let mut gap = 0;
    while j < text.len() {
        let b = text[j];
        if b.is_ascii_digit() {
            return Some(j);
        }
        if !is_card_separator(b) || gap == MAX_CARD_SEPARATOR {
            return None;
        }
        gap += 1;
        j += 1;
    }
    None
}

/// The digits of `run`.
fn digits_of(run: &[u8]) -> Vec<u8> {
    run.iter().copied().filter(u8::is_ascii_digit).collect()
}

/// Whether some card-length window of `digits` looks like a card: a
/// network's first digit (2–6) and a valid Luhn check.
fn holds_card_window(digits: &[u8]) -> bool {
    (13..=19.min(digits.len())).any(|len| {
        digits
            .windows(len)
            .any(|w| matches!(w[0], b'2'..=b'6') && crate::rules::validate::luhn_valid(w))
    })
}

/// Digits glued at a seam can hold a card whose two parts neither half
/// shows and the whole line hides, in a digit run that is not a card as a
/// whole (`card=41111111` + lost bytes + `111111111 user`: 17 digits). A
/// digit run across the seam (with a card's separators) in which some
/// card-length window starts with a network digit and passes Luhn is
/// replaced whole: fail closed, only ever at a seam. (A run that is one
/// card is replaced too: the label is the card rule's.) Returns whether a
/// run was replaced.
fn fail_closed_across_seam(joined: &mut Vec<u8>, mid: usize, uncertain: bool) -> bool {
    let Some((from, to)) = digit_run(joined, mid) else {
        return false;
    };
    let before = if from < mid {
        digits_of(&joined[from..mid.min(to)]).len()
    } else {
        0
    };
    let after = if to > mid {
        digits_of(&joined[mid.max(from)..to]).len()
    } else {
        0
    };
    if uncertain && (before > CUT_EDGE_DIGITS || after > CUT_EDGE_DIGITS) {
        joined.splice(from..to, SEAM_CARD_LABEL.iter().copied());
        return true;
    }
    // Digits on one side only: each half was scanned alone.
    if before == 0 || after == 0 {
        return false;
    }
    if holds_card_window(&digits_of(&joined[from..to])) {
        joined.splice(from..to, SEAM_CARD_LABEL.iter().copied());
        return true;
    }
    false
}

/// Which end of a line was cut at a seam.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Edge {
    /// The line may continue a line that went out alone before it.
    Head,
    /// The line was ended alone; its continuation may come as a line of its own.
    Tail,
}

/// More digits than this at a cut edge are replaced: four digits of a
/// card are less than what may be shown of one (the first six, the last
/// four), and a card cut in two leaves more than four on one side.
const CUT_EDGE_DIGITS: usize = 4;

/// A line cut at a seam (its other part goes out as another line, or was
/// lost): a card split by the cut is whole in neither line, so the digit
/// run at the cut edge is replaced when it holds more than
/// [`CUT_EDGE_DIGITS`] digits. Returns whether it was.
fn fail_closed_at_cut(line: &mut Vec<u8>, edge: Edge) -> bool {
    let content_end = line_content(line).len();
    let at = match edge {
        Edge::Head => 0,
        Edge::Tail => content_end,
    };
    let Some((from, to)) = digit_run(&line[..content_end], at) else {
        return false;
    };
    // The run must touch the edge (separators in between are allowed).
    let touches = match edge {
        Edge::Head => line[..from].iter().all(|&b| is_card_separator(b)),
        Edge::Tail => line[to..content_end].iter().all(|&b| is_card_separator(b)),
    };
    if !touches || digits_of(&line[from..to]).len() <= CUT_EDGE_DIGITS {
        return false;
    }
    line.splice(from..to, SEAM_CARD_LABEL.iter().copied());
    true
}

/// What replaces a digit run at a seam that may hold a card.
const SEAM_CARD_LABEL: &[u8] = b"[CARD_REDACTED]";

/// Where a stream stands between two of its batches: lines before the next
/// one, and the private-key block state at its start. The one place that
/// sees a stream's batches in order (the pipe's reader, the service's
/// dispatcher) advances it, so each batch can then be scrubbed alone, on
/// any thread, by [`Redactor::set_line_number`] and
/// [`Redactor::set_block_state`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamCursor {
    /// Lines before the next batch (counted only when asked for).
    pub lines: u64,
    /// Private-key body lines still to redact at the next batch's start.
    pub block_lines_left: u32,
    /// Fields named on earlier lines, at the next batch's start.
    pub carry: Carry,
}

impl StreamCursor {
    /// The cursor at the start of the next batch, moved past it. `lines`
    /// holds the batch's whole lines (`None`: one over-long line, which
    /// leaves the block state as it is). The block state is followed only
    /// while `scanner` has a private-key rule; lines are counted only when
    /// `count_lines` (finding records need them; counting costs a pass).
    pub fn advance(
        &mut self,
        lines: Option<&[u8]>,
        scanner: &Scanner,
        count_lines: bool,
        max_line_bytes: usize,
    ) -> StreamCursor {
        if scanner.block_rule().is_none() {
            self.block_lines_left = 0;
        }
        let start = *self;
        match lines {
            Some(lines) => {
                if scanner.block_rule().is_some() {
                    self.block_lines_left =
                        block_state_after(lines, self.block_lines_left, max_line_bytes);
                }
                self.carry = format::carry::state_after(
                    lines,
                    self.carry,
                    scanner.sensitive_keys(),
                    max_line_bytes,
                );
                if count_lines {
                    self.lines += memchr::memchr_iter(b'\n', lines).count() as u64
                        + u64::from(lines.last().is_some_and(|&b| b != b'\n'));
                }
            }
            None => {
                self.lines += u64::from(count_lines);
                self.carry = Carry::NONE;
            }
        }
        start
    }
}

/// Scrubs `text` with the built-in rules: a convenience for tests and tools.
pub fn scrub_with(scanner: &Arc<Scanner>, text: &[u8]) -> Vec<u8> {
    let mut redactor = Redactor::new(Arc::clone(scanner));
    let mut out = Vec::with_capacity(text.len());
    redactor.scrub_lines(text, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_glued_into_a_long_run_at_a_seam_fails_closed() {
        let scanner = Arc::new(Scanner::builtin());
        // Bytes lost between `card=41111111` and the next line's digits.
        let mut lines = b"w=1 seq=054924 card=41111111".to_vec();
        let seam = lines.len();
        lines.extend_from_slice(b"1111111111111111111 user=bob end\n");
        prescrub_seam(&scanner, &mut lines, seam, false);
        let out = scrub_with(&scanner, &lines);
        assert_eq!(out, b"w=1 seq=054924 card=[CARD_REDACTED] user=bob end\n");
        // A long run without a card-like window is left alone.
        let mut lines = b"id=00000000".to_vec();
        let seam = lines.len();
        lines.extend_from_slice(b"000000000000000 ok\n");
        let before = lines.clone();
        prescrub_seam(&scanner, &mut lines, seam, false);
        assert_eq!(lines, before);
    }

    #[test]
    fn seams_are_scanned_both_ways() {
        let scanner = Arc::new(Scanner::builtin());
        let card = b"4111111111111111".as_slice();
        // A true continuation: the card is whole only when joined.
        let mut joined = b"pay card=41111111".to_vec();
        let seam = joined.len();
        joined.extend_from_slice(b"11111111 ok\n");
        let mut lines = joined.clone();
        prescrub_seam(&scanner, &mut lines, seam, false);
        let out = scrub_with(&scanner, &lines);
        assert!(!out.windows(card.len()).any(|w| w == card), "{out:?}");
        // Bytes lost in between: a card at the start of the continuation,
        // glued to digits, is still found.
        let mut glued = b"x\nw=1 seq=000".to_vec();
        let seam = glued.len();
        glued.extend_from_slice(b"4111111111111111 user=bob end\ny\n");
        let mut lines = glued.clone();
        prescrub_seam(&scanner, &mut lines, seam, false);
        let out = scrub_with(&scanner, &lines);
        assert!(!out.windows(card.len()).any(|w| w == card), "{out:?}");
        assert!(out.starts_with(b"x\nw=1 seq=000") && out.ends_with(b" user=bob end\ny\n"));
    }

    /// Whether `out` shows the test card, or more than four of its digits
    /// on each side of a line break between two lines (a card cut in two).
    fn shows_card(out: &[u8]) -> bool {
        let card = b"4111111111111111".as_slice();
        out.windows(card.len()).any(|w| w == card)
    }

    #[test]
    fn a_glued_run_of_seventeen_to_nineteen_digits_holding_a_card_fails_closed() {
        // copytruncate lost bytes between `card=4111…` and the next line's
        // card digits: the joined run is 17–19 digits, not a card as a whole
        // (the main pass leaves it), but it shows the card.
        let scanner = Arc::new(Scanner::builtin());
        for before in 1..16usize {
            for after in 1..16usize {
                let mut lines =
                    format!("w=1 seq=000000001 card=4{}", "1".repeat(before - 1)).into_bytes();
                let seam = lines.len();
                lines.extend_from_slice(format!("{} user=bob end\n", "1".repeat(after)).as_bytes());
                let closed = prepare_seams(&scanner, &mut lines, Some(seam), &[]);
                let out = scrub_with(&scanner, &lines);
                assert!(
                    !shows_card(&out),
                    "{before}+{after}: {}",
                    String::from_utf8_lossy(&out)
                );
                if before + after >= 16 {
                    assert_eq!(closed, 1, "{before}+{after}");
                }
            }
        }
    }

    /// `a` then `b`, and where they meet.
    fn joined(a: &str, b: &str) -> (Vec<u8>, usize) {
        (format!("{a}{b}").into_bytes(), a.len())
    }

    #[test]
    fn a_card_written_with_separators_across_a_seam_fails_closed() {
        let scanner = Arc::new(Scanner::builtin());
        for (a, b) in [
            ("pay 4111 1111 111", "1 1111 1111 ok\n"),
            ("pay 4111-1111-", "1111-1111-1111 ok\n"),
            ("pay 4111 1111 ", "1111 1111 1 ok\n"),
        ] {
            let (mut lines, seam) = joined(a, b);
            prepare_seams(&scanner, &mut lines, Some(seam), &[]);
            let out = scrub_with(&scanner, &lines);
            let digits: Vec<u8> = out.iter().copied().filter(u8::is_ascii_digit).collect();
            assert!(
                !shows_card(&digits),
                "{a}|{b}: {}",
                String::from_utf8_lossy(&out)
            );
        }
    }

    #[test]
    fn a_true_continuation_keeps_its_other_digits() {
        // An order id or a timestamp across a seam is not a card.
        let scanner = Arc::new(Scanner::builtin());
        for (a, b) in [
            ("2026-12-06 05:4", "6:01 order=123456 ok\n"),
            ("seq=0000", "83410 ok\n"),
            ("id=00000000", "000000000000000 ok\n"),
        ] {
            let (mut lines, seam) = joined(a, b);
            let closed = prepare_seams(&scanner, &mut lines, Some(seam), &[]);
            assert_eq!(closed, 0, "{a}|{b}");
            assert_eq!(lines, format!("{a}{b}").into_bytes());
        }
    }

    #[test]
    fn a_line_cut_at_a_seam_hides_the_digits_at_its_cut_edges() {
        // A partial line went out alone (its newline added), and its
        // continuation came as a line of its own: the card is whole in
        // neither, so each side's digits at the cut are replaced, whatever
        // the split.
        let scanner = Arc::new(Scanner::builtin());
        let line = "w=1 seq=000000042 card=4111111111111111 user=bob end";
        let cut_at = line.find("card=").unwrap() + 5;
        for split in cut_at..cut_at + 17 {
            let (a, b) = line.split_at(split);
            // Same chunk: `a` ended by an added newline, `b` after it.
            let mut lines = format!("x\n{a}\n{b}\ny\n").into_bytes();
            let cut = 2 + a.len() + 1;
            prepare_seams(&scanner, &mut lines, None, &[cut]);
            let out = scrub_with(&scanner, &lines);
            let digits: Vec<u8> = out.iter().copied().filter(u8::is_ascii_digit).collect();
            assert!(
                !shows_card(&digits),
                "{split}: {}",
                String::from_utf8_lossy(&out)
            );
            let text = String::from_utf8_lossy(&out);
            for part in text.split('\n') {
                let run: String = part.chars().filter(char::is_ascii_digit).collect();
                // No side keeps more than four card digits (plus the seq).
                assert!(!run.contains("11111"), "{split}: {text}");
            }
            assert!(
                text.starts_with("x\nw=1 seq=000000042 card=")
                    && text.ends_with(" user=bob end\ny\n")
            );
            // Different chunks: a tail cut at the end, a head cut at 0.
            let mut first = format!("{a}\n").into_bytes();
            let mut second = format!("{b}\n").into_bytes();
            let at = first.len();
            prepare_seams(&scanner, &mut first, None, &[at]);
            prepare_seams(&scanner, &mut second, None, &[0]);
            let mut out = scrub_with(&scanner, &first);
            out.extend(scrub_with(&scanner, &second));
            let text = String::from_utf8_lossy(&out);
            for part in text.split('\n') {
                let run: String = part.chars().filter(char::is_ascii_digit).collect();
                assert!(!run.contains("11111"), "{split}: {text}");
            }
        }
        // Four digits or fewer at a cut edge stay.
        let mut lines = b"took 12\n34 ms\n".to_vec();
        assert_eq!(prepare_seams(&scanner, &mut lines, None, &[8]), 0);
        assert_eq!(lines, b"took 12\n34 ms\n");
    }

    #[test]
    fn an_uncertain_join_hides_more_than_four_digits_at_the_seam() {
        // copytruncate lost the bytes between `w` and the last 14 digits of
        // another line's card: 14 digits of a card would show.
        let scanner = Arc::new(Scanner::builtin());
        let mut lines = b"w".to_vec();
        lines.extend_from_slice(b"11111111111111 user=bob end\n");
        assert_eq!(prepare_seams(&scanner, &mut lines, Some(1), &[1]), 1);
        assert_eq!(lines, b"w[CARD_REDACTED] user=bob end\n");
        // A certain join (rename rotation) keeps a number that is no card.
        let mut lines = b"seq=0000".to_vec();
        lines.extend_from_slice(b"83410 ok\n");
        assert_eq!(prepare_seams(&scanner, &mut lines, Some(8), &[]), 0);
        assert_eq!(lines, b"seq=000083410 ok\n");
        // Four digits or fewer on each side stay, even uncertain.
        let mut lines = b"took 12".to_vec();
        lines.extend_from_slice(b"34 ms\n");
        assert_eq!(prepare_seams(&scanner, &mut lines, Some(7), &[7]), 0);
    }

    /// A test line with the card written `sep`-grouped.
    fn card_line(seq: u32, sep: &str, pad: usize) -> String {
        let card = ["4111", "1111", "1111", "1111"].join(sep);
        format!(
            "w=1 seq={seq:09} card={card} user=bob pad={} end",
            "x".repeat(pad)
        )
    }

    /// The text without card separators and newlines, so a card written in
    /// groups, or cut in two lines, shows.
    fn ungrouped(out: &[u8]) -> Vec<u8> {
        out.iter()
            .copied()
            .filter(|b| !matches!(b, b' ' | b'-' | b'.' | b'\n'))
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Every seam shape: line 1's head (cut anywhere) meets line 2's
        /// tail (cut anywhere: bytes between lost, or none), joined; or
        /// the head went out alone and the tail came as a line of its own
        /// (a cut). No card shows, whatever the separators.
        #[test]
        fn no_seam_shape_shows_a_card(
            sep in proptest::sample::select(vec!["", " ", "-", "  ", "."]),
            pad1 in 0usize..40,
            pad2 in 0usize..40,
            i in 0usize..200,
            j in 0usize..200,
            cut in proptest::bool::ANY,
        ) {
            let scanner = Arc::new(Scanner::builtin());
            let l1 = card_line(1, sep, pad1);
            let l2 = card_line(2, sep, pad2);
            let (i, j) = (i % (l1.len() + 1), j % (l2.len() + 1));
            let (a, b) = (&l1[..i], &l2[j..]);
            let mut lines = b"before\n".to_vec();
            let at = lines.len() + a.len();
            lines.extend_from_slice(a.as_bytes());
            if cut {
                lines.push(b'\n');
                lines.extend_from_slice(b.as_bytes());
                lines.extend_from_slice(b"\nafter\n");
                prepare_seams(&scanner, &mut lines, None, &[at + 1]);
            } else {
                lines.extend_from_slice(b.as_bytes());
                lines.extend_from_slice(b"\nafter\n");
                // copytruncate: the join is uncertain (a cut too).
                prepare_seams(&scanner, &mut lines, Some(at), &[at]);
            }
            let out = scrub_with(&scanner, &lines);
            proptest::prop_assert!(!shows_card(&ungrouped(&out)), "{}", String::from_utf8_lossy(&out));
            proptest::prop_assert!(out.starts_with(b"before\n") && out.ends_with(b"\nafter\n"));
        }
    }

    fn scrub(text: &str) -> String {
        let scanner = Arc::new(Scanner::builtin());
        String::from_utf8(scrub_with(&scanner, text.as_bytes())).unwrap()
    }

    #[test]
    fn a_new_configuration_keeps_the_stream_state() {
        let options = ScrubOptions {
            max_line_bytes: 100,
            overlong: OverlongPolicy::Drop,
            format: Format::Raw,
            record_findings: true,
        };
        let mut r = Redactor::with_options(Arc::new(Scanner::builtin()), options);
        let mut out = Vec::new();
        r.scrub_lines(
            b"card 4111 1111 1111 1111\n-----BEGIN RSA PRIVATE KEY-----\n",
            &mut out,
        );
        assert!(!r.take_records().is_empty());
        r.replace_scanner(Arc::new(Scanner::builtin()));
        assert_eq!(r.options(), options);
        out.clear();
        r.scrub_lines(b"QUJDREVGR0hJSktMTU5PUA==\nx 5555555555554444\n", &mut out);
        // Still inside the key block, still recording, lines counted on.
        assert!(!String::from_utf8_lossy(&out).contains("QUJD"));
        let lines: Vec<u64> = r.take_records().iter().map(|f| f.line).collect();
        assert_eq!(lines.last(), Some(&4));
        assert_eq!(r.take_stats().lines, 4);
    }

    #[test]
    fn a_line_with_too_many_findings_fails_closed_within_memory() {
        use crate::scan::MAX_FINDINGS_PER_LINE;
        let scanner = Arc::new(Scanner::builtin());
        let mut redactor = Redactor::new(Arc::clone(&scanner));
        redactor.set_max_line_bytes(64 << 20);
        for (cards, fails) in [
            (MAX_FINDINGS_PER_LINE - 1, false),
            (MAX_FINDINGS_PER_LINE, true),
            (MAX_FINDINGS_PER_LINE * 2, true),
        ] {
            let mut line = b"x ".to_vec();
            for _ in 0..cards {
                line.extend_from_slice(b"4111111111111111 ");
            }
            line.push(b'\n');
            let mut out = Vec::new();
            redactor.scrub_lines(&line, &mut out);
            let stats = redactor.take_stats();
            assert!(!out.windows(16).any(|w| w == b"4111111111111111"));
            assert_eq!(stats.lines, 1);
            if fails {
                assert_eq!(out, [OVERLONG_MARKER, b"\n"].concat());
                assert_eq!(stats.failed_closed, 1);
            } else {
                assert_eq!(stats.failed_closed, 0);
                assert!(out.starts_with(b"x [CARD_REDACTED] "), "{:?}", &out[..40]);
            }
            // The findings kept never pass the cap (memory).
            assert!(redactor.scratch.findings.capacity() <= 2 * MAX_FINDINGS_PER_LINE);
        }
    }

    #[test]
    fn bytes_outside_secrets_pass_unchanged() {
        let scanner = Arc::new(Scanner::builtin());
        let input = b"caf\xe9 \x00 4111111111111111\r\nno newline \xff";
        let out = scrub_with(&scanner, input);
        assert_eq!(
            out,
            b"caf\xe9 \x00 [CARD_REDACTED]\r\nno newline \xff".to_vec()
        );
    }

    #[test]
    fn multi_line_private_key() {
        let input = "start\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAIYn6oCbvo4UK1j\nRam6dHMWmNz35kyvYuwhsU22N4A\n-----END RSA PRIVATE KEY-----\nafter\n";
        assert_eq!(
            scrub(input),
            "start\n-----BEGIN RSA PRIVATE KEY-----\n[PRIVATE_KEY_REDACTED]\n[PRIVATE_KEY_REDACTED]\n-----END RSA PRIVATE KEY-----\nafter\n"
        );
    }

    #[test]
    fn unterminated_block_is_bounded() {
        let mut input = String::from("-----BEGIN PRIVATE KEY-----\n");
        for _ in 0..MAX_BLOCK_LINES + 5 {
            input.push_str("QUJDREVGR0g=\n");
        }
        let out = scrub(&input);
        let redacted = out
            .lines()
            .filter(|l| *l == "[PRIVATE_KEY_REDACTED]")
            .count();
        assert_eq!(redacted, MAX_BLOCK_LINES as usize);
    }

    /// The state of every line stepped in turn: what [`block_state_after`]
    /// must equal, reading only its tail.
    fn block_state_line_by_line(lines: &[u8], mut left: u32, max_line_bytes: usize) -> u32 {
        for line in lines.split_inclusive(|&b| b == b'\n') {
            let content = line_content(line);
            if content.len() <= max_line_bytes {
                left = block_step(content, left).0;
            }
        }
        left
    }

    /// A run of body lines: often just around the tail's length.
    fn run_length() -> impl proptest::strategy::Strategy<Value = usize> {
        let max = MAX_BLOCK_LINES as usize;
        proptest::prop_oneof![
            proptest::sample::select(vec![max - 2, max - 1, max, max + 1, max + 2]),
            1..=max + 20,
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// Batches of runs of lines around and past the tail's length, with
        /// blocks opened and closed anywhere (in the tail, before it, across it), over-long
        /// lines, CRLF and a last line without its newline: the tail gives
        /// the state every line gives, from any state before the batch.
        #[test]
        fn block_state_from_the_tail_equals_every_line(
            runs in proptest::collection::vec((0u8..6, run_length()), 0..6),
            left in 0..=MAX_BLOCK_LINES,
            max_line_bytes in proptest::sample::select(vec![8usize, 30, 1 << 20]),
            crlf in proptest::bool::ANY,
            unterminated in proptest::bool::ANY,
        ) {
            let mut batch = Vec::new();
            let kinds = runs.iter().flat_map(|&(kind, n)| {
                // Markers and blank lines come alone; body lines in runs.
                std::iter::repeat_n(kind, if kind < 3 { 1 } else { n })
            });
            for kind in kinds {
                batch.extend_from_slice(match kind {
                    0 => &b"-----BEGIN RSA PRIVATE KEY-----"[..],
                    1 => b"-----END RSA PRIVATE KEY-----",
                    2 => b"",
                    3 => b"MIIEowIBAAKCAQEAIYn6oCbvo4UK1jRam6dHMWmNz35kyvYuwhsU22N4A",
                    4 => b"  -----BEGIN PRIVATE KEY-----  ",
                    _ => b"QUJDREVG",
                });
                batch.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
            if unterminated && !batch.is_empty() {
                batch.pop();
            }
            proptest::prop_assert_eq!(
                block_state_after(&batch, left, max_line_bytes),
                block_state_line_by_line(&batch, left, max_line_bytes)
            );
        }
    }

    #[test]
    fn block_state_matches_the_redactor() {
        let text = "a\n-----BEGIN EC PRIVATE KEY-----\nQUJD\nREVG\n";
        assert_eq!(
            block_state_after(text.as_bytes(), 0, 1 << 20),
            MAX_BLOCK_LINES - 2
        );
        let closed = format!("{text}-----END EC PRIVATE KEY-----\nafter\n");
        assert_eq!(block_state_after(closed.as_bytes(), 0, 1 << 20), 0);
        assert_eq!(block_state_after(b"x\n", 5, 1 << 20), 4);
        assert_eq!(block_state_after(b"no key here\n", 0, 1 << 20), 0);
        // Cut at any line boundary, a second redactor handed the state
        // computed for the first part gives the same output as one redactor.
        let scanner = Arc::new(Scanner::builtin());
        let whole = scrub_with(&scanner, closed.as_bytes());
        assert!(String::from_utf8_lossy(&whole)
            .contains("[PRIVATE_KEY_REDACTED]\n[PRIVATE_KEY_REDACTED]\n"));
        let lines: Vec<&str> = closed.split_inclusive('\n').collect();
        for cut in 0..=lines.len() {
            let (head, tail) = (lines[..cut].concat(), lines[cut..].concat());
            let mut out = Vec::new();
            Redactor::new(Arc::clone(&scanner)).scrub_lines(head.as_bytes(), &mut out);
            let mut second = Redactor::new(Arc::clone(&scanner));
            second.set_block_state(block_state_after(head.as_bytes(), 0, 1 << 20));
            second.scrub_lines(tail.as_bytes(), &mut out);
            assert_eq!(out, whole, "cut at line {cut}");
        }
    }
}
