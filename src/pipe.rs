//! The scrub job and what every run shares: its options ([`PipeOptions`],
//! copied whole into each redactor), its errors ([`PipeError`]), live
//! reload ([`Reloader`]) and the findings side channel.
//!
//! Every line of a run goes one way: sources → framing → [`scrub_job`] →
//! one ordered writer → sink, in [`crate::service`]. Lines come out in input
//! order, one output line per input line; a line longer than the limit is
//! replaced by [`OVERLONG_MARKER`] (fail closed) and counted.
//!
//! [`run`] is a thin driver over the same framing, [`StreamCursor`] and
//! [`scrub_job`] for one in-memory or file stream on the calling thread:
//! the tools that show or check what a run does (`scan`, `explain`,
//! `rules test`) and tests use it, so they see exactly what a run writes.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// The thin driver: scrubs everything `input` yields into `output` on the
/// calling thread, one batch at a time, with the same framing (line limit,
/// CRI partial runs), [`StreamCursor`] and [`scrub_job`] as the service's
/// pipeline. For the tools that read one stream into memory (`scan`,
/// `explain`, `rules test`) and for tests; every run of the command goes
/// through [`crate::service`]. `name` names the input in errors and
/// findings; counts are added to `stats`; `options.threads` is not used
/// (one thread). Data read before an input error is still written before
/// the error is returned.
pub fn run<R: Read, W: Write>(
    name: &str,
    input: R,
    output: &mut W,
    scanner: &Arc<Scanner>,
    options: &PipeOptions,
    stats: &mut Stats,
) -> Result<(), PipeError> {
    let scrub = options.scrub();
    let mut reader = LineReader::new(input, options.max_line_bytes).hold_continued_runs(
        scrub
            .holds_cri_partials()
            .then_some(crate::source::cri_partial),
    );
    let mut scanner = Arc::clone(scanner);
    let mut redactor = Redactor::with_options(Arc::clone(&scanner), scrub);
    let mut cursor = StreamCursor::default();
    let mut out = Vec::with_capacity(crate::framing::READ_CHUNK + 4096);
    let result = loop {
        if let Some(next) = options.reload.as_ref().and_then(|r| r.poll()) {
            scanner = next;
        }
        let batch = match reader.next_batch() {
            Ok(None) => break Ok(()),
            Ok(Some(batch)) => batch,
            Err(source) => {
                break Err(PipeError::Read {
                    input: name.to_string(),
                    source,
                })
            }
        };
        let lines = match batch {
            Batch::Lines(lines) => Some(lines),
            Batch::OverLong { .. } => None,
        };
        let start = cursor.advance(
            lines,
            &scanner,
            options.findings.is_some(),
            options.max_line_bytes,
        );
        out.clear();
        let started = std::time::Instant::now();
        scrub_job(&mut redactor, &scanner, batch, start, &mut out);
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
    run("text", text, &mut out, scanner, &options, &mut stats)?;
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

/// The scrub job: scrubs one batch of a stream into `output` with
/// `scanner`, starting where `start` says the stream stands (its line
/// number, private-key block state and carried fields; see
/// [`StreamCursor`]). Every line of every run goes through here, on
/// whichever thread; the counts and finding records wait in `redactor` to
/// be taken.
pub(crate) fn scrub_job(
    redactor: &mut Redactor,
    scanner: &Arc<Scanner>,
    batch: Batch<'_>,
    start: StreamCursor,
    output: &mut Vec<u8>,
) {
    if !Arc::ptr_eq(redactor.scanner(), scanner) {
        redactor.replace_scanner(Arc::clone(scanner));
    }
    redactor.set_block_state(start.block_lines_left);
    redactor.set_carry(start.carry);
    redactor.set_line_number(start.lines);
    match batch {
        Batch::Lines(lines) => {
            output.reserve(lines.len() + lines.len() / 16);
            redactor.scrub_lines(lines, output);
        }
        Batch::OverLong { terminated, bytes } => {
            redactor.stats_mut().bytes_in += bytes;
            redactor.fail_closed(terminated, output);
        }
    }
}

/// The borrowed form of a batch a source handed over.
pub(crate) fn borrowed(batch: &OwnedBatch) -> Batch<'_> {
    match batch {
        OwnedBatch::Lines(lines) => Batch::Lines(lines),
        &OwnedBatch::OverLong { terminated, bytes } => Batch::OverLong { terminated, bytes },
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
    fn the_driver_scrubs_like_one_redactor() {
        let data = corpus();
        let (out, result, stats) = scrub(&data, 1, false);
        result.unwrap();
        let whole = crate::redact::scrub_with(&Arc::new(Scanner::builtin()), &data);
        assert!(out == whole, "batches scrubbed apart differ from one pass");
        assert_eq!(stats.lines, 40_001);
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains("4111 1111")
                && !text.contains("QUJDREVG")
                && !text.contains("5555555555554444")
        );
    }

    #[test]
    fn data_before_a_read_error_is_written() {
        let data = corpus();
        let (out, result, _) = scrub(&data, 1, true);
        assert!(matches!(result, Err(PipeError::Read { .. })));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 40_000);
    }
}
