//! The metrics and probe endpoint: a small HTTP/1.1 server on its own
//! threads, independent of the scrubbing pipeline.
//!
//! Guarantees:
//! - **Concurrent**: each connection is served on its own thread, so a slow
//!   or idle client never delays another (a kubelet probe is answered while
//!   a scraper or a stuck client holds a connection). At most
//!   [`MAX_CONNECTIONS`] are served at once; beyond that a connection gets
//!   `503` at once and is closed.
//! - **Deadlines**: a request must arrive whole within [`REQUEST_DEADLINE`]
//!   (else the connection is closed), and the response is written within
//!   [`WRITE_DEADLINE`]. A request head is at most [`MAX_HEAD_BYTES`].
//! - **Methods**: `GET` and `HEAD` (same status and headers, no body);
//!   anything else gets `405` with `Allow: GET, HEAD`. One request per
//!   connection (`Connection: close`).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a client may take to send its request.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(1);
/// The longest writing a response may take.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(2);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// The largest request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 8192;

/// A response.
pub struct Response {
    /// Status line text, e.g. `200 OK`.
    pub status: &'static str,
    /// Content type.
    pub content_type: &'static str,
    /// Body (not sent for HEAD).
    pub body: String,
}

impl Response {
    /// A plain-text response.
    pub fn text(status: &'static str, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
        }
    }
}

/// Serves `listener` forever on background threads; `route` maps a path to
/// a response (called for GET and HEAD only).
pub fn spawn<F>(listener: TcpListener, route: F) -> io::Result<()>
where
    F: Fn(&str) -> Response + Send + Sync + 'static,
{
    let route = Arc::new(route);
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("logscrub-http".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    active.fetch_sub(1, Ordering::SeqCst);
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
                    let _ = write_response(
                        stream,
                        false,
                        &Response::text("503 Service Unavailable", "busy\n"),
                        &[],
                    );
                    continue;
                }
                let (route, slot) = (Arc::clone(&route), Arc::clone(&active));
                let spawned = std::thread::Builder::new()
                    .name("logscrub-http-conn".into())
                    .spawn(move || {
                        let _ = serve_one(stream, &*route);
                        slot.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    // The connection is closed with the closure.
                    active.fetch_sub(1, Ordering::SeqCst);
                }
            }
        })?;
    Ok(())
}

fn serve_one(mut stream: TcpStream, route: &dyn Fn(&str) -> Response) -> io::Result<()> {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let head = match read_head(&mut stream, deadline) {
        Ok(head) => head,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            stream.set_write_timeout(Some(WRITE_DEADLINE))?;
            let reader = stream.try_clone()?;
            write_response(
                stream,
                false,
                &Response::text("400 Bad Request", "bad request\n"),
                &[],
            )?;
            // Read what the client still sends for a moment, so closing
            // does not reset the connection before it read the answer.
            reader.set_read_timeout(Some(Duration::from_millis(200)))?;
            let _ = reader.take(1 << 20).read_to_end(&mut Vec::new());
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    stream.set_write_timeout(Some(WRITE_DEADLINE))?;
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/")) || !target.starts_with('/') {
        return write_response(
            stream,
            false,
            &Response::text("400 Bad Request", "bad request\n"),
            &[],
        );
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    match method {
        "GET" | "HEAD" => write_response(stream, method == "HEAD", &route(path), &[]),
        _ => write_response(
            stream,
            false,
            &Response::text("405 Method Not Allowed", "method not allowed\n"),
            &[("Allow", "GET, HEAD")],
        ),
    }
}

/// Reads up to the blank line ending the request head, within `deadline`.
/// `InvalidData` for a head that is too long or not text; `TimedOut` when
/// the deadline passes.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> io::Result<String> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        match find_end(&head) {
            Some(end) if end <= MAX_HEAD_BYTES => {
                head.truncate(end);
                return String::from_utf8(head).map_err(|_| io::ErrorKind::InvalidData.into());
            }
            _ if head.len() > MAX_HEAD_BYTES => return Err(io::ErrorKind::InvalidData.into()),
            _ => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        head.extend_from_slice(&chunk[..n]);
    }
}

/// Where the head ends (`\r\n\r\n` or a bare `\n\n`).
fn find_end(head: &[u8]) -> Option<usize> {
    let crlf = memchr::memmem::find(head, b"\r\n\r\n");
    let lf = memchr::memmem::find(head, b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn write_response(
    mut stream: TcpStream,
    head_only: bool,
    response: &Response,
    extra: &[(&str, &str)],
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    if !head_only {
        out.push_str(&response.body);
    }
    stream.write_all(out.as_bytes())?;
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        spawn(listener, |path| match path {
            "/healthz" => Response::text("200 OK", "ok\n"),
            _ => Response::text("404 Not Found", "not found\n"),
        })
        .unwrap();
        addr
    }

    fn exchange(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn methods_and_paths() {
        let addr = server();
        let get = exchange(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            get.starts_with("HTTP/1.1 200 OK\r\n") && get.ends_with("\r\n\r\nok\n"),
            "{get}"
        );
        let head = exchange(addr, b"HEAD /healthz HTTP/1.1\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains("Content-Length: 3\r\n") && head.ends_with("\r\n\r\n"),
            "{head}"
        );
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
            let r = exchange(
                addr,
                format!("{method} /healthz HTTP/1.1\r\n\r\n").as_bytes(),
            );
            assert!(r.starts_with("HTTP/1.1 405 "), "{r}");
            assert!(r.contains("Allow: GET, HEAD\r\n"), "{r}");
        }
        assert!(exchange(addr, b"GET /nope?x=1 HTTP/1.0\n\n").starts_with("HTTP/1.1 404 "));
        assert!(exchange(addr, b"garbage\r\n\r\n").starts_with("HTTP/1.1 400 "));
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD_BYTES + 10));
        assert!(exchange(addr, long.as_bytes()).starts_with("HTTP/1.1 400 "));
    }

    /// Beyond MAX_CONNECTIONS at once, a connection is answered 503 at
    /// once instead of waiting; once they are gone, probes are served.
    #[test]
    fn too_many_connections_get_503() {
        let addr = server();
        let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        let r = exchange(addr, b"GET /healthz HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
        drop(idle);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = exchange(addr, b"GET /healthz HTTP/1.1\r\n\r\n");
            if r.starts_with("HTTP/1.1 200 ") {
                break;
            }
            assert!(Instant::now() < deadline, "{r}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Idle clients hold only their own connection, and are cut at the
    /// deadline.
    #[test]
    fn idle_clients_do_not_block_probes() {
        let addr = server();
        let idle: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let started = Instant::now();
        let r = exchange(addr, b"GET /healthz HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}");
        assert!(
            started.elapsed() < REQUEST_DEADLINE,
            "{:?}",
            started.elapsed()
        );
        // The idle ones are closed by the server after the deadline.
        for mut s in idle {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = Vec::new();
            let t = Instant::now();
            let _ = s.read_to_end(&mut buf);
            assert!(t.elapsed() < Duration::from_secs(5));
        }
    }
}
