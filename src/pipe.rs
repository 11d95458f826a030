//! The scrub stage: the one path every line takes between its source and
//! its sink, for every run (the service's, `scan`'s, `explain`'s).
//!
//! ```text
//! chunks (any sources, in order) ─▶ [threads == 1] the calling thread scrubs and delivers
//!                                ─▶ [threads  > 1] N workers, taking turns at the intake
//!                                        ─(bounded, numbered)─▶ the calling thread delivers
//! ```
//!
//! [`run_stage`] takes chunks of whole lines (each of one stream), scrubs
//! them on `threads` long-lived threads, each owning its [`Redactor`], and
//! delivers them on the calling thread in the order they came, one output
//! line per input line. A line longer than the limit is replaced by
//! [`OVERLONG_MARKER`] (fail closed) and counted. With one thread the
//! calling thread scrubs every chunk itself, keeping each stream's state in
//! its redactor (a chunk's bytes stay in one core's cache from scrub to
//! write); with more, each worker takes its next chunk at the intake,
//! which numbers it and gives it the state its stream stands in at its
//! first line (private-key block, carried fields, line number), and the
//! workers scrub chunks concurrently. At most `2 × threads` chunks are in
//! flight at any time, so memory stays bounded and a slow output slows the
//! sources down (backpressure) instead of buffering without limit.
//!
//! [`run`] drives the stage with one reader (the library, `scan`);
//! [`scrub_text`] with a buffer (`explain`, `rules test`); the service with
//! all its sources.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::findings::FindingRecord;
use crate::framing::OwnedBatch;
use crate::redact::{OverlongPolicy, Redactor, ScrubOptions, StreamCursor};
use crate::scan::Scanner;
use crate::source::{Ack, Chunk, Feed, FramingOptions, Stream};
use crate::stats::Stats;

pub use crate::redact::OVERLONG_MARKER;

