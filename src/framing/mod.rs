//! Framing: splits a byte stream into batches of whole lines.
//!
//! Lines end with `\n`; the terminator belongs to the line it ends, and a
//! final line without one is handed out as it is. Memory is bounded: a line
//! longer than the limit is never buffered whole. Once a partial line passes
//! the limit the reader reports it as [`Batch::OverLong`] and discards the
//! rest of it up to its newline, so the caller can fail closed (emit a
//! marker, never the raw bytes). Resident memory stays under about
//! `max_line_bytes + READ_CHUNK` whatever the input.
//!
//! The framer knows no log format: a caller whose format splits one message
//! over several lines (CRI's partial `P` lines) passes a [`Continues`]
//! predicate, and a trailing run of lines it holds true for waits for the
//! line that ends the message ([`Framer::hold_continued_runs`]).

pub mod octet;

/// How much is read from the source at a time.
pub const READ_CHUNK: usize = 256 * 1024;

/// The smallest batch [`Framer::next_batch_owned`] hands out as the read
/// buffer itself (three quarters of a full read); smaller ones are copied.
pub const HAND_OUT_MIN: usize = READ_CHUNK / 4 * 3;

/// The default over-long-line limit: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Whether a line (without its `\n` or `\r\n`) continues in the next
/// line: the message it belongs to is not complete yet.
pub type Continues = fn(&[u8]) -> bool;

/// What the reader hands out next.
#[derive(Debug, PartialEq, Eq)]
pub enum Batch<'a> {
    /// One or more whole lines; only the last batch of the stream may end
    /// without a newline.
    Lines(&'a [u8]),
    /// A line longer than the limit was skipped. `terminated` tells whether
    /// it ended with a newline (false: it ran to the end of the stream);
    /// `bytes` is how many bytes it had, newline included.
    OverLong { terminated: bool, bytes: u64 },
}

/// What the [`Framer`] has next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// A batch is ready.
    Batch(Batch<'a>),
    /// More input is needed (or [`Framer::finish`], at the end).
    NeedInput,
    /// The stream is finished and everything was handed out.
    End,
}

/// [`Framer::next_batch`] without the borrow.
enum Step {
    Lines(std::ops::Range<usize>),
    OverLong { terminated: bool, bytes: u64 },
    NeedInput,
    End,
}

/// The framing state machine, without I/O: bytes go in through
/// [`Framer::spare`] and [`Framer::filled`], batches of whole lines come out
/// of [`Framer::next_batch`]. The sources (standard input, files, sockets) drive
/// it.
pub struct Framer {
    buf: Vec<u8>,
    /// `buf[start..end]` holds bytes read but not handed out yet.
    start: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Discarding the remainder of a line that was over the limit.
    discarding: bool,
    /// Bytes of the line being discarded so far.
    discarded: u64,
    /// Lines that continue in the next one: a trailing run of them waits
    /// for the next batch.
    continues: Option<Continues>,
    max_line_bytes: usize,
}

impl Framer {
    /// A framer with the given over-long-line limit (at least 1).
    pub fn new(max_line_bytes: usize) -> Framer {
        Framer {
            buf: Vec::new(),
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            discarding: false,
            discarded: 0,
            continues: None,
            max_line_bytes: max_line_bytes.max(1),
        }
    }

    /// Makes every batch end after a complete message: a trailing run of
    /// lines that `continues` holds true for (CRI's partial `P` lines, say)
    /// waits for the line that completes it, unless the run passes the line
    /// limit or the input ends. `None` (the default): every line is whole.
    pub fn hold_continued_runs(mut self, continues: Option<Continues>) -> Framer {
        self.continues = continues;
        self
    }

