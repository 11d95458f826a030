//! The service: many sources, one scrubber pool, one sink, on tokio.
//!
//! ```text
//! sources ──(bounded: chunks)──▶ dispatcher ──(bounded: in-flight scrubs,
//!   in input order)──▶ writer ──(bounded: --output-buffer bytes)──▶ sink
//!                                                   └─▶ checkpoints
//! ```
//!
//! Every stage has a bounded buffer, so a slow or unavailable output stops
//! the sources (backpressure) instead of growing memory. The dispatcher
//! scrubs chunks on at most `threads` blocking threads at once and hands
//! them on in the order they arrived, so each stream's lines keep their
//! order. Nothing is dropped unless `--when-full drop` asks for it, and
//! then every dropped line is counted. A file position is checkpointed only
//! after its lines were written and synced.
//!
//! Shutdown (SIGTERM/SIGINT): sources stop reading, everything already read
//! is scrubbed and written, the sink is synced and closed, checkpoints are
//! saved, and [`run`] returns.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{CheckpointError, Checkpoints};
use crate::findings::FindingRecord;
use crate::framing::OwnedBatch;
use crate::pipe::{PipeError, PipeOptions};
use crate::redact::{Redactor, StreamCursor};
use crate::scan::Scanner;
use crate::sink::{Sink, SinkSpec};
use crate::source::{
    file, socket, stdin, Ack, Chunk, ChunkSender, Feed, FramingOptions, OrderedInput, SourceSpec,
    Stream,
};
use crate::stats::Stats;

/// How often positions are synced and checkpointed.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// What to do when the output buffer is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait (backpressure reaches the inputs). The default.
    Block,
    /// Drop the newest lines, counted as `output_full`.
    Drop,
}

