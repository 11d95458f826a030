//! The service: every run's pipeline — many sources, the scrub stage, one
//! ordered writer, one sink.
//!
//! ```text
//! sources ──(bounded: chunks)──▶ scrub stage (pipe::run_stage: `threads`
//!   long-lived threads, bounded in flight) ──in input order──▶ writer
//!   (the calling thread) ──▶ standard output, in place
//!                        └─(bounded: --output-buffer bytes)──▶ sink task
//!                                                   └─▶ checkpoints
//! ```
//!
//! Standard input and positional files are sources like the others (the
//! positional ones read one after another, so their lines keep the order
//! given). Every stage has a bounded buffer, so a slow or unavailable output
//! stops the sources (backpressure) instead of growing memory. Each
//! stream's lines keep their order. Nothing is dropped unless `--when-full
//! drop` asks for it, and then every dropped line is counted. A file
//! position is checkpointed only after its lines were written and synced.
//!
//! Sources, the sink task and checkpoints run on a small tokio runtime;
//! scrubbing and writing standard output do not (no hand-off per chunk to
//! the runtime's blocking pool).
//!
//! Shutdown (SIGTERM/SIGINT): sources stop reading, everything already read
//! is scrubbed and written, the sink is synced and closed, checkpoints are
//! saved, and [`run`] returns.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{CheckpointError, Checkpoints};
use crate::pipe::{PipeError, PipeOptions, Scrubbed};
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

/// A batch of output for the sink task.
struct OutBatch {
    bytes: Vec<u8>,
    lines: u64,
    acks: Vec<Ack>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// What runs beside the scrub stage once the service is started.
struct Started {
    chunks: mpsc::Receiver<Chunk>,
    sources: tokio::task::JoinSet<Result<(), PipeError>>,
    cancel: CancellationToken,
    sink_task: tokio::task::JoinHandle<Result<(), ServiceError>>,
    out_tx: mpsc::UnboundedSender<OutBatch>,
    waiting: Arc<AtomicU64>,
}

/// Runs the service until every source ends or shutdown is requested.
///
/// The sources, the sink task and checkpoints run on a tokio runtime; the
/// chunks they read go through the scrub stage ([`crate::pipe::run_stage`])
/// and come back, in order, to the writer on the calling thread.
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
    let Started {
        mut chunks,
        mut sources,
        cancel,
        sink_task,
        out_tx,
        waiting,
    } = runtime.block_on(start(&options, &stop, &readiness))?;

    let buffer_kib = (options.buffer_bytes / 1024).max(1);
    let mut writer = Writer {
        // Standard output under backpressure is written here, in place:
        // no copy and no hand-off to another thread.
        direct: (options.output == SinkSpec::Stdout && options.when_full == WhenFull::Block)
            .then(std::io::stdout),
        out_tx,
        buffer: Arc::new(Semaphore::new(buffer_kib)),
        buffer_kib,
        when_full: options.when_full,
        options: &options.pipe,
        waiting: &waiting,
        separator: StreamSeparator::default(),
        runtime: &runtime,
        stats,
    };
    let written = crate::pipe::run_stage(
        move || chunks.blocking_recv(),
        &scanner,
        &options.pipe,
        |scrubbed| writer.deliver(scrubbed),
    )
    .and_then(|()| writer.finish());
    drop(writer);
    let sink_result = runtime.block_on(sink_task).unwrap_or_else(|source| {
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
    let mut first_error: Option<ServiceError> = None;
    runtime.block_on(async {
        while let Some(done) = sources.join_next().await {
            if let Ok(Err(e)) = done {
                first_error.get_or_insert(ServiceError::Pipe(e));
            }
        }
    });
    readiness.set_input_open(false);
    sink_result?;
    match written {
        // The sink task stopped first: its error was returned above.
        Err(None) => {}
        Err(Some(e)) => return Err(e),
        Ok(()) => {}
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Opens the checkpoints and the sink, starts the sources and the sink
/// task.
async fn start(
    options: &ServiceOptions,
    stop: &Arc<AtomicBool>,
    readiness: &crate::telemetry::Readiness,
) -> Result<Started, ServiceError> {
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
        let stop = Arc::clone(stop);
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
                let (tx, stop) = (chunk_tx.clone(), Arc::clone(stop));
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
                let (tx, stop, store) = (chunk_tx.clone(), Arc::clone(stop), checkpoints.clone());
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
                let (tx, stop, store) = (chunk_tx.clone(), Arc::clone(stop), checkpoints.clone());
                let inputs = inputs.clone();
                sources.spawn_blocking(move || read_in_order(&inputs, framing, &tx, &stop, &store));
            }
        }
    }
    drop(chunk_tx);
    readiness.set_input_open(true);

    // Output.
    let (out_tx, out_rx) = mpsc::unbounded_channel::<OutBatch>();
    let waiting = Arc::new(AtomicU64::new(0));
    let sink_task = tokio::spawn(drain_to_sink(
        sink,
        out_rx,
        checkpoints,
        Arc::clone(&waiting),
    ));
    Ok(Started {
        chunks: chunk_rx,
        sources,
        cancel,
        sink_task,
        out_tx,
        waiting,
    })
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

/// The ordered writer, on the calling thread: takes scrubbed chunks in
/// input order, publishes their counts and findings, and writes them —
/// standard output in place, other sinks through the sink task within the
/// output buffer's bound. Its error `None` means the sink task stopped (and
/// returns its own error).
struct Writer<'a> {
    direct: Option<std::io::Stdout>,
    out_tx: mpsc::UnboundedSender<OutBatch>,
    buffer: Arc<Semaphore>,
    buffer_kib: usize,
    when_full: WhenFull,
    options: &'a PipeOptions,
    waiting: &'a AtomicU64,
    /// A stream's last line may lack its newline; the next stream's lines
    /// must not be glued to it.
    separator: StreamSeparator,
    runtime: &'a tokio::runtime::Runtime,
    stats: &'a mut Stats,
}

impl Writer<'_> {
    /// Hands a position with no bytes to the sink task, in order.
    fn send_ack(&self, ack: Option<Ack>) -> Result<(), Option<ServiceError>> {
        match ack {
            Some(ack) => self.send(OutBatch {
                bytes: Vec::new(),
                lines: 0,
                acks: vec![ack],
                _permit: None,
            }),
            None => Ok(()),
        }
    }