    /// How many bytes of the stream were handed out (or skipped as part of
    /// an over-long line that was reported): the offset a reader that
    /// restarts must resume from.
    pub fn consumed(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Bytes received but not handed out yet.
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Room for the next read: at least [`READ_CHUNK`] bytes. Report what
    /// was written with [`Framer::filled`].
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.base += self.start as u64;
            self.start = 0;
        }
        let want = self.end + READ_CHUNK;
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        &mut self.buf[self.end..want]
    }

    /// `n` bytes were written at the start of [`Framer::spare`].
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Copies `data` in (for sources that receive their own buffers, such
    /// as datagrams).
    pub fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let spare = self.spare();
            let n = spare.len().min(data.len());
            spare[..n].copy_from_slice(&data[..n]);
            self.filled(n);
            data = &data[n..];
        }
    }

    /// Bytes received so far (the stream offset after the last byte in).
    pub fn received(&self) -> u64 {
        self.base + self.end as u64
    }

    /// Whether the bytes pending end inside a line (no newline yet).
    pub fn ends_mid_line(&self) -> bool {
        self.end > self.start && self.buf[self.end - 1] != b'\n'
    }

    /// Takes the bytes received but not handed out (a partial last line,
    /// or a held run of continued lines with it), so they can go on in
    /// another framer: the stream's next generation. Nothing is taken while
    /// an over-long line is being discarded (its bytes are gone already).
    pub fn take_pending(&mut self) -> Vec<u8> {
        if self.discarding {
            return Vec::new();
        }
        let taken = self.buf[self.start..self.end].to_vec();
        self.end = self.start;
        taken
    }

    /// The stream ended: what is pending is handed out, a final line
    /// without a newline included.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// Where a trailing run of lines that `continues` starts in `lines`
    /// (whole lines), or `lines.len()` when the last line completes its
    /// message.
    fn continued_run_start(lines: &[u8], continues: Continues) -> usize {
        let mut end = lines.len();
        while end > 0 {
            let start = memchr::memrchr(b'\n', &lines[..end - 1]).map_or(0, |i| i + 1);
            let mut line = &lines[start..end];
            line = line.strip_suffix(b"\n").unwrap_or(line);
            line = line.strip_suffix(b"\r").unwrap_or(line);
            if !continues(line) {
                break;
            }
            end = start;
        }
        end
    }

    /// The next batch, if the bytes received so far make one.
    pub fn next_batch(&mut self) -> Next<'_> {
        match self.next_range() {
            Step::Lines(range) => Next::Batch(Batch::Lines(&self.buf[range])),
            Step::OverLong { terminated, bytes } => {
                Next::Batch(Batch::OverLong { terminated, bytes })
            }
            Step::NeedInput => Next::NeedInput,
            Step::End => Next::End,
        }
    }

    /// [`Framer::next_batch`], owned: a batch of lines that starts at the
    /// start of the framer's buffer and fills most of a full read
    /// ([`HAND_OUT_MIN`]) is handed out as that buffer itself, without
    /// copying its bytes, and `spare()` (a buffer whose contents do not
    /// matter: its length is reused as room without zeroing it) becomes the
    /// framer's buffer, holding only the bytes after the batch (a partial
    /// line). Any other batch is copied into `spare()`: a small one (a pipe's
    /// 64 KiB read, a datagram) costs less to copy than the zeroing of room
    /// that a short buffer in its place would need.
    pub fn next_batch_owned(&mut self, spare: impl FnOnce() -> Vec<u8>) -> Option<OwnedBatch> {
        match self.next_range() {
            Step::Lines(range) if range.start == 0 && range.end >= HAND_OUT_MIN => {
                let mut fresh = spare();
                let rest = self.end - range.end;
                if fresh.len() < rest {
                    fresh.resize(rest, 0);
                }
                fresh[..rest].copy_from_slice(&self.buf[range.end..self.end]);
                let mut lines = std::mem::replace(&mut self.buf, fresh);
                lines.truncate(range.end);
                // `start` is already past the batch: it becomes the base.
                self.base += self.start as u64;
                self.start = 0;
                self.end = rest;
                Some(OwnedBatch::Lines(lines))
            }
            Step::Lines(range) => {
                let mut lines = spare();
                lines.clear();
                lines.extend_from_slice(&self.buf[range]);
                Some(OwnedBatch::Lines(lines))
            }
            Step::OverLong { terminated, bytes } => {
                Some(OwnedBatch::OverLong { terminated, bytes })
            }
            Step::NeedInput | Step::End => None,
        }
    }

    fn next_range(&mut self) -> Step {
        loop {
            let pending = &self.buf[self.start..self.end];
            if self.discarding {
                if let Some(i) = memchr::memchr(b'\n', pending) {
                    self.start += i + 1;
                    self.discarding = false;
                    let bytes = std::mem::take(&mut self.discarded) + i as u64 + 1;
                    return Step::OverLong {
                        terminated: true,
                        bytes,
                    };
                }
                self.discarded += pending.len() as u64;
                self.start = self.end;
                if self.eof {
                    self.discarding = false;
                    let bytes = std::mem::take(&mut self.discarded);
                    return Step::OverLong {
                        terminated: false,
                        bytes,
                    };
                }
                return Step::NeedInput;
            } else if self.eof && !pending.is_empty() && self.continues.is_some() {
                // The end: the rest in one batch, so a run of continued
                // lines stays with its last, unterminated line.
                let batch = self.start..self.end;
                self.start = self.end;
                return Step::Lines(batch);
            } else if let Some(i) = memchr::memrchr(b'\n', pending) {
                let mut batch = self.start..self.start + i + 1;
                if let Some(continues) = self.continues {
                    let keep = Self::continued_run_start(&self.buf[batch.clone()], continues);
                    if keep == 0 && !self.eof && pending.len() <= self.max_line_bytes {
                        // Only partial lines so far: wait for the rest.
                        return Step::NeedInput;
                    }
                    if keep > 0 {
                        batch.end = batch.start + keep;
                    }
                }
                self.start = batch.end;
                return Step::Lines(batch);
            } else if pending.len() > self.max_line_bytes + 1 {
                // (One byte more than the limit: a trailing `\r` of a
                // `\r\n` ending does not count toward it.)
                self.discarding = true;
                self.discarded = pending.len() as u64;
                self.start = self.end;
                continue;
            } else if self.eof {
                if pending.is_empty() {
                    return Step::End;
                }
                let batch = self.start..self.end;
                self.start = self.end;
                return Step::Lines(batch);
            }
            return Step::NeedInput;
        }
    }
}

