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
//!   device, inode and fingerprint match; content copied away by
//!   copytruncate (while down) is resumed in its copy, found by
//!   fingerprint. With a checkpoint, shutdown keeps a partial last line of
//!   the file at the path for the next run instead of emitting it; one in a
//!   rotated generation or a copy (which may be deleted meanwhile) goes out
//!   alone, a cut. A partial line carried into the next generation records
//!   its origin's position once it goes out, so it is never read again. On
//!   restart, every generation written since the checkpoint (rotated away
//!   since, or created and rotated away after the last save) is read in
//!   order before the file at the path; compressed ones are skipped with a
//!   counted warning. Model-tested (`model_tests`): after SIGTERM nothing is
//!   lost or repeated; after a kill only lines written after the last
//!   commit are repeated, once, in order.

mod chain;
mod copytruncate;
mod discovery;
mod fs;
mod resume;
mod tracked;
mod watcher;

#[cfg(test)]
mod model_tests;

use std::collections::{HashMap, HashSet};
use std::io::{self};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{ChunkSender, FramingOptions};
use crate::checkpoint::{Checkpoints, FileKey, Fingerprint};

use copytruncate::recover_truncated;
use fs::{Fs, RealFs};
use tracked::Tracked;
use watcher::{Changes, StopOnDrop, Wakeup, Watcher};

/// How long to sleep when no file had new data, when polling (no inotify).
const IDLE_SLEEP: Duration = Duration::from_millis(25);
/// The longest the reader waits for an event before looking at its
/// timers (partial lines waiting, the stop flag).
const MAX_WAIT: Duration = Duration::from_millis(100);
/// How often every file is looked at even without an event: the safety net
/// under inotify (a lost event costs at most this much delay).
const SWEEP_INTERVAL: Duration = Duration::from_secs(2);
/// How long the polling thread sleeps while inotify serves every path.
const POLL_IDLE: Duration = Duration::from_millis(100);
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

/// The wall clock file times are compared with (when a file was opened).
/// Model tests set it to their model clock, which sets the files' times.
pub(super) fn wall_clock() -> std::time::SystemTime {
    #[cfg(test)]
    if let Some(now) = model_tests::MODEL_NOW.with(std::cell::Cell::get) {
        return now;
    }
    std::time::SystemTime::now()
}

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

/// Where the files of one pattern stand.
struct FileSource {
    /// The file system (the real one, but in model tests).
    fs: Arc<dyn Fs>,
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
    /// File system events since the reader last looked.
    wakeup: Arc<Wakeup>,
    /// Some path cannot be watched (or inotify is unavailable): every turn
    /// looks at every file, as before events.
    polling: bool,
    /// Followed paths whose directory is watched, and their real paths.
    published: HashSet<PathBuf>,
    /// The followed path of each real path (events name real paths).
    real_paths: HashMap<PathBuf, PathBuf>,
    /// When the reader last looked at what.
    pace: Pace,
}

/// Which followed paths a look covers.
enum Scope {
    /// Every one (a sweep, or polling).
    All,
    /// Those events named.
    Changed(HashSet<PathBuf>),
}

impl Scope {
    fn covers(&self, path: &Path) -> bool {
        match self {
            Scope::All => true,
            Scope::Changed(paths) => paths.contains(path),
        }
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
    let follow = options.follow;
    let mut source = FileSource::new(Arc::new(RealFs), options, framing, checkpoints, follow);
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
    let found = source.start();
    if found == 0 && !source.options.follow && source.tracked.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("--input {}: no such file", source.options.pattern),
        ));
    }
    loop {
        if stop.load(Ordering::SeqCst) {
            source.drain_for_shutdown(&tx);
            return Ok(());
        }
        match source.turn(&tx, false) {
            None => return Ok(()),
            Some(_) if !source.options.follow && source.tracked.is_empty() => return Ok(()),
            Some(_) => {}
        }
    }
}

/// When the reader last looked at what, and what events named since.
struct Pace {
    last_check: Instant,
    last_rename_check: Instant,
    last_sweep: Instant,
    /// How long the next turn may wait for an event.
    wait: Duration,
    /// Followed paths events named since the last look at renames and at
    /// truncations, and whether a file appeared somewhere.
    to_rename: HashSet<PathBuf>,
    to_check: HashSet<PathBuf>,
    appeared: bool,
}

