//! Sinks: where scrubbed lines go — standard output, a file, or a TCP or
//! Unix stream socket.
//!
//! A sink writes whole batches of lines, in order, and never gives up on a
//! batch: while a socket destination is down it reconnects with capped
//! exponential backoff (100 ms doubling to 10 s) and the batch waits, so the
//! bounded buffer in front of it fills and backpressure reaches the inputs.
//! After a connection fails, the last bytes written — as many as this
//! socket's send buffer (asked of the kernel) plus an allowance for the
//! destination's receive buffer (`?receiver_buffer=`; for TCP by default
//! the largest autotuned receive buffer of this machine, `tcp_rmem`) — are sent again, in order, on the new connection, before anything
//! new (at-least-once: those lines may arrive twice). Raw TCP has no
//! acknowledgements, so this covers a destination that crashes, is killed or
//! stalls and dies with data unread, as long as what its kernel held fits
//! the allowance; it cannot cover a destination that read lines and lost
//! them itself (its own buffers, a crash before it stored them), nor a
//! receive buffer larger than the allowance.
//! An outage is logged once when it starts and once when it ends, and
//! counted.
//!
//! Files: opened for appending, created with mode 0600; a file that ends
//! inside a line when it is opened (a run killed during a write) gets a
//! newline first, so only whole lines follow. Each batch is one
//! `write(2)` (visible to readers at once) and the data is `fdatasync`ed
//! before each checkpoint save (about every second) and at shutdown. A file
//! renamed or deleted by a rotation tool is reopened at its path within a
//! second.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The first reconnection delay.
const BACKOFF_START: Duration = Duration::from_millis(100);
/// The longest reconnection delay.
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// At exit, how long a socket destination has to confirm it read
/// everything (by closing its end) or to be replaced.
const CLOSE_WAIT: Duration = Duration::from_secs(8);

/// An output given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkSpec {
    /// Standard output.
    Stdout,
    /// A file, appended to.
    File(PathBuf),
    /// A TCP destination `host:port`.
    Tcp(String, ReceiverBuffer),
    /// A Unix stream socket.
    Unix(PathBuf, ReceiverBuffer),
}

/// How many bytes the destination's kernel may hold that its process has
/// not read (`?receiver_buffer=BYTES` on the output URL; `k`, `M`, `G`
/// suffixes are powers of 1024). They are part of what is sent again after
/// a connection fails; `None` is the default for the socket kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiverBuffer(pub Option<u64>);

/// The receiver allowance of a TCP destination by default: the largest
/// receive buffer TCP autotuning may grow to on this machine
/// (`net.ipv4.tcp_rmem`, third field; 6 MiB, Linux's default, when it
/// cannot be read) — a collector on a node set up like this one. Set
/// `receiver_buffer` when the collector's differs.
fn tcp_receiver_buffer() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_rmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(6 << 20)
}

impl ReceiverBuffer {
    fn parse(query: Option<&str>) -> Result<ReceiverBuffer, String> {
        let Some(query) = query else {
            return Ok(ReceiverBuffer(None));
        };
        let value = query
            .strip_prefix("receiver_buffer=")
            .ok_or_else(|| format!("unknown option `{query}` (known: receiver_buffer=BYTES)"))?;
        let (digits, unit) = match value.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            Some((i, _)) => value.split_at(i),
            None => (value, ""),
        };
        let shift = match unit {
            "" => 0,
            "k" | "K" | "KiB" => 10,
            "M" | "MiB" => 20,
            "G" | "GiB" => 30,
            _ => {
                return Err(format!(
                    "receiver_buffer `{value}`: expected bytes, e.g. 8388608 or 8M"
                ))
            }
        };
        let n: u64 = digits.parse().map_err(|_| {
            format!("receiver_buffer `{value}`: expected bytes, e.g. 8388608 or 8M")
        })?;
        n.checked_shl(shift)
            .filter(|v| *v <= 1 << 40)
            .map(|v| ReceiverBuffer(Some(v)))
            .ok_or_else(|| format!("receiver_buffer `{value}` is too large"))
    }
}

