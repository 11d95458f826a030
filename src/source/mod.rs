//! Sources: where lines come from — standard input, files (optionally
//! followed across rotation) and sockets (TCP, UDP, Unix).
//!
//! A source cuts each of its byte streams (a file, a connection) into
//! [`Chunk`]s of whole lines with its own [`Feed`], and sends them on one
//! bounded channel shared by all sources. So the lines of one stream stay in
//! order, streams never mix inside a line, and a full channel stops every
//! source from reading (backpressure: a followed file pauses, a socket
//! stops being read).

pub mod buffers;
pub mod file;
pub mod select;
pub mod socket;
pub mod stdin;
pub mod stoppable;

use std::path::PathBuf;
use std::sync::Arc;

use crate::framing::{Continues, Framer, OwnedBatch};

/// One stream of lines: a file, a connection, standard input.
#[derive(Debug)]
pub struct Stream {
    /// Its name in findings and diagnostics (a path, a peer address).
    pub name: Arc<str>,
    /// The source it belongs to, as given on the command line: the metrics
    /// label (bounded, unlike `name`).
    pub label: Arc<str>,
}

pub use crate::checkpoint::Ack;

/// A batch of whole lines of one stream, with where it is in the stream.
pub struct Chunk {
    /// The stream it comes from.
    pub stream: Arc<Stream>,
    /// The lines (or an over-long line that was skipped).
    pub(crate) payload: OwnedBatch,
    /// The position to checkpoint once it is written.
    pub ack: Option<Ack>,
    /// Where, in the payload, a partial line carried over from the
    /// previous generation meets its continuation (see [`crate::redact::prescrub_seam`]).
    pub seam: Option<usize>,
    /// Where, in the payload, a line was cut at a generation seam: offsets
    /// just after a newline added to end a partial line alone (its
    /// continuation, if any, comes as a line of its own), and 0 when the
    /// first line may be such a continuation (see
    /// [`crate::redact::prepare_seams`]).
    pub cuts: Vec<usize>,
}

