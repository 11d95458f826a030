//! One tracked file: an open handle, where it was read to, its framing
//! state and its fingerprint.
//!
//! Job: read a little at a time into the file's [`Feed`] and send the
//! chunks ready (each with its checkpoint position); notice a truncation
//! before keeping bytes read (they could be the new content's); end the
//! stream, a rotated generation's partial last line terminated (a cut).
//!
//! Guarantees: bytes are handed on in file order, each once; the
//! fingerprint is of the bytes actually read (the first
//! [`FINGERPRINT_BYTES`]); a full channel blocks reading (backpressure).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::super::{Ack, Chunk, ChunkSender, Feed, FramingOptions, Stream};

use super::copytruncate::recover_truncated;
use super::copytruncate::CopyInfo;
use super::fs::{Fs, FsFile};
use super::READS_PER_TURN;
use crate::checkpoint::{FileKey, Fingerprint, FINGERPRINT_BYTES};

/// One open file.
pub(super) struct Tracked {
    pub(super) path: PathBuf,
    pub(super) file: Box<dyn FsFile>,
    pub(super) key: FileKey,
    /// The next byte to read.
    pub(super) read_pos: u64,
    pub(super) feed: Feed,
    pub(super) fingerprint: Option<Fingerprint>,
    /// No longer at `path`: read to its end, kept for late writes.
    pub(super) rotated: bool,
    pub(super) at_eof: bool,
    pub(super) opened_at: SystemTime,
    /// This open file's number (unlike the inode, never reused).
    pub(super) id: u64,
    /// A rotated predecessor (by `id`) that must be read to its end first.
    pub(super) waits_for: Option<u64>,
    /// Set by a truncation: the copy it was recovered from, if found.
    pub(super) recovered_from: Option<Option<CopyInfo>>,
    /// The file's first bytes (up to the fingerprint length), as read.
    pub(super) head: Vec<u8>,
    /// When the last copy of this file (copytruncate) was made.
    pub(super) last_copy: Option<SystemTime>,
    /// Earlier contents of this file (before truncations): their
    /// fingerprint and how much of each was read.
    pub(super) history: Vec<(Fingerprint, u64)>,
    /// When bytes last came (or the file was truncated).
    pub(super) last_data: Instant,
    /// The longest the current content was seen (by size).
    pub(super) seen_len: u64,
    /// The predecessor's partial last line was looked at (and carried
    /// over, if the writer continued it here).
    pub(super) carry_checked: bool,
    /// This generation's partial last line went out alone (terminated):
    /// the next generation's first line may continue it.
    pub(super) cut_tail: bool,
    /// A copy copytruncate made (its end is not where the writer's next
    /// bytes start: bytes may be lost in between).
    pub(super) copy: bool,
    /// Size and modification time when the file was last found not
    /// truncated.
    pub(super) last_look: Option<(SystemTime, u64)>,
    /// The files (by number) whose bytes are in the partial line carried
    /// in from the generation before.
    pub(super) carried_from: Vec<u64>,
    /// The positions in those files after their bytes of that line: sent
    /// once the line is handed out.
    pub(super) carried_acks: Vec<Ack>,
}

impl Tracked {
    pub(super) fn open(
        fs: &dyn Fs,
        path: &Path,
        offset: u64,
        options: FramingOptions,
        label: &Arc<str>,
    ) -> io::Result<Tracked> {
        let file = fs.open(path)?;
        if !file.meta()?.is_file {
            return Err(io::Error::other("is a directory"));
        }
        Ok(Tracked::with_file(path, file, offset, options, label))
    }

    /// Tracks a file the watcher opened at `path` (read from its start).
    pub(super) fn adopt(
        path: &Path,
        file: Box<dyn FsFile>,
        options: FramingOptions,
        label: &Arc<str>,
    ) -> Tracked {
        Tracked::with_file(path, file, 0, options, label)
    }

