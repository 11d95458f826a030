//! Files as a source: a path or glob pattern, read once or followed like
//! `tail -F`.
//!
//! Every file is its own stream (its own line order, line numbers and
//! partial-line state) and is read on this source's thread, a little of
//! each in turn. Reads go through the shared bounded channel, so a full
//! channel pauses reading (backpressure).
//!
//! Following, what it guarantees:
//! - **Rename-and-create rotation** (logrotate's default, the kubelet's
//!   `0.log` → `0.log.<time>`): when the path names another file, the old
//!   handle stays open and is read to its end first; it is kept open while it
//!   still exists, so a writer that has not reopened yet can still append to
//!   it, and closed once it is deleted and fully read (however long that
//!   takes — nothing is abandoned after a timeout). Generations that were
//!   created and rotated away before they were noticed (siblings modified
//!   after the old file was opened) are read too.
//! - **copytruncate**: a file that shrinks (or whose first bytes change)
//!   was copied and truncated. The copy is the sibling with the same
//!   fingerprint (by content, never by length: a copy shorter than what was
//!   read holds nothing new and is not read again); the bytes written
//!   between the last read and the copy are read from it, then reading
//!   starts over at offset 0. Bytes written between the copy and the
//!   truncation and not read in time are lost by copytruncate itself;
//!   counted when the file was seen longer than the copy and the reads.
//! - **Partial lines**: a generation (rotated file, copied content) that
//!   ends inside a line hands that partial line to the next generation,
//!   whose first bytes continue it; without a continuation within
//!   [`PARTIAL_HOLD`] it goes out alone, terminated. A line is never
//!   scanned in two halves.
//! - **New files** matching the pattern are picked up from their start.
//! - **Checkpoints**: a file is resumed at its recorded offset when its
//!   device, inode and fingerprint match; with a checkpoint, shutdown keeps
//!   a partial last line for the next run instead of emitting it. On
//!   restart, every generation written since the checkpoint (rotated away
//!   since, or created and rotated away after the last save) is read in
//!   order before the file at the path; compressed ones are skipped with a
//!   counted warning.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::{Ack, Chunk, ChunkSender, Feed, FramingOptions, Stream};
use crate::checkpoint::{Checkpoints, FileKey, Fingerprint, FINGERPRINT_BYTES};

/// How long to sleep when no file had new data.
const IDLE_SLEEP: Duration = Duration::from_millis(25);
/// How often to look for renamed files while reading: a new generation is
/// held open well before a fast writer can rotate it away again.
const RENAME_CHECK_INTERVAL: Duration = Duration::from_millis(5);
/// How often to look for truncation, deleted files and new files.
const CHECK_INTERVAL: Duration = Duration::from_millis(200);
/// Reads per file per turn (of up to 256 KiB each).
const READS_PER_TURN: usize = 4;
/// Fingerprints shorter than this do not tell contents apart reliably.
const MIN_FINGERPRINT_BYTES: usize = 64;
/// Rotated files kept open for late writes, per pattern; beyond that the
/// oldest fully read one is closed.
const MAX_ROTATED_OPEN: usize = 16;
/// How long the partial last line of a generation (a rotated file, or the
/// content a copytruncate copied away) waits for its continuation at the
/// start of the next generation; then it goes out alone, terminated.
pub const PARTIAL_HOLD: Duration = Duration::from_secs(2);

/// Settings of a file source.
#[derive(Clone, Debug)]
pub struct FileOptions {
    /// The path or glob pattern.
    pub pattern: String,
    /// Keep reading as files grow, across rotation.
    pub follow: bool,
    /// Start files found at start-up (without a checkpoint) at their end.
    pub start_at_end: bool,
    /// Which matching files are opened (`--exclude`, `--ignore-older`).
    pub selection: super::select::Selection,
}

/// One open file.
struct Tracked {
    path: PathBuf,
    file: File,
    key: FileKey,
    /// The next byte to read.
    read_pos: u64,
    feed: Feed,
    fingerprint: Option<Fingerprint>,
    /// No longer at `path`: read to its end, kept for late writes.
    rotated: bool,
    at_eof: bool,
    opened_at: SystemTime,
    /// This open file's number (unlike the inode, never reused).
    id: u64,
    /// A rotated predecessor (by `id`) that must be read to its end first.
    waits_for: Option<u64>,
    /// Set by a truncation: the copy it was recovered from, if found.
    recovered_from: Option<Option<CopyInfo>>,
    /// The file's first bytes (up to the fingerprint length), as read.
    head: Vec<u8>,
    /// When the last copy of this file (copytruncate) was made.
    last_copy: Option<SystemTime>,
    /// Earlier contents of this file (before truncations): their
    /// fingerprint and how much of each was read.
    history: Vec<(Fingerprint, u64)>,
    /// When bytes last came (or the file was truncated).
    last_data: Instant,
    /// The longest the current content was seen (by size).
    seen_len: u64,
    /// The predecessor's partial last line was looked at (and carried
    /// over, if the writer continued it here).
    carry_checked: bool,
    /// This generation's partial last line went out alone (terminated):
    /// the next generation's first line may continue it.
    cut_tail: bool,
}

impl Tracked {
    fn open(
        path: &Path,
        offset: u64,
        options: FramingOptions,
        label: &Arc<str>,
    ) -> io::Result<Tracked> {
        let mut file = File::open(path)?;
        if file.metadata()?.is_dir() {
            return Err(io::Error::other("is a directory"));
        }
        file.seek(SeekFrom::Start(offset))?;
        Ok(Tracked::with_file(path, file, offset, options, label))
    }

    /// Tracks a file the watcher opened at `path` (read from its start).
    fn adopt(path: &Path, file: File, options: FramingOptions, label: &Arc<str>) -> Tracked {
        Tracked::with_file(path, file, 0, options, label)
    }