    fn deliver(&mut self, scrubbed: Scrubbed) -> Result<(), Option<ServiceError>> {
        let Scrubbed {
            stream,
            ack,
            mut output,
            records,
            stats: mut delta,
            duration,
        } = scrubbed;
        if output.is_empty() && delta.lines == 0 {
            // Only a position to record, in order.
            return self.send_ack(ack);
        }
        crate::telemetry::publish_batch(&stream.label, &stream.name, &delta, duration);
        crate::pipe::write_records(self.options, &stream.name, &records)
            .map_err(|e| Some(e.into()))?;
        let lines = delta.lines - delta.dropped;
        self.stats.drain_from(&mut delta);
        if let Some(stdout) = &self.direct {
            self.separator.separate(&stream, &mut output);
            std::io::Write::write_all(&mut stdout.lock(), &output)
                .map_err(|e| Some(PipeError::Write(e).into()))?;
            crate::source::buffers::give(output);
            // Written: its position goes to the sink task, in order, to be
            // checkpointed there.
            return self.send_ack(ack);
        }
        let kib = (output.len().div_ceil(1024)).clamp(1, self.buffer_kib) as u32;
        let permit = match self.when_full {
            WhenFull::Block => {
                let buffer = Arc::clone(&self.buffer);
                match self.runtime.block_on(buffer.acquire_many_owned(kib)) {
                    Ok(p) => Some(p),
                    Err(_) => return Err(None),
                }
            }
            WhenFull::Drop => match Arc::clone(&self.buffer).try_acquire_many_owned(kib) {
                Ok(p) => Some(p),
                Err(_) => {
                    self.stats.dropped_output_full += lines;
                    crate::telemetry::count_dropped("output_full", lines);
                    // The lines are gone on purpose: their position is
                    // still recorded.
                    return self.send(OutBatch {
                        bytes: Vec::new(),
                        lines: 0,
                        acks: ack.into_iter().collect(),
                        _permit: None,
                    });
                }
            },
        };
        self.separator.separate(&stream, &mut output);
        self.waiting.fetch_add(lines, Ordering::Relaxed);
        crate::telemetry::set_output_buffer_lines(self.waiting.load(Ordering::Relaxed));
        self.send(OutBatch {
            bytes: output,
            lines,
            acks: ack.into_iter().collect(),
            _permit: permit,
        })
    }

    fn send(&self, batch: OutBatch) -> Result<(), Option<ServiceError>> {
        self.out_tx.send(batch).map_err(|_| None)
    }

    /// Flushes standard output when it is written here.
    fn finish(&mut self) -> Result<(), Option<ServiceError>> {
        match &self.direct {
            Some(stdout) => std::io::Write::flush(&mut stdout.lock())
                .map_err(|e| Some(PipeError::Write(e).into())),
            None => Ok(()),
        }
    }
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
            let mut options = files_to_file(
                inputs.iter().cloned().map(OrderedInput::File).collect(),
                &output,
                threads,
            );
            options.pipe.findings = Some(channel);
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

    /// A run of `inputs`, read in order, into the file `output`.
    fn files_to_file(
        inputs: Vec<OrderedInput>,
        output: &std::path::Path,
        threads: usize,
    ) -> ServiceOptions {
        ServiceOptions {
            sources: vec![SourceSpec::InOrder(inputs)],
            follow: false,
            start_at_end: false,
            selection: Default::default(),
            output: SinkSpec::File(output.to_path_buf()),
            checkpoint: None,
            buffer_bytes: 1 << 20,
            when_full: WhenFull::Block,
            pipe: PipeOptions {
                threads,
                ..PipeOptions::default()
            },
        }
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
        let options = files_to_file(
            vec![
                OrderedInput::File(good.clone()),
                OrderedInput::File(missing.clone()),
                OrderedInput::File(good),
            ],
            &output,
            2,
        );
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