/// Why a pipe stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipeError {
    /// The input could not be read.
    #[error("reading {input}: {source}")]
    Read {
        /// The input's name.
        input: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The output could not be written.
    #[error("writing output: {0}")]
    Write(#[source] io::Error),
    /// The findings side channel could not be written.
    #[error("writing findings: {0}")]
    Findings(#[source] io::Error),
}

/// Options of a pipe.
#[derive(Clone)]
pub struct PipeOptions {
    /// Lines longer than this many bytes (terminator excluded) are replaced.
    pub max_line_bytes: usize,
    /// Scrubbing threads; 1 scrubs on the calling thread.
    pub threads: usize,
    /// What happens to over-long lines.
    pub overlong: OverlongPolicy,
    /// Live reload of the configuration, when enabled.
    pub reload: Option<Arc<Reloader>>,
    /// How lines are read.
    pub format: crate::format::Format,
    /// Where to write a JSON line per finding (the `--findings` side
    /// channel), in input order.
    pub findings: Option<Arc<Mutex<dyn Write + Send>>>,
}

impl Default for PipeOptions {
    fn default() -> PipeOptions {
        PipeOptions {
            max_line_bytes: crate::framing::DEFAULT_MAX_LINE_BYTES,
            threads: 1,
            overlong: OverlongPolicy::Replace,
            reload: None,
            format: crate::format::Format::Auto,
            findings: None,
        }
    }
}

impl PipeOptions {
    /// What each redactor is made with: one value, copied whole.
    pub fn scrub(&self) -> ScrubOptions {
        ScrubOptions {
            max_line_bytes: self.max_line_bytes,
            overlong: self.overlong,
            format: self.format,
            record_findings: self.findings.is_some(),
        }
    }
}

/// The function that builds a new configuration on reload.
/// Its error is the caller's own (the configuration's); the reloader
/// counts it and keeps the running configuration.
pub type Rebuild =
    dyn Fn() -> Result<Arc<Scanner>, Box<dyn std::error::Error + Send + Sync>> + Send + Sync;

/// Live reload: when `requested` is set (by a SIGHUP handler), the next
/// batch boundary rebuilds the configuration and switches to it. A batch is
/// scrubbed whole by one configuration, so no line is lost or scrubbed
/// twice. A failed rebuild keeps the running configuration.
pub struct Reloader {
    /// Set to ask for a reload.
    pub requested: Arc<AtomicBool>,
    rebuild: Box<Rebuild>,
    /// Reloads that succeeded.
    pub succeeded: AtomicU64,
    /// Reloads that failed (the previous configuration stayed).
    pub failed: AtomicU64,
}

impl Reloader {
    /// A reloader calling `rebuild` when `requested` is set.
    pub fn new(requested: Arc<AtomicBool>, rebuild: Box<Rebuild>) -> Reloader {
        Reloader {
            requested,
            rebuild,
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// The new configuration, when a reload was asked for and succeeded.
    pub fn poll(&self) -> Option<Arc<Scanner>> {
        if !self.requested.swap(false, Ordering::SeqCst) {
            return None;
        }
        match (self.rebuild)() {
            Ok(scanner) => {
                self.succeeded.fetch_add(1, Ordering::Relaxed);
                Some(scanner)
            }
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// A chunk scrubbed, handed to the writer in input order.
pub struct Scrubbed {
    /// The stream it came from.
    pub stream: Arc<Stream>,
    /// The position to record once it is written.
    pub ack: Option<Ack>,
    /// The scrubbed lines (empty for a chunk that only moves a position).
    pub output: Vec<u8>,
    /// Its finding records (`--findings`, `scan`).
    pub records: Vec<FindingRecord>,
    /// Its counts, folded by rule id.
    pub stats: Stats,
    /// Time spent scrubbing it.
    pub duration: Duration,
}

/// A chunk for a worker, numbered in arrival order.
struct Job {
    seq: u64,
    chunk: Chunk,
    /// The configuration to scrub it with.
    scanner: Arc<Scanner>,
    /// Where its stream stands at its first line.
    start: StreamCursor,
}

/// Runs the scrub stage: `next` (blocking until a chunk is ready; `None` at
/// the end) yields chunks, which are scrubbed on `options.threads` threads
/// and handed to `deliver` on the calling thread, in the order `next`
/// yielded them. With one thread the calling thread is the scrubbing
/// thread (and calls `next`); with more, that many workers take turns
/// calling `next` (under a lock, which numbers the chunks and follows each
/// stream's state) and scrub concurrently. At most
/// `2 × threads` chunks are in flight, so a slow `deliver` stops `next`
/// from being called (backpressure). A reload (`options.reload`) takes
/// effect at the next chunk.
///
/// When `deliver` fails, its error is returned at once; the stage's
/// threads then stop at their next hand-off (each finds its receiver gone)
/// and `next` is called no more.
pub fn run_stage<N, D, E>(
    next: N,
    scanner: &Arc<Scanner>,
    options: &PipeOptions,
    mut deliver: D,
) -> Result<(), E>
where
    N: FnMut() -> Option<Chunk> + Send + 'static,
    D: FnMut(Scrubbed) -> Result<(), E>,
{
    let threads = options.threads.max(1);
    if threads == 1 {
        return scrub_inline(next, Arc::clone(scanner), options, deliver);
    }
    let in_flight = 2 * threads;
    let (done_tx, done_rx) = mpsc::sync_channel::<(u64, Scrubbed)>(in_flight);
    // Results may come back out of order: one token per chunk in flight,
    // taken before a chunk is, given back once it is delivered, bounds how
    // many wait.
    let (token_tx, token_rx) = mpsc::sync_channel::<()>(in_flight);
    let intake = Arc::new(Mutex::new(Intake {
        next,
        cursors: Cursors::default(),
        scanner: Arc::clone(scanner),
        seq: 0,
        ended: false,
    }));
    let mut workers = Vec::with_capacity(threads);
    for _ in 0..threads {
        let (intake, token_tx, done_tx) = (Arc::clone(&intake), token_tx.clone(), done_tx.clone());
        let redactor = Redactor::with_options(Arc::clone(scanner), options.scrub());
        let options = options.clone();
        workers.push(spawn("logscrub-worker", move || {
            worker(&intake, &options, &token_tx, &done_tx, redactor)
        }));
    }
    drop((token_tx, done_tx));
    deliver_in_order(&done_rx, &token_rx, &mut deliver)?;
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .unwrap_or_else(|e| panic!("starting a {name} thread: {e}"))
}

/// The calling thread's part: results in sequence order to `deliver`.
fn deliver_in_order<D, E>(
    done_rx: &Receiver<(u64, Scrubbed)>,
    tokens: &Receiver<()>,
    mut deliver: D,
) -> Result<(), E>
where
    D: FnMut(Scrubbed) -> Result<(), E>,
{
    let mut pending: BTreeMap<u64, Scrubbed> = BTreeMap::new();
    let mut next = 0u64;
    // Ends when every sender (the workers) is gone.
    for (seq, scrubbed) in done_rx.iter() {
        if seq != next {
            pending.insert(seq, scrubbed);
            continue;
        }
        let mut ready = Some(scrubbed);
        while let Some(scrubbed) = ready {
            deliver(scrubbed)?;
            let _ = tokens.recv();
            next += 1;
            ready = pending.remove(&next);
        }
    }
    Ok(())
}

/// A chunk that carries no lines: only a position to record, in order.
fn is_ack_only(chunk: &Chunk) -> bool {
    matches!(&chunk.payload, OwnedBatch::Lines(l) if l.is_empty())
}

fn passed_on(chunk: Chunk) -> Scrubbed {
    Scrubbed {
        stream: chunk.stream,
        ack: chunk.ack,
        output: Vec::new(),
        records: Vec::new(),
        stats: Stats::default(),
        duration: Duration::ZERO,
    }
}

/// One scrubbing thread (`--threads 1`): the calling thread takes the
/// chunks, scrubs them itself, in order, with one redactor, and delivers
/// them — a chunk's lines stay in this core's cache from scrub to write. A
/// stream's state (private-key block, carried fields, line number) is the
/// redactor's own while the stream's chunks follow one another, and is put
/// aside and restored when chunks of several streams interleave — no pass
/// over the lines ahead of the scrub.
fn scrub_inline<N, D, E>(
    mut next: N,
    mut scanner: Arc<Scanner>,
    options: &PipeOptions,
    mut deliver: D,
) -> Result<(), E>
where
    N: FnMut() -> Option<Chunk>,
    D: FnMut(Scrubbed) -> Result<(), E>,
{
    let mut redactor = Redactor::with_options(Arc::clone(&scanner), options.scrub());
    let mut current: Option<Arc<Stream>> = None;
    let mut put_aside = Cursors::default();
    while let Some(chunk) = next() {
        if let Some(next) = options.reload.as_ref().and_then(|r| r.poll()) {
            scanner = next;
        }
        let result = if is_ack_only(&chunk) {
            passed_on(chunk)
        } else {
            let start = match &current {
                Some(s) if Arc::ptr_eq(s, &chunk.stream) => redactor.cursor(),
                _ => {
                    if let Some(previous) = current.take() {
                        put_aside.put(&previous, redactor.cursor());
                    }
                    current = Some(Arc::clone(&chunk.stream));
                    put_aside.take(&chunk.stream)
                }
            };
            scrub_chunk(&mut redactor, &scanner, chunk, start)
        };
        deliver(result)?;
    }
    Ok(())
}

/// Where the chunks come in with several scrubbing threads: the one place
/// that sees them in order. A worker takes a chunk here, under the lock,
/// with its number and the state its stream stands in at its first line
/// ([`Cursors`]), then scrubs it outside the lock, concurrently with the
/// others.
struct Intake<N> {
    next: N,
    cursors: Cursors,
    /// The configuration in force (a reload switches it here).
    scanner: Arc<Scanner>,
    seq: u64,
    /// `next` said the end: no more chunks.
    ended: bool,
}

impl<N: FnMut() -> Option<Chunk>> Intake<N> {
    /// The next chunk, numbered, with its start; `None` at the end.
    fn take(&mut self, options: &PipeOptions) -> Option<Job> {
        if self.ended {
            return None;
        }
        let Some(chunk) = (self.next)() else {
            self.ended = true;
            return None;
        };
        if let Some(next) = options.reload.as_ref().and_then(|r| r.poll()) {
            self.scanner = next;
        }
        let lines = match &chunk.payload {
            OwnedBatch::Lines(lines) => Some(lines.as_slice()),
            OwnedBatch::OverLong { .. } => None,
        };
        let start = if is_ack_only(&chunk) {
            StreamCursor::default()
        } else {
            self.cursors.advance(
                &chunk.stream,
                lines,
                &self.scanner,
                options.findings.is_some(),
                options.max_line_bytes,
            )
        };
        let seq = self.seq;
        self.seq += 1;
        Some(Job {
            seq,
            chunk,
            scanner: Arc::clone(&self.scanner),
            start,
        })
    }
}

/// A worker thread (`--threads N`, N > 1): takes a place in flight, then a
/// chunk from the intake, scrubs it and hands it to the calling thread,
/// until the chunks end or the calling thread is gone.
fn worker<N: FnMut() -> Option<Chunk>>(
    intake: &Mutex<Intake<N>>,
    options: &PipeOptions,
    tokens: &SyncSender<()>,
    done_tx: &SyncSender<(u64, Scrubbed)>,
    mut redactor: Redactor,
) {
    loop {
        if tokens.send(()).is_err() {
            return;
        }
        let job = match intake.lock() {
            Ok(mut intake) => intake.take(options),
            Err(_) => None,
        };
        let Some(job) = job else { return };
        let result = if is_ack_only(&job.chunk) {
            passed_on(job.chunk)
        } else {
            scrub_chunk(&mut redactor, &job.scanner, job.chunk, job.start)
        };
        if done_tx.send((job.seq, result)).is_err() {
            return;
        }
    }
}

/// Scrubs one chunk from `start`, giving its input buffer back.
fn scrub_chunk(
    redactor: &mut Redactor,
    scanner: &Arc<Scanner>,
    chunk: Chunk,
    start: StreamCursor,
) -> Scrubbed {
    let Chunk {
        stream,
        mut payload,
        ack,
        seam,
        cuts,
    } = chunk;
    let started = Instant::now();
    if let OwnedBatch::Lines(lines) = &mut payload {
        crate::redact::prepare_seams(scanner, lines, seam, &cuts);
    }
    let mut output = crate::source::buffers::take();
    scrub_job(
        redactor,
        scanner,
        &payload,
        start.block_lines_left,
        start.carry,
        start.lines,
        &mut output,
    );
    if let OwnedBatch::Lines(lines) = payload {
        crate::source::buffers::give(lines);
    }
    Scrubbed {
        stream,
        ack,
        output,
        records: redactor.take_records(),
        stats: redactor.take_stats(),
        duration: started.elapsed(),
    }
}

/// Where each stream stands ([`StreamCursor`]) after its last chunk. The
/// intake sees a stream's chunks in order, so it gives each chunk its
/// first line number and starting private-key block state before the
/// chunks are scrubbed concurrently. Entries are keyed by the stream's
/// address; the `Weak` keeps that address from being reused while the entry
/// exists, and entries of streams that are gone are swept as the map grows.
#[derive(Default)]
struct Cursors {
    cursors: HashMap<usize, (Weak<Stream>, StreamCursor)>,
    sweep_at: usize,
}

impl Cursors {
    fn entry(&mut self, stream: &Arc<Stream>) -> &mut StreamCursor {
        if self.cursors.len() >= self.sweep_at {
            self.cursors.retain(|_, (s, _)| s.strong_count() > 0);
            self.sweep_at = (2 * self.cursors.len()).max(64);
        }
        let key = Arc::as_ptr(stream) as usize;
        &mut self
            .cursors
            .entry(key)
            .or_insert_with(|| (Arc::downgrade(stream), StreamCursor::default()))
            .1
    }

    /// The cursor at the start of a chunk of `stream`, moved past it
    /// (`lines`: `None` for an over-long line).
    fn advance(
        &mut self,
        stream: &Arc<Stream>,
        lines: Option<&[u8]>,
        scanner: &Scanner,
        count_lines: bool,
        max_line_bytes: usize,
    ) -> StreamCursor {
        self.entry(stream)
            .advance(lines, scanner, count_lines, max_line_bytes)
    }

    /// Keeps where `stream` stands while other streams are scrubbed.
    fn put(&mut self, stream: &Arc<Stream>, cursor: StreamCursor) {
        *self.entry(stream) = cursor;
    }

    /// Where `stream` stood when it was put aside (its start if never).
    fn take(&mut self, stream: &Arc<Stream>) -> StreamCursor {
        let key = Arc::as_ptr(stream) as usize;
        self.cursors
            .remove(&key)
            .map(|(_, cursor)| cursor)
            .unwrap_or_default()
    }
}

/// Scrubs everything `input` yields into `output`: the scrub stage driven
/// by one stream read on the stage's thread, delivered by the calling
/// thread. `name` names the input in errors and findings. Counts are added
/// to `stats`. Data read before an input error is still written before the
/// error is returned. For the library and `scan`; the binary's runs go
/// through the service, which drives the same stage.
pub fn run<R: Read + Send + 'static, W: Write>(
    name: &str,
    input: R,
    output: &mut W,
    scanner: &Arc<Scanner>,
    options: &PipeOptions,
    stats: &mut Stats,
) -> Result<(), PipeError> {
    let name: Arc<str> = name.into();
    let stream = Arc::new(Stream {
        name: Arc::clone(&name),
        label: Arc::clone(&name),
    });
    let framing = FramingOptions {
        max_line_bytes: options.max_line_bytes,
        continued: options
            .scrub()
            .holds_cri_partials()
            .then_some(crate::source::cri_partial),
    };
    let read_error: Arc<Mutex<Option<io::Error>>> = Arc::default();
    let next = {
        let mut feed = Feed::new(stream, framing, 0);
        let mut input = input;
        let mut ended = false;
        let read_error = Arc::clone(&read_error);
        move || loop {
            if let Some(chunk) = feed.next_chunk() {
                return Some(chunk);
            }
            if ended {
                return None;
            }
            match input.read(feed.framer().spare()) {
                Ok(0) => {
                    feed.framer().finish();
                    ended = true;
                }
                Ok(n) => feed.framer().filled(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // What was read before the error still goes out.
                    feed.framer().finish();
                    ended = true;
                    if let Ok(mut slot) = read_error.lock() {
                        *slot = Some(e);
                    }
                }
            }
        }
    };
    run_stage(next, scanner, options, |scrubbed| {
        let Scrubbed {
            stream,
            output: out,
            records,
            stats: mut delta,
            duration,
            ..
        } = scrubbed;
        crate::telemetry::publish_batch(&stream.label, &stream.name, &delta, duration);
        stats.drain_from(&mut delta);
        output.write_all(&out).map_err(PipeError::Write)?;
        crate::source::buffers::give(out);
        write_records(options, &stream.name, &records)
    })?;
    output.flush().map_err(PipeError::Write)?;
    let failed = read_error.lock().ok().and_then(|mut slot| slot.take());
    match failed {
        Some(source) => Err(PipeError::Read {
            input: name.to_string(),
            source,
        }),
        None => Ok(()),
    }
}

/// Scrubs `text` exactly as a run with `options` would: the same framing
/// (line limit, CRI partial runs), redactor and options, through the same
/// stage with one thread. For the tools that show what a run does to a
/// line (`explain`, `rules test`); no reload, no findings, counts dropped.
pub fn scrub_text(
    scanner: &Arc<Scanner>,
    options: &PipeOptions,
    text: &[u8],
) -> Result<Vec<u8>, PipeError> {
    let options = PipeOptions {
        threads: 1,
        reload: None,
        findings: None,
        ..options.clone()
    };
    let mut out = Vec::with_capacity(text.len());
    let mut stats = Stats::default();
    run(
        "text",
        io::Cursor::new(text.to_vec()),
        &mut out,
        scanner,
        &options,
        &mut stats,
    )?;
    Ok(out)
}

/// Writes finding records to the `--findings` side channel, if any.
pub(crate) fn write_records(
    options: &PipeOptions,
    name: &str,
    records: &[crate::findings::FindingRecord],
) -> Result<(), PipeError> {
    let Some(sink) = &options.findings else {
        return Ok(());
    };
    if records.is_empty() {
        return Ok(());
    }
    let mut sink = sink
        .lock()
        .map_err(|_| PipeError::Write(io::Error::other("findings writer poisoned")))?;
    for r in records {
        crate::findings::write_json(&mut *sink, name, r).map_err(PipeError::Findings)?;
    }
    sink.flush().map_err(PipeError::Findings)
}

/// Scrubs one batch into `output` with `scanner`, starting in the given
/// private-key block state and carried fields at line `first_line` of its
/// stream. The
/// counts and finding records wait in `redactor` to be taken.
pub(crate) fn scrub_job(
    redactor: &mut Redactor,
    scanner: &Arc<Scanner>,
    kind: &OwnedBatch,
    block_lines_left: u32,
    carry: crate::format::carry::Carry,
    first_line: u64,
    output: &mut Vec<u8>,
) {
    if !Arc::ptr_eq(redactor.scanner(), scanner) {
        redactor.replace_scanner(Arc::clone(scanner));
    }
    redactor.set_block_state(block_lines_left);
    redactor.set_carry(carry);
    redactor.set_line_number(first_line);
    match kind {
        OwnedBatch::Lines(lines) => {
            output.reserve(lines.len() + lines.len() / 16);
            redactor.scrub_lines(lines, output);
        }
        OwnedBatch::OverLong { terminated, bytes } => {
            redactor.stats_mut().bytes_in += bytes;
            redactor.fail_closed(*terminated, output);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(name: &str) -> Arc<Stream> {
        Arc::new(Stream {
            name: name.into(),
            label: name.into(),
        })
    }

    #[test]
    fn cursors_are_kept_per_stream_and_swept() {
        let scanner = Scanner::builtin();
        let mut cursors = Cursors::default();
        let advance = |c: &mut Cursors, s: &Arc<Stream>, lines: Option<&[u8]>| {
            c.advance(s, lines, &scanner, true, 1000)
        };
        let (a, b) = (stream("a"), stream("b"));
        let begin = b"-----BEGIN RSA PRIVATE KEY-----\n".as_slice();
        assert_eq!(
            advance(&mut cursors, &a, Some(begin)),
            StreamCursor::default()
        );
        // Another stream is not inside a's block, and counts its own lines.
        let b0 = advance(&mut cursors, &b, Some(b"plain\n"));
        assert_eq!((b0.lines, b0.block_lines_left), (0, 0));
        let inside = advance(&mut cursors, &a, None);
        assert_eq!(inside.lines, 1);
        assert!(inside.block_lines_left > 0);
        let next = advance(&mut cursors, &a, Some(b"QUJD\nQUJD\n"));
        assert_eq!(next, StreamCursor { lines: 2, ..inside });
        let end = advance(&mut cursors, &a, Some(b"-----END RSA PRIVATE KEY-----\n"));
        assert_eq!(end.block_lines_left, inside.block_lines_left - 2);
        let after = advance(&mut cursors, &a, Some(b"after"));
        assert_eq!((after.lines, after.block_lines_left), (5, 0));
        assert_eq!(advance(&mut cursors, &b, None).lines, 1);
        // Streams that are gone do not pile up.
        drop((a, b));
        for i in 0..1000 {
            let s = stream(&i.to_string());
            advance(&mut cursors, &s, Some(begin));
        }
        assert!(cursors.cursors.len() <= 128, "{}", cursors.cursors.len());
    }

    /// A source that yields `data` in small reads, then fails if asked.
    struct Source {
        data: Vec<u8>,
        pos: usize,
        step: usize,
        fail_at_end: bool,
    }

    impl Read for Source {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() && self.fail_at_end {
                return Err(io::Error::other("disk on fire"));
            }
            let n = self.step.min(buf.len()).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn corpus() -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..40_000u32 {
            match i % 7 {
                0 => {
                    data.extend_from_slice(format!("{i} card 4111 1111 1111 1111 ok\n").as_bytes())
                }
                1 => data.extend_from_slice(b"-----BEGIN RSA PRIVATE KEY-----\n"),
                2 => data.extend_from_slice(b"QUJDREVGR0hJSktMTU5PUA==\n"),
                3 => data.extend_from_slice(b"-----END RSA PRIVATE KEY-----\n"),
                _ => data.extend_from_slice(
                    format!("{i} plain line with id 1740797428239\n").as_bytes(),
                ),
            }
        }
        data.extend_from_slice(b"last line without newline 5555555555554444");
        data
    }

    fn scrub(data: &[u8], threads: usize, fail: bool) -> (Vec<u8>, Result<(), PipeError>, Stats) {
        let scanner = Arc::new(Scanner::builtin());
        let source = Source {
            data: data.to_vec(),
            pos: 0,
            step: 10_000,
            fail_at_end: fail,
        };
        let options = PipeOptions {
            max_line_bytes: 1 << 20,
            threads,
            ..PipeOptions::default()
        };
        let mut out = Vec::new();
        let mut stats = Stats::new(scanner.rules().len());
        let result = run("test", source, &mut out, &scanner, &options, &mut stats);
        (out, result, stats)
    }

    #[test]
    fn parallel_output_equals_sequential() {
        let data = corpus();
        let (one, r1, s1) = scrub(&data, 1, false);
        r1.unwrap();
        for threads in [2, 3, 8] {
            let (many, r, s) = scrub(&data, threads, false);
            r.unwrap();
            assert!(many == one, "{threads} threads differ from 1");
            assert_eq!(s.total_redactions(), s1.total_redactions());
            assert_eq!(s.lines, s1.lines);
        }
        let text = String::from_utf8(one).unwrap();
        assert_eq!(text.lines().count(), 40_001);
        assert!(
            !text.contains("4111 1111")
                && !text.contains("QUJDREVG")
                && !text.contains("5555555555554444")
        );
    }

    #[test]
    fn data_before_a_read_error_is_written() {
        let data = corpus();
        for threads in [1, 2] {
            let (out, result, _) = scrub(&data, threads, true);
            assert!(matches!(result, Err(PipeError::Read { .. })), "{threads}");
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 40_000);
        }
    }
    /// Stream `n`'s lines: private-key blocks, carried fields (a table
    /// header and its rows, a dump key and its value), cards, over-long
    /// lines (over 200 bytes), and no final newline.
    fn stream_text(n: usize, lines: usize) -> Vec<u8> {
        let mut text = Vec::new();
        for i in 0..lines {
            let line = match (i + n) % 11 {
                0 => format!("{n}/{i} card 4111 1111 1111 1111 ok\n"),
                1 => "-----BEGIN RSA PRIVATE KEY-----\n".into(),
                2 => "QUJDREVGR0hJSktMTU5PUA==\n".into(),
                3 => "-----END RSA PRIVATE KEY-----\n".into(),
                4 => "| user | password |\n".into(),
                5 => format!("| u{i} | hunter{n}{i}x |\n"),
                6 => "\"cvv\" =>\n".into(),
                7 => "  string(3) \"123\"\n".into(),
                8 => format!("{n}/{i} {}\n", "x".repeat(250)),
                _ => format!("{n}/{i} plain line with id 1740797428239 mail a{i}@example.com\n"),
            };
            text.extend_from_slice(line.as_bytes());
        }
        text.extend_from_slice(format!("{n} last 5555555555554444").as_bytes());
        text
    }

    /// The chunks a source makes of `text`, read `step` bytes at a time.
    fn chunks_of(stream: &Arc<Stream>, text: &[u8], step: usize, max: usize) -> Vec<Chunk> {
        let framing = FramingOptions {
            max_line_bytes: max,
            continued: Some(crate::source::cri_partial),
        };
        let mut feed = Feed::new(Arc::clone(stream), framing, 0);
        let mut chunks = Vec::new();
        for piece in text.chunks(step) {
            feed.framer().push(piece);
            chunks.extend(std::iter::from_fn(|| feed.next_chunk()));
        }
        feed.framer().finish();
        chunks.extend(std::iter::from_fn(|| feed.next_chunk()));
        chunks
    }

    type Delivered = HashMap<String, (Vec<u8>, Vec<FindingRecord>, u64)>;

    /// Runs `chunks` through the stage; per stream: output, records, lines.
    fn staged(chunks: Vec<Chunk>, threads: usize, max: usize) -> Delivered {
        let scanner = Arc::new(Scanner::builtin());
        let findings: Arc<Mutex<dyn Write + Send>> = Arc::new(Mutex::new(io::sink()));
        let options = PipeOptions {
            threads,
            max_line_bytes: max,
            findings: Some(findings),
            ..PipeOptions::default()
        };
        let mut chunks = chunks.into_iter();
        let mut got = Delivered::new();
        run_stage(
            move || chunks.next(),
            &scanner,
            &options,
            |s: Scrubbed| -> Result<(), ()> {
                let entry = got.entry(s.stream.name.to_string()).or_default();
                entry.0.extend_from_slice(&s.output);
                entry.1.extend(s.records);
                entry.2 += s.stats.lines;
                Ok(())
            },
        )
        .unwrap();
        got
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

        /// Chunks of several streams, cut anywhere and interleaved in any
        /// order, on any number of threads: each stream comes out exactly
        /// as it does alone on one thread — the same bytes, the same
        /// finding records with the same line numbers, the same counts.
        #[test]
        fn interleaved_streams_scrub_as_each_alone(
            threads in 1usize..4,
            steps in proptest::collection::vec(1usize..3000, 3),
            order in proptest::collection::vec(0usize..3, 0..200),
        ) {
            let max = 200;
            let streams: Vec<Arc<Stream>> = (0..3).map(|n| stream(&format!("s{n}"))).collect();
            let texts: Vec<Vec<u8>> = (0..3).map(|n| stream_text(n, 300 + 50 * n)).collect();
            let mut alone = Delivered::new();
            for (s, text) in streams.iter().zip(&texts) {
                alone.extend(staged(chunks_of(s, text, text.len(), max), 1, max));
            }
            let mut queues: Vec<std::collections::VecDeque<Chunk>> = streams
                .iter()
                .zip(&texts)
                .zip(&steps)
                .map(|((s, text), &step)| chunks_of(s, text, step, max).into())
                .collect();
            let mut mixed = Vec::new();
            for &n in &order {
                mixed.extend(queues[n].pop_front());
            }
            for queue in &mut queues {
                mixed.extend(queue.drain(..));
            }
            let got = staged(mixed, threads, max);
            for name in ["s0", "s1", "s2"] {
                let (want, got) = (&alone[name], &got[name]);
                proptest::prop_assert!(want.0 == got.0, "{} output differs", name);
                proptest::prop_assert_eq!(&want.1, &got.1);
                proptest::prop_assert_eq!(want.2, got.2);
            }
            let text = String::from_utf8_lossy(&alone["s1"].0).into_owned();
            proptest::prop_assert!(!text.contains("4111 1111") && !text.contains("QUJDREVG"));
            proptest::prop_assert!(!text.contains("hunter") && !text.contains("xxxxxxxx"));
        }
    }
}
