//! The pipe: source → framing → scan → redact → sink, for one stream.
//!
//! Lines come out in input order, one output line per input line. A line
//! longer than the limit is replaced by [`OVERLONG_MARKER`] (fail closed)
//! and counted.
//!
//! With one thread, reading, scrubbing and writing take turns on the calling
//! thread. With more, a reader thread cuts the input into batches of whole
//! lines, `threads` workers scrub batches concurrently, and the calling
//! thread writes them back in input order. At most `2 × threads` batches are
//! in flight at any time, so memory stays bounded and a slow output slows
//! the reader down (backpressure) instead of buffering without limit. Data
//! read before an input error is still written before the error is returned.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use crate::framing::{Batch, LineReader, OwnedBatch};
use crate::redact::{OverlongPolicy, Redactor, ScrubOptions, StreamCursor};
use crate::scan::Scanner;
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

/// Scrubs everything `input` yields into `output`. `name` names the input
/// in errors. Counts are added to `stats`.
pub fn run<R: Read + Send + 'static, W: Write>(
    name: &str,
    input: R,
    output: &mut W,
    scanner: &Arc<Scanner>,
    options: &PipeOptions,
    stats: &mut Stats,
) -> Result<(), PipeError> {
    if options.threads <= 1 {
        run_sequential(name, input, output, scanner, options, stats)
    } else {
        run_parallel(name, input, output, scanner, options, stats)
    }
}

fn run_sequential<R: Read, W: Write>(
    name: &str,
    input: R,
    output: &mut W,
    scanner: &Arc<Scanner>,
    options: &PipeOptions,
    stats: &mut Stats,
) -> Result<(), PipeError> {
    let mut reader = LineReader::new(input, options.max_line_bytes).hold_continued_runs(
        options
            .scrub()
            .holds_cri_partials()
            .then_some(crate::source::cri_partial),
    );
    let mut redactor = Redactor::with_options(Arc::clone(scanner), options.scrub());
    let mut out = Vec::with_capacity(crate::framing::READ_CHUNK + 4096);
    let result = loop {
        if let Some(next) = options.reload.as_ref().and_then(|r| r.poll()) {
            redactor.replace_scanner(next);
        }
        let batch = match reader.next_batch() {
            Ok(b) => b,
            Err(source) => {
                break Err(PipeError::Read {
                    input: name.to_string(),
                    source,
                })
            }
        };
        out.clear();
        let started = std::time::Instant::now();
        match batch {
            None => break Ok(()),
            Some(Batch::Lines(lines)) => redactor.scrub_lines(lines, &mut out),
            Some(Batch::OverLong { terminated, bytes }) => {
                redactor.stats_mut().bytes_in += bytes;
                redactor.fail_closed(terminated, &mut out)
            }
        }
        let mut delta = redactor.take_stats();
        crate::telemetry::publish_batch(name, name, &delta, started.elapsed());
        stats.drain_from(&mut delta);
        if let Err(e) = output.write_all(&out) {
            break Err(PipeError::Write(e));
        }
        if let Err(e) = write_records(options, name, &redactor.take_records()) {
            break Err(e);
        }
    };
    stats.drain_from(&mut redactor.take_stats());
    output.flush().map_err(PipeError::Write)?;
    result
}

/// Scrubs `text` on the calling thread exactly as a run with `options`
/// would: the same framing (line limit, CRI partial runs), redactor and
/// options. For the tools that show what a run does to a line (`explain`,
/// `rules test`); no reload, no findings, counts dropped.
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
    run_sequential("text", text, &mut out, scanner, &options, &mut stats)?;
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

/// A batch of input for a worker.
struct Job {
    seq: u64,
    kind: OwnedBatch,
    /// Private-key block state at the batch's first line.
    block_lines_left: u32,
    /// Fields named before the batch's first line (tables, dumps).
    carry: crate::format::carry::Carry,
    /// The configuration to scrub it with.
    scanner: Arc<Scanner>,
    /// Lines of the input before this batch.
    first_line: u64,
}