/// A [`Batch`] that owns its bytes, to hand to another thread: what the
/// sources send and the scrubbers take.
#[derive(Debug, PartialEq, Eq)]
pub enum OwnedBatch {
    /// Whole lines (the last one of a stream may lack its newline).
    Lines(Vec<u8>),
    /// A line over the limit: `bytes` long, ended by a newline or not.
    OverLong { terminated: bool, bytes: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{self, Read};

    /// Reads batches of whole lines from `R` with blocking reads: the framer
    /// driven as the stdin source drives it, for these tests.
    struct LineReader<R> {
        source: R,
        framer: Framer,
    }

    impl<R: Read> LineReader<R> {
        /// A reader with the given over-long-line limit (at least 1).
        fn new(source: R, max_line_bytes: usize) -> LineReader<R> {
            LineReader {
                source,
                framer: Framer::new(max_line_bytes),
            }
        }

        /// See [`Framer::hold_continued_runs`].
        fn hold_continued_runs(mut self, continues: Option<Continues>) -> LineReader<R> {
            self.framer = self.framer.hold_continued_runs(continues);
            self
        }

        /// The next batch, or `None` at the end of the stream.
        fn next_batch(&mut self) -> io::Result<Option<Batch<'_>>> {
            loop {
                match self.framer.next_range() {
                    Step::Lines(range) => return Ok(Some(Batch::Lines(&self.framer.buf[range]))),
                    Step::OverLong { terminated, bytes } => {
                        return Ok(Some(Batch::OverLong { terminated, bytes }))
                    }
                    Step::End => return Ok(None),
                    Step::NeedInput => self.fill()?,
                }
            }
        }

        /// Reads one more chunk.
        fn fill(&mut self) -> io::Result<()> {
            loop {
                match self.source.read(self.framer.spare()) {
                    Ok(0) => {
                        self.framer.finish();
                        return Ok(());
                    }
                    Ok(n) => {
                        self.framer.filled(n);
                        return Ok(());
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// A source that returns at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn collect(data: &[u8], step: usize, max: usize) -> Vec<String> {
        let mut reader = LineReader::new(Trickle { data, step }, max);
        let mut out = Vec::new();
        while let Some(batch) = reader.next_batch().unwrap() {
            match batch {
                Batch::Lines(b) => out.push(String::from_utf8_lossy(b).into_owned()),
                Batch::OverLong { terminated, .. } => out.push(format!("<long {terminated}>")),
            }
        }
        out
    }

    #[test]
    fn whole_lines_and_final_partial() {
        let got = collect(b"a\nbb\ncc", 1, 100).concat();
        assert_eq!(got, "a\nbb\ncc");
        for batch in collect(b"a\nbb\ncc\n", 3, 100) {
            assert!(batch.ends_with('\n'));
        }
    }

    #[test]
    fn over_long_lines_are_skipped_with_a_marker() {
        let got = collect(b"ok\n0123456789abc\nfine\n0123456789", 2, 4);
        assert_eq!(got.concat(), "ok\n<long true>fine\n<long false>");
    }

    /// CRI's partial lines (`P` tag), as the sources configure it.
    fn cri_partial(line: &[u8]) -> bool {
        crate::format::parse_cri(line).is_some_and(|c| c.partial)
    }

    /// Reads `data` `step` bytes at a time, holding runs `continues` marks.
    fn held_batches(data: &str, step: usize, continues: Continues) -> Vec<String> {
        let mut reader = LineReader::new(
            Trickle {
                data: data.as_bytes(),
                step,
            },
            1000,
        )
        .hold_continued_runs(Some(continues));
        let mut batches = Vec::new();
        while let Some(Batch::Lines(b)) = reader.next_batch().unwrap() {
            batches.push(String::from_utf8(b.to_vec()).unwrap());
        }
        batches
    }

    #[test]
    fn cri_partial_runs_stay_in_one_batch() {
        let p = "2024-04-13T16:22:02.416120330Z stdout P part\n";
        let f = "2024-04-13T16:22:02.416120330Z stdout F end\n";
        let data = format!("x\n{p}{p}{f}y\n{p}");
        for step in [1, 7, 50, 1000] {
            let batches = held_batches(&data, step, cri_partial);
            assert_eq!(batches.concat(), data);
            for b in &batches {
                // A batch never ends inside a run, except at the end.
                assert!(
                    !b.ends_with(p) || b.ends_with(&format!("y\n{p}")) || b == p,
                    "{step}: {batches:?}"
                );
            }
            assert!(
                batches.iter().any(|b| b.contains(&format!("{p}{p}{f}"))),
                "{step}: {batches:?}"
            );
        }
    }

    #[test]
    fn any_continuation_predicate_holds_its_runs() {
        // Another format: a line ending in a backslash goes on in the next
        // one. The framer holds those runs, and CRI lines mean nothing to
        // it.
        fn backslash(line: &[u8]) -> bool {
            line.ends_with(b"\\")
        }
        let cri_p = "2024-04-13T16:22:02.416120330Z stdout P part\n";
        let data = format!("a\nb \\\nc \\\r\nd\n{cri_p}e \\\n");
        for step in [1, 3, 8, 1000] {
            let batches = held_batches(&data, step, backslash);
            assert_eq!(batches.concat(), data);
            for b in &batches[..batches.len() - 1] {
                // Only the last batch may end inside a run.
                assert!(
                    !b.ends_with("\\\n") && !b.ends_with("\\\r\n"),
                    "{step}: {batches:?}"
                );
            }
            assert!(
                batches.iter().any(|b| b.contains("b \\\nc \\\r\nd\n")),
                "{step}: {batches:?}"
            );
            // A CRI partial line is an ordinary line here: a batch may end
            // after it.
            if step == 1 {
                assert!(batches.iter().any(|b| b.ends_with(cri_p)), "{batches:?}");
            }
        }
        // Without a predicate, nothing is held.
        let mut reader = LineReader::new(
            Trickle {
                data: b"b \\\nc\n",
                step: 1,
            },
            1000,
        );
        let mut first = Vec::new();
        if let Some(Batch::Lines(b)) = reader.next_batch().unwrap() {
            first = b.to_vec();
        }
        assert_eq!(first, b"b \\\n");
    }

    /// Batches handed out owned — the read buffer itself, or a copy —
    /// are the batches [`Framer::next_batch`] hands out, at the same
    /// offsets, whatever the read sizes, the line limit, held runs and the
    /// stale bytes in the spare buffers.
    #[test]
    fn owned_batches_are_the_borrowed_ones() {
        let mut text = Vec::new();
        for i in 0..20_000u32 {
            let line = match i % 7 {
                0 => format!("{i} {}\n", "y".repeat((i % 300) as usize)),
                1 => "2024-01-01T00:00:00Z stdout P part\n".to_string(),
                2 => "2024-01-01T00:00:00Z stdout F end\n".to_string(),
                3 => "\r\n".to_string(),
                _ => format!("line {i}\n"),
            };
            text.extend_from_slice(line.as_bytes());
        }
        text.extend_from_slice(b"no newline at the end");
        for (step, max, held) in [
            (1, 50, false),
            (7, 120, true),
            (4096, 250, true),
            (READ_CHUNK, 1 << 20, true),
            (1 << 20, 1 << 20, false),
        ] {
            let continues = held.then_some(cri_partial as Continues);
            let mut borrowed = Framer::new(max).hold_continued_runs(continues);
            let mut owned = Framer::new(max).hold_continued_runs(continues);
            let (mut want, mut got) = (Vec::new(), Vec::new());
            let mut junk = 0u8;
            let feed = |f: &mut Framer, piece: &[u8]| f.push(piece);
            let mut drain =
                |b: &mut Framer, o: &mut Framer, want: &mut Vec<_>, got: &mut Vec<_>| {
                    while let Next::Batch(batch) = b.next_batch() {
                        want.push((
                            match batch {
                                Batch::Lines(l) => OwnedBatch::Lines(l.to_vec()),
                                Batch::OverLong { terminated, bytes } => {
                                    OwnedBatch::OverLong { terminated, bytes }
                                }
                            },
                            b.consumed(),
                        ));
                    }
                    while let Some(batch) = o.next_batch_owned(|| {
                        junk = junk.wrapping_add(1);
                        vec![junk; usize::from(junk) * 37]
                    }) {
                        got.push((batch, o.consumed()));
                    }
                    assert_eq!(b.received(), o.received());
                };
            for piece in text.chunks(step) {
                feed(&mut borrowed, piece);
                feed(&mut owned, piece);
                drain(&mut borrowed, &mut owned, &mut want, &mut got);
            }
            borrowed.finish();
            owned.finish();
            drain(&mut borrowed, &mut owned, &mut want, &mut got);
            assert!(want == got, "step {step}, limit {max}, held {held}");
            assert!(want.len() > 1);
            if step >= READ_CHUNK {
                // Whole reads: batches large enough to go out as the buffer.
                assert!(got
                    .iter()
                    .any(|(b, _)| matches!(b, OwnedBatch::Lines(l) if l.len() >= HAND_OUT_MIN)));
            }
        }
    }

    #[test]
    fn empty_input() {
        assert!(collect(b"", 1, 5).is_empty());
    }
}
