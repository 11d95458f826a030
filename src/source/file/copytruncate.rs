//! copytruncate recovery: a followed file that shrinks, or whose first
//! bytes change, was copied and truncated.
//!
//! Job: find the copy by content (the fingerprint of what was read, never
//! by length), read from it what was written between the last read and
//! the copy, count what copytruncate itself lost where it can be seen,
//! and start the file over at offset 0 carrying its partial last line.
//! Copies of content read in part only (copied and truncated between two
//! looks) are read from where reading stopped, before the file's new
//! content; the carried partial line moves with them (`route_carry`).
//!
//! Guarantees: a line read from the file before the truncation is never
//! read again from the copy (recognised by content and read offset);
//! generations are read in order; where the continuation of a partial
//! line is uncertain the seam is marked for the scrub job (a join or a
//! cut, see [`crate::source::Chunk`]). It also closes rotated files that
//! are gone and read to their end, and bounds the rotated files kept open.

use std::path::Path;
use std::time::{Instant, SystemTime};

use super::super::ChunkSender;

use super::chain::{copy_of, rotated_siblings};
use super::fs::{Fs, FsFile};
use super::tracked::Tracked;
use super::{FileSource, Scope, MAX_ROTATED_OPEN, MIN_FINGERPRINT_BYTES};
use crate::checkpoint::{FileKey, Fingerprint, FINGERPRINT_BYTES};

impl FileSource {
    /// Looks for truncation of the files that are at their end, and closes
    /// rotated files that are gone.
    pub(super) fn check_files(&mut self, tx: &ChunkSender, scope: &Scope) -> bool {
        let quick = matches!(scope, Scope::All) && !self.polling;
        for t in self
            .tracked
            .iter_mut()
            .filter(|t| t.at_eof && !t.rotated && scope.covers(&t.path))
        {
            if t.truncated(quick) {
                match recover_truncated(&*self.fs, t, tx) {
                    None => return false,
                    Some(copy) => t.recovered_from = Some(copy),
                }
            }
        }
        self.note_copies();
        self.reconcile_copies(scope);
        // Rotated files that are deleted and read to the end are done.
        let mut i = 0;
        while i < self.tracked.len() {
            let t = &self.tracked[i];
            // (A partial last line first waits for its continuation.)
            let gone = t.rotated
                && t.at_eof
                && scope.covers(&t.path)
                && !t.feed.ends_mid_line()
                && t.file.meta().is_ok_and(|m| m.nlink == 0);
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

    /// Copies that truncated files were recovered from are known files
    /// (never read again); generations copied after them are read.
    pub(super) fn note_copies(&mut self) {
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
                let live = t.file.try_clone().ok();
                // Copies of content it held before its current content were
                // made before the truncation that started it, so no later
                // than its last change (a later file is a renamed
                // generation after it, `check_renamed`'s business).
                let until = t.file.meta().ok().and_then(|m| m.modified);
                copies.push((t.path.clone(), copy, since, live, until));
            }
        }
        for (path, copy, since, live, until) in copies {
            if let Some((key, fingerprint, len, _)) = copy {
                self.closed.insert(key, (Some(fingerprint), len));
            }
            let mut missed = self.missed_generations(&path, since, live.as_deref());
            missed.retain(|t| {
                let modified = t.file.meta().ok().and_then(|m| m.modified);
                until.is_none() || modified <= until
            });
            for t in &mut missed {
                t.copy = true;
            }
            missed.sort_by_key(|t| (t.file.meta().ok().and_then(|m| m.modified), t.key.ino));
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
                    // Its first line may continue the last copy's.
                    t.carry_checked = false;
                }
            }
        }
    }

    /// copytruncate leaves copies beside a file. A copy that appeared since
    /// the file was opened and holds content not read in full (the file was
    /// copied and truncated between two reads) is read from where reading
    /// of that content stopped, before the file's current content. A copy of
    /// the current content is left alone: its truncation recovers from it.
    pub(super) fn reconcile_copies(&mut self, scope: &Scope) {
        // On a sweep, only files copytruncate was seen at (listing the
        // siblings of every idle file would cost in proportion to the
        // files, not to the changes).
        let named = matches!(scope, Scope::Changed(_)) || self.polling;
        let lives: Vec<usize> = (0..self.tracked.len())
            .filter(|&i| {
                let t = &self.tracked[i];
                !t.rotated && scope.covers(&t.path) && (named || t.last_copy.is_some())
            })
            .collect();
        for i in lives {
            let path = self.tracked[i].path.clone();
            let since = self.tracked[i].opened_at;
            // What the file holds now (read or not yet): a copy of it is
            // not read, the file itself is.
            let current = self.tracked[i].fingerprint.or_else(|| {
                let t = &self.tracked[i];
                let len = t.file.meta().map_or(0, |m| m.len);
                Fingerprint::read(&*t.file, len.min(FINGERPRINT_BYTES as u64) as u32)
                    .ok()
                    .flatten()
                    .filter(|f| f.len > 0)
            });
            // After a rename the path holds a newer file: renamed
            // generations are `check_renamed`'s business.
            if !self
                .fs
                .metadata(&path)
                .is_ok_and(|m| m.key == self.tracked[i].key)
            {
                continue;
            }
            let mut found = Vec::new();
            for (candidate, meta) in rotated_siblings(&*self.fs, &path) {
                let key = meta.key;
                let recent = meta.modified.is_some_and(|m| m >= since);
                let held = self
                    .watcher
                    .opened
                    .lock()
                    .is_ok_and(|o| o.iter().any(|(_, k, _, _)| *k == key));
                if !meta.is_file
                    || !recent
                    || held
                    || self.is_tracked(key)
                    || self.is_closed(key, &candidate)
                {
                    continue;
                }
                // Too short to tell apart: looked at again later.
                if meta.len < MIN_FINGERPRINT_BYTES as u64 {
                    continue;
                }
                let Ok(file) = self.fs.open(&candidate) else {
                    continue;
                };
                let file = &*file;
                // A copy of the current content (or one still being written:
                // its bytes are the current content's first ones) is left to
                // the truncation, which recovers from it.
                let same = current.is_some_and(|f| f.len > 0 && f.matches(file))
                    || copy_of(file, &*self.tracked[i].file, meta.len);
                if same {
                    continue;
                }
                let read = self.tracked[i]
                    .history
                    .iter()
                    .rev()
                    .find(|(f, _)| {
                        (f.len as usize >= MIN_FINGERPRINT_BYTES || u64::from(f.len) == meta.len)
                            && f.matches(file)
                    })
                    .map(|(_, read)| *read);
                if let Some(read) = read.filter(|&r| r >= meta.len) {
                    // Read in full already, from the file itself.
                    self.closed.insert(key, (None, read));
                    continue;
                }
                let read = read.unwrap_or(0);
                if let Ok(t) = Tracked::open(&*self.fs, &candidate, read, self.framing, &self.label)
                {
                    found.push(t);
                }
            }
            if found.is_empty() {
                continue;
            }
            for t in &mut found {
                t.copy = true;
            }
            found.sort_by_key(|t| (t.file.meta().ok().and_then(|m| m.modified), t.key.ino));
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
                live.carry_checked = false;
            }
        }
    }
}

