//! Sockets as sources: TCP and Unix stream listeners (newline-framed, or
//! octet-counted per RFC 6587 for TCP), and UDP (each datagram is one or
//! more lines).
//!
//! Every connection is its own stream, read by its own task: an over-long
//! line or garbage on one connection gets the over-long-line policy on that
//! connection and never stalls the others. When the shared channel is full a
//! connection is simply not read (TCP flow control pushes back on the
//! sender). On shutdown the listeners close, connections stop being read,
//! and what was already read is sent. A UDP sender gets no backpressure:
//! the socket's receive buffer is enlarged, and what the kernel drops beyond
//! it is outside logscrub's view.
//!
//! A connection that ends (or is cut at shutdown) inside a line has that
//! line scanned whole and terminated with a newline: lines of different
//! connections never merge.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UdpSocket, UnixListener};
use tokio_util::sync::CancellationToken;

use super::{ChunkSender, Feed, FramingOptions, Stream};
use crate::framing::octet::{Decoded, OctetDecoder};

/// The largest UDP datagram.
const MAX_DATAGRAM: usize = 65_536;
/// The receive buffer asked for UDP sockets.
const UDP_RECEIVE_BUFFER: usize = 8 << 20;

/// A bound listener, ready to serve.
pub enum Listener {
    /// TCP.
    Tcp {
        /// The socket.
        listener: TcpListener,
        /// Octet-counted framing.
        octet_counting: bool,
    },
    /// Unix stream socket, removed when the listener stops.
    Unix {
        /// The socket.
        listener: UnixListener,
        /// Its path.
        path: PathBuf,
    },
    /// UDP.
    Udp(UdpSocket),
}

impl Listener {
    /// Binds the listener `spec` describes (must be a socket spec).
    pub async fn bind(spec: &super::SourceSpec) -> io::Result<Listener> {
        match spec {
            super::SourceSpec::Tcp {
                addr,
                octet_counting,
            } => Ok(Listener::Tcp {
                listener: TcpListener::bind(addr.as_str()).await?,
                octet_counting: *octet_counting,
            }),
            super::SourceSpec::Udp(addr) => {
                let socket = UdpSocket::bind(addr.as_str()).await?;
                set_receive_buffer(&socket);
                Ok(Listener::Udp(socket))
            }
            super::SourceSpec::Unix(path) => {
                remove_stale_socket(path);
                Ok(Listener::Unix {
                    listener: UnixListener::bind(path)?,
                    path: path.clone(),
                })
            }
            _ => Err(io::Error::other("not a socket source")),
        }
    }

    /// The bound address, for messages.
    pub fn local_addr(&self) -> String {
        match self {
            Listener::Tcp { listener, .. } => listener
                .local_addr()
                .map_or_else(|_| "?".into(), |a| format!("tcp://{a}")),
            Listener::Unix { path, .. } => format!("unix://{}", path.display()),
            Listener::Udp(s) => s
                .local_addr()
                .map_or_else(|_| "?".into(), |a| format!("udp://{a}")),
        }
    }

    /// Serves until `cancel`; connections finish sending what they read.
    pub async fn serve(
        self,
        label: Arc<str>,
        framing: FramingOptions,
        tx: ChunkSender,
        cancel: CancellationToken,
    ) {
        let mut connections = tokio::task::JoinSet::new();
        match self {
            Listener::Udp(socket) => serve_udp(socket, label, framing, tx, cancel).await,
            Listener::Tcp {
                listener,
                octet_counting,
            } => loop {
                let accepted = tokio::select! {
                    _ = cancel.cancelled() => break,
                    a = listener.accept() => a,
                };
                match accepted {
                    Ok((conn, peer)) => {
                        let stream = Arc::new(Stream {
                            name: format!("tcp://{peer}").into(),
                            label: Arc::clone(&label),
                        });
                        // Octet-counted syslog is not CRI: no partial lines
                        // are held, so a garbage marker keeps its place.
                        let framing = FramingOptions {
                            continued: framing.continued.filter(|_| !octet_counting),
                            ..framing
                        };
                        let feed = Feed::new(stream, framing, 0);
                        connections.spawn(read_connection(
                            conn,
                            feed,
                            octet_counting,
                            tx.clone(),
                            cancel.clone(),
                        ));
                    }
                    Err(e) => accept_failed(&label, &e).await,
                }
            },
            Listener::Unix { listener, path } => {
                let mut n = 0u64;
                loop {
                    let accepted = tokio::select! {
                        _ = cancel.cancelled() => break,
                        a = listener.accept() => a,
                    };
                    match accepted {
                        Ok((conn, _)) => {
                            n += 1;
                            let stream = Arc::new(Stream {
                                name: format!("unix://{}#{n}", path.display()).into(),
                                label: Arc::clone(&label),
                            });
                            let feed = Feed::new(stream, framing, 0);
                            connections.spawn(read_connection(
                                conn,
                                feed,
                                false,
                                tx.clone(),
                                cancel.clone(),
                            ));
                        }
                        Err(e) => accept_failed(&label, &e).await,
                    }
                }
                let _ = std::fs::remove_file(&path);
            }
        }
        while connections.join_next().await.is_some() {}
    }
}

async fn accept_failed(label: &str, e: &io::Error) {
    crate::telemetry::count_error("receiving", "accept_failed");
    crate::diag::emit("warn", &format!("{label}: accepting a connection: {e}"));
    // Out of file descriptors, typically: give connections time to close.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
}