    /// Tracks `file`, opened at `path` and positioned at `offset`.
    pub(super) fn with_file(
        path: &Path,
        file: Box<dyn FsFile>,
        offset: u64,
        options: FramingOptions,
        label: &Arc<str>,
    ) -> Tracked {
        let key = file
            .meta()
            .map(|m| m.key)
            .unwrap_or(FileKey { dev: 0, ino: 0 });
        let stream = Arc::new(Stream {
            name: path.display().to_string().into(),
            label: Arc::clone(label),
        });
        let mut t = Tracked {
            path: path.to_path_buf(),
            key,
            file,
            read_pos: offset,
            feed: Feed::new(stream, options, offset),
            fingerprint: None,
            rotated: false,
            at_eof: false,
            opened_at: super::wall_clock(),
            id: next_id(),
            waits_for: None,
            recovered_from: None,
            head: Vec::new(),
            last_copy: None,
            history: Vec::new(),
            last_data: Instant::now(),
            seen_len: offset,
            carry_checked: false,
            cut_tail: false,
            copy: false,
            last_look: None,
            carried_from: Vec::new(),
            carried_acks: Vec::new(),
        };
        t.refresh_fingerprint();
        t
    }

    /// Loads the first bytes before the read position (a file resumed at
    /// an offset); bytes read later are added as they are read.
    pub(super) fn refresh_fingerprint(&mut self) {
        let want = self.read_pos.min(FINGERPRINT_BYTES as u64) as usize;
        if self.head.len() >= want {
            return;
        }
        let mut head = vec![0u8; want];
        let mut got = 0;
        while got < want {
            match self.file.read_at(&mut head[got..], got as u64) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        head.truncate(got);
        self.head = head;
        self.fingerprint = (!self.head.is_empty()).then(|| Fingerprint::of(&self.head));
    }

    /// Nothing of the file's current content was read yet (a partial line
    /// carried in from the content before may wait).
    pub(super) fn unread(&self) -> bool {
        self.read_pos == 0
            && self.head.is_empty()
            && (self.feed.pending() == 0 || self.feed.holds_carry())
    }

    /// Adds bytes read at `at` to the head.
    pub(super) fn note_read(
        head: &mut Vec<u8>,
        fingerprint: &mut Option<Fingerprint>,
        at: u64,
        bytes: &[u8],
    ) {
        // (No bytes: an empty fingerprint would match every file.)
        if bytes.is_empty() || at as usize != head.len() || head.len() >= FINGERPRINT_BYTES {
            return;
        }
        let take = bytes.len().min(FINGERPRINT_BYTES - head.len());
        head.extend_from_slice(&bytes[..take]);
        *fingerprint = Some(Fingerprint::of(head));
    }

    pub(super) fn ack(&self, forget: bool) -> Option<Ack> {
        Some(Ack {
            key: self.key,
            path: Arc::new(self.path.clone()),
            fingerprint: self.fingerprint?,
            offset: self.feed.consumed_offset(),
            forget,
            opened_at: self.opened_at,
        })
    }

    /// Sends the chunks ready, each with its checkpoint position.
    pub(super) fn send_ready(&mut self, tx: &ChunkSender) -> bool {
        while let Some(mut chunk) = self.feed.next_chunk() {
            chunk.ack = self.ack(false);
            if tx.blocking_send(chunk).is_err() {
                return false;
            }
            // The carried partial line went out: the files its bytes came
            // from are read past it. (This file's earlier content, before
            // a truncation, is superseded by its current one: one
            // position per file.)
            if !self.carried_acks.is_empty() && self.feed.carried_pending() == 0 {
                let key = self.key;
                let acks = std::mem::take(&mut self.carried_acks);
                let own = self.fingerprint.is_some();
                for ack in acks.into_iter().filter(|a| a.key != key || !own) {
                    let stream = Arc::clone(self.feed.stream());
                    if tx.blocking_send(Chunk::ack_only(stream, ack)).is_err() {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Whether the file was truncated (copytruncate) since it was opened:
    /// it is shorter than what was read, or its first bytes changed.
    ///
    /// `quick` (a sweep, no event named the file): a file whose size and
    /// modification time did not change since it was last found whole is
    /// not read again for its fingerprint.
    pub(super) fn truncated(&mut self, quick: bool) -> bool {
        let meta = self.file.meta().ok();
        let len = meta.as_ref().map_or(self.read_pos, |m| m.len);
        let stamp = meta.and_then(|m| m.modified).map(|t| (t, len));
        if quick && stamp.is_some() && stamp == self.last_look {
            return false;
        }
        let shorter = len < self.read_pos;
        let truncated = shorter || self.fingerprint.is_some_and(|f| !f.matches(&*self.file));
        if !truncated {
            // How long the current content was seen: what copytruncate
            // loses is measured against it.
            self.seen_len = self.seen_len.max(len);
            self.last_look = stamp;
        }
        truncated
    }

    /// Reads a little; returns whether data came, and false when the
    /// receiver is gone. When following, bytes are kept only if the file
    /// was not truncated meanwhile (they could belong to its new content);
    /// a truncation is handled with [`recover_truncated`].
    pub(super) fn read_some(
        &mut self,
        fs: &dyn Fs,
        tx: &ChunkSender,
        follow: bool,
    ) -> io::Result<(bool, bool)> {
        self.read_some_then(fs, tx, follow, &mut |_| true)
    }

    /// Reads until a read brings nothing: the file's end as it is now.
    /// False when the receiver is gone; a read error leaves the rest for a
    /// later turn.
    pub(super) fn read_to_end(&mut self, fs: &dyn Fs, tx: &ChunkSender, follow: bool) -> bool {
        loop {
            match self.read_some(fs, tx, follow) {
                Ok((true, true)) => continue,
                Ok((_, false)) => return false,
                Ok((false, true)) | Err(_) => return true,
            }
        }
    }

    /// As [`Tracked::read_some`], calling `before_send` after each read
    /// that brought bytes and before the lines they complete go out; when
    /// it returns false (the receiver is gone), so does this.
    pub(super) fn read_some_then(
        &mut self,
        fs: &dyn Fs,
        tx: &ChunkSender,
        follow: bool,
        before_send: &mut dyn FnMut(&ChunkSender) -> bool,
    ) -> io::Result<(bool, bool)> {
        let mut got = false;
        for _ in 0..READS_PER_TURN {
            let spare = self.feed.framer().spare();
            let n = match self.file.read_at(spare, self.read_pos) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let head_before = self.head.len();
            Tracked::note_read(
                &mut self.head,
                &mut self.fingerprint,
                self.read_pos,
                &spare[..n],
            );
            // (Nothing read, nothing to keep or drop: `check_files` looks.)
            if follow && n > 0 && !self.rotated && self.truncated(false) {
                self.head.truncate(head_before);
                self.fingerprint = (!self.head.is_empty()).then(|| Fingerprint::of(&self.head));
                // Not `filled`: the bytes just read are dropped.
                match recover_truncated(fs, self, tx) {
                    None => return Ok((got, false)),
                    Some(copy) => self.recovered_from = Some(copy),
                }
                return Ok((true, true));
            }
            self.feed.framer().filled(n);
            if n == 0 {
                self.at_eof = true;
                break;
            }
            self.at_eof = false;
            got = true;
            self.last_data = Instant::now();
            self.read_pos += n as u64;
            if !before_send(tx) || !self.send_ready(tx) {
                return Ok((got, false));
            }
        }
        Ok((got, true))
    }

    /// Ends the stream: a partial last line goes out (terminated, for a
    /// rotated generation: lines of the next one follow), then (with
    /// `forget`) the checkpoint entry is dropped.
    pub(super) fn finish(&mut self, tx: &ChunkSender, forget: bool) -> bool {
        if self.rotated && self.feed.terminate_partial() {
            self.cut_tail = true;
        }
        self.feed.framer().finish();
        if !self.send_ready(tx) {
            return false;
        }
        match self.ack(forget) {
            Some(ack) if forget => tx
                .blocking_send(Chunk::ack_only(Arc::clone(self.feed.stream()), ack))
                .is_ok(),
            _ => true,
        }
    }
}

/// A new number for an open file.
pub(super) fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