/// What the workers and the reader report to the writer.
enum Report {
    Done {
        seq: u64,
        output: Vec<u8>,
        input: Option<Vec<u8>>,
        records: Vec<crate::findings::FindingRecord>,
        /// The batch's counts, folded by rule id, and scrubbing time.
        stats: Stats,
        duration: std::time::Duration,
    },
    /// The reader failed after handing out batches `0..seq`.
    ReadFailed { seq: u64, error: io::Error },
    /// The reader reached the end after `seq` batches.
    Finished { seq: u64 },
    /// A worker's counters, sent when it stops.
    Stats(Stats),
}

fn run_parallel<R: Read + Send + 'static, W: Write>(
    name: &str,
    input: R,
    output: &mut W,
    scanner: &Arc<Scanner>,
    options: &PipeOptions,
    stats: &mut Stats,
) -> Result<(), PipeError> {
    let threads = options.threads;
    let in_flight = 2 * threads;
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(in_flight);
    let (report_tx, report_rx) = mpsc::channel::<Report>();
    // One token per batch in flight: the reader takes one before sending a
    // batch, the writer gives it back once the batch is written.
    let (token_tx, token_rx) = mpsc::sync_channel::<()>(in_flight);
    // Emptied input buffers go back to the reader.
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    // Written output buffers go back to the workers.
    let spare_outputs: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();

    let job_rx = Arc::new(Mutex::new(job_rx));
    for _ in 0..threads {
        let job_rx = Arc::clone(&job_rx);
        let report_tx = report_tx.clone();
        let redactor = Redactor::with_options(Arc::clone(scanner), options.scrub());
        std::thread::Builder::new()
            .name("logscrub-worker".into())
            .spawn({
                let spare_outputs = Arc::clone(&spare_outputs);
                move || worker(&job_rx, &report_tx, &spare_outputs, redactor)
            })
            .map_err(PipeError::Write)?;
    }
    let reader = BatchReader {
        max_line_bytes: options.max_line_bytes,
        hold_cri_partials: options.scrub().holds_cri_partials(),
        scanner: Arc::clone(scanner),
        reload: options.reload.clone(),
        count_lines: options.findings.is_some(),
    };
    std::thread::Builder::new()
        .name("logscrub-reader".into())
        .spawn(move || reader.run(input, &job_tx, &token_tx, &report_tx, &free_rx))
        .map_err(PipeError::Write)?;

    write_in_order(
        name,
        options,
        output,
        &report_rx,
        &token_rx,
        &free_tx,
        &spare_outputs,
        stats,
    )
}

/// The reader thread's state: cuts the input into numbered batches, each
/// with the configuration and private-key block state it starts with.
struct BatchReader {
    max_line_bytes: usize,
    hold_cri_partials: bool,
    scanner: Arc<Scanner>,
    reload: Option<Arc<Reloader>>,
    /// Whether batches need their first line's number (finding records).
    count_lines: bool,
}

impl BatchReader {
    fn run<R: Read>(
        mut self,
        input: R,
        job_tx: &SyncSender<Job>,
        token_tx: &SyncSender<()>,
        report_tx: &mpsc::Sender<Report>,
        free_rx: &Receiver<Vec<u8>>,
    ) {
        let mut reader = LineReader::new(input, self.max_line_bytes)
            .hold_continued_runs(self.hold_cri_partials.then_some(crate::source::cri_partial));
        let mut seq = 0u64;
        let mut cursor = StreamCursor::default();
        loop {
            let kind = match reader.next_batch() {
                Ok(None) => {
                    let _ = report_tx.send(Report::Finished { seq });
                    return;
                }
                Ok(Some(Batch::Lines(lines))) => {
                    let mut buf = free_rx.try_recv().unwrap_or_default();
                    buf.clear();
                    buf.extend_from_slice(lines);
                    OwnedBatch::Lines(buf)
                }
                Ok(Some(Batch::OverLong { terminated, bytes })) => {
                    OwnedBatch::OverLong { terminated, bytes }
                }
                Err(error) => {
                    let _ = report_tx.send(Report::ReadFailed { seq, error });
                    return;
                }
            };
            if let Some(next) = self.reload.as_ref().and_then(|r| r.poll()) {
                self.scanner = next;
            }
            let lines = match &kind {
                OwnedBatch::Lines(lines) => Some(lines.as_slice()),
                OwnedBatch::OverLong { .. } => None,
            };
            let start = cursor.advance(lines, &self.scanner, self.count_lines, self.max_line_bytes);
            if token_tx.send(()).is_err() {
                return;
            }
            let job = Job {
                seq,
                kind,
                block_lines_left: start.block_lines_left,
                carry: start.carry,
                scanner: Arc::clone(&self.scanner),
                first_line: start.lines,
            };
            if job_tx.send(job).is_err() {
                return;
            }
            seq += 1;
        }
    }
}