/// A Unix socket file left by a previous run that nobody listens on.
fn remove_stale_socket(path: &std::path::Path) {
    use std::os::unix::fs::FileTypeExt;
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if is_socket && std::os::unix::net::UnixStream::connect(path).is_err() {
        let _ = std::fs::remove_file(path);
    }
}

fn set_receive_buffer(socket: &UdpSocket) {
    // Best effort: the kernel caps it at net.core.rmem_max.
    let _ = socket2::SockRef::from(socket).set_recv_buffer_size(UDP_RECEIVE_BUFFER);
}

/// Sends every chunk ready in `feed`; false when the receiver is gone.
async fn send_ready(feed: &mut Feed, tx: &ChunkSender) -> bool {
    while let Some(chunk) = feed.next_chunk() {
        if tx.send(chunk).await.is_err() {
            return false;
        }
    }
    true
}

/// Reads one connection to its end (or to shutdown).
async fn read_connection<C: AsyncRead + Unpin>(
    mut conn: C,
    mut feed: Feed,
    octet_counting: bool,
    tx: ChunkSender,
    cancel: CancellationToken,
) {
    let mut decoder = octet_counting.then(OctetDecoder::new);
    let mut raw = if octet_counting {
        vec![0u8; crate::framing::READ_CHUNK]
    } else {
        Vec::new()
    };
    loop {
        let read = if decoder.is_some() {
            tokio::select! {
                _ = cancel.cancelled() => break,
                r = conn.read(&mut raw) => r,
            }
        } else {
            tokio::select! {
                _ = cancel.cancelled() => break,
                r = conn.read(feed.framer().spare()) => r,
            }
        };
        let n = match read {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                crate::telemetry::count_error("receiving", "connection_failed");
                crate::diag::emit("warn", &format!("{}: reading: {e}", feed.stream().name));
                break;
            }
        };
        match &mut decoder {
            None => feed.framer().filled(n),
            Some(decoder) => {
                if !decode_into(decoder, &raw[..n], &mut feed, &tx, false).await {
                    return;
                }
            }
        }
        if !send_ready(&mut feed, &tx).await {
            return;
        }
    }
    if let Some(decoder) = &mut decoder {
        if !decode_into(decoder, &[], &mut feed, &tx, true).await {
            return;
        }
    }
    // A last line without a newline is a whole line of this connection:
    // terminated, so the next connection's first line is not glued to it.
    feed.terminate_partial();
    feed.framer().finish();
    send_ready(&mut feed, &tx).await;
}

/// Runs octet-counted bytes through `decoder` into `feed`; garbage becomes
/// an over-long line, after the lines before it.
async fn decode_into(
    decoder: &mut OctetDecoder,
    bytes: &[u8],
    feed: &mut Feed,
    tx: &ChunkSender,
    finish: bool,
) -> bool {
    enum Event {
        Data(Vec<u8>),
        Garbage(u64, bool),
    }
    let mut events = Vec::new();
    {
        let mut out = |d: Decoded<'_>| match d {
            Decoded::Data(b) => match events.last_mut() {
                Some(Event::Data(v)) => v.extend_from_slice(b),
                _ => events.push(Event::Data(b.to_vec())),
            },
            Decoded::Garbage { bytes, terminated } => {
                events.push(Event::Garbage(bytes, terminated))
            }
        };
        if finish {
            decoder.finish(&mut out);
        } else {
            decoder.decode(bytes, &mut out);
        }
    }
    for event in events {
        match event {
            Event::Data(data) => feed.framer().push(&data),
            Event::Garbage(bytes, terminated) => {
                if !send_ready(feed, tx).await {
                    return false;
                }
                if tx
                    .send(feed.overlong_chunk(bytes, terminated))
                    .await
                    .is_err()
                {
                    return false;
                }
            }
        }
    }
    true
}

/// Each datagram is one or more lines; one without a final newline gets
/// one. All datagrams of a socket form one stream, in arrival order.
async fn serve_udp(
    socket: UdpSocket,
    label: Arc<str>,
    framing: FramingOptions,
    tx: ChunkSender,
    cancel: CancellationToken,
) {
    let stream = Arc::new(Stream {
        name: Arc::clone(&label),
        label,
    });
    let mut feed = Feed::new(stream, framing, 0);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            _ = cancel.cancelled() => break,
            r = socket.recv_from(&mut buf) => r,
        };
        let n = match received {
            Ok((n, _)) => n,
            Err(e) => {
                crate::telemetry::count_error("receiving", "receive_failed");
                crate::diag::emit("warn", &format!("{}: receiving: {e}", feed.stream().name));
                continue;
            }
        };
        if n == 0 {
            continue;
        }
        feed.framer().push(&buf[..n]);
        if buf[n - 1] != b'\n' {
            feed.framer().push(b"\n");
        }
        // Drain what else is queued before sending, to batch datagrams.
        while feed.pending() < crate::framing::READ_CHUNK {
            match socket.try_recv_from(&mut buf) {
                Ok((0, _)) => continue,
                Ok((n, _)) => {
                    feed.framer().push(&buf[..n]);
                    if buf[n - 1] != b'\n' {
                        feed.framer().push(b"\n");
                    }
                }
                Err(_) => break,
            }
        }
        if !send_ready(&mut feed, &tx).await {
            return;
        }
    }
    feed.framer().finish();
    send_ready(&mut feed, &tx).await;
}