/// An `--output` URL that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--output {url}: {reason}")]
pub struct OutputError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl SinkSpec {
    /// Parses an `--output` value: `-`, `file:///PATH`, `tcp://HOST:PORT`,
    /// `unix:///PATH`.
    pub fn parse(url: &str) -> Result<SinkSpec, OutputError> {
        let bad = |reason: String| OutputError {
            url: url.to_string(),
            reason,
        };
        if url == "-" || url == "stdout" {
            return Ok(SinkSpec::Stdout);
        }
        let (scheme, target) = url.split_once("://").ok_or_else(|| {
            bad("expected -, file:///PATH, tcp://HOST:PORT or unix:///PATH".into())
        })?;
        let (target, query) = match target.split_once('?') {
            Some((t, q)) if scheme != "file" => (t, Some(q)),
            _ => (target, None),
        };
        if target.is_empty() {
            return Err(bad("no address".into()));
        }
        match scheme {
            "file" => Ok(SinkSpec::File(PathBuf::from(target))),
            "tcp" => Ok(SinkSpec::Tcp(
                target.to_string(),
                ReceiverBuffer::parse(query).map_err(bad)?,
            )),
            "unix" => Ok(SinkSpec::Unix(
                PathBuf::from(target),
                ReceiverBuffer::parse(query).map_err(bad)?,
            )),
            other => Err(bad(format!("unknown scheme `{other}` (file, tcp, unix)"))),
        }
    }

    /// How it is named in messages.
    pub fn name(&self) -> String {
        match self {
            SinkSpec::Stdout => "standard output".into(),
            SinkSpec::File(p) => format!("file://{}", p.display()),
            SinkSpec::Tcp(a, _) => format!("tcp://{a}"),
            SinkSpec::Unix(p, _) => format!("unix://{}", p.display()),
        }
    }
}

/// A connection to a socket destination.
struct Connection {
    writer: Box<dyn AsyncWrite + Unpin + Send>,
    /// The socket (a duplicate descriptor), to query its send buffer.
    socket: std::os::fd::OwnedFd,
    /// Set when the peer closed its end (or the connection failed).
    peer_closed: Arc<AtomicBool>,
    /// Reads the destination's end: true when it closed cleanly (end of
    /// stream), false when the connection failed (reset).
    reader: tokio::task::JoinHandle<bool>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Standard output, written with blocking writes on the calling worker
/// (moved out of the scheduler's way on a multi-threaded runtime): each
/// batch goes to the kernel from the scrubbed buffer itself, with no copy,
/// and a full pipe blocks the writer as backpressure. Under `--when-full
/// block` (the default) the service's ordered writer writes standard output
/// itself, in place, and this sink only flushes it; it writes the batches
/// under `--when-full drop`, where the output buffer sits in front of it.
struct Stdout;

impl Stdout {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        blocking(|| std::io::Write::write_all(&mut std::io::stdout().lock(), data))
    }

    fn flush(&mut self) -> io::Result<()> {
        blocking(|| std::io::Write::flush(&mut std::io::stdout().lock()))
    }
}

/// Runs `f`, which blocks, inside a tokio task.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

enum Target {
    /// Written in place, without tokio's copy to a blocking thread.
    Stdout(Stdout),
    File {
        path: PathBuf,
        file: Option<tokio::fs::File>,
    },
    Socket {
        spec: SinkSpec,
        connection: Option<Connection>,
        replay: Replay,
    },
}