    /// Tracks `file`, opened at `path` and positioned at `offset`.
    fn with_file(
        path: &Path,
        file: File,
        offset: u64,
        options: FramingOptions,
        label: &Arc<str>,
    ) -> Tracked {
        let key = file
            .metadata()
            .map(|m| FileKey::of(&m))
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
            opened_at: SystemTime::now(),
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
        };
        t.refresh_fingerprint();
        t
    }

    /// Loads the first bytes before the read position (a file resumed at
    /// an offset); bytes read later are added as they are read.
    fn refresh_fingerprint(&mut self) {
        let want = self.read_pos.min(FINGERPRINT_BYTES as u64) as usize;
        if self.head.len() >= want {
            return;
        }
        let mut head = vec![0u8; want];
        let mut got = 0;
        while got < want {
            match std::os::unix::fs::FileExt::read_at(&self.file, &mut head[got..], got as u64) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        head.truncate(got);
        self.head = head;
        self.fingerprint = (!self.head.is_empty()).then(|| Fingerprint::of(&self.head));
    }

    /// Adds bytes read at `at` to the head.
    fn note_read(head: &mut Vec<u8>, fingerprint: &mut Option<Fingerprint>, at: u64, bytes: &[u8]) {
        if at as usize != head.len() || head.len() >= FINGERPRINT_BYTES {
            return;
        }
        let take = bytes.len().min(FINGERPRINT_BYTES - head.len());
        head.extend_from_slice(&bytes[..take]);
        *fingerprint = Some(Fingerprint::of(head));
    }

    fn ack(&self, forget: bool) -> Option<Ack> {
        Some(Ack {
            key: self.key,
            path: Arc::new(self.path.clone()),
            fingerprint: self.fingerprint?,
            offset: self.feed.consumed_offset(),
            forget,
        })
    }

    /// Sends the chunks ready, each with its checkpoint position.
    fn send_ready(&mut self, tx: &ChunkSender) -> bool {
        while let Some(mut chunk) = self.feed.next_chunk() {
            chunk.ack = self.ack(false);
            if tx.blocking_send(chunk).is_err() {
                return false;
            }
        }
        true
    }

    /// Whether the file was truncated (copytruncate) since it was opened:
    /// it is shorter than what was read, or its first bytes changed.
    fn truncated(&mut self) -> bool {
        let len = self.file.metadata().map_or(self.read_pos, |m| m.len());
        let shorter = len < self.read_pos;
        let truncated = shorter || self.fingerprint.is_some_and(|f| !f.matches(&self.file));
        if !truncated {
            // How long the current content was seen: what copytruncate
            // loses is measured against it.
            self.seen_len = self.seen_len.max(len);
        }
        truncated
    }

    /// Reads a little; returns whether data came, and false when the
    /// receiver is gone. When following, bytes are kept only if the file
    /// was not truncated meanwhile (they could belong to its new content);
    /// a truncation is handled with [`recover_truncated`].
    fn read_some(&mut self, tx: &ChunkSender, follow: bool) -> io::Result<(bool, bool)> {
        let mut got = false;
        for _ in 0..READS_PER_TURN {
            let spare = self.feed.framer().spare();
            let n = match self.file.read(spare) {
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
            if follow && !self.rotated && self.truncated() {
                self.head.truncate(head_before);
                self.fingerprint = (!self.head.is_empty()).then(|| Fingerprint::of(&self.head));
                // Not `filled`: the bytes just read are dropped.
                match recover_truncated(self, tx) {
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
            if !self.send_ready(tx) {
                return Ok((got, false));
            }
        }
        Ok((got, true))
    }

    /// Ends the stream: a partial last line goes out (terminated, for a
    /// rotated generation: lines of the next one follow), then (with
    /// `forget`) the checkpoint entry is dropped.
    fn finish(&mut self, tx: &ChunkSender, forget: bool) -> bool {
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

/// The directory whose events tell about `path` (its real location, for a
/// symbolic link such as `/var/log/containers/*.log`).
fn watched_dir(path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    real.parent().map(Path::to_path_buf)
}

/// A new number for an open file.
fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Stops the watcher thread when the source ends.
struct StopOnDrop(Arc<Watcher>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.done.store(true, Ordering::SeqCst);
    }
}

/// Where the files of one pattern stand.
struct FileSource {
    options: FileOptions,
    framing: FramingOptions,
    label: Arc<str>,
    tracked: Vec<Tracked>,
    /// Files closed after being read (rotated away, or read once): where
    /// they ended, so a later match of the same file resumes there.
    closed: HashMap<FileKey, (Option<Fingerprint>, u64)>,
    checkpoints: Option<Arc<Mutex<Checkpoints>>>,
    /// Paths whose open failure was already reported.
    reported: HashSet<PathBuf>,
    /// New generations opened by the watcher thread, not adopted yet.
    watcher: Arc<Watcher>,
    /// Followed paths and the file last seen at each (none: renamed away
    /// and not created again yet).
    followed: Vec<(PathBuf, Option<FileKey>)>,
    /// The newest file (by number) opened at each followed path: the next
    /// generation is read after it.
    newest_at: HashMap<PathBuf, u64>,
    /// inotify (through `notify`): events wake the watcher at once.
    events: Option<notify::RecommendedWatcher>,
    /// Directories `events` watches.
    watched_dirs: HashSet<PathBuf>,
    /// Paths whose file at start-up is read from its start: generations
    /// created since the checkpoint.
    from_start: HashSet<PathBuf>,
    /// Files (by number) whose partial last line went out alone: the first
    /// line of the generation after each may continue it (a cut).
    cut_ids: HashSet<u64>,
}

/// The watcher thread's state. Reading can be slow (backpressure), and a
/// fast writer can create a generation and rotate it away — the kubelet
/// then compresses and deletes it — before the reader looks again. So a
/// separate thread checks the followed paths every few milliseconds and
/// opens each new file that appears there; an open handle keeps a file's
/// bytes readable even after it is deleted.
#[derive(Default)]
struct Watcher {
    /// Followed paths and the file the reader last saw there.
    paths: Mutex<Vec<(PathBuf, Option<FileKey>)>>,
    /// Files opened at a path, in the order they appeared.
    opened: Mutex<Vec<(PathBuf, FileKey, File, SystemTime)>>,
    /// Set when the source stops.
    done: AtomicBool,
}

impl Watcher {
    /// The polling fallback (file systems without inotify events).
    fn run(&self) {
        while !self.done.load(Ordering::SeqCst) {
            std::thread::sleep(RENAME_CHECK_INTERVAL);
            let paths = match self.paths.lock() {
                Ok(p) => p.clone(),
                Err(_) => return,
            };
            for (path, key) in paths {
                self.check(&path, key);
            }
        }
    }

    /// A file system event in `dir`: checks the followed paths there.
    fn on_event(&self, dir: &Path) {
        let paths = match self.paths.lock() {
            Ok(p) => p.clone(),
            Err(_) => return,
        };
        for (path, key) in paths {
            if watched_dir(&path).as_deref() == Some(dir) {
                self.check(&path, key);
            }
        }
    }

    /// Opens the file at `path` if it is not the one the reader has there
    /// (`known`) and was not opened yet.
    fn check(&self, path: &Path, known: Option<FileKey>) {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let now = FileKey::of(&meta);
        if Some(now) == known {
            return;
        }
        let Ok(mut opened) = self.opened.lock() else {
            return;
        };
        if opened.iter().any(|(_, k, _, _)| *k == now) {
            return;
        }
        if let Ok(file) = File::open(path) {
            if file.metadata().is_ok_and(|m| FileKey::of(&m) == now) {
                opened.push((path.to_path_buf(), now, file, SystemTime::now()));
            }
        }
    }

    /// Files opened at `path`, oldest first.
    fn take(&self, path: &Path) -> Vec<(FileKey, File, SystemTime)> {
        let Ok(mut opened) = self.opened.lock() else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        let mut i = 0;
        while i < opened.len() {
            if opened[i].0 == path {
                let (_, key, file, at) = opened.remove(i);
                taken.push((key, file, at));
            } else {
                i += 1;
            }
        }
        taken
    }
}

/// Reads the files matching `options.pattern` until they end (or, when
/// following, until `stop`).
pub fn run(
    options: FileOptions,
    framing: FramingOptions,
    tx: ChunkSender,
    stop: Arc<AtomicBool>,
    checkpoints: Option<Arc<Mutex<Checkpoints>>>,
) -> io::Result<()> {
    let pattern = glob::Pattern::new(&options.pattern).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("--input {}: {e}", options.pattern),
        )
    })?;
    drop(pattern);
    let mut source = FileSource {
        label: options.pattern.clone().into(),
        options,
        framing,
        tracked: Vec::new(),
        closed: HashMap::new(),
        checkpoints,
        reported: HashSet::new(),
        watcher: Arc::new(Watcher::default()),
        followed: Vec::new(),
        newest_at: HashMap::new(),
        events: None,
        watched_dirs: HashSet::new(),
        from_start: HashSet::new(),
        cut_ids: HashSet::new(),
    };
    if source.options.follow {
        let watcher = Arc::clone(&source.watcher);
        // Without inotify the polling thread alone notices rotations.
        source.events = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            use notify::event::{EventKind, ModifyKind};
            // Writes are not interesting, only files appearing at a path.
            let appears = |kind: &EventKind| {
                matches!(
                    kind,
                    EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(_)) | EventKind::Any
                )
            };
            if let Ok(event) = event.as_ref().map_err(|_| ()).and_then(|e| {
                if appears(&e.kind) {
                    Ok(e)
                } else {
                    Err(())
                }
            }) {
                let dirs: HashSet<PathBuf> = event
                    .paths
                    .iter()
                    .filter_map(|p| p.parent().map(Path::to_path_buf))
                    .collect();
                for dir in dirs {
                    watcher.on_event(&dir);
                }
            }
        })
        .ok();
    }
    let _watching = if source.options.follow {
        let watcher = Arc::clone(&source.watcher);
        std::thread::Builder::new()
            .name("logscrub-watch".into())
            .spawn(move || watcher.run())
            .ok();
        Some(StopOnDrop(Arc::clone(&source.watcher)))
    } else {
        None
    };
    source.resume_rotated_from_checkpoint();
    let found = source.discover(true);
    // A plain path that does not exist yet is watched from the start, so
    // the file is caught as soon as it is created.
    let literal = glob::Pattern::escape(&source.options.pattern) == source.options.pattern;
    if source.options.follow && literal {
        let path = PathBuf::from(&source.options.pattern);
        if !source.followed.iter().any(|(p, _)| *p == path) {
            source.followed.push((path, None));
        }
    }
    source.publish_paths();
    if found == 0 && !source.options.follow && source.tracked.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("--input {}: no such file", source.options.pattern),
        ));
    }
    let mut last_check = Instant::now();
    let mut last_rename_check = Instant::now();
    loop {
        if stop.load(Ordering::SeqCst) {
            source.drain_for_shutdown(&tx);
            return Ok(());
        }
        // A copytruncated file about to be read from its start again: copies
        // of content it held meanwhile come first.
        if source.options.follow
            && source.tracked.iter().any(|t| {
                !t.rotated && t.last_copy.is_some() && t.read_pos == 0 && t.head.is_empty()
            })
        {
            source.reconcile_copies();
        }
        let mut progressed = false;
        let mut i = 0;
        while i < source.tracked.len() {
            if source.is_waiting(i) {
                i += 1;
                continue;
            }
            match source.carry_from_predecessor(i, &tx) {
                None => return Ok(()),
                Some(false) => {
                    i += 1;
                    continue;
                }
                Some(true) => {}
            }
            match source.tracked[i].read_some(&tx, source.options.follow) {
                Ok((got, true)) => progressed |= got,
                Ok((_, false)) => return Ok(()),
                Err(e) => {
                    let t = source.tracked.remove(i);
                    crate::telemetry::count_error("receiving", "read_failed");
                    crate::diag::emit(
                        "error",
                        &format!("reading {}: {e}; the file is skipped", t.path.display()),
                    );
                    continue;
                }
            }
            i += 1;
        }
        if !source.options.follow {
            let mut i = 0;
            while i < source.tracked.len() {
                if source.tracked[i].at_eof {
                    let mut t = source.tracked.remove(i);
                    if !t.finish(&tx, false) {
                        return Ok(());
                    }
                } else {
                    i += 1;
                }
            }
            if source.tracked.is_empty() {
                return Ok(());
            }
            continue;
        }
        if !source.end_stale_partials(&tx) {
            return Ok(());
        }
        source.note_copies();
        // A rotation is noticed within a read turn (one stat per file), so
        // a new generation is held open before it can be rotated away.
        if last_rename_check.elapsed() >= RENAME_CHECK_INTERVAL {
            last_rename_check = Instant::now();
            source.check_renamed();
        }
        if !progressed || last_check.elapsed() >= CHECK_INTERVAL {
            last_check = Instant::now();
            if !source.check_files(&tx) {
                return Ok(());
            }
            source.discover(false);
            source.publish_paths();
        }
        if !progressed {
            std::thread::sleep(IDLE_SLEEP);
        }
    }
}

