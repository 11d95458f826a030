//! Sources: where lines come from — standard input, files (optionally
//! followed across rotation) and sockets (TCP, UDP, Unix).
//!
//! A source cuts each of its byte streams (a file, a connection) into
//! [`Chunk`]s of whole lines with its own [`Feed`], and sends them on one
//! bounded channel shared by all sources. So the lines of one stream stay in
//! order, streams never mix inside a line, and a full channel stops every
//! source from reading (backpressure: a followed file pauses, a socket
//! stops being read).

pub mod file;
pub mod socket;
pub mod stdin;

use std::path::PathBuf;
use std::sync::Arc;

use crate::checkpoint::{FileKey, Fingerprint};
use crate::framing::{Batch, Framer, Next};
use crate::pipe::JobKind;

/// One stream of lines: a file, a connection, standard input.
#[derive(Debug)]
pub struct Stream {
    /// Its name in findings and diagnostics (a path, a peer address).
    pub name: Arc<str>,
    /// The source it belongs to, as given on the command line: the metrics
    /// label (bounded, unlike `name`).
    pub label: Arc<str>,
}

/// A file position to record once a chunk is written.
#[derive(Clone, Debug)]
pub struct Ack {
    /// The file.
    pub key: FileKey,
    /// Where it was seen.
    pub path: Arc<PathBuf>,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// The offset after the chunk's last byte.
    pub offset: u64,
    /// The file is gone and fully read: drop its checkpoint entry.
    pub forget: bool,
}

/// A batch of whole lines of one stream, with what the scrubber needs to
/// continue that stream's state.
pub struct Chunk {
    /// The stream it comes from.
    pub stream: Arc<Stream>,
    /// The lines (or an over-long line that was skipped).
    pub(crate) payload: JobKind,
    /// Private-key block state at its first line.
    pub block_lines_left: u32,
    /// Lines of the stream before it.
    pub first_line: u64,
    /// The position to checkpoint once it is written.
    pub ack: Option<Ack>,
    /// Where, in the payload, a partial line carried over from the
    /// previous generation meets its continuation (see [`prescrub_seam`]).
    pub seam: Option<usize>,
}

impl Chunk {
    /// A chunk that carries no lines, only a checkpoint change.
    pub fn ack_only(stream: Arc<Stream>, ack: Ack) -> Chunk {
        Chunk {
            stream,
            payload: JobKind::Lines(Vec::new()),
            block_lines_left: 0,
            first_line: 0,
            ack: Some(ack),
            seam: None,
        }
    }
}

/// The channel every source sends on.
pub type ChunkSender = tokio::sync::mpsc::Sender<Chunk>;

/// Framing settings shared by every source.
#[derive(Clone, Copy, Debug)]
pub struct FramingOptions {
    /// The over-long-line limit.
    pub max_line_bytes: usize,
    /// Keep CRI partial runs together (formats auto and cri).
    pub hold_cri_partials: bool,
    /// Track private-key blocks across batches (a block rule is active).
    pub follows_blocks: bool,
}

/// One stream's framing state: bytes in, chunks out.
pub struct Feed {
    stream: Arc<Stream>,
    framer: Framer,
    options: FramingOptions,
    block_lines_left: u32,
    lines: u64,
    /// Stream offset of the framer's first byte (where reading started).
    offset_base: u64,
    /// Bytes the framer holds that are not this file's: a partial line
    /// carried over from the previous generation, or a newline added to
    /// end one. As `(framer position, length)`, in order; those handed
    /// out are folded into `synthetic_done`.
    synthetic: Vec<(u64, u64, bool)>,
    synthetic_done: u64,
}

impl Feed {
    /// A feed for `stream`, whose bytes start at `offset_base` of their
    /// file (0 for anything else).
    pub fn new(stream: Arc<Stream>, options: FramingOptions, offset_base: u64) -> Feed {
        Feed {
            stream,
            framer: Framer::new(options.max_line_bytes)
                .hold_cri_partials(options.hold_cri_partials),
            options,
            block_lines_left: 0,
            lines: 0,
            offset_base,
            synthetic: Vec::new(),
            synthetic_done: 0,
        }
    }

    /// The stream.
    pub fn stream(&self) -> &Arc<Stream> {
        &self.stream
    }

    /// The framer, to receive bytes.
    pub fn framer(&mut self) -> &mut Framer {
        &mut self.framer
    }

    /// The offset (in the file) up to which lines were handed out. Bytes
    /// that are not the file's (a carried partial line, an added newline)
    /// do not count.
    pub fn consumed_offset(&self) -> u64 {
        let consumed = self.framer.consumed();
        let pending: u64 = self
            .synthetic
            .iter()
            .map(|&(at, len, _)| consumed.saturating_sub(at).min(len))
            .sum();
        (self.offset_base + consumed).saturating_sub(self.synthetic_done + pending)
    }