/// Settings of the service.
pub struct ServiceOptions {
    /// Where lines come from.
    pub sources: Vec<SourceSpec>,
    /// Follow files across rotation.
    pub follow: bool,
    /// Start files found at start-up at their end (no checkpoint entry).
    pub start_at_end: bool,
    /// Which files matching an `--input` pattern are opened.
    pub selection: crate::source::select::Selection,
    /// Where lines go.
    pub output: SinkSpec,
    /// The checkpoint file.
    pub checkpoint: Option<PathBuf>,
    /// Bytes of scrubbed output that may wait for the sink.
    pub buffer_bytes: usize,
    /// What happens when they are all used.
    pub when_full: WhenFull,
    /// Scrubbing settings.
    pub pipe: PipeOptions,
}

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A pipe-level error (input, output, findings).
    #[error(transparent)]
    Pipe(#[from] PipeError),
    /// The checkpoint file.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The I/O runtime could not be started.
    #[error("starting the I/O runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A listener could not be bound.
    #[error("--listen {listen}: {source}")]
    Bind {
        /// The source as given.
        listen: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A task of the pipeline failed (a bug: the process aborts on panic).
    #[error("{task} task failed: {source}")]
    Task {
        /// Which task.
        task: &'static str,
        /// The cause.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// A scrubbed chunk.
struct Scrubbed {
    output: Vec<u8>,
    records: Vec<FindingRecord>,
    stats: Stats,
    duration: Duration,
}

/// A chunk on its way to the writer, in input order.
enum InFlight {
    Scrub {
        handle: tokio::task::JoinHandle<Scrubbed>,
        stream: Arc<Stream>,
        ack: Option<Ack>,
    },
    AckOnly(Ack),
}

/// A batch of output for the sink.
struct OutBatch {
    bytes: Vec<u8>,
    lines: u64,
    acks: Vec<Ack>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Runs the service until every source ends or shutdown is requested.
pub fn run(
    options: ServiceOptions,
    scanner: Arc<Scanner>,
    stop: Arc<AtomicBool>,
    readiness: crate::telemetry::Readiness,
    stats: &mut Stats,
) -> Result<(), ServiceError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("logscrub-io")
        .enable_all()
        .build()
        .map_err(ServiceError::Runtime)?;
    runtime.block_on(serve(options, scanner, stop, readiness, stats))
}

async fn serve(
    options: ServiceOptions,
    scanner: Arc<Scanner>,
    stop: Arc<AtomicBool>,
    readiness: crate::telemetry::Readiness,
    stats: &mut Stats,
) -> Result<(), ServiceError> {
    let threads = options.pipe.threads.max(1);
    let checkpoints = match &options.checkpoint {
        Some(path) => Some(Arc::new(Mutex::new(Checkpoints::load(path)?))),
        None => None,
    };
    let framing = FramingOptions {
        max_line_bytes: options.pipe.max_line_bytes,
        continued: options
            .pipe
            .scrub()
            .holds_cri_partials()
            .then_some(crate::source::cri_partial),
    };
    let cancel = CancellationToken::new();
    {
        let cancel = cancel.clone();
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(crate::shutdown::POLL_INTERVAL / 2).await;
            }
            cancel.cancel();
        });
    }

    let sink = Sink::open(&options.output, readiness.clone())
        .await
        .map_err(PipeError::Write)?;

    // Sources.
    let (chunk_tx, chunk_rx) = mpsc::channel::<Chunk>(2 * threads + 2);
    let mut sources = tokio::task::JoinSet::new();
    for spec in &options.sources {
        match spec {
            SourceSpec::Stdin => {
                let (tx, stop) = (chunk_tx.clone(), Arc::clone(&stop));
                sources.spawn_blocking(move || {
                    stdin::run(tx, framing, stop).map_err(|source| PipeError::Read {
                        input: "standard input".into(),
                        source,
                    })
                });
            }
            SourceSpec::Files(pattern) => {
                let file_options = file::FileOptions {
                    pattern: pattern.clone(),
                    follow: options.follow,
                    start_at_end: options.start_at_end,
                    selection: options.selection.clone(),
                };
                let (tx, stop, store) = (chunk_tx.clone(), Arc::clone(&stop), checkpoints.clone());
                let name = pattern.clone();
                sources.spawn_blocking(move || {
                    file::run(file_options, framing, tx, stop, store).map_err(|source| {
                        PipeError::Read {
                            input: name,
                            source,
                        }
                    })
                });
            }
            SourceSpec::Tcp { .. } | SourceSpec::Udp(_) | SourceSpec::Unix(_) => {
                let listener =
                    socket::Listener::bind(spec)
                        .await
                        .map_err(|source| ServiceError::Bind {
                            listen: spec.label(),
                            source,
                        })?;
                crate::diag::emit("info", &format!("listening on {}", listener.local_addr()));
                let (tx, cancel) = (chunk_tx.clone(), cancel.clone());
                let label: Arc<str> = spec.label().into();
                sources.spawn(async move {
                    listener.serve(label, framing, tx, cancel).await;
                    Ok(())
                });
            }
            SourceSpec::InOrder(inputs) => {
                let (tx, stop, store) = (chunk_tx.clone(), Arc::clone(&stop), checkpoints.clone());
                let inputs = inputs.clone();
                sources.spawn_blocking(move || read_in_order(&inputs, framing, &tx, &stop, &store));
            }
        }
    }
    drop(chunk_tx);
    readiness.set_input_open(true);

    // Scrubbing, in order.
    let (flight_tx, flight_rx) = mpsc::channel::<InFlight>(2 * threads);
    let dispatcher = tokio::spawn(dispatch(
        chunk_rx,
        flight_tx,
        scanner,
        options.pipe.clone(),
        threads,
    ));

    // Output.
    let buffer_kib = (options.buffer_bytes / 1024).max(1);
    let buffer = Arc::new(Semaphore::new(buffer_kib));
    let (out_tx, out_rx) = mpsc::unbounded_channel::<OutBatch>();
    let waiting = Arc::new(AtomicU64::new(0));
    let sink_task = tokio::spawn(drain_to_sink(
        sink,
        out_rx,
        checkpoints.clone(),
        Arc::clone(&waiting),
    ));

    let written = write_in_order(
        flight_rx,
        &out_tx,
        &buffer,
        buffer_kib,
        options.when_full,
        &options.pipe,
        &waiting,
        stats,
    )
    .await;
    drop(out_tx);
    let sink_result = sink_task.await.unwrap_or_else(|source| {
        Err(ServiceError::Task {
            task: "output",
            source,
        })
    });
    if sink_result.is_err() || written.is_err() {
        // The output is gone: stop reading.
        cancel.cancel();
        stop.store(true, Ordering::SeqCst);
    }
    let _ = dispatcher.await;
    let mut first_error: Option<ServiceError> = None;
    while let Some(done) = sources.join_next().await {
        if let Ok(Err(e)) = done {
            first_error.get_or_insert(ServiceError::Pipe(e));
        }
    }
    readiness.set_input_open(false);
    sink_result?;
    written?;
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Reads `inputs` one after another, each to its end, so their lines reach
/// the output in the order the inputs were given.
fn read_in_order(
    inputs: &[OrderedInput],
    framing: FramingOptions,
    tx: &ChunkSender,
    stop: &Arc<AtomicBool>,
    store: &Option<Arc<Mutex<Checkpoints>>>,
) -> Result<(), PipeError> {
    for input in inputs {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match input {
            OrderedInput::Stdin => {
                stdin::run(tx.clone(), framing, Arc::clone(stop)).map_err(|source| {
                    PipeError::Read {
                        input: "standard input".into(),
                        source,
                    }
                })?
            }
            OrderedInput::File(path) if store.is_none() => {
                let name: Arc<str> = path.display().to_string().into();
                let read_error = |source| PipeError::Read {
                    input: name.to_string(),
                    source,
                };
                let file = std::fs::File::open(path).map_err(read_error)?;
                let stream = Arc::new(Stream {
                    name: Arc::clone(&name),
                    label: Arc::clone(&name),
                });
                let input = crate::source::stoppable::StoppableRead::new(file, Arc::clone(stop));
                stdin::pump(input, Feed::new(stream, framing, 0), tx).map_err(read_error)?
            }
            OrderedInput::File(path) => {
                // With a checkpoint: the file source records and resumes
                // its position.
                let name = path.display().to_string();
                let file_options = file::FileOptions {
                    pattern: glob::Pattern::escape(&path.to_string_lossy()),
                    follow: false,
                    start_at_end: false,
                    // A file named on the command line is read as asked:
                    // --exclude and --ignore-older select among --input
                    // matches only.
                    selection: Default::default(),
                };
                file::run(
                    file_options,
                    framing,
                    tx.clone(),
                    Arc::clone(stop),
                    store.clone(),
                )
                .map_err(|source| PipeError::Read {
                    input: name,
                    source,
                })?
            }
        }
    }
    Ok(())
}

/// Scrubs chunks on at most `threads` blocking threads, handing them on in
/// arrival order.
async fn dispatch(
    mut chunks: mpsc::Receiver<Chunk>,
    flight: mpsc::Sender<InFlight>,
    mut scanner: Arc<Scanner>,
    options: PipeOptions,
    threads: usize,
) {
    let slots = Arc::new(Semaphore::new(threads));
    let mut cursors = Cursors::default();
    let pool: Arc<Mutex<Vec<Redactor>>> = Arc::new(Mutex::new(Vec::new()));
    while let Some(chunk) = chunks.recv().await {
        if let Some(next) = options.reload.as_ref().and_then(|r| r.poll()) {
            scanner = next;
        }
        let Chunk {
            stream,
            payload,
            ack,
            seam,
            cuts,
        } = chunk;
        let mut payload = payload;
        if matches!(&payload, OwnedBatch::Lines(l) if l.is_empty()) {
            if let Some(ack) = ack {
                if flight.send(InFlight::AckOnly(ack)).await.is_err() {
                    return;
                }
            }
            continue;
        }
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (pool, scanner, options) = (Arc::clone(&pool), Arc::clone(&scanner), options.clone());
        let lines = match &payload {
            OwnedBatch::Lines(lines) => Some(lines.as_slice()),
            OwnedBatch::OverLong { .. } => None,
        };
        let start = cursors.advance(
            &stream,
            lines,
            &scanner,
            options.findings.is_some(),
            options.max_line_bytes,
        );
        let handle = tokio::task::spawn_blocking(move || {
            let mut redactor = pool
                .lock()
                .ok()
                .and_then(|mut p| p.pop())
                .unwrap_or_else(|| Redactor::with_options(Arc::clone(&scanner), options.scrub()));
            let started = std::time::Instant::now();
            if let OwnedBatch::Lines(lines) = &mut payload {
                crate::redact::prepare_seams(&scanner, lines, seam, &cuts);
            }
            let mut output = crate::source::buffers::take();
            crate::pipe::scrub_job(
                &mut redactor,
                &scanner,
                &payload,
                start.block_lines_left,
                start.carry,
                start.lines,
                &mut output,
            );
            let scrubbed = Scrubbed {
                output,
                records: redactor.take_records(),
                stats: redactor.take_stats(),
                duration: started.elapsed(),
            };
            if let Ok(mut p) = pool.lock() {
                p.push(redactor);
            }
            if let OwnedBatch::Lines(lines) = payload {
                crate::source::buffers::give(lines);
            }
            drop(slot);
            scrubbed
        });
        let sent = flight
            .send(InFlight::Scrub {
                handle,
                stream,
                ack,
            })
            .await;
        if sent.is_err() {
            return;
        }
    }
}

/// Where each stream stands ([`StreamCursor`]) after its last chunk. The
/// dispatcher sees a stream's chunks in order, so it gives each chunk its
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
        if self.cursors.len() >= self.sweep_at {
            self.cursors.retain(|_, (s, _)| s.strong_count() > 0);
            self.sweep_at = (2 * self.cursors.len()).max(64);
        }
        let key = Arc::as_ptr(stream) as usize;
        let (_, cursor) = self
            .cursors
            .entry(key)
            .or_insert_with(|| (Arc::downgrade(stream), StreamCursor::default()));
        cursor.advance(lines, scanner, count_lines, max_line_bytes)
    }
}