impl FileSource {
    /// At shutdown: what the files held when it was asked for is read and
    /// sent (a pod's `emptyDir` goes away with the pod, so lines left
    /// unread would be lost), within the shutdown timeout. Lines written
    /// after that wait for the next run (with a checkpoint) or are not
    /// read. With a checkpoint, a partial last line also waits; without,
    /// it is sent.
    fn drain_for_shutdown(&mut self, tx: &ChunkSender) {
        if self.options.follow {
            self.check_renamed();
        }
        let ends: HashMap<FileKey, u64> = self
            .tracked
            .iter()
            .map(|t| (t.key, t.file.metadata().map_or(0, |m| m.len())))
            .collect();
        loop {
            let mut progressed = false;
            for i in 0..self.tracked.len() {
                let end = ends.get(&self.tracked[i].key).copied().unwrap_or(0);
                if self.is_waiting(i) || self.tracked[i].read_pos >= end {
                    if self.tracked[i].read_pos >= end {
                        self.tracked[i].at_eof = true;
                    }
                    continue;
                }
                match self.tracked[i].read_some(tx, self.options.follow) {
                    Ok((got, true)) => progressed |= got,
                    Ok((_, false)) | Err(_) => return,
                }
            }
            if !progressed {
                break;
            }
        }
        if self.checkpoints.is_none() {
            for t in &mut self.tracked {
                if !t.finish(tx, false) {
                    return;
                }
            }
        }
    }

