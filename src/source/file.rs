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
//!   was copied and truncated. The bytes written between the last read and
//!   the copy are read from the copy (a sibling with the same fingerprint),
//!   then reading starts over at offset 0. Bytes written between the copy
//!   and the truncation are lost by copytruncate itself.
//! - **New files** matching the pattern are picked up from their start.
//! - **Checkpoints**: a file is resumed at its recorded offset when its
//!   device, inode and fingerprint match; with a checkpoint, shutdown keeps
//!   a partial last line for the next run instead of emitting it.

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
/// How often to look for rotation, truncation and new files.
const CHECK_INTERVAL: Duration = Duration::from_millis(200);
/// Reads per file per turn (of up to 256 KiB each).
const READS_PER_TURN: usize = 4;
/// Rotated files kept open for late writes, per pattern; beyond that the
/// oldest fully read one is closed.
const MAX_ROTATED_OPEN: usize = 16;

/// Settings of a file source.
#[derive(Clone, Debug)]
pub struct FileOptions {
    /// The path or glob pattern.
    pub pattern: String,
    /// Keep reading as files grow, across rotation.
    pub follow: bool,
    /// Start files found at start-up (without a checkpoint) at their end.
    pub start_at_end: bool,
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
}

impl Tracked {
    fn open(
        path: &Path,
        offset: u64,
        options: FramingOptions,
        label: &Arc<str>,
    ) -> io::Result<Tracked> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::other("is a directory"));
        }
        file.seek(SeekFrom::Start(offset))?;
        let stream = Arc::new(Stream {
            name: path.display().to_string().into(),
            label: Arc::clone(label),
        });
        let mut t = Tracked {
            path: path.to_path_buf(),
            key: FileKey::of(&meta),
            file,
            read_pos: offset,
            feed: Feed::new(stream, options, offset),
            fingerprint: None,
            rotated: false,
            at_eof: false,
            opened_at: SystemTime::now(),
        };
        t.refresh_fingerprint();
        Ok(t)
    }

    /// Fingerprints the first bytes while the file is shorter than the
    /// fingerprint length (the file grows; the fingerprint follows).
    fn refresh_fingerprint(&mut self) {
        if self
            .fingerprint
            .is_some_and(|f| f.len as usize >= FINGERPRINT_BYTES)
        {
            return;
        }
        let len = self
            .file
            .metadata()
            .map_or(0, |m| m.len())
            .min(FINGERPRINT_BYTES as u64) as u32;
        if len > 0 && self.fingerprint.is_none_or(|f| f.len < len) {
            if let Ok(Some(f)) = Fingerprint::read(&self.file, len) {
                self.fingerprint = Some(f);
            }
        }
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
            self.refresh_fingerprint();
            chunk.ack = self.ack(false);
            if tx.blocking_send(chunk).is_err() {
                return false;
            }
        }
        true
    }

    /// Reads a little; returns whether data came.
    fn read_some(&mut self, tx: &ChunkSender) -> io::Result<(bool, bool)> {
        let mut got = false;
        for _ in 0..READS_PER_TURN {
            let n = match self.file.read(self.feed.framer().spare()) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.feed.framer().filled(n);
            if n == 0 {
                self.at_eof = true;
                break;
            }
            self.at_eof = false;
            got = true;
            self.read_pos += n as u64;
            if !self.send_ready(tx) {
                return Ok((got, false));
            }
        }
        Ok((got, true))
    }

    /// Ends the stream: a partial last line goes out, then (with `forget`)
    /// the checkpoint entry is dropped.
    fn finish(&mut self, tx: &ChunkSender, forget: bool) -> bool {
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
    };
    source.resume_rotated_from_checkpoint();
    let found = source.discover(true);
    if found == 0 && !source.options.follow && source.tracked.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("--input {}: no such file", source.options.pattern),
        ));
    }
    let mut last_check = Instant::now();
    loop {
        if stop.load(Ordering::SeqCst) {
            // With a checkpoint a partial last line waits for the next run;
            // without one it goes out now.
            if source.checkpoints.is_none() {
                for t in &mut source.tracked {
                    if !t.finish(&tx, false) {
                        break;
                    }
                }
            }
            return Ok(());
        }
        let mut progressed = false;
        let mut i = 0;
        while i < source.tracked.len() {
            match source.tracked[i].read_some(&tx) {
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
        if !progressed || last_check.elapsed() >= CHECK_INTERVAL {
            last_check = Instant::now();
            if !source.check_files(&tx) {
                return Ok(());
            }
            source.discover(false);
        }
        if !progressed {
            std::thread::sleep(IDLE_SLEEP);
        }
    }
}

impl FileSource {
    fn is_tracked(&self, key: FileKey) -> bool {
        self.tracked.iter().any(|t| t.key == key)
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
        if at_startup && self.options.start_at_end {
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
            let meta = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue,
                Err(e) => {
                    self.report_open_failure(&path, &e);
                    continue;
                }
            };
            let key = FileKey::of(&meta);
            if self.is_tracked(key) {
                continue;
            }
            let offset = self.start_offset(key, meta.len(), at_startup, &path);
            match Tracked::open(&path, offset, self.framing, &self.label) {
                Ok(t) => {
                    self.reported.remove(&path);
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

    /// After a restart: files in the checkpoint that were rotated away
    /// (same device, inode and fingerprint under another name in the same
    /// directory) and still have unread bytes are read first.
    fn resume_rotated_from_checkpoint(&mut self) {
        if !self.options.follow {
            return;
        }
        let Some(store) = self.checkpoints.clone() else {
            return;
        };
        let positions: Vec<(FileKey, crate::checkpoint::Position)> = match store.lock() {
            Ok(s) => s.positions().map(|(k, p)| (*k, p.clone())).collect(),
            Err(_) => return,
        };
        let pattern = match glob::Pattern::new(&self.options.pattern) {
            Ok(p) => p,
            Err(_) => return,
        };
        for (key, position) in positions {
            if !pattern.matches_path(&position.path) {
                continue;
            }
            // Still at its path: `discover` resumes it.
            if std::fs::metadata(&position.path).is_ok_and(|m| FileKey::of(&m) == key) {
                continue;
            }
            let Some(dir) = position.path.parent() else {
                continue;
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
                if FileKey::of(&meta) != key || meta.len() <= position.offset {
                    continue;
                }
                let Ok(file) = File::open(&path) else {
                    continue;
                };
                if !position.fingerprint.matches(&file) {
                    continue;
                }
                if let Ok(mut t) = Tracked::open(&path, position.offset, self.framing, &self.label)
                {
                    t.path = position.path.clone();
                    t.rotated = true;
                    self.tracked.push(t);
                }
                break;
            }
        }
    }

    /// Looks for rotation and truncation of the files that are at their
    /// end, and closes rotated files that are gone.
    fn check_files(&mut self, tx: &ChunkSender) -> bool {
        let mut missed = Vec::new();
        for t in self.tracked.iter_mut().filter(|t| t.at_eof) {
            if t.rotated {
                continue;
            }
            match std::fs::metadata(&t.path) {
                Ok(meta) if FileKey::of(&meta) == t.key => {
                    let truncated = meta.len() < t.read_pos
                        || t.fingerprint.is_some_and(|f| !f.matches(&t.file));
                    if truncated && !recover_truncated(t, tx) {
                        return false;
                    }
                }
                _ => {
                    t.rotated = true;
                    missed.push((t.path.clone(), t.opened_at));
                }
            }
        }
        for (path, since) in missed {
            self.open_missed_generations(&path, since);
        }
        // Rotated files that are deleted and read to the end are done.
        let mut i = 0;
        while i < self.tracked.len() {
            let t = &self.tracked[i];
            let gone = t.rotated && t.at_eof && t.file.metadata().is_ok_and(|m| m.nlink() == 0);
            if gone {
                let mut t = self.tracked.remove(i);
                if !t.finish(tx, true) {
                    return false;
                }
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
            self.closed
                .insert(t.key, (t.fingerprint, t.feed.consumed_offset()));
        }
        true
    }

    /// Opens siblings of `path` (`path.1`, `path-2026…`, `path.<time>`) that
    /// were written after `since` and are not known: generations created
    /// and rotated away between two checks. Compressed files are skipped.
    fn open_missed_generations(&mut self, path: &Path, since: SystemTime) {
        let (Some(dir), Some(base)) = (path.parent(), path.file_name()) else {
            return;
        };
        let base = base.to_string_lossy().into_owned();
        let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) else {
            return;
        };
        let mut found: Vec<(SystemTime, PathBuf)> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_rotated_name(&base, &name) {
                continue;
            }
            let candidate = dir.join(&name);
            let Ok(meta) = std::fs::metadata(&candidate) else {
                continue;
            };
            let key = FileKey::of(&meta);
            if !meta.is_file() || self.is_tracked(key) || self.closed.contains_key(&key) {
                continue;
            }
            match meta.modified() {
                Ok(m) if m > since => found.push((m, candidate)),
                _ => {}
            }
        }
        found.sort();
        for (_, candidate) in found {
            if let Ok(mut t) = Tracked::open(&candidate, 0, self.framing, &self.label) {
                t.rotated = true;
                self.tracked.push(t);
            }
        }
    }
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

/// A file was truncated (copytruncate): reads what was written since the
/// last read from the copy, ends the partial line, and starts over at 0.
fn recover_truncated(t: &mut Tracked, tx: &ChunkSender) -> bool {
    if let Some(mut copy) = find_copy(&t.path, t.fingerprint, t.read_pos) {
        if copy.seek(SeekFrom::Start(t.read_pos)).is_ok() {
            loop {
                match copy.read(t.feed.framer().spare()) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        t.feed.framer().filled(n);
                        t.read_pos += n as u64;
                        if !t.send_ready(tx) {
                            return false;
                        }
                    }
                }
            }
        }
    }
    // The rest of the partial line, if any, went to the copy or was lost.
    t.feed.framer().finish();
    if !t.send_ready(tx) {
        return false;
    }
    crate::diag::emit(
        "info",
        &format!(
            "{} was truncated; reading it from the start",
            t.path.display()
        ),
    );
    t.feed.restart_at(0);
    t.read_pos = 0;
    t.fingerprint = None;
    t.at_eof = false;
    if t.file.seek(SeekFrom::Start(0)).is_err() {
        return true;
    }
    t.refresh_fingerprint();
    true
}

/// The copy copytruncate made of `path`: a sibling starting with the same
/// bytes, at least `len` long; the most recently modified one.
fn find_copy(path: &Path, fingerprint: Option<Fingerprint>, len: u64) -> Option<File> {
    let fingerprint = fingerprint?;
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = real.parent()?;
    let base = real.file_name()?.to_string_lossy().into_owned();
    let mut best: Option<(SystemTime, File)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_rotated_name(&base, &name) {
            continue;
        }
        let Ok(file) = File::open(dir.join(&name)) else {
            continue;
        };
        let Ok(meta) = file.metadata() else { continue };
        if meta.len() < len || !fingerprint.matches(&file) {
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if best.as_ref().is_none_or(|(m, _)| modified > *m) {
            best = Some((modified, file));
        }
    }
    best.map(|(_, f)| f)
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