/// The copy a truncated file was recovered from.
pub(super) type CopyInfo = (FileKey, Fingerprint, u64, SystemTime);

/// A file was truncated (copytruncate): reads what was written since the
/// last read from the copy, ends the partial line, and starts over at 0.
/// `None` when the receiver is gone; else the copy used, if one was found.
pub(super) fn recover_truncated(
    fs: &dyn Fs,
    t: &mut Tracked,
    tx: &ChunkSender,
) -> Option<Option<CopyInfo>> {
    let mut used = None;
    if let Some((copy, modified)) = find_copy(fs, &t.path, t.fingerprint, t.read_pos, t.last_copy) {
        loop {
            match copy.read_at(t.feed.framer().spare(), t.read_pos) {
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
        if let (Ok(meta), Some(fingerprint)) = (copy.meta(), t.fingerprint) {
            used = Some((meta.key, fingerprint, meta.len, modified));
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
    // block lands at the start of the truncated file. Once it is handed
    // out, the content before is read past it (recorded under that
    // content's fingerprint: the next run finds it in the copy).
    if t.feed.ends_mid_line() {
        let own = t.feed.pending() - t.feed.carried_pending().min(t.feed.pending());
        if own > 0 {
            if let Some(mut ack) = t.ack(false) {
                ack.offset += own as u64;
                t.carried_acks.push(ack);
            }
        }
    } else {
        t.carried_acks.clear();
        t.carried_from.clear();
    }
    t.feed.restart_carrying(0);
    t.last_data = Instant::now();
    t.read_pos = 0;
    t.fingerprint = None;
    t.head.clear();
    t.at_eof = false;
    Some(used)
}

/// The copy copytruncate made of `path`: a sibling starting with the same
/// bytes, at least `len` long, the first one modified at or after `after`
/// (the previous copy).
pub(super) fn find_copy(
    fs: &dyn Fs,
    path: &Path,
    fingerprint: Option<Fingerprint>,
    len: u64,
    after: Option<SystemTime>,
) -> Option<(Box<dyn FsFile>, SystemTime)> {
    let fingerprint = fingerprint?;
    let real = fs.canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    // (Earlier than the previous copy, shorter than what was read, when.)
    type Rank = (bool, bool, SystemTime);
    let mut best: Option<(Rank, Box<dyn FsFile>)> = None;
    for (candidate, _) in rotated_siblings(fs, &real) {
        let Ok(file) = fs.open(&candidate) else {
            continue;
        };
        let Ok(meta) = file.meta() else { continue };
        // The copy is recognised by its content, not by its length: when
        // the writer appended between the copy and the truncation and those
        // bytes were read from the file itself, the copy is shorter than
        // what was read (and holds nothing new).
        if !fingerprint.matches(&*file) {
            continue;
        }
        // Copies are made one after another: the copy of this content is
        // the first one made after the previous copy (a short fingerprint
        // can match later copies too). Copies from before `after` only
        // when there is no other; a copy shorter than what was read only
        // when no copy holds all of it.
        let modified = meta.modified.unwrap_or(SystemTime::UNIX_EPOCH);
        let rank = (
            after.is_some_and(|a| modified < a),
            meta.len < len,
            modified,
        );
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((rank, file));
        }
    }
    best.map(|((_, _, m), f)| (f, m))
}