    /// Before file `i` is read: if the generation before it ended inside a
    /// line, the writer continues that line at the start of this file, so
    /// the partial line moves here and is scanned whole. `Some(false)`:
    /// not now (the predecessor's line waits and this file has no bytes
    /// yet); `None`: the receiver is gone.
    fn carry_from_predecessor(&mut self, i: usize, tx: &ChunkSender) -> Option<bool> {
        if self.tracked[i].carry_checked {
            return Some(true);
        }
        let waits_for = self.tracked[i].waits_for;
        let predecessor = waits_for.and_then(|id| self.tracked.iter().position(|t| t.id == id));
        let fresh = self.tracked[i].read_pos == 0 && self.tracked[i].feed.pending() == 0;
        // The predecessor's partial last line went out alone: this file's
        // first line may be its continuation.
        if fresh && waits_for.is_some_and(|id| self.cut_ids.remove(&id)) {
            self.tracked[i].feed.mark_head_cut();
        }
        let Some(p) = predecessor.filter(|_| fresh) else {
            self.tracked[i].carry_checked = true;
            return Some(true);
        };
        let has_bytes = self.tracked[i].file.metadata().is_ok_and(|m| m.len() > 0);
        if !has_bytes {
            // Nothing to read here yet; a partial line there waits.
            return Some(!self.tracked[p].feed.ends_mid_line());
        }
        // The writer moved on to this file: what it wrote to the
        // predecessor before (lines still landing there after the rename
        // included) comes first, and its partial last line is complete.
        loop {
            match self.tracked[p].read_some(tx, self.options.follow) {
                Ok((true, true)) => continue,
                Ok((_, false)) => return None,
                Ok((false, true)) | Err(_) => break,
            }
        }
        if self.tracked[p].feed.ends_mid_line() {
            let partial = self.tracked[p].feed.take_partial();
            self.tracked[i].feed.carry_in(&partial);
            self.tracked[i].last_data = Instant::now();
        }
        self.tracked[i].carry_checked = true;
        Some(true)
    }

    /// A partial last line at the end of a generation (a rotated file, or
    /// carried into the next one) that no continuation came for within
    /// [`PARTIAL_HOLD`] goes out as a line of its own, terminated. False
    /// when the receiver is gone.
    fn end_stale_partials(&mut self, tx: &ChunkSender) -> bool {
        for t in &mut self.tracked {
            let ends_generation = t.rotated || t.feed.holds_carry();
            if ends_generation
                && t.at_eof
                && t.feed.ends_mid_line()
                && t.last_data.elapsed() >= PARTIAL_HOLD
                && t.feed.terminate_partial()
            {
                // A late continuation in this file is cut by the feed; one
                // in the next generation, by `carry_from_predecessor`.
                t.cut_tail = true;
                self.cut_ids.insert(t.id);
                if !t.send_ready(tx) {
                    return false;
                }
            }
        }
        true
    }

    /// Notes a file that was finished and dropped: if its partial last
    /// line went out alone, the next generation's first line is a cut.
    fn retire(&mut self, t: &Tracked) {
        if t.cut_tail {
            self.cut_ids.insert(t.id);
        }
        // (Bounded: ids of generations never followed by another.)
        if self.cut_ids.len() > 4096 {
            self.cut_ids.clear();
        }
    }

    /// Generations found to come before file `live`'s current content
    /// (copies made by copytruncate) are read first, so a partial line
    /// `live` carried from its previous content continues in the first of
    /// them, not in `live`. When it cannot (bytes of `live` were read
    /// already), that first line is a cut.
    fn route_carry(live: &mut Tracked, first: &mut Tracked) {
        let carried = live.feed.take_carry();
        if !carried.is_empty() {
            first.feed.carry_in(&carried);
            first.carry_checked = true;
        } else if first.read_pos > 0 || live.feed.holds_carry() {
            first.feed.mark_head_cut();
        }
    }

    fn is_tracked(&self, key: FileKey) -> bool {
        self.tracked.iter().any(|t| t.key == key)
    }