/// A worker thread: scrubs batches until the reader is done.
fn worker(
    job_rx: &Mutex<Receiver<Job>>,
    report_tx: &mpsc::Sender<Report>,
    spare_outputs: &Mutex<Vec<Vec<u8>>>,
    mut redactor: Redactor,
) {
    loop {
        let job = {
            let Ok(rx) = job_rx.lock() else { break };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            }
        };
        // A reused buffer: a fresh one would fault in its pages anew.
        let mut output = spare_outputs
            .lock()
            .ok()
            .and_then(|mut spare| spare.pop())
            .unwrap_or_default();
        output.clear();
        let started = std::time::Instant::now();
        scrub_job(
            &mut redactor,
            &job.scanner,
            &job.kind,
            job.block_lines_left,
            job.carry,
            job.first_line,
            &mut output,
        );
        let input = match job.kind {
            OwnedBatch::Lines(lines) => Some(lines),
            OwnedBatch::OverLong { .. } => None,
        };
        let report = Report::Done {
            seq: job.seq,
            output,
            input,
            records: redactor.take_records(),
            stats: redactor.take_stats(),
            duration: started.elapsed(),
        };
        if report_tx.send(report).is_err() {
            return;
        }
    }
    let _ = report_tx.send(Report::Stats(redactor.take_stats()));
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

/// The calling thread: writes finished batches in input order.
#[allow(clippy::too_many_arguments)] // the pipeline's channels, each its own
fn write_in_order<W: Write>(
    name: &str,
    options: &PipeOptions,
    output: &mut W,
    report_rx: &Receiver<Report>,
    token_rx: &Receiver<()>,
    free_tx: &mpsc::Sender<Vec<u8>>,
    spare_outputs: &Mutex<Vec<Vec<u8>>>,
    stats: &mut Stats,
) -> Result<(), PipeError> {
    let mut pending: BTreeMap<u64, (Vec<u8>, Vec<crate::findings::FindingRecord>, u64)> =
        BTreeMap::new();
    let mut waiting_lines = 0u64;
    let mut next = 0u64;
    let mut end: Option<(u64, Option<io::Error>)> = None;
    // Every report channel sender is dropped once the reader and all
    // workers have stopped, which ends this loop.
    for report in report_rx.iter() {
        match report {
            Report::Done {
                seq,
                output: out,
                input,
                records,
                stats: mut delta,
                duration,
            } => {
                if let Some(buf) = input {
                    let _ = free_tx.send(buf);
                }
                crate::telemetry::publish_batch(name, name, &delta, duration);
                waiting_lines += delta.lines;
                let lines = delta.lines;
                stats.drain_from(&mut delta);
                pending.insert(seq, (out, records, lines));
                while let Some((out, records, lines)) = pending.remove(&next) {
                    output.write_all(&out).map_err(PipeError::Write)?;
                    if let Ok(mut spare) = spare_outputs.lock() {
                        spare.push(out);
                    }
                    write_records(options, name, &records)?;
                    waiting_lines -= lines;
                    let _ = token_rx.recv();
                    next += 1;
                }
                crate::telemetry::set_output_buffer_lines(waiting_lines);
            }
            Report::ReadFailed { seq, error } => end = Some((seq, Some(error))),
            Report::Finished { seq } => end = Some((seq, None)),
            Report::Stats(mut s) => stats.drain_from(&mut s),
        }
    }
    output.flush().map_err(PipeError::Write)?;
    match end {
        Some((seq, error)) => {
            debug_assert_eq!(seq, next, "every batch was written");
            match error {
                Some(source) => Err(PipeError::Read {
                    input: name.to_string(),
                    source,
                }),
                None => Ok(()),
            }
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