impl Chunk {
    /// A chunk that carries no lines, only a checkpoint change.
    pub fn ack_only(stream: Arc<Stream>, ack: Ack) -> Chunk {
        Chunk {
            stream,
            payload: OwnedBatch::Lines(Vec::new()),
            ack: Some(ack),
            seam: None,
            cuts: Vec::new(),
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
    /// Lines that continue in the next one, held together in one batch
    /// ([`cri_partial`] for formats auto and cri); `None`: every line is
    /// whole.
    pub continued: Option<Continues>,
}

/// A CRI partial line (tag `P`): its message goes on in the next line.
/// What the framer holds for formats `auto` and `cri` (the CRI knowledge is
/// [`crate::format::parse_cri`]'s).
pub fn cri_partial(line: &[u8]) -> bool {
    crate::format::parse_cri(line).is_some_and(|c| c.partial)
}

/// One stream's framing state: bytes in, chunks out.
pub struct Feed {
    stream: Arc<Stream>,
    framer: Framer,
    options: FramingOptions,
    /// Stream offset of the framer's first byte (where reading started).
    offset_base: u64,
    /// Bytes the framer holds that are not this file's: a partial line
    /// carried over from the previous generation, or a newline added to
    /// end one. As `(framer position, length)`, in order; those handed
    /// out are folded into `synthetic_done`.
    synthetic: Vec<(u64, u64, bool)>,
    synthetic_done: u64,
    /// The next line handed out may continue a line that went out alone
    /// (a cut at the start of the next chunk).
    head_cut: bool,
    /// The carried partial line may not be continued by this file's first
    /// bytes (copytruncate can lose bytes in between).
    carry_uncertain: bool,
}

impl Feed {
    /// A feed for `stream`, whose bytes start at `offset_base` of their
    /// file (0 for anything else).
    pub fn new(stream: Arc<Stream>, options: FramingOptions, offset_base: u64) -> Feed {
        Feed {
            stream,
            framer: Framer::new(options.max_line_bytes).hold_continued_runs(options.continued),
            options,
            offset_base,
            synthetic: Vec::new(),
            synthetic_done: 0,
            head_cut: false,
            carry_uncertain: false,
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
    /// file's offsets. Not `certain` (copytruncate: the writer's bytes
    /// between the copy and the truncation may be lost): the join is also
    /// a cut for the scrub job, whose digits at the seam fail closed.
    pub fn carry_in(&mut self, partial: &[u8], certain: bool) {
        if partial.is_empty() {
            return;
        }
        self.carry_uncertain = !certain;
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

    /// Marks the next line handed out as a possible continuation of a line
    /// that went out alone (the previous generation's partial last line,
    /// ended without its continuation): its first digits are failed
    /// closed.
    pub fn mark_head_cut(&mut self) {
        self.head_cut = true;
    }

    /// Takes back a partial line carried in by [`Feed::carry_in`] that no
    /// byte of this file continued yet (it belongs to another generation
    /// read first). Empty when there is none.
    pub fn take_carry(&mut self) -> Vec<u8> {
        let only_carry = self
            .synthetic
            .first()
            .is_some_and(|&(_, len, _)| len == self.framer.received());
        if !self.holds_carry() || !only_carry {
            return Vec::new();
        }
        let carried = self.framer.take_pending();
        let base = self.offset_base;
        self.restart_at(base);
        carried
    }

    /// How many of the pending bytes were carried in from another
    /// generation (see [`Feed::carry_in`]).
    pub fn carried_pending(&self) -> usize {
        self.synthetic
            .iter()
            .filter(|&&(_, _, carried)| carried)
            .map(|&(_, len, _)| len as usize)
            .sum()
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
    pub fn restart_at(&mut self, offset_base: u64) {
        self.framer =
            Framer::new(self.options.max_line_bytes).hold_continued_runs(self.options.continued);
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
        self.carry_in(&partial, false);
    }

    /// A chunk reporting an undecodable run of `bytes` as the stream's next
    /// line (it gets the over-long-line policy). Call only when no lines
    /// are pending.
    pub fn overlong_chunk(&mut self, bytes: u64, terminated: bool) -> Chunk {
        Chunk {
            stream: Arc::clone(&self.stream),
            payload: OwnedBatch::OverLong { terminated, bytes },
            ack: None,
            seam: None,
            cuts: Vec::new(),
        }
    }

    /// The next chunk the bytes received so far make, if any.
    pub fn next_chunk(&mut self) -> Option<Chunk> {
        let before = self.framer.consumed();
        // The read buffer itself goes out with the lines (no copy); a spare
        // one takes its place.
        let payload = self.framer.next_batch_owned(buffers::take_stale)?;
        let seam = match (&payload, self.synthetic.first()) {
            (OwnedBatch::Lines(lines), Some(&(at, len, true))) if at == before => {
                Some(len as usize).filter(|&l| l < lines.len())
            }
            _ => None,
        };
        let mut cuts = Vec::new();
        if let (Some(join), true) = (seam, self.carry_uncertain) {
            cuts.push(join);
        }
        if let OwnedBatch::Lines(lines) = &payload {
            if std::mem::take(&mut self.head_cut) {
                cuts.push(0);
            }
            let after = before + lines.len() as u64;
            // Newlines added to end a partial line alone.
            for &(at, _, carried) in &self.synthetic {
                if !carried && at >= before && at < after {
                    let cut = (at + 1 - before) as usize;
                    cuts.push(cut);
                    if cut == lines.len() {
                        self.head_cut = true;
                    }
                }
            }
        }
        self.settle_synthetic();
        Some(Chunk {
            stream: Arc::clone(&self.stream),
            payload,
            ack: None,
            seam,
            cuts,
        })
    }
}

/// A `--listen` URL that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--listen {url}: {reason}")]
pub struct ListenError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
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
    /// Inputs read one after another, each to its end (never followed):
    /// the positional inputs of the command line.
    InOrder(Vec<OrderedInput>),
}

/// One of the inputs of [`SourceSpec::InOrder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderedInput {
    /// Standard input.
    Stdin,
    /// A file, by its path (not a pattern).
    File(PathBuf),
}

impl SourceSpec {
    /// Parses a `--listen` URL.
    pub fn parse_listen(url: &str) -> Result<SourceSpec, ListenError> {
        let bad = |reason: String| ListenError {
            url: url.to_string(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected tcp://, udp:// or unix://".into()))?;
        let (target, query) = match rest.split_once('?') {
            Some((t, q)) => (t, Some(q)),
            None => (rest, None),
        };
        let octet_counting = match query {
            None | Some("framing=newline") => false,
            Some("framing=octet-counting") if scheme == "tcp" || scheme == "unix" => true,
            Some(q) => {
                return Err(bad(format!(
                    "unknown option `{q}` (known: framing=newline, framing=octet-counting for tcp)"
                )))
            }
        };
        if target.is_empty() {
            return Err(bad("no address".into()));
        }
        match scheme {
            "tcp" => Ok(SourceSpec::Tcp {
                addr: target.to_string(),
                octet_counting,
            }),
            "udp" => Ok(SourceSpec::Udp(target.to_string())),
            "unix" if !octet_counting => Ok(SourceSpec::Unix(PathBuf::from(target))),
            "unix" => Err(bad("octet-counting framing is for tcp:// only".into())),
            other => Err(bad(format!("unknown scheme `{other}` (tcp, udp, unix)"))),
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
            SourceSpec::InOrder(inputs) => inputs
                .iter()
                .map(|i| match i {
                    OrderedInput::Stdin => "standard input".to_string(),
                    OrderedInput::File(path) => path.display().to_string(),
                })
                .collect::<Vec<_>>()
                .join(" "),
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
        feed_at(0)
    }

    /// A feed of a test stream whose first byte is at `offset_base`.
    fn feed_at(offset_base: u64) -> Feed {
        let stream = Arc::new(Stream {
            name: "t".into(),
            label: "t".into(),
        });
        let options = FramingOptions {
            max_line_bytes: 100,
            continued: None,
        };
        Feed::new(stream, options, offset_base)
    }

    fn lines_of(chunk: &Chunk) -> &[u8] {
        match &chunk.payload {
            OwnedBatch::Lines(l) => l,
            OwnedBatch::OverLong { .. } => panic!("over-long"),
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
        new.carry_in(&partial, true);
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
        // copytruncate may lose bytes between the two: a cut too.
        assert_eq!(chunk.cuts, vec![13]);
        assert_eq!(f.consumed_offset(), 17);
    }

    #[test]
    fn a_partial_line_ended_alone_is_a_cut_on_both_sides() {
        // The partial line waits, then goes out alone; its late
        // continuation (same file) comes as a line of its own: both edges
        // are marked, in the chunk that holds them.
        let mut f = feed();
        f.framer().push(b"a\ncard=4111111");
        assert_eq!(f.next_chunk().unwrap().cuts, Vec::<usize>::new());
        assert!(f.terminate_partial());
        let chunk = f.next_chunk().unwrap();
        assert_eq!(lines_of(&chunk), b"card=4111111\n");
        assert_eq!(chunk.cuts, vec![13]);
        f.framer().push(b"111111111 end\nnext\n");
        let chunk = f.next_chunk().unwrap();
        assert_eq!(chunk.cuts, vec![0]);
        // Both in one chunk.
        let mut f = feed();
        f.framer().push(b"card=4111111");
        f.terminate_partial();
        f.framer().push(b"111111111 end\n");
        let chunk = f.next_chunk().unwrap();
        assert_eq!(lines_of(&chunk), b"card=4111111\n111111111 end\n");
        assert_eq!(chunk.cuts, vec![13]);
        // The next generation after a cut starts with one.
        let mut next = feed();
        next.mark_head_cut();
        next.framer().push(b"111111111 end\n");
        assert_eq!(next.next_chunk().unwrap().cuts, vec![0]);
        assert!(next.next_chunk().is_none());
        next.framer().push(b"x\n");
        assert_eq!(next.next_chunk().unwrap().cuts, Vec::<usize>::new());
    }

    #[test]
    fn a_carry_not_continued_yet_moves_to_another_generation() {
        let mut live = feed();
        live.framer().push(b"one\ncard=4111");
        live.next_chunk().unwrap();
        live.restart_carrying(0);
        assert!(live.holds_carry());
        let carried = live.take_carry();
        assert_eq!(carried, b"card=4111");
        assert!(!live.holds_carry());
        assert_eq!(live.pending(), 0);
        // Continued by bytes of the file already: it stays.
        live.restart_at(0);
        live.carry_in(b"card=4111", false);
        live.framer().push(b"1111");
        assert!(live.take_carry().is_empty());
        assert_eq!(live.pending(), 13);
    }

    #[test]
    fn feed_cuts_chunks_and_counts_offsets() {
        let mut feed = feed_at(1000);
        feed.framer().push(b"a\nbb\nccc");
        let chunk = feed.next_chunk().unwrap();
        assert!(matches!(&chunk.payload, OwnedBatch::Lines(l) if l == b"a\nbb\n"));
        assert_eq!(feed.consumed_offset(), 1005);
        assert!(feed.next_chunk().is_none());
        assert_eq!(feed.pending(), 3);
        feed.framer().push(b"\n");
        let chunk = feed.next_chunk().unwrap();
        assert!(matches!(&chunk.payload, OwnedBatch::Lines(l) if l == b"ccc\n"));
        assert_eq!(feed.consumed_offset(), 1009);
    }
}