    /// Copies that truncated files were recovered from are known files
    /// (never read again); generations copied after them are read.
    fn note_copies(&mut self) {
        let mut copies = Vec::new();
        for t in &mut self.tracked {
            if let Some(copy) = t.recovered_from.take() {
                let since = match copy {
                    Some((_, _, _, modified)) => modified,
                    None => t.last_copy.unwrap_or(t.opened_at),
                };
                t.last_copy = Some(since);
                // What the file holds now is read from it, not from a copy
                // that may already exist of it.
                let len = t.file.metadata().map_or(0, |m| m.len());
                let live = Fingerprint::read(&t.file, len.min(FINGERPRINT_BYTES as u64) as u32)
                    .ok()
                    .flatten()
                    .filter(|f| f.len > 0);
                copies.push((t.path.clone(), copy, since, live));
            }
        }
        for (path, copy, since, live) in copies {
            if let Some((key, fingerprint, len, _)) = copy {
                self.closed.insert(key, (Some(fingerprint), len));
            }
            let mut missed = self.missed_generations(&path, since, live);
            missed.sort_by_key(|t| (t.file.metadata().and_then(|m| m.modified()).ok(), t.key.ino));
            if let (Some(first), Some(t)) = (
                missed.first_mut(),
                self.tracked
                    .iter_mut()
                    .find(|t| t.path == path && !t.rotated),
            ) {
                FileSource::route_carry(t, first);
            }
            let queued = self
                .tracked
                .iter()
                .position(|t| t.path == path && !t.rotated)
                .and_then(|i| self.pending_predecessor(i));
            let last = self.chain(&mut missed, queued);
            // The file's new content comes after the copies.
            if let Some(t) = self
                .tracked
                .iter_mut()
                .find(|t| t.path == path && !t.rotated)
            {
                if last.is_some() {
                    t.waits_for = last;
                }
            }
        }
    }

    /// copytruncate leaves copies beside a file. A copy that appeared since
    /// the file was opened and holds content not read in full (the file was
    /// copied and truncated between two reads) is read from where reading
    /// of that content stopped, before the file's current content. A copy of
    /// the current content is left alone: its truncation recovers from it.
    fn reconcile_copies(&mut self) {
        let lives: Vec<usize> = (0..self.tracked.len())
            .filter(|&i| !self.tracked[i].rotated)
            .collect();
        for i in lives {
            let path = self.tracked[i].path.clone();
            let since = self.tracked[i].opened_at;
            // What the file holds now (read or not yet): a copy of it is
            // not read, the file itself is.
            let current = self.tracked[i].fingerprint.or_else(|| {
                let t = &self.tracked[i];
                let len = t.file.metadata().map_or(0, |m| m.len());
                Fingerprint::read(&t.file, len.min(FINGERPRINT_BYTES as u64) as u32)
                    .ok()
                    .flatten()
                    .filter(|f| f.len > 0)
            });
            // A few bytes are too few to tell a copy of the current content
            // from a copy of earlier content: look again later.
            if current.is_some_and(|f| (f.len as usize) < MIN_FINGERPRINT_BYTES) {
                continue;
            }
            // After a rename the path holds a newer file: renamed
            // generations are `check_renamed`'s business.
            if !std::fs::metadata(&path).is_ok_and(|m| FileKey::of(&m) == self.tracked[i].key) {
                continue;
            }
            let mut found = Vec::new();
            for (candidate, meta) in rotated_siblings(&path) {
                let key = FileKey::of(&meta);
                let recent = meta.modified().is_ok_and(|m| m >= since);
                let held = self
                    .watcher
                    .opened
                    .lock()
                    .is_ok_and(|o| o.iter().any(|(_, k, _, _)| *k == key));
                if !meta.is_file()
                    || !recent
                    || held
                    || self.is_tracked(key)
                    || self.closed.contains_key(&key)
                {
                    continue;
                }
                // A copy still being written (shorter than the fingerprint of
                // the current content) is looked at again later.
                let needed = current.map_or(MIN_FINGERPRINT_BYTES as u64, |f| u64::from(f.len));
                if meta.len() < needed {
                    continue;
                }
                let Ok(file) = File::open(&candidate) else {
                    continue;
                };
                if current.is_some_and(|f| f.matches(&file)) {
                    continue;
                }
                let read = self.tracked[i]
                    .history
                    .iter()
                    .rev()
                    .find(|(f, _)| {
                        (f.len as usize >= MIN_FINGERPRINT_BYTES || u64::from(f.len) == meta.len())
                            && f.matches(&file)
                    })
                    .map(|(_, read)| *read);
                if let Some(read) = read.filter(|&r| r >= meta.len()) {
                    // Read in full already, from the file itself.
                    self.closed.insert(key, (None, read));
                    continue;
                }
                let read = read.unwrap_or(0);
                if let Ok(t) = Tracked::open(&candidate, read, self.framing, &self.label) {
                    found.push(t);
                }
            }
            if found.is_empty() {
                continue;
            }
            found.sort_by_key(|t| (t.file.metadata().and_then(|m| m.modified()).ok(), t.key.ino));
            FileSource::route_carry(&mut self.tracked[i], &mut found[0]);
            // After the copies already queued before the file, if any.
            let queued = self.pending_predecessor(i);
            let last = self.chain(&mut found, queued);
            if let Some(live) = self
                .tracked
                .iter_mut()
                .find(|t| t.path == path && !t.rotated)
            {
                live.waits_for = last;
            }
        }
    }

    /// The predecessor file `i` still waits for, if any.
    fn pending_predecessor(&self, i: usize) -> Option<u64> {
        let first = self.tracked[i].waits_for?;
        self.tracked
            .iter()
            .any(|t| t.id == first && !t.at_eof)
            .then_some(first)
    }

    /// Whether file `i` waits for a rotated predecessor to be read.
    fn is_waiting(&self, i: usize) -> bool {
        let Some(first) = self.tracked[i].waits_for else {
            return false;
        };
        self.tracked.iter().any(|t| t.id == first && !t.at_eof)
    }

    /// The most recent rotated file that was at `path` and is not read to
    /// its end yet.
    fn unfinished_predecessor(&self, path: &Path) -> Option<u64> {
        self.tracked
            .iter()
            .rev()
            .find(|t| t.rotated && !t.at_eof && t.path == path)
            .map(|t| t.id)
    }