/// Takes scrubbed chunks in order, publishes their counts and findings, and
/// queues their output for the sink within the buffer's bound.
#[allow(clippy::too_many_arguments)]
async fn write_in_order(
    mut flight: mpsc::Receiver<InFlight>,
    out: &mpsc::UnboundedSender<OutBatch>,
    buffer: &Arc<Semaphore>,
    buffer_kib: usize,
    when_full: WhenFull,
    options: &PipeOptions,
    waiting: &AtomicU64,
    stats: &mut Stats,
) -> Result<(), ServiceError> {
    // A stream's last line may lack its newline; the next stream's lines
    // must not be glued to it.
    let mut separator = StreamSeparator::default();
    while let Some(item) = flight.recv().await {
        let (scrubbed, stream, ack) = match item {
            InFlight::AckOnly(ack) => {
                let batch = OutBatch {
                    bytes: Vec::new(),
                    lines: 0,
                    acks: vec![ack],
                    _permit: None,
                };
                if out.send(batch).is_err() {
                    return Ok(());
                }
                continue;
            }
            InFlight::Scrub {
                handle,
                stream,
                ack,
            } => match handle.await {
                Ok(s) => (s, stream, ack),
                Err(source) => {
                    return Err(ServiceError::Task {
                        task: "scrubbing",
                        source,
                    })
                }
            },
        };
        let Scrubbed {
            mut output,
            records,
            stats: mut delta,
            duration,
        } = scrubbed;
        crate::telemetry::publish_batch(&stream.label, &stream.name, &delta, duration);
        crate::pipe::write_records(options, &stream.name, &records)?;
        let lines = delta.lines - delta.dropped;
        stats.drain_from(&mut delta);
        let kib = (output.len().div_ceil(1024)).clamp(1, buffer_kib) as u32;
        let permit = match when_full {
            WhenFull::Block => match Arc::clone(buffer).acquire_many_owned(kib).await {
                Ok(p) => Some(p),
                Err(_) => return Ok(()),
            },
            WhenFull::Drop => match Arc::clone(buffer).try_acquire_many_owned(kib) {
                Ok(p) => Some(p),
                Err(_) => {
                    stats.dropped_output_full += lines;
                    crate::telemetry::count_dropped("output_full", lines);
                    // The lines are gone on purpose: their position is
                    // still recorded.
                    let batch = OutBatch {
                        bytes: Vec::new(),
                        lines: 0,
                        acks: ack.into_iter().collect(),
                        _permit: None,
                    };
                    if out.send(batch).is_err() {
                        return Ok(());
                    }
                    continue;
                }
            },
        };
        separator.separate(&stream, &mut output);
        waiting.fetch_add(lines, Ordering::Relaxed);
        crate::telemetry::set_output_buffer_lines(waiting.load(Ordering::Relaxed));
        let batch = OutBatch {
            bytes: output,
            lines,
            acks: ack.into_iter().collect(),
            _permit: permit,
        };
        if out.send(batch).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Keeps the output's streams apart: when a stream's output ended without
/// a newline (its last line had none) and another stream's lines come
/// next, a newline goes between them.
#[derive(Default)]
struct StreamSeparator {
    /// The stream written last, when its output ended inside a line.
    open: Option<Arc<Stream>>,
}

impl StreamSeparator {
    fn separate(&mut self, stream: &Arc<Stream>, output: &mut Vec<u8>) {
        if output.is_empty() {
            return;
        }
        if self.open.as_ref().is_some_and(|s| !Arc::ptr_eq(s, stream)) {
            output.insert(0, b'\n');
        }
        self.open = (output.last() != Some(&b'\n')).then(|| Arc::clone(stream));
    }
}

/// Writes batches to the sink; syncs and saves checkpoints about every
/// second and at the end.
async fn drain_to_sink(
    mut sink: Sink,
    mut batches: mpsc::UnboundedReceiver<OutBatch>,
    checkpoints: Option<Arc<Mutex<Checkpoints>>>,
    waiting: Arc<AtomicU64>,
) -> Result<(), ServiceError> {
    let mut unsynced: Vec<Ack> = Vec::new();
    let mut tick = tokio::time::interval(CHECKPOINT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            batch = batches.recv() => {
                let Some(batch) = batch else { break };
                sink.write(&batch.bytes).await.map_err(PipeError::Write)?;
                waiting.fetch_sub(batch.lines, Ordering::Relaxed);
                crate::source::buffers::give(batch.bytes);
                unsynced.extend(batch.acks);
            }
            _ = tick.tick() => {
                crate::telemetry::set_output_buffer_lines(waiting.load(Ordering::Relaxed));
                if !unsynced.is_empty() {
                    sink.sync().await.map_err(PipeError::Write)?;
                    commit(&checkpoints, &mut unsynced)?;
                }
            }
        }
    }
    sink.close().await.map_err(PipeError::Write)?;
    commit(&checkpoints, &mut unsynced)
}

/// Records written positions and saves the checkpoint file.
fn commit(
    checkpoints: &Option<Arc<Mutex<Checkpoints>>>,
    acks: &mut Vec<Ack>,
) -> Result<(), ServiceError> {
    let Some(store) = checkpoints else {
        acks.clear();
        return Ok(());
    };
    let Ok(mut store) = store.lock() else {
        return Ok(());
    };
    store.apply(acks);
    // Logged once per run of failures, counted every time.
    static FAILING: AtomicBool = AtomicBool::new(false);
    match store.save() {
        Ok(()) => {
            if FAILING.swap(false, Ordering::Relaxed) {
                crate::diag::emit("info", "checkpoint saved again");
            }
        }
        Err(e) => {
            crate::telemetry::count_error("sending", "checkpoint_failed");
            if !FAILING.swap(true, Ordering::Relaxed) {
                crate::diag::emit("error", &format!("{e}; retrying every second"));
            }
        }
    }
    Ok(())
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

    /// Lines that carry state from one line to the next (private-key
    /// blocks, CRI partial runs), secrets, and a last line without newline.
    fn corpus(seed: u32) -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..30_000u32 {
            let line = match i % 9 {
                0 => format!("{seed}/{i} card 4111 1111 1111 1111 ok\n"),
                1 => "-----BEGIN RSA PRIVATE KEY-----\n".into(),
                2 => "QUJDREVGR0hJSktMTU5PUA==\n".into(),
                3 => "-----END RSA PRIVATE KEY-----\n".into(),
                4 => format!("2024-01-01T00:00:00Z stdout P part {i} 5105 1051\n"),
                5 => "2024-01-01T00:00:00Z stdout F 0510 5100 done\n".into(),
                6 => format!("{i} mail alice@example.com\n"),
                _ => format!("{i} plain line with id 1740797428239\n"),
            };
            data.extend_from_slice(line.as_bytes());
        }
        data.extend_from_slice(b"last line without newline 5555555555554444");
        data
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("logscrub-service-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// What the plain pipe (one thread) writes for `data`, and its findings.
    fn driven(data: &[u8], name: &str) -> (Vec<u8>, Vec<u8>) {
        let findings: Arc<Mutex<Vec<u8>>> = Arc::default();
        let channel: Arc<Mutex<dyn std::io::Write + Send>> = findings.clone();
        let options = PipeOptions {
            findings: Some(channel),
            ..PipeOptions::default()
        };
        let mut out = Vec::new();
        let scanner = Arc::new(Scanner::builtin());
        let input = std::io::Cursor::new(data.to_vec());
        crate::pipe::run(
            name,
            input,
            &mut out,
            &scanner,
            &options,
            &mut Stats::new(0),
        )
        .unwrap();
        let found = std::mem::take(&mut *findings.lock().unwrap());
        (out, found)
    }

    /// Positional files and the service: in the order given, each stream
    /// scrubbed exactly as the plain pipe scrubs it alone (state carried
    /// across its batches, never across streams), streams kept apart, the
    /// findings in input order, whatever the number of threads.
    #[test]
    fn ordered_files_through_the_service_equal_the_plain_pipe_at_any_thread_count() {
        let dir = temp_dir("ordered");
        let inputs: Vec<PathBuf> = (0..3u32)
            .map(|n| {
                let path = dir.join(format!("{n}.log"));
                std::fs::write(&path, corpus(n)).unwrap();
                path
            })
            .collect();
        let (mut want, mut want_findings) = (Vec::new(), Vec::new());
        for path in &inputs {
            let (out, found) = driven(&corpus_of(path), &path.display().to_string());
            if want.last().is_some_and(|&b| b != b'\n') {
                want.push(b'\n');
            }
            want.extend_from_slice(&out);
            want_findings.extend_from_slice(&found);
        }
        assert!(!want_findings.is_empty());
        for threads in [1, 2, 3, 8] {
            let output = dir.join(format!("out-{threads}.log"));
            let findings: Arc<Mutex<Vec<u8>>> = Arc::default();
            let channel: Arc<Mutex<dyn std::io::Write + Send>> = findings.clone();
            let options = ServiceOptions {
                sources: vec![SourceSpec::InOrder(
                    inputs.iter().cloned().map(OrderedInput::File).collect(),
                )],
                follow: false,
                start_at_end: false,
                selection: Default::default(),
                output: SinkSpec::File(output.clone()),
                checkpoint: None,
                buffer_bytes: 1 << 20,
                when_full: WhenFull::Block,
                pipe: PipeOptions {
                    threads,
                    findings: Some(channel),
                    ..PipeOptions::default()
                },
            };
            let mut stats = Stats::new(0);
            run(
                options,
                Arc::new(Scanner::builtin()),
                Arc::new(AtomicBool::new(false)),
                Default::default(),
                &mut stats,
            )
            .unwrap();
            let got = std::fs::read(&output).unwrap();
            assert!(got == want, "{threads} threads differ from the plain pipe");
            assert_eq!(stats.lines, 3 * 30_001, "{threads} threads");
            let got_findings = untimed(&findings.lock().unwrap());
            assert!(
                got_findings == untimed(&want_findings),
                "{threads} threads: findings differ or are out of order"
            );
        }
        let text = String::from_utf8(want).unwrap();
        assert!(["4111 1111", "QUJDREVG", "5555555555554444", "alice@"]
            .iter()
            .all(|s| !text.contains(s)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Finding records without their time.
    fn untimed(records: &[u8]) -> Vec<serde_json::Value> {
        records
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_slice(l).unwrap();
                v.as_object_mut().unwrap().remove("time");
                v
            })
            .collect()
    }

    fn corpus_of(path: &std::path::Path) -> Vec<u8> {
        std::fs::read(path).unwrap()
    }

    /// A positional file that cannot be opened ends the run with a read
    /// error naming it, after everything read before it was written.
    #[test]
    fn an_unreadable_positional_file_ends_the_run_after_what_came_before() {
        let dir = temp_dir("unreadable");
        let good = dir.join("good.log");
        std::fs::write(&good, b"good 4111111111111111\n").unwrap();
        let missing = dir.join("missing.log");
        let output = dir.join("out.log");
        let options = ServiceOptions {
            sources: vec![SourceSpec::InOrder(vec![
                OrderedInput::File(good.clone()),
                OrderedInput::File(missing.clone()),
                OrderedInput::File(good),
            ])],
            follow: false,
            start_at_end: false,
            selection: Default::default(),
            output: SinkSpec::File(output.clone()),
            checkpoint: None,
            buffer_bytes: 1 << 20,
            when_full: WhenFull::Block,
            pipe: PipeOptions {
                threads: 2,
                ..PipeOptions::default()
            },
        };
        let result = run(
            options,
            Arc::new(Scanner::builtin()),
            Arc::new(AtomicBool::new(false)),
            Default::default(),
            &mut Stats::new(0),
        );
        match result {
            Err(ServiceError::Pipe(PipeError::Read { input, .. })) => {
                assert_eq!(input, missing.display().to_string())
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read(&output).unwrap(), b"good [CARD_REDACTED]\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn streams_ending_mid_line_are_kept_apart() {
        let stream = |name: &str| {
            Arc::new(Stream {
                name: name.into(),
                label: "t".into(),
            })
        };
        let (a, b) = (stream("a"), stream("b"));
        let mut separator = StreamSeparator::default();
        let mut out = Vec::new();
        for (s, bytes) in [(&a, "a1\na2"), (&a, " more\na3"), (&b, "b1\n"), (&a, "a4")] {
            let mut batch = bytes.as_bytes().to_vec();
            separator.separate(s, &mut batch);
            out.extend_from_slice(&batch);
        }
        // The same stream continues its own line; another one starts anew.
        assert_eq!(out, b"a1\na2 more\na3\nb1\na4");
    }
}