/// What was written to a socket and may not have reached the destination
/// process. Raw TCP has no acknowledgements: bytes a dying connection
/// accepted (a peer that crashed or closed without reading them, a
/// connection the listener never accepted) are lost silently. Those bytes
/// sit in two kernel buffers — this socket's send buffer (sent but not
/// acknowledged, or not sent) and the destination's receive buffer
/// (acknowledged, not read) — so the last `send buffer + receiver
/// allowance` bytes written are kept and sent again, in order, on the next
/// connection: at-least-once, up to that many bytes of lines may arrive
/// twice. The send buffer is asked of the socket (`SO_SNDBUF`, which grows
/// with autotuning) at every write; the receiver's is not visible from
/// here, so it is an allowance ([`ReceiverBuffer`]).
#[derive(Default)]
struct Replay {
    batches: std::collections::VecDeque<Vec<u8>>,
    bytes: usize,
    /// The receiver allowance.
    receiver: usize,
    /// The largest send buffer the connections reported.
    send_buffer: usize,
}

impl Replay {
    fn new(spec: &SinkSpec) -> Replay {
        let receiver = match spec {
            SinkSpec::Tcp(_, ReceiverBuffer(b)) => b.unwrap_or_else(tcp_receiver_buffer),
            // A Unix stream socket's queued bytes count against the
            // sender's send buffer.
            SinkSpec::Unix(_, ReceiverBuffer(b)) => b.unwrap_or(0),
            _ => 0,
        };
        Replay {
            receiver: usize::try_from(receiver).unwrap_or(usize::MAX),
            ..Replay::default()
        }
    }

    /// How many bytes are kept.
    fn window(&self) -> usize {
        self.send_buffer.saturating_add(self.receiver)
    }

    /// Records a batch written on a working connection whose send buffer
    /// is `send_buffer` bytes now; the oldest batches beyond the window are
    /// forgotten (never by age: a stalled receiver holds old bytes too).
    fn push(&mut self, data: &[u8], send_buffer: usize) {
        self.send_buffer = self.send_buffer.max(send_buffer);
        self.batches.push_back(data.to_vec());
        self.bytes += data.len();
        while self.bytes - self.batches.front().map_or(0, Vec::len) >= self.window() {
            match self.batches.pop_front() {
                Some(b) => self.bytes -= b.len(),
                None => break,
            }
        }
    }
}

/// The send buffer of a socket (`SO_SNDBUF`), 0 if it cannot be asked.
fn send_buffer_of(socket: &std::os::fd::OwnedFd) -> usize {
    socket2::SockRef::from(socket)
        .send_buffer_size()
        .unwrap_or(0)
}

/// The output.
pub struct Sink {
    name: String,
    target: Target,
    readiness: crate::telemetry::Readiness,
    /// When the current outage began (logged once).
    down_since: Option<Instant>,
}

impl Sink {
    /// Opens `spec`. A socket destination that is down is not an error:
    /// the first write waits for it.
    pub async fn open(spec: &SinkSpec, readiness: crate::telemetry::Readiness) -> io::Result<Sink> {
        let target = match spec {
            SinkSpec::Stdout => Target::Stdout(Stdout),
            SinkSpec::File(path) => Target::File {
                path: path.clone(),
                file: Some(open_file(path).await?),
            },
            SinkSpec::Tcp(..) | SinkSpec::Unix(..) => Target::Socket {
                spec: spec.clone(),
                connection: None,
                replay: Replay::new(spec),
            },
        };
        readiness.set_output_ok(true);
        Ok(Sink {
            name: spec.name(),
            target,
            readiness,
            down_since: None,
        })
    }