    /// Notices files renamed away (rename-and-create rotation) at each
    /// followed path: the old file is kept for reading to its end, the
    /// generations the watcher held open are adopted in order, and the file
    /// now at the path is read after them.
    fn check_renamed(&mut self) {
        for idx in 0..self.followed.len() {
            let (path, current) = self.followed[idx].clone();
            let now = std::fs::metadata(&path).ok().map(|m| FileKey::of(&m));
            if now == current {
                continue;
            }
            // The newest file known at this path, even when the path was
            // empty at the last look (between a rename and a create).
            let mut previous = self.newest_at.get(&path).copied();
            let mut generations = Vec::new();
            if let Some(old) = current {
                let since = self.tracked.iter_mut().find(|t| t.key == old).map(|t| {
                    t.rotated = true;
                    // Its end must be seen again, now that it is renamed:
                    // the writer may have appended since the last look.
                    t.at_eof = false;
                    previous = Some(t.id);
                    t.opened_at
                });
                if let Some(since) = since {
                    generations = self.missed_generations(&path, since, None);
                }
            }
            for (key, file, opened_at) in self.watcher.take(&path) {
                if !self.is_tracked(key) && !generations.iter().any(|t| t.key == key) {
                    let mut t = Tracked::adopt(&path, file, self.framing, &self.label);
                    t.opened_at = opened_at;
                    generations.push(t);
                }
            }
            // The file at the path now (looked at again: the writer may have
            // rotated meanwhile) is the newest; all are read in the order
            // they were written, after the old one.
            let now = std::fs::metadata(&path).ok().map(|m| FileKey::of(&m));
            if let Some(key) = now {
                if !self.is_tracked(key) && !generations.iter().any(|t| t.key == key) {
                    match Tracked::open(&path, 0, self.framing, &self.label) {
                        Ok(t) => generations.push(t),
                        Err(e) => self.report_open_failure(&path, &e),
                    }
                }
            }
            let last = self.chain(&mut generations, previous);
            let mut seen = now.filter(|k| self.is_tracked(*k));
            if let Some(id) = last {
                self.newest_at.insert(path.clone(), id);
                // The newest file is the one at the path, as far as is known;
                // if it was renamed meanwhile, the next look notices.
                if let Some(t) = self.tracked.iter_mut().find(|t| t.id == id) {
                    t.rotated = false;
                    seen = Some(t.key);
                }
            } else if let Some(key) = now {
                if let Some(t) = self.tracked.iter_mut().find(|t| t.key == key) {
                    t.rotated = false;
                }
            }
            self.followed[idx].1 = seen;
        }
        // A path with nothing there and nothing left to read is no longer
        // followed (the pattern finds it again if it comes back), except a
        // plain path, which is always watched.
        let tracked = &self.tracked;
        let literal = (glob::Pattern::escape(&self.options.pattern) == self.options.pattern)
            .then(|| PathBuf::from(&self.options.pattern));
        self.followed.retain(|(path, key)| {
            key.is_some()
                || tracked.iter().any(|t| &t.path == path)
                || literal.as_ref() == Some(path)
        });
        let followed = &self.followed;
        self.newest_at
            .retain(|path, _| followed.iter().any(|(p, _)| p == path));
        self.publish_paths();
    }

    /// Tells the watcher which file each followed path holds now, and
    /// watches their directories for events.
    fn publish_paths(&mut self) {
        if let Ok(mut paths) = self.watcher.paths.lock() {
            paths.clone_from(&self.followed);
        }
        if let Some(events) = &mut self.events {
            use notify::Watcher as _;
            for (path, _) in &self.followed {
                if let Some(dir) = watched_dir(path) {
                    if !self.watched_dirs.contains(&dir)
                        && events
                            .watch(&dir, notify::RecursiveMode::NonRecursive)
                            .is_ok()
                    {
                        self.watched_dirs.insert(dir);
                    }
                }
            }
        }
    }

    /// Where to start a newly found file.
    fn start_offset(&self, key: FileKey, file_len: u64, at_startup: bool, path: &Path) -> u64 {
        if let Some((fingerprint, offset)) = self.closed.get(&key) {
            let same = match (fingerprint, File::open(path)) {
                (Some(f), Ok(file)) => f.matches(&file),
                (None, _) => true,
                _ => false,
            };
            if same && *offset <= file_len {
                return *offset;
            }
        }
        if let Some(store) = &self.checkpoints {
            if let (Ok(store), Ok(file)) = (store.lock(), File::open(path)) {
                if let Some(offset) = store.resume_offset(key, &file) {
                    return offset;
                }
            }
        }
        if at_startup && self.options.start_at_end && !self.from_start.contains(path) {
            file_len
        } else {
            0
        }
    }

