//! Sinks: where scrubbed lines go — standard output, a file, or a TCP or
//! Unix stream socket.
//!
//! A sink writes whole batches of lines, in order, and never gives up on a
//! batch: while a socket destination is down it reconnects with capped
//! exponential backoff (100 ms doubling to 10 s) and the batch waits, so the
//! bounded buffer in front of it fills and backpressure reaches the inputs.
//! A batch cut short by a connection failure is sent again whole on the new
//! connection (at-least-once: the lines of that batch may arrive twice, none
//! is lost). A destination that closes its end gracefully (half-close, then
//! reading to our end) loses nothing; one that crashes can lose what its
//! kernel had accepted but it had not read — raw TCP has no acknowledgements.
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

/// An output given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkSpec {
    /// Standard output.
    Stdout,
    /// A file, appended to.
    File(PathBuf),
    /// A TCP destination `host:port`.
    Tcp(String),
    /// A Unix stream socket.
    Unix(PathBuf),
}

impl SinkSpec {
    /// Parses an `--output` value: `-`, `file:///PATH`, `tcp://HOST:PORT`,
    /// `unix:///PATH`.
    pub fn parse(url: &str) -> Result<SinkSpec, String> {
        if url == "-" || url == "stdout" {
            return Ok(SinkSpec::Stdout);
        }
        let (scheme, target) = url.split_once("://").ok_or_else(|| {
            format!("--output {url}: expected -, file:///PATH, tcp://HOST:PORT or unix:///PATH")
        })?;
        if target.is_empty() {
            return Err(format!("--output {url}: no address"));
        }
        match scheme {
            "file" => Ok(SinkSpec::File(PathBuf::from(target))),
            "tcp" => Ok(SinkSpec::Tcp(target.to_string())),
            "unix" => Ok(SinkSpec::Unix(PathBuf::from(target))),
            other => Err(format!(
                "--output {url}: unknown scheme `{other}` (file, tcp, unix)"
            )),
        }
    }

    /// How it is named in messages.
    pub fn name(&self) -> String {
        match self {
            SinkSpec::Stdout => "standard output".into(),
            SinkSpec::File(p) => format!("file://{}", p.display()),
            SinkSpec::Tcp(a) => format!("tcp://{a}"),
            SinkSpec::Unix(p) => format!("unix://{}", p.display()),
        }
    }
}

/// A connection to a socket destination.
struct Connection {
    writer: Box<dyn AsyncWrite + Unpin + Send>,
    /// Set when the peer closed its end (or the connection failed).
    peer_closed: Arc<AtomicBool>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

enum Target {
    Stdout(tokio::io::Stdout),
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

/// What was written to a socket in the last moments. Raw TCP has no
/// acknowledgements: bytes a dying connection accepted (a peer that closed
/// without reading them, a connection the listener never accepted) are
/// lost silently. So after a connection fails, the recent batches are sent
/// again on the next one — at-least-once: up to [`REPLAY_AGE`] or
/// [`REPLAY_BYTES`] of lines may arrive twice, none is lost.
#[derive(Default)]
struct Replay {
    batches: std::collections::VecDeque<(Instant, Vec<u8>)>,
    bytes: usize,
}

/// How long written batches are kept for sending again.
const REPLAY_AGE: Duration = Duration::from_secs(2);
/// At most this many bytes are kept for sending again.
const REPLAY_BYTES: usize = 4 << 20;

impl Replay {
    /// Records a batch written on a working connection; batches older than
    /// [`REPLAY_AGE`] are forgotten (the connection outlived them). Nothing
    /// is forgotten by age while there is no connection.
    fn push(&mut self, data: &[u8]) {
        self.batches.push_back((Instant::now(), data.to_vec()));
        self.bytes += data.len();
        self.expire();
    }

    fn expire(&mut self) {
        while let Some((at, b)) = self.batches.front() {
            if self.bytes > REPLAY_BYTES || at.elapsed() > REPLAY_AGE {
                self.bytes -= b.len();
                self.batches.pop_front();
            } else {
                break;
            }
        }
    }
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
            SinkSpec::Stdout => Target::Stdout(tokio::io::stdout()),
            SinkSpec::File(path) => Target::File {
                path: path.clone(),
                file: Some(open_file(path).await?),
            },
            SinkSpec::Tcp(_) | SinkSpec::Unix(_) => Target::Socket {
                spec: spec.clone(),
                connection: None,
                replay: Replay::default(),
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
                Target::Stdout(out) => return out.write_all(data).await,
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
            Target::Stdout(out) => out.flush().await,
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

    /// Flushes and closes (a socket is shut down for writing).
    pub async fn close(&mut self) -> io::Result<()> {
        self.sync().await?;
        if let Target::Socket {
            connection: Some(c),
            ..
        } = &mut self.target
        {
            let _ = c.writer.shutdown().await;
        }
        Ok(())
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
            SinkSpec::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr.as_str()).await?;
                stream.set_nodelay(true)?;
                let (read, write) = stream.into_split();
                Ok::<_, io::Error>((
                    Box::new(read) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                    Box::new(write) as Box<dyn AsyncWrite + Unpin + Send>,
                ))
            }
            SinkSpec::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path).await?;
                let (read, write) = stream.into_split();
                Ok((
                    Box::new(read) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                    Box::new(write) as Box<dyn AsyncWrite + Unpin + Send>,
                ))
            }
            _ => Err(io::Error::other("not a socket")),
        }
    };
    let (mut read, writer) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connection timed out"))??;
    let flag = Arc::clone(&peer_closed);
    // The destination is not expected to send anything: reading tells when
    // it closes its end.
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok(n) = read.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
        flag.store(true, Ordering::SeqCst);
    });
    Ok(Connection {
        writer,
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
        for (_, batch) in &replay.batches {
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
        Ok(()) => replay.push(data),
        Err(_) => *connection = None,
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_urls() {
        assert_eq!(SinkSpec::parse("-"), Ok(SinkSpec::Stdout));
        assert_eq!(
            SinkSpec::parse("file:///var/log/x.log"),
            Ok(SinkSpec::File("/var/log/x.log".into()))
        );
        assert_eq!(
            SinkSpec::parse("tcp://collector:5170"),
            Ok(SinkSpec::Tcp("collector:5170".into()))
        );
        assert!(SinkSpec::parse("udp://x:1").is_err());
        assert!(SinkSpec::parse("/tmp/x").is_err());
    }
}