    /// Folds synthetic ranges that were handed out.
    fn settle_synthetic(&mut self) {
        let consumed = self.framer.consumed();
        while let Some(&(at, len, _)) = self.synthetic.first() {
            if at + len > consumed {
                break;
            }
            self.synthetic_done += len;
            self.synthetic.remove(0);
        }
    }

    /// Whether a partial line carried over from the previous generation
    /// is still waiting for its continuation.
    pub fn holds_carry(&self) -> bool {
        self.synthetic
            .first()
            .is_some_and(|&(at, _, carried)| carried && at == 0)
            && self.framer.consumed() == 0
            && self.framer.pending() > 0
    }

    /// Takes what is pending (a partial last line) to continue it in the
    /// stream's next generation; see [`Feed::carry_in`].
    pub fn take_partial(&mut self) -> Vec<u8> {
        self.framer.take_pending()
    }

    /// Starts this (fresh) feed with `partial`, the unfinished last line of
    /// the previous generation: the first bytes read complete it, so the
    /// line is scanned whole. The carried bytes do not count as this
    /// file's offsets.
    pub fn carry_in(&mut self, partial: &[u8]) {
        if partial.is_empty() {
            return;
        }
        let at = self.framer.received();
        self.framer.push(partial);
        self.synthetic.push((at, partial.len() as u64, true));
    }

    /// Ends a partial last line with a newline (not counted as the file's
    /// bytes), so it goes out as a line of its own and nothing that comes
    /// later is glued to it. Returns whether a newline was added.
    pub fn terminate_partial(&mut self) -> bool {
        if !self.framer.ends_mid_line() {
            return false;
        }
        let at = self.framer.received();
        self.framer.push(b"\n");
        self.synthetic.push((at, 1, false));
        true
    }

    /// Whether what is pending ends inside a line.
    pub fn ends_mid_line(&self) -> bool {
        self.framer.ends_mid_line()
    }

    /// Bytes received but not handed out (a partial line).
    pub fn pending(&self) -> usize {
        self.framer.pending()
    }

    /// Drops what is pending and continues the stream with bytes that
    /// start at `offset_base` (a file that was truncated and starts over).
    /// The line count and block state carry on.
    pub fn restart_at(&mut self, offset_base: u64) {
        self.framer = Framer::new(self.options.max_line_bytes)
            .hold_cri_partials(self.options.hold_cri_partials);
        self.offset_base = offset_base;
        self.synthetic.clear();
        self.synthetic_done = 0;
    }

    /// Like [`Feed::restart_at`], but a partial last line is kept and
    /// continued by the new content (copytruncate: the writer's next block
    /// lands at the start of the truncated file).
    pub fn restart_carrying(&mut self, offset_base: u64) {
        let partial = self.take_partial();
        self.restart_at(offset_base);
        self.carry_in(&partial);
    }

    /// A chunk reporting an undecodable run of `bytes` as the stream's next
    /// line (it gets the over-long-line policy). Call only when no lines
    /// are pending.
    pub fn overlong_chunk(&mut self, bytes: u64, terminated: bool) -> Chunk {
        let first_line = self.lines;
        self.lines += 1;
        Chunk {
            stream: Arc::clone(&self.stream),
            payload: JobKind::OverLong { terminated, bytes },
            block_lines_left: self.block_lines_left,
            first_line,
            ack: None,
            seam: None,
        }
    }

    /// The next chunk the bytes received so far make, if any.
    pub fn next_chunk(&mut self) -> Option<Chunk> {
        let before = self.framer.consumed();
        let payload = match self.framer.next_batch() {
            Next::Batch(Batch::Lines(lines)) => JobKind::Lines(lines.to_vec()),
            Next::Batch(Batch::OverLong { terminated, bytes }) => {
                JobKind::OverLong { terminated, bytes }
            }
            Next::NeedInput | Next::End => return None,
        };
        let seam = match (&payload, self.synthetic.first()) {
            (JobKind::Lines(lines), Some(&(at, len, true))) if at == before => {
                Some(len as usize).filter(|&l| l < lines.len())
            }
            _ => None,
        };
        self.settle_synthetic();
        let block_lines_left = self.block_lines_left;
        let first_line = self.lines;
        match &payload {
            JobKind::Lines(lines) => {
                if self.options.follows_blocks {
                    self.block_lines_left = crate::redact::block_state_after(
                        lines,
                        self.block_lines_left,
                        self.options.max_line_bytes,
                    );
                }
                self.lines += memchr::memchr_iter(b'\n', lines).count() as u64
                    + u64::from(lines.last().is_some_and(|&b| b != b'\n'));
            }
            JobKind::OverLong { .. } => self.lines += 1,
        }
        Some(Chunk {
            stream: Arc::clone(&self.stream),
            payload,
            block_lines_left,
            first_line,
            ack: None,
            seam,
        })
    }
}