    /// Opens files matching the pattern that are not open yet; returns
    /// how many paths matched.
    fn discover(&mut self, at_startup: bool) -> usize {
        let paths: Vec<PathBuf> = match glob::glob(&self.options.pattern) {
            Ok(paths) => paths.filter_map(Result::ok).collect(),
            Err(_) => return 0,
        };
        let matched = paths.len();
        for path in paths {
            if self.followed.iter().any(|(p, _)| *p == path) {
                continue;
            }
            let meta = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue,
                Err(e) => {
                    self.report_open_failure(&path, &e);
                    continue;
                }
            };
            if !self
                .options
                .selection
                .accepts(&path, meta.modified().ok(), SystemTime::now())
            {
                continue;
            }
            let key = FileKey::of(&meta);
            if self.is_tracked(key) {
                continue;
            }
            let offset = self.start_offset(key, meta.len(), at_startup, &path);
            match Tracked::open(&path, offset, self.framing, &self.label) {
                Ok(mut t) => {
                    self.reported.remove(&path);
                    t.waits_for = self.unfinished_predecessor(&path);
                    if self.options.follow {
                        self.followed.push((path.clone(), Some(t.key)));
                        self.newest_at.insert(path.clone(), t.id);
                    }
                    self.tracked.push(t);
                }
                Err(e) => self.report_open_failure(&path, &e),
            }
        }
        matched
    }

    fn report_open_failure(&mut self, path: &Path, e: &io::Error) {
        if self.reported.insert(path.to_path_buf()) {
            crate::telemetry::count_error("receiving", "open_failed");
            crate::diag::emit(
                "error",
                &format!("opening {}: {e} (retried while following)", path.display()),
            );
        }
    }

    /// After a restart with a checkpoint: every generation of a followed
    /// path written since the checkpoint is read, oldest first, before the
    /// file now at the path. Those are the files in the checkpoint that were
    /// rotated away (same device, inode and fingerprint under another name
    /// beside it; resumed at their offset), then rotated siblings that the
    /// checkpoint does not know and that were written after the newest
    /// checkpointed one (created after the last save and rotated away before
    /// the restart; read from their start). Compressed ones cannot be read:
    /// skipped with a counted warning.
    fn resume_rotated_from_checkpoint(&mut self) {
        if !self.options.follow {
            return;
        }
        let Some(store) = self.checkpoints.clone() else {
            return;
        };
        let (positions, saved_at): (Vec<(FileKey, crate::checkpoint::Position)>, _) =
            match store.lock() {
                Ok(s) => (
                    s.positions().map(|(k, p)| (*k, p.clone())).collect(),
                    s.saved_at(),
                ),
                Err(_) => return,
            };
        let pattern = match glob::Pattern::new(&self.options.pattern) {
            Ok(p) => p,
            Err(_) => return,
        };
        // A run killed before its first save leaves an empty checkpoint:
        // then everything written since that save is new, at the paths
        // the pattern matches now as well.
        let mut paths: Vec<PathBuf> = positions
            .iter()
            .map(|(_, p)| p.path.clone())
            .filter(|p| pattern.matches_path(p))
            .collect();
        if saved_at.is_some() {
            if let Ok(matches) = glob::glob(&self.options.pattern) {
                paths.extend(matches.filter_map(Result::ok));
            }
        }
        paths.sort();
        paths.dedup();
        for path in paths {
            let known: HashMap<FileKey, &crate::checkpoint::Position> = positions
                .iter()
                .filter(|(_, p)| p.path == path)
                .map(|(k, p)| (*k, p))
                .collect();
            let live = std::fs::metadata(&path).ok().map(|m| FileKey::of(&m));
            let mut generations = Vec::new();
            // The newest write the checkpoint knows of at this path.
            let mut newest_known: Option<SystemTime> = None;
            let siblings = rotated_siblings(&path);
            for (candidate, meta) in &siblings {
                let key = FileKey::of(meta);
                let Some(position) = known.get(&key) else {
                    continue;
                };
                let Ok(file) = File::open(candidate) else {
                    continue;
                };
                if !position.fingerprint.matches(&file) {
                    continue;
                }
                newest_known = newest_known.max(meta.modified().ok());
                if Some(key) == live || meta.len() < position.offset || self.is_tracked(key) {
                    continue;
                }
                if let Ok(mut t) =
                    Tracked::open(candidate, position.offset, self.framing, &self.label)
                {
                    t.path = path.clone();
                    generations.push(t);
                }
            }
            if let Some(key) = live {
                if known.contains_key(&key) {
                    let m = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                    newest_known = newest_known.max(m);
                }
            }
            // Without a known file left, the save time (less the save
            // interval) bounds what the checkpoint saw.
            let since = newest_known
                .or_else(|| saved_at.and_then(|t| t.checked_sub(Duration::from_secs(2))));
            let Some(since) = since else {
                continue;
            };
            for (candidate, meta) in &siblings {
                let key = FileKey::of(meta);
                if known.contains_key(&key)
                    || Some(key) == live
                    || self.is_tracked(key)
                    || generations.iter().any(|t| t.key == key)
                    || !meta.modified().is_ok_and(|m| m >= since)
                {
                    continue;
                }
                if let Ok(mut t) = Tracked::open(candidate, 0, self.framing, &self.label) {
                    t.path = path.clone();
                    generations.push(t);
                }
            }
            for (candidate, meta) in compressed_siblings(&path) {
                if meta.modified().is_ok_and(|m| m >= since) {
                    crate::telemetry::count_error("receiving", "compressed_generation_skipped");
                    crate::diag::emit(
                        "warn",
                        &format!(
                            "{}: written since the checkpoint but compressed; its lines are not read",
                            candidate.display()
                        ),
                    );
                }
            }
            // The file now at the path, unknown to the checkpoint, is a new
            // generation too: read from its start, after these.
            if live.is_some_and(|k| !known.contains_key(&k)) {
                self.from_start.insert(path.clone());
            }
            let last = self.chain(&mut generations, None);
            if let Some(id) = last {
                self.newest_at.insert(path.clone(), id);
            }
        }
    }

    /// Looks for truncation of the files that are at their end, and closes
    /// rotated files that are gone.
    fn check_files(&mut self, tx: &ChunkSender) -> bool {
        for t in self.tracked.iter_mut().filter(|t| t.at_eof && !t.rotated) {
            if t.truncated() {
                match recover_truncated(t, tx) {
                    None => return false,
                    Some(copy) => t.recovered_from = Some(copy),
                }
            }
        }
        self.note_copies();
        self.reconcile_copies();
        // Rotated files that are deleted and read to the end are done.
        let mut i = 0;
        while i < self.tracked.len() {
            let t = &self.tracked[i];
            // (A partial last line first waits for its continuation.)
            let gone = t.rotated
                && t.at_eof
                && !t.feed.ends_mid_line()
                && t.file.metadata().is_ok_and(|m| m.nlink() == 0);
            if gone {
                let mut t = self.tracked.remove(i);
                if !t.finish(tx, true) {
                    return false;
                }
                self.retire(&t);
                continue;
            }
            i += 1;
        }
        // Too many rotated files open: close the oldest read ones.
        while self.tracked.iter().filter(|t| t.rotated).count() > MAX_ROTATED_OPEN {
            let Some(i) = self.tracked.iter().position(|t| t.rotated && t.at_eof) else {
                break;
            };
            let mut t = self.tracked.remove(i);
            if !t.finish(tx, false) {
                return false;
            }
            self.retire(&t);
            self.closed
                .insert(t.key, (t.fingerprint, t.feed.consumed_offset()));
        }
        true
    }

    /// Opens siblings of `path` (`path.1`, `path-2026…`, `path.<time>`) that
    /// were written after `since` and are not known: generations created
    /// and rotated away between two checks. Compressed files are skipped.
    fn missed_generations(
        &mut self,
        path: &Path,
        since: SystemTime,
        except_copy_of: Option<Fingerprint>,
    ) -> Vec<Tracked> {
        let mut found: Vec<(SystemTime, PathBuf)> = Vec::new();
        for (candidate, meta) in rotated_siblings(path) {
            let key = FileKey::of(&meta);
            if !meta.is_file() || self.is_tracked(key) || self.closed.contains_key(&key) {
                continue;
            }
            // A copy of the current content, or one still being written
            // (too short to tell; `reconcile_copies` looks again later).
            if except_copy_of.is_some_and(|f| {
                meta.len() < u64::from(f.len) || File::open(&candidate).is_ok_and(|c| f.matches(&c))
            }) {
                continue;
            }
            match meta.modified() {
                Ok(m) if m >= since => found.push((m, candidate)),
                _ => {}
            }
        }
        found.sort();
        found
            .into_iter()
            .filter_map(|(_, candidate)| {
                Tracked::open(&candidate, 0, self.framing, &self.label).ok()
            })
            .collect()
    }

    /// Tracks rotated generations to be read one after another, in the
    /// order they were last written, after the file numbered `previous`;
    /// returns the last one's number.
    fn chain(&mut self, generations: &mut Vec<Tracked>, mut previous: Option<u64>) -> Option<u64> {
        // File times are coarse (a clock tick): equal times are ordered by
        // inode number, which file systems hand out increasingly.
        generations.sort_by_key(|t| (t.file.metadata().and_then(|m| m.modified()).ok(), t.key.ino));
        for mut t in generations.drain(..) {
            t.rotated = true;
            t.waits_for = previous;
            previous = Some(t.id);
            self.tracked.push(t);
        }
        previous
    }
}