impl Pace {
    fn new() -> Pace {
        Pace {
            last_check: Instant::now(),
            last_rename_check: Instant::now(),
            last_sweep: Instant::now(),
            wait: Duration::ZERO,
            to_rename: HashSet::new(),
            to_check: HashSet::new(),
            appeared: false,
        }
    }
}

impl FileSource {
    /// A source for `options` on `fs`; with `events`, inotify (through
    /// `notify`) watches the followed directories (else they are polled).
    fn new(
        fs: Arc<dyn Fs>,
        options: FileOptions,
        framing: FramingOptions,
        checkpoints: Option<Arc<Mutex<Checkpoints>>>,
        events: bool,
    ) -> FileSource {
        let mut source = FileSource {
            fs,
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
            wakeup: Arc::new(Wakeup::default()),
            polling: false,
            published: HashSet::new(),
            real_paths: HashMap::new(),
            pace: Pace::new(),
        };
        if source.options.follow && events {
            let watcher = Arc::clone(&source.watcher);
            let wakeup = Arc::clone(&source.wakeup);
            source.events =
                notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                    use notify::event::{EventKind, ModifyKind};
                    // A file appearing at a path is opened at once.
                    if let Ok(e) = &event {
                        if matches!(
                            e.kind,
                            EventKind::Create(_)
                                | EventKind::Modify(ModifyKind::Name(_))
                                | EventKind::Any
                        ) {
                            let dirs: HashSet<PathBuf> = e
                                .paths
                                .iter()
                                .filter_map(|p| p.parent().map(Path::to_path_buf))
                                .collect();
                            for dir in dirs {
                                watcher.on_event(&dir);
                            }
                        }
                    }
                    wakeup.note(&event);
                })
                .ok();
            source.watch_pattern_dir();
        }
        // Without inotify the polling thread notices rotations, and every
        // turn looks at every file.
        if source.options.follow && source.events.is_none() {
            source.polling = true;
            source.watcher.poll.store(true, Ordering::SeqCst);
        }
        source
    }

    /// Opens what there is to read at start-up (generations since the
    /// checkpoint, the files matching); returns how many paths matched.
    fn start(&mut self) -> usize {
        self.resume_rotated_from_checkpoint();
        let found = self.discover(true);
        // A plain path that does not exist yet is watched from the start, so
        // the file is caught as soon as it is created.
        let literal = glob::Pattern::escape(&self.options.pattern) == self.options.pattern;
        if self.options.follow && literal {
            let path = PathBuf::from(&self.options.pattern);
            if !self.followed.iter().any(|(p, _)| *p == path) {
                self.followed.push((path, None));
            }
        }
        self.publish_paths();
        found
    }

    /// One turn: looks at what events named (all on a sweep, or when
    /// `forced`), reads a little of each file due, and checks for
    /// rotation, truncation and new files when due. Returns whether data
    /// came; `None` when the receiver is gone (or, read once, all is read).
    fn turn(&mut self, tx: &ChunkSender, forced: bool) -> Option<bool> {
        // What changed: the paths events named (the reader sleeps until
        // one comes); everything on a sweep, or when polling.
        let changes = if self.options.follow {
            self.wakeup.take(if forced {
                Duration::ZERO
            } else {
                self.pace.wait
            })
        } else {
            Changes::default()
        };
        let sweep = !self.options.follow
            || self.polling
            || changes.overflow
            || forced
            || self.pace.last_sweep.elapsed() >= SWEEP_INTERVAL;
        if sweep {
            self.pace.last_sweep = Instant::now();
        }
        self.pace.appeared |= changes.appeared;
        let mut to_read: HashSet<PathBuf> = HashSet::new();
        for path in changes.paths {
            if let Some(followed) = self.followed_for(&path) {
                self.pace.to_rename.insert(followed.clone());
                self.pace.to_check.insert(followed.clone());
                to_read.insert(followed);
            }
            self.pace.to_check.insert(path.clone());
            to_read.insert(path);
        }
        if !self.look_before_first_reads(tx, sweep, &to_read) {
            return None;
        }
        let mut progressed = false;
        let mut i = 0;
        while i < self.tracked.len() {
            // A file at its end is read again when an event names it.
            let due = sweep || !self.tracked[i].at_eof || to_read.contains(&self.tracked[i].path);
            if !due || self.is_waiting(i) {
                i += 1;
                continue;
            }
            match self.carry_from_predecessor(i, tx) {
                None => return None,
                Some(false) => {
                    i += 1;
                    continue;
                }
                Some(true) => {}
            }
            match self.read_in_order(i, tx) {
                Ok((got, true)) => progressed |= got,
                Ok((_, false)) => return None,
                Err(e) => {
                    let t = self.tracked.remove(i);
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
        if !self.options.follow {
            let mut i = 0;
            while i < self.tracked.len() {
                if self.tracked[i].at_eof {
                    let mut t = self.tracked.remove(i);
                    if !t.finish(tx, false) {
                        return None;
                    }
                } else {
                    i += 1;
                }
            }
            if self.tracked.is_empty() {
                return None;
            }
            return Some(progressed);
        }
        if !self.end_stale_partials(tx) {
            return None;
        }
        self.note_copies();
        // A rotation is noticed within a read turn (one stat per path
        // named), so a new generation is held open before it can be
        // rotated away.
        if (forced || self.pace.last_rename_check.elapsed() >= RENAME_CHECK_INTERVAL)
            && (sweep || self.pace.appeared || !self.pace.to_rename.is_empty())
        {
            self.pace.last_rename_check = Instant::now();
            let scope = if sweep || self.pace.appeared {
                Scope::All
            } else {
                Scope::Changed(std::mem::take(&mut self.pace.to_rename))
            };
            self.pace.to_rename.clear();
            if !self.check_renamed(tx, &scope) {
                return None;
            }
        }
        if (forced || !progressed || self.pace.last_check.elapsed() >= CHECK_INTERVAL)
            && (sweep || self.pace.appeared || !self.pace.to_check.is_empty())
        {
            self.pace.last_check = Instant::now();
            let scope = if sweep {
                Scope::All
            } else {
                Scope::Changed(std::mem::take(&mut self.pace.to_check))
            };
            if !self.check_files(tx, &scope) {
                return None;
            }
            if sweep || self.pace.appeared {
                self.discover(false);
                self.pace.appeared = false;
            }
            self.publish_paths();
        }
        self.pace.wait = if progressed {
            Duration::ZERO
        } else if self.polling {
            IDLE_SLEEP
        } else {
            MAX_WAIT.min(SWEEP_INTERVAL.saturating_sub(self.pace.last_sweep.elapsed()))
        };
        Some(progressed)
    }
}

impl FileSource {
    /// At shutdown: what the files held when it was asked for is read and
    /// sent (a pod's `emptyDir` goes away with the pod, so lines left
    /// unread would be lost), within the shutdown timeout. Lines written
    /// after that wait for the next run (with a checkpoint) or are not
    /// read. With a checkpoint, a partial last line of the file at the path
    /// also waits (the next run reads it again), and one of a rotated
    /// generation or a copy is sent, ended alone; without, it is sent.
    fn drain_for_shutdown(&mut self, tx: &ChunkSender) {
        // As a turn looks before reading: renamed generations, copies made
        // before the first read, truncations (copies recovered from) —
        // of every file at its path, read to its end or not (a file resumed
        // from a checkpoint and truncated since reads nothing that would
        // tell).
        if self.options.follow {
            if !(self.check_renamed(tx, &Scope::All)
                && self.look_before_first_reads(tx, true, &HashSet::new()))
            {
                return;
            }
            for t in self.tracked.iter_mut().filter(|t| !t.rotated) {
                if t.truncated(false) {
                    match recover_truncated(&*self.fs, t, tx) {
                        None => return,
                        Some(copy) => t.recovered_from = Some(copy),
                    }
                }
            }
            if !self.check_files(tx, &Scope::All) {
                return;
            }
        }
        let ends: HashMap<FileKey, u64> = self
            .tracked
            .iter()
            .map(|t| (t.key, t.file.meta().map_or(0, |m| m.len)))
            .collect();
        loop {
            let mut progressed = false;
            for i in 0..self.tracked.len() {
                let end = ends.get(&self.tracked[i].key).copied().unwrap_or(0);
                if self.is_waiting(i) {
                    continue;
                }
                // A partial line of the generation before continues here
                // (or passes through it, an empty one rotated away).
                match self.carry_from_predecessor(i, tx) {
                    None => return,
                    Some(false) => continue,
                    Some(true) => {}
                }
                if self.tracked[i].read_pos >= end {
                    // (Now at its end: a file waiting for it is read next.)
                    progressed |= !std::mem::replace(&mut self.tracked[i].at_eof, true);
                    continue;
                }
                match self.tracked[i].read_some(&*self.fs, tx, self.options.follow) {
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
            return;
        }
        // A partial last line waits for the next run only where that run
        // reads it again: bytes of the file at the path (the checkpoint
        // resumes it there). Bytes of a rotated generation or a copy (which
        // may be deleted before the next run) go out now, the line ended
        // alone (a cut).
        for t in &mut self.tracked {
            let kept = !t.rotated && t.feed.carried_pending() == 0;
            if kept || !t.feed.ends_mid_line() {
                continue;
            }
            t.feed.terminate_partial();
            t.cut_tail = true;
            if !t.send_ready(tx) {
                return;
            }
        }
    }

    /// Before the first bytes of a file are read: generations
    /// copytruncate copied away, or renamed away, before anything was read
    /// (a slow reader) are found first, so they are read first; so are
    /// copies of content a copytruncated file held before it starts over.
    /// Looks at the files `to_read` names (all on a `sweep`). False when
    /// the receiver is gone.
    fn look_before_first_reads(
        &mut self,
        tx: &ChunkSender,
        sweep: bool,
        to_read: &HashSet<PathBuf>,
    ) -> bool {
        // A copytruncated file about to be read from its start again: copies
        // of content it held meanwhile come first.
        if self.options.follow
            && self.tracked.iter().any(|t| {
                !t.rotated && t.last_copy.is_some() && t.read_pos == 0 && t.head.is_empty()
            })
        {
            self.reconcile_copies(&Scope::All);
        }
        // Before the first bytes of a file are read: generations
        // copytruncate copied away, or renamed away, before anything was
        // read (a slow reader) are found first, so they are read first.
        let first_reads: HashSet<PathBuf> = self
            .tracked
            .iter()
            .filter(|t| {
                self.options.follow
                    && !t.rotated
                    && (sweep || to_read.contains(&t.path))
                    && t.unread()
                    && t.file.meta().is_ok_and(|m| m.len > 0)
            })
            .map(|t| t.path.clone())
            .collect();
        if !first_reads.is_empty() {
            let scope = Scope::Changed(first_reads);
            if !self.check_renamed(tx, &scope) {
                return false;
            }
            self.reconcile_copies(&scope);
        }
        true
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
        let has_bytes = self.tracked[i].file.meta().is_ok_and(|m| m.len > 0);
        // An empty generation already rotated away (a newer one follows):
        // the writer's next bytes are in a later one, so the partial line
        // passes through it.
        let passed_over = !has_bytes && self.tracked[i].rotated && self.tracked[p].at_eof;
        if !has_bytes && !passed_over {
            // Nothing to read here yet; a partial line there waits.
            return Some(!self.tracked[p].feed.ends_mid_line());
        }
        // The writer moved on to this file: what it wrote to the
        // predecessor before (lines still landing there after the rename
        // included) comes first, and its partial last line is complete.
        if !self.tracked[p].read_to_end(&*self.fs, tx, self.options.follow) {
            return None;
        }
        if self.tracked[p].feed.ends_mid_line() {
            let carried = self.tracked[p].feed.carried_pending();
            let partial = self.tracked[p].feed.take_partial();
            // Certain after a rename (the writer's bytes go to the old
            // file until it reopens); not after a copy.
            let certain = !self.tracked[p].copy;
            // Where the partial line's bytes come from, and the positions
            // to record once it is written (the predecessor's own bytes
            // read to its end: the next run does not read them again).
            let (mut from, mut acks) = if carried > 0 {
                let t = &mut self.tracked[p];
                (
                    std::mem::take(&mut t.carried_from),
                    std::mem::take(&mut t.carried_acks),
                )
            } else {
                (Vec::new(), Vec::new())
            };
            let own = (partial.len() - carried.min(partial.len())) as u64;
            if own > 0 {
                let t = &self.tracked[p];
                from.push(t.id);
                acks.extend(t.ack(false).map(|mut ack| {
                    ack.offset += own;
                    ack
                }));
            }
            self.tracked[i].carried_from = from;
            self.tracked[i].carried_acks = acks;
            self.tracked[i].feed.carry_in(&partial, certain);
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

    /// Watches the directory a glob pattern lists (its longest literal
    /// prefix), so new matching files are noticed by their events.
    fn watch_pattern_dir(&mut self) {
        let pattern = &self.options.pattern;
        let literal_end = pattern.find(['*', '?', '[']).unwrap_or(pattern.len());
        let prefix = Path::new(&pattern[..literal_end]);
        let dir = if literal_end == pattern.len() {
            prefix.parent()
        } else if pattern[..literal_end].ends_with('/') {
            Some(prefix)
        } else {
            prefix.parent()
        };
        let Some(dir) = dir.map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        }) else {
            return;
        };
        if let Ok(dir) = std::fs::canonicalize(dir) {
            // (Unwatchable: the sweep discovers new files.)
            self.watch_dir(dir);
        }
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
    pub(super) fn route_carry(live: &mut Tracked, first: &mut Tracked) {
        let carried = live.feed.take_carry();
        if !carried.is_empty() {
            first.carried_from = std::mem::take(&mut live.carried_from);
            first.carried_acks = std::mem::take(&mut live.carried_acks);
            first.feed.carry_in(&carried, false);
            first.carry_checked = true;
        } else if first.read_pos > 0 || live.feed.holds_carry() {
            first.feed.mark_head_cut();
        }
    }

    /// Whether the file at `path` (by `key`) was read and closed. Inode
    /// numbers are reused once a file is deleted: a recorded fingerprint
    /// must match too.
    fn is_closed(&self, key: FileKey, path: &Path) -> bool {
        match self.closed.get(&key) {
            None => false,
            Some((None, _)) => true,
            Some((Some(f), _)) => {
                // (Renamed meanwhile — logrotate shifts `.1` to `.2` — and
                // another file at `path`: taken as closed, looked at again
                // at the next listing.)
                let Ok(file) = self.fs.open(path) else {
                    return true;
                };
                let same_file = file.meta().is_ok_and(|m| m.key == key);
                !same_file || (f.len > 0 && f.matches(&*file))
            }
        }
    }

    fn is_tracked(&self, key: FileKey) -> bool {
        self.tracked.iter().any(|t| t.key == key)
    }

    /// Reads file `i` a little. When it follows a rotated generation that
    /// is still open (a writer that has not reopened the path may still
    /// append to it), that generation is read to its end after each read
    /// of this file and before the lines read go out, however much it holds
    /// ([`Tracked::read_to_end`]). A writer's bytes in the old file were
    /// written before those just read from the new one, so they are
    /// visible by then and go out first: no line is reordered across a
    /// rotation, whichever file's event comes first.
    pub(super) fn read_in_order(&mut self, i: usize, tx: &ChunkSender) -> io::Result<(bool, bool)> {
        let (fs, follow) = (&*self.fs, self.options.follow);
        let predecessor = self.tracked[i]
            .waits_for
            .and_then(|id| self.tracked.iter().position(|t| t.id == id && t.rotated))
            .filter(|&p| p != i);
        let Some(p) = predecessor else {
            return self.tracked[i].read_some(fs, tx, follow);
        };
        let (file, before) = if p < i {
            let (head, tail) = self.tracked.split_at_mut(i);
            (&mut tail[0], &mut head[p])
        } else {
            let (head, tail) = self.tracked.split_at_mut(p);
            (&mut head[i], &mut tail[0])
        };
        file.read_some_then(fs, tx, follow, &mut |tx| before.read_to_end(fs, tx, follow))
    }

    /// The predecessor file `i` still waits for, if any.
    fn pending_predecessor(&self, i: usize) -> Option<u64> {
        let first = self.tracked[i].waits_for?;
        // (Read to its end but holding a partial line: its continuation
        // is in whatever comes next.)
        self.tracked
            .iter()
            .any(|t| t.id == first && (!t.at_eof || t.feed.ends_mid_line()))
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
}