/// Prepares the line of `lines` where a carried partial line meets its
/// continuation (at byte `seam`) for scanning. The writer usually continued
/// that line in the next generation, and the joined line is scanned whole.
/// But copytruncate can lose bytes in between, and then the two parts are
/// pieces of different lines, glued: a card number at the start of the
/// continuation, glued to digits before the seam, would no longer look like
/// one. So each part is scrubbed alone first, and the joined result is
/// scrubbed again by the caller: what either reading finds is redacted.
pub fn prescrub_seam(scanner: &Arc<crate::scan::Scanner>, lines: &mut Vec<u8>, seam: usize) {
    if seam == 0 || seam >= lines.len() {
        return;
    }
    let start = memchr::memrchr(b'\n', &lines[..seam]).map_or(0, |i| i + 1);
    let end = memchr::memchr(b'\n', &lines[seam..]).map_or(lines.len(), |i| seam + i + 1);
    // (The line limit is the main pass's business.)
    let mut redactor = crate::redact::Redactor::new(Arc::clone(scanner));
    redactor.set_max_line_bytes(usize::MAX);
    let mut joined = Vec::with_capacity(end - start + 64);
    redactor.scrub_lines(&lines[start..seam], &mut joined);
    redactor.scrub_lines(&lines[seam..end], &mut joined);
    lines.splice(start..end, joined);
}

/// A source given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// Standard input.
    Stdin,
    /// Files matching a path or glob pattern.
    Files(String),
    /// A TCP listener.
    Tcp {
        /// Address to bind.
        addr: String,
        /// Octet-counted framing (RFC 6587) instead of newlines.
        octet_counting: bool,
    },
    /// A UDP socket.
    Udp(String),
    /// A Unix stream socket listener.
    Unix(PathBuf),
}