/// Rotated, uncompressed generations beside `path` (`path.1`,
/// `path-<time>`, …): regular files, with their metadata.
fn rotated_siblings(path: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let (Some(dir), Some(base)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let base = base.to_string_lossy();
    let listed = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(listed) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_rotated_name(&base, &name) {
                return None;
            }
            let candidate = dir.join(&name);
            let meta = std::fs::metadata(&candidate).ok()?;
            meta.is_file().then_some((candidate, meta))
        })
        .collect()
}

/// Compressed rotated generations beside `path` (`path.1.gz`, …).
fn compressed_siblings(path: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let (Some(dir), Some(base)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let base = base.to_string_lossy();
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix(base.as_ref())?;
            let compressed = [".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4"]
                .iter()
                .any(|ext| rest.ends_with(ext));
            if !compressed
                || !(rest.starts_with('.') || rest.starts_with('-') || rest.starts_with('_'))
            {
                return None;
            }
            let candidate = dir.join(&name);
            let meta = std::fs::metadata(&candidate).ok()?;
            meta.is_file().then_some((candidate, meta))
        })
        .collect()
}

/// Whether `name` looks like a rotated, uncompressed generation of `base`.
fn is_rotated_name(base: &str, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(base) else {
        return false;
    };
    let compressed = [".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".tmp"]
        .iter()
        .any(|ext| rest.ends_with(ext));
    !compressed && (rest.starts_with('.') || rest.starts_with('-') || rest.starts_with('_'))
}

/// The copy a truncated file was recovered from.
type CopyInfo = (FileKey, Fingerprint, u64, SystemTime);

/// A file was truncated (copytruncate): reads what was written since the
/// last read from the copy, ends the partial line, and starts over at 0.
/// `None` when the receiver is gone; else the copy used, if one was found.
fn recover_truncated(t: &mut Tracked, tx: &ChunkSender) -> Option<Option<CopyInfo>> {
    let mut used = None;
    if let Some((mut copy, modified)) = find_copy(&t.path, t.fingerprint, t.read_pos, t.last_copy) {
        if copy.seek(SeekFrom::Start(t.read_pos)).is_ok() {
            loop {
                match copy.read(t.feed.framer().spare()) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        t.feed.framer().filled(n);
                        t.read_pos += n as u64;
                        if !t.send_ready(tx) {
                            return None;
                        }
                    }
                }
            }
        }
        if let (Ok(meta), Some(fingerprint)) = (copy.metadata(), t.fingerprint) {
            used = Some((FileKey::of(&meta), fingerprint, meta.len(), modified));
        }
    }
    // Bytes the file was seen to hold that neither the copy nor the reads
    // got: written between the copy and the truncation, lost by
    // copytruncate itself. (Bytes written and truncated between two looks
    // are not seen at all.)
    let kept = t.read_pos.max(used.map_or(0, |(_, _, len, _)| len));
    if t.seen_len > kept {
        crate::telemetry::count_error("receiving", "copytruncate_lost");
        crate::diag::emit(
            "warn",
            &format!(
                "{}: copytruncate lost {} bytes written between its copy and its truncation before they were read",
                t.path.display(),
                t.seen_len - kept
            ),
        );
    }
    t.seen_len = 0;
    crate::diag::emit(
        "info",
        &format!(
            "{} was truncated; reading it from the start",
            t.path.display()
        ),
    );
    if let Some(fingerprint) = t.fingerprint {
        if t.history.len() >= 64 {
            t.history.remove(0);
        }
        t.history.push((fingerprint, t.read_pos));
    }
    // A partial last line waits for its continuation: the writer's next
    // block lands at the start of the truncated file.
    t.feed.restart_carrying(0);
    t.last_data = Instant::now();
    t.read_pos = 0;
    t.fingerprint = None;
    t.head.clear();
    t.at_eof = false;
    let _ = t.file.seek(SeekFrom::Start(0));
    Some(used)
}

/// The copy copytruncate made of `path`: a sibling starting with the same
/// bytes, at least `len` long, the first one modified at or after `after`
/// (the previous copy).
fn find_copy(
    path: &Path,
    fingerprint: Option<Fingerprint>,
    len: u64,
    after: Option<SystemTime>,
) -> Option<(File, SystemTime)> {
    let fingerprint = fingerprint?;
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut best: Option<((bool, bool, SystemTime), File)> = None;
    for (candidate, _) in rotated_siblings(&real) {
        let Ok(file) = File::open(&candidate) else {
            continue;
        };
        let Ok(meta) = file.metadata() else { continue };
        // The copy is recognised by its content, not by its length: when
        // the writer appended between the copy and the truncation and those
        // bytes were read from the file itself, the copy is shorter than
        // what was read (and holds nothing new).
        if !fingerprint.matches(&file) {
            continue;
        }
        // Copies are made one after another: the copy of this content is
        // the first one made after the previous copy (a short fingerprint
        // can match later copies too). Copies from before `after` only
        // when there is no other; a copy shorter than what was read only
        // when no copy holds all of it.
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let rank = (
            after.is_some_and(|a| modified < a),
            meta.len() < len,
            modified,
        );
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((rank, file));
        }
    }
    best.map(|((_, _, m), f)| (f, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names() {
        assert!(is_rotated_name("app.log", "app.log.1"));
        assert!(is_rotated_name("0.log", "0.log.20261125-101010"));
        assert!(is_rotated_name("app.log", "app.log-20261125"));
        assert!(!is_rotated_name("app.log", "app.log.2.gz"));
        assert!(!is_rotated_name("app.log", "app.log"));
        assert!(!is_rotated_name("app.log", "app.logger"));
        assert!(!is_rotated_name("app.log", "other.log.1"));
    }
}
