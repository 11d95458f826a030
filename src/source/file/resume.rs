//! Checkpoint resume: where a followed file starts after a restart.
//!
//! Job: resume a file at its recorded offset when its device, inode and
//! fingerprint match; and find every generation written since the
//! checkpoint (rotated away since, or created and rotated away after the
//! last save) and chain them, oldest first, before the file at the path.
//!
//! Guarantees: a generation known to the checkpoint (by device, inode and
//! fingerprint, recorded at the path or under a rotated name of it)
//! resumes at its offset (no line read twice beyond the checkpoint
//! interval); known content copied away by copytruncate while down resumes
//! in its copy, found by fingerprint; an unknown one written since — a
//! known inode that holds other bytes now included (truncated, or reused)
//! — is read from its start; compressed ones are skipped with a counted
//! warning (`compressed_generation_skipped`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::chain::{compressed_siblings, is_rotated_name, rotated_siblings};
use super::tracked::Tracked;
use super::FileSource;
use crate::checkpoint::FileKey;

impl FileSource {
    /// After a restart with a checkpoint: every generation of a followed
    /// path written since the checkpoint is read, oldest first, before the
    /// file now at the path. Those are the files in the checkpoint that were
    /// rotated away (same device, inode and fingerprint under another name
    /// beside it; resumed at their offset), then rotated siblings that the
    /// checkpoint does not know and that were written after the newest
    /// checkpointed one (created after the last save and rotated away before
    /// the restart; read from their start). Compressed ones cannot be read:
    /// skipped with a counted warning.
    pub(super) fn resume_rotated_from_checkpoint(&mut self) {
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
        // (A generation found rotated away was recorded under its rotated
        // name: it belongs to the followed path that name continues.)
        let mut paths: Vec<PathBuf> = positions
            .iter()
            .filter_map(|(_, p)| followed_path_of(&p.path, &pattern))
            .collect();
        if saved_at.is_some() {
            paths.extend(self.fs.glob(&self.options.pattern));
        }
        paths.sort();
        paths.dedup();
        for path in paths {
            let known: HashMap<FileKey, &crate::checkpoint::Position> = positions
                .iter()
                .filter(|(_, p)| followed_path_of(&p.path, &pattern).as_ref() == Some(&path))
                .map(|(k, p)| (*k, p))
                .collect();
            let fs = std::sync::Arc::clone(&self.fs);
            let live = fs.metadata(&path).ok().map(|m| m.key);
            // The live file is the one the checkpoint knows only while it
            // starts with the same bytes (not truncated since).
            let live_known = live.filter(|k| {
                known.get(k).is_some_and(|p| {
                    fs.open(&path).is_ok_and(|f| {
                        f.meta().is_ok_and(|m| m.key == *k) && p.fingerprint.matches(&*f)
                    })
                })
            });
            let mut generations = Vec::new();
            // The newest write the checkpoint knows of at this path.
            let mut newest_known: Option<SystemTime> = None;
            // Known files found (by inode and fingerprint), and copies of
            // known content found (by fingerprint).
            let mut found: HashSet<FileKey> = live_known.into_iter().collect();
            let siblings = rotated_siblings(&*fs, &path);
            for (candidate, meta) in &siblings {
                let key = meta.key;
                let Some(position) = known.get(&key) else {
                    continue;
                };
                let Ok(file) = fs.open(candidate) else {
                    continue;
                };
                if !position.fingerprint.matches(&*file) {
                    continue;
                }
                found.insert(key);
                newest_known = newest_known.max(meta.modified);
                if Some(key) == live || meta.len < position.offset || self.is_tracked(key) {
                    continue;
                }
                if let Ok(mut t) =
                    Tracked::open(&*fs, candidate, position.offset, self.framing, &self.label)
                {
                    t.path = path.clone();
                    self.mark_resumed_mid_line(&mut t);
                    generations.push(t);
                }
            }
            if live_known.is_some() {
                let m = fs.metadata(&path).ok().and_then(|m| m.modified);
                newest_known = newest_known.max(m);
            }
            // Known content no longer in its file (copytruncate while
            // down: the file at the path starts over) is in its copy, a
            // sibling with another inode and the same first bytes: resumed
            // there at the recorded offset (the first copy made, if more
            // match).
            let mut copies: Vec<FileKey> = Vec::new();
            for (key, position) in &known {
                if found.contains(key) {
                    continue;
                }
                let copy = siblings
                    .iter()
                    .filter(|(_, meta)| {
                        // (A known inode holding other bytes is another
                        // file now: inode numbers are reused.)
                        let k = meta.key;
                        !found.contains(&k)
                            && !copies.contains(&k)
                            && Some(k) != live
                            && !self.is_tracked(k)
                            && meta.len >= position.offset
                    })
                    .filter(|(candidate, _)| {
                        fs.open(candidate)
                            .is_ok_and(|f| position.fingerprint.matches(&*f))
                    })
                    .min_by_key(|(_, meta)| (meta.modified, meta.key.ino));
                let Some((candidate, meta)) = copy else {
                    continue;
                };
                copies.push(meta.key);
                newest_known = newest_known.max(meta.modified);
                if let Ok(mut t) =
                    Tracked::open(&*fs, candidate, position.offset, self.framing, &self.label)
                {
                    t.path = path.clone();
                    t.copy = true;
                    self.mark_resumed_mid_line(&mut t);
                    generations.push(t);
                }
            }
            // Without a known file left, the newest first opening of one
            // bounds what the checkpoint saw: a generation created after it
            // was unknown to the run, so its lines may never have been
            // committed (the run may have been killed before it read them),
            // while generations older than every known file are history.
            // (The save time does not bound it: a generation written well
            // before a save may still have been unread at it.) Checkpoints
            // written before first openings were kept fall back to the save
            // time less the save interval.
            let first_opened = known.values().filter_map(|p| p.opened_at).max();
            let since = newest_known
                .or(first_opened)
                .or_else(|| saved_at.and_then(|t| t.checked_sub(Duration::from_secs(2))));
            let Some(since) = since else {
                continue;
            };
            for (candidate, meta) in &siblings {
                let key = meta.key;
                // (A known inode holding other bytes now was truncated,
                // or reused: its content is new.)
                if found.contains(&key)
                    || copies.contains(&key)
                    || Some(key) == live
                    || self.is_tracked(key)
                    || generations.iter().any(|t| t.key == key)
                    || meta.modified.is_none_or(|m| m < since)
                {
                    continue;
                }
                if let Ok(mut t) = Tracked::open(&*fs, candidate, 0, self.framing, &self.label) {
                    t.path = path.clone();
                    generations.push(t);
                }
            }
            for (candidate, meta) in compressed_siblings(&*fs, &path) {
                if meta.modified.is_some_and(|m| m >= since) {
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
            // The file now at the path, unknown to the checkpoint (or
            // truncated since), is a new generation too: read from its
            // start, after these.
            if live.is_some() && live_known.is_none() {
                self.from_start.insert(path.clone());
            }
            let last = self.chain(&mut generations, None);
            if let Some(id) = last {
                self.newest_at.insert(path.clone(), id);
            }
        }
    }

    /// A file resumed at an offset inside a line: the line's start went
    /// out before, alone (a partial line a previous run ended at SIGTERM,
    /// or bytes before `--read-from end`). Its continuation — this file's
    /// next line, or, when it has no more bytes, the first line of the
    /// generation after it — is marked a cut, so digits at that seam fail
    /// closed in this run too.
    pub(super) fn mark_resumed_mid_line(&mut self, t: &mut Tracked) {
        let Some(before) = t.read_pos.checked_sub(1) else {
            return;
        };
        let mut last = [0u8; 1];
        if !matches!(t.file.read_at(&mut last, before), Ok(1)) || last[0] == b'\n' {
            return;
        }
        t.feed.mark_head_cut();
        if t.file.meta().is_ok_and(|m| m.len <= t.read_pos) {
            self.cut_ids.insert(t.id);
        }
    }

    /// Where to start a newly found file.
    pub(super) fn start_offset(
        &self,
        key: FileKey,
        file_len: u64,
        at_startup: bool,
        path: &Path,
    ) -> u64 {
        if let Some((fingerprint, offset)) = self.closed.get(&key) {
            let same = match (fingerprint, self.fs.open(path)) {
                (Some(f), Ok(file)) => f.matches(&*file),
                (None, _) => true,
                _ => false,
            };
            if same && *offset <= file_len {
                return *offset;
            }
        }
        if let Some(store) = &self.checkpoints {
            if let (Ok(store), Ok(file)) = (store.lock(), self.fs.open(path)) {
                if let Some(offset) = store.resume_offset(key, &*file, file_len) {
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
}

/// The followed path (one `pattern` matches) that `recorded` was at: itself,
/// or, for a rotated name (`app.log.1`, `0.log.20261125-101010`), the path
/// it was rotated away from.
fn followed_path_of(recorded: &Path, pattern: &glob::Pattern) -> Option<PathBuf> {
    if pattern.matches_path(recorded) {
        return Some(recorded.to_path_buf());
    }
    let name = recorded.file_name()?.to_str()?;
    let dir = recorded.parent()?;
    name.char_indices()
        .filter(|&(i, c)| i > 0 && matches!(c, '.' | '-' | '_'))
        .map(|(i, _)| dir.join(&name[..i]))
        .find(|p| {
            pattern.matches_path(p)
                && is_rotated_name(&p.file_name().unwrap_or_default().to_string_lossy(), name)
        })
}