    /// Writes `data` (whole lines). Retries until it is written, except on
    /// standard output, whose failure (a closed pipe) ends the run.
    pub async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut backoff = BACKOFF_START;
        loop {
            let result = match &mut self.target {
                Target::Stdout(out) => return out.write_all(data),
                Target::File { path, file } => write_file(path, file, data).await,
                Target::Socket {
                    spec,
                    connection,
                    replay,
                } => write_socket(spec, connection, replay, data).await,
            };
            match result {
                Ok(()) => {
                    self.recovered();
                    return Ok(());
                }
                Err(e) => {
                    self.failed(&e, backoff);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Makes what was written durable as far as the target allows: flushes
    /// standard output and sockets, `fdatasync`s a file (and reopens it
    /// when it was rotated away).
    pub async fn sync(&mut self) -> io::Result<()> {
        match &mut self.target {
            Target::Stdout(out) => out.flush(),
            Target::File { path, file } => {
                if let Some(f) = file {
                    f.flush().await?;
                    f.sync_data().await?;
                    if rotated_away(path, f).await {
                        *file = Some(open_file(path).await?);
                    }
                }
                Ok(())
            }
            Target::Socket { connection, .. } => {
                if let Some(c) = connection {
                    if c.writer.flush().await.is_err() {
                        *connection = None;
                    }
                }
                Ok(())
            }
        }
    }

    /// Flushes and closes. A socket is shut down for writing, and then the
    /// destination must close its end (it read everything) within
    /// [`CLOSE_WAIT`]; a destination that dies instead (connection reset)
    /// is connected to again and sent the replay window, as after any
    /// failure, so lines still in the kernels' buffers are not lost at exit.
    pub async fn close(&mut self) -> io::Result<()> {
        self.sync().await?;
        let Target::Socket {
            spec,
            connection,
            replay,
        } = &mut self.target
        else {
            return Ok(());
        };
        let deadline = Instant::now() + CLOSE_WAIT;
        let mut backoff = BACKOFF_START;
        loop {
            let clean = match connection.as_mut() {
                None => false,
                Some(c) => {
                    let _ = c.writer.shutdown().await;
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, &mut c.reader).await {
                        Ok(Ok(clean)) => clean,
                        Ok(Err(_)) => false,
                        Err(_) => {
                            crate::diag::emit(
                                "warn",
                                &format!(
                                    "output {}: the destination did not close its end within {} s after ours; lines it had not read may be lost",
                                    self.name,
                                    CLOSE_WAIT.as_secs()
                                ),
                            );
                            return Ok(());
                        }
                    }
                }
            };
            if clean {
                return Ok(());
            }
            if Instant::now() >= deadline {
                crate::telemetry::count_error("sending", "output_unconfirmed");
                crate::diag::emit(
                    "error",
                    &format!(
                        "output {}: the connection failed at exit and no new one took the last lines within {} s; up to the replay window may be lost",
                        self.name,
                        CLOSE_WAIT.as_secs()
                    ),
                );
                return Ok(());
            }
            // The destination died with lines unread: send them again.
            *connection = None;
            if let Err(e) = write_socket(spec, connection, replay, &[]).await {
                crate::diag::emit("warn", &format!("output {}: {e}; retrying", self.name));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }

    fn failed(&mut self, e: &io::Error, retry_in: Duration) {
        if self.down_since.is_none() {
            self.down_since = Some(Instant::now());
            self.readiness.set_output_ok(false);
            crate::telemetry::count_error("sending", "output_unavailable");
            crate::diag::emit(
                "warn",
                &format!(
                    "output {}: {e}; lines wait in the buffer, retrying (first in {} ms, backoff up to {} s)",
                    self.name,
                    retry_in.as_millis(),
                    BACKOFF_MAX.as_secs()
                ),
            );
        }
    }

    fn recovered(&mut self) {
        if let Some(since) = self.down_since.take() {
            self.readiness.set_output_ok(true);
            crate::diag::emit(
                "info",
                &format!(
                    "output {}: available again after {:.1} s",
                    self.name,
                    since.elapsed().as_secs_f64()
                ),
            );
        }
    }
}

/// Opens `path` for appending. A file that ends inside a line (a run
/// killed during a write, another writer) gets that line terminated first,
/// so the first line written is not glued to it.
async fn open_file(path: &Path) -> io::Result<tokio::fs::File> {
    let mut options = tokio::fs::OpenOptions::new();
    options.create(true).append(true).read(true).mode(0o600);
    let context =
        |e: io::Error| io::Error::new(e.kind(), format!("opening {}: {e}", path.display()));
    let mut file = options.open(path).await.map_err(context)?;
    if ends_mid_line(&file).await.map_err(context)? {
        crate::telemetry::count_error("sending", "output_ended_mid_line");
        crate::diag::emit(
            "warn",
            &format!(
                "output {} ended inside a line (an earlier write was cut short); a newline ends it",
                path.display()
            ),
        );
        file.write_all(b"\n").await.map_err(context)?;
        file.flush().await.map_err(context)?;
    }
    Ok(file)
}

/// Whether a regular file's last byte is not a newline.
async fn ends_mid_line(file: &tokio::fs::File) -> io::Result<bool> {
    let meta = file.metadata().await?;
    if !meta.is_file() || meta.len() == 0 {
        return Ok(false);
    }
    let std = file.try_clone().await?.into_std().await;
    let len = meta.len();
    tokio::task::spawn_blocking(move || {
        let mut last = [0u8; 1];
        std::os::unix::fs::FileExt::read_exact_at(&std, &mut last, len - 1)?;
        Ok(last[0] != b'\n')
    })
    .await
    .map_err(io::Error::other)?
}

async fn rotated_away(path: &Path, file: &tokio::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(open), current) = (file.metadata().await, tokio::fs::metadata(path).await) else {
        return false;
    };
    match current {
        Ok(current) => current.ino() != open.ino() || current.dev() != open.dev(),
        Err(_) => true,
    }
}

async fn write_file(
    path: &Path,
    file: &mut Option<tokio::fs::File>,
    data: &[u8],
) -> io::Result<()> {
    if file.is_none() {
        *file = Some(open_file(path).await?);
    }
    let f = file.as_mut().expect("opened above");
    let result = async {
        f.write_all(data).await?;
        f.flush().await
    }
    .await;
    if result.is_err() {
        // Reopen on the next try; an append of a partial batch may repeat
        // lines, never lose them.
        *file = None;
    }
    result
}

async fn connect(spec: &SinkSpec) -> io::Result<Connection> {
    let peer_closed = Arc::new(AtomicBool::new(false));
    let connecting = async {
        match spec {
            SinkSpec::Tcp(addr, _) => {
                let stream = tokio::net::TcpStream::connect(addr.as_str()).await?;
                stream.set_nodelay(true)?;
                let socket = std::os::fd::AsFd::as_fd(&stream).try_clone_to_owned()?;
                let (read, write) = stream.into_split();
                Ok::<_, io::Error>((
                    Box::new(read) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                    Box::new(write) as Box<dyn AsyncWrite + Unpin + Send>,
                    socket,
                ))
            }
            SinkSpec::Unix(path, _) => {
                let stream = tokio::net::UnixStream::connect(path).await?;
                let socket = std::os::fd::AsFd::as_fd(&stream).try_clone_to_owned()?;
                let (read, write) = stream.into_split();
                Ok((
                    Box::new(read) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                    Box::new(write) as Box<dyn AsyncWrite + Unpin + Send>,
                    socket,
                ))
            }
            _ => Err(io::Error::other("not a socket")),
        }
    };
    let (mut read, writer, socket) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connection timed out"))??;
    let flag = Arc::clone(&peer_closed);
    // The destination is not expected to send anything: reading tells when
    // it closes its end.
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        let clean = loop {
            match read.read(&mut buf).await {
                Ok(0) => break true,
                Ok(_) => {}
                Err(_) => break false,
            }
        };
        flag.store(true, Ordering::SeqCst);
        clean
    });
    Ok(Connection {
        writer,
        socket,
        peer_closed,
        reader,
    })
}

async fn write_socket(
    spec: &SinkSpec,
    connection: &mut Option<Connection>,
    replay: &mut Replay,
    data: &[u8],
) -> io::Result<()> {
    if connection
        .as_ref()
        .is_some_and(|c| c.peer_closed.load(Ordering::SeqCst))
    {
        if let Some(mut c) = connection.take() {
            let _ = c.writer.shutdown().await;
        }
    }
    if connection.is_none() {
        let mut c = connect(spec).await?;
        for batch in &replay.batches {
            c.writer.write_all(batch).await?;
        }
        *connection = Some(c);
    }
    let c = connection.as_mut().expect("connected above");
    let result = async {
        c.writer.write_all(data).await?;
        c.writer.flush().await
    }
    .await;
    match &result {
        Ok(()) => replay.push(data, send_buffer_of(&c.socket)),
        Err(_) => *connection = None,
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_window_is_send_buffer_plus_receiver_allowance() {
        let mut replay = Replay::new(&SinkSpec::Tcp("x:1".into(), ReceiverBuffer(Some(1000))));
        for _ in 0..100 {
            replay.push(&[b'x'; 100], 500);
        }
        // The newest 1500 bytes at least, and not a batch more.
        assert!(
            replay.bytes >= 1500 && replay.bytes < 1600,
            "{}",
            replay.bytes
        );
        // Autotuning grows the send buffer: the window grows with it.
        for _ in 0..100 {
            replay.push(&[b'x'; 100], 4000);
        }
        assert!(
            replay.bytes >= 5000 && replay.bytes < 5100,
            "{}",
            replay.bytes
        );
        // Nothing is forgotten by age.
        std::thread::sleep(Duration::from_millis(20));
        replay.push(b"y", 4000);
        assert!(replay.bytes >= 5000);
    }

    #[test]
    fn a_file_ending_mid_line_is_terminated_on_open() {
        let dir = std::env::temp_dir().join(format!("logscrub-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for (before, after) in [
            (
                &b"line one\ncut in the mid"[..],
                &b"line one\ncut in the mid\nnext\n"[..],
            ),
            (b"whole\n", b"whole\nnext\n"),
            (b"", b"next\n"),
        ] {
            let path = dir.join("out.log");
            std::fs::write(&path, before).unwrap();
            runtime.block_on(async {
                let spec = SinkSpec::File(path.clone());
                let mut sink = Sink::open(&spec, Default::default()).await.unwrap();
                sink.write(b"next\n").await.unwrap();
                sink.close().await.unwrap();
            });
            assert_eq!(std::fs::read(&path).unwrap(), after);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn output_urls() {
        assert_eq!(SinkSpec::parse("-"), Ok(SinkSpec::Stdout));
        assert_eq!(
            SinkSpec::parse("file:///var/log/x.log"),
            Ok(SinkSpec::File("/var/log/x.log".into()))
        );
        assert_eq!(
            SinkSpec::parse("tcp://collector:5170"),
            Ok(SinkSpec::Tcp("collector:5170".into(), ReceiverBuffer(None)))
        );
        assert_eq!(
            SinkSpec::parse("tcp://collector:5170?receiver_buffer=16M"),
            Ok(SinkSpec::Tcp(
                "collector:5170".into(),
                ReceiverBuffer(Some(16 << 20))
            ))
        );
        assert_eq!(
            SinkSpec::parse("unix:///run/c.sock?receiver_buffer=4096"),
            Ok(SinkSpec::Unix(
                "/run/c.sock".into(),
                ReceiverBuffer(Some(4096))
            ))
        );
        for bad in [
            "tcp://c:1?receiver_buffer=lots",
            "tcp://c:1?receiver_buffer=8T",
            "tcp://c:1?other=1",
        ] {
            assert!(SinkSpec::parse(bad).is_err(), "{bad}");
        }
        assert!(SinkSpec::parse("udp://x:1").is_err());
        assert!(SinkSpec::parse("/tmp/x").is_err());
    }
}