impl SourceSpec {
    /// Parses a `--listen` URL.
    pub fn parse_listen(url: &str) -> Result<SourceSpec, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("--listen {url}: expected tcp://, udp:// or unix://"))?;
        let (target, query) = match rest.split_once('?') {
            Some((t, q)) => (t, Some(q)),
            None => (rest, None),
        };
        let octet_counting = match query {
            None | Some("framing=newline") => false,
            Some("framing=octet-counting") if scheme == "tcp" || scheme == "unix" => true,
            Some(q) => {
                return Err(format!(
                    "--listen {url}: unknown option `{q}` (known: framing=newline, framing=octet-counting for tcp)"
                ))
            }
        };
        if target.is_empty() {
            return Err(format!("--listen {url}: no address"));
        }
        match scheme {
            "tcp" => Ok(SourceSpec::Tcp {
                addr: target.to_string(),
                octet_counting,
            }),
            "udp" => Ok(SourceSpec::Udp(target.to_string())),
            "unix" if !octet_counting => Ok(SourceSpec::Unix(PathBuf::from(target))),
            "unix" => Err(format!(
                "--listen {url}: octet-counting framing is for tcp:// only"
            )),
            other => Err(format!(
                "--listen {url}: unknown scheme `{other}` (tcp, udp, unix)"
            )),
        }
    }

    /// The metrics label: the source as given.
    pub fn label(&self) -> String {
        match self {
            SourceSpec::Stdin => "standard input".to_string(),
            SourceSpec::Files(p) => p.clone(),
            SourceSpec::Tcp { addr, .. } => format!("tcp://{addr}"),
            SourceSpec::Udp(addr) => format!("udp://{addr}"),
            SourceSpec::Unix(path) => format!("unix://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_urls() {
        assert_eq!(
            SourceSpec::parse_listen("tcp://127.0.0.1:5140?framing=octet-counting"),
            Ok(SourceSpec::Tcp {
                addr: "127.0.0.1:5140".into(),
                octet_counting: true
            })
        );
        assert_eq!(
            SourceSpec::parse_listen("unix:///run/logscrub.sock"),
            Ok(SourceSpec::Unix("/run/logscrub.sock".into()))
        );
        assert!(SourceSpec::parse_listen("udp://[::1]:514").is_ok());
        for bad in [
            "127.0.0.1:1",
            "http://x:1",
            "tcp://",
            "udp://x:1?framing=octet-counting",
        ] {
            assert!(SourceSpec::parse_listen(bad).is_err(), "{bad}");
        }
    }

    fn feed() -> Feed {
        let stream = Arc::new(Stream {
            name: "t".into(),
            label: "t".into(),
        });
        let options = FramingOptions {
            max_line_bytes: 100,
            hold_cri_partials: false,
            follows_blocks: false,
        };
        Feed::new(stream, options, 0)
    }

    fn lines_of(chunk: &Chunk) -> &[u8] {
        match &chunk.payload {
            JobKind::Lines(l) => l,
            JobKind::OverLong { .. } => panic!("over-long"),
        }
    }

    #[test]
    fn partial_line_carried_to_the_next_generation() {
        let mut old = feed();
        old.framer().push(b"a\ncard=41111111");
        assert_eq!(lines_of(&old.next_chunk().unwrap()), b"a\n");
        assert!(old.next_chunk().is_none());
        assert_eq!(old.consumed_offset(), 2);
        let partial = old.take_partial();
        assert_eq!(partial, b"card=41111111");
        let mut new = feed();
        new.carry_in(&partial);
        assert!(new.holds_carry());
        assert_eq!(new.consumed_offset(), 0);
        new.framer().push(b"11111111 x\nnext\n");
        let chunk = new.next_chunk().unwrap();
        assert_eq!(lines_of(&chunk), b"card=4111111111111111 x\nnext\n");
        assert_eq!(chunk.seam, Some(13));
        // Offsets are the new file's own.
        assert_eq!(new.consumed_offset(), 16);
        assert!(!new.holds_carry());
    }

    #[test]
    fn an_added_newline_does_not_count_as_the_file_s() {
        let mut f = feed();
        f.framer().push(b"x\npartial");
        f.next_chunk().unwrap();
        assert!(f.terminate_partial());
        assert!(!f.terminate_partial());
        let chunk = f.next_chunk().unwrap();
        assert_eq!(lines_of(&chunk), b"partial\n");
        assert_eq!(chunk.seam, None);
        assert_eq!(f.consumed_offset(), 9);
        f.framer().push(b"more\n");
        f.next_chunk().unwrap();
        assert_eq!(f.consumed_offset(), 14);
    }

    #[test]
    fn a_copytruncate_restart_carries_the_partial_line() {
        let mut f = feed();
        f.framer().push(b"one\ntwo card=4111");
        f.next_chunk().unwrap();
        f.restart_carrying(0);
        assert!(f.holds_carry());
        f.framer().push(b"111111111111 end\n");
        let chunk = f.next_chunk().unwrap();
        assert_eq!(lines_of(&chunk), b"two card=4111111111111111 end\n");
        assert_eq!(chunk.seam, Some(13));
        assert_eq!(f.consumed_offset(), 17);
    }

    #[test]
    fn seams_are_scanned_both_ways() {
        let scanner = Arc::new(crate::scan::Scanner::builtin());
        let card = b"4111111111111111".as_slice();
        // A true continuation: the card is whole only when joined.
        let mut joined = b"pay card=41111111".to_vec();
        let seam = joined.len();
        joined.extend_from_slice(b"11111111 ok\n");
        let mut lines = joined.clone();
        prescrub_seam(&scanner, &mut lines, seam);
        let out = crate::redact::scrub_with(&scanner, &lines);
        assert!(!out.windows(card.len()).any(|w| w == card), "{out:?}");
        // Bytes lost in between: a card at the start of the continuation,
        // glued to digits, is still found.
        let mut glued = b"x\nw=1 seq=000".to_vec();
        let seam = glued.len();
        glued.extend_from_slice(b"4111111111111111 user=bob end\ny\n");
        let mut lines = glued.clone();
        prescrub_seam(&scanner, &mut lines, seam);
        let out = crate::redact::scrub_with(&scanner, &lines);
        assert!(!out.windows(card.len()).any(|w| w == card), "{out:?}");
        assert!(out.starts_with(b"x\nw=1 seq=000") && out.ends_with(b" user=bob end\ny\n"));
    }

    #[test]
    fn feed_counts_lines_and_offsets() {
        let stream = Arc::new(Stream {
            name: "t".into(),
            label: "t".into(),
        });
        let options = FramingOptions {
            max_line_bytes: 100,
            hold_cri_partials: false,
            follows_blocks: true,
        };
        let mut feed = Feed::new(stream, options, 1000);
        feed.framer().push(b"a\nbb\nccc");
        let chunk = feed.next_chunk().unwrap();
        assert_eq!(chunk.first_line, 0);
        assert!(matches!(&chunk.payload, JobKind::Lines(l) if l == b"a\nbb\n"));
        assert_eq!(feed.consumed_offset(), 1005);
        assert!(feed.next_chunk().is_none());
        assert_eq!(feed.pending(), 3);
        feed.framer().push(b"\n");
        assert_eq!(feed.next_chunk().unwrap().first_line, 2);
    }
}
