//! The generation chain: rename-and-create rotation at each followed path.
//!
//! Job: notice that a followed path names another file, keep the old one
//! (read to its end, kept open for late writes), adopt the generations the
//! watcher held open meanwhile and the siblings written since (created and
//! rotated away between two looks), and chain them so they are read one
//! after another in the order they were written (`waits_for`).
//!
//! Guarantees: a generation is never read before the one before it is at
//! its end; a file is tracked once (by device and inode); compressed
//! siblings are never opened (`is_rotated_name`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::copytruncate::recover_truncated;
use super::fs::{Fs, FsFile, Meta};
use super::tracked::Tracked;
use super::{FileSource, Scope};
use crate::checkpoint::{Fingerprint, FINGERPRINT_BYTES};
use crate::source::ChunkSender;

impl FileSource {
    /// Notices files renamed away (rename-and-create rotation) at each
    /// followed path: the old file is kept for reading to its end, the
    /// generations the watcher held open are adopted in order, and the file
    /// now at the path is read after them.
    ///
    /// A file truncated before it was renamed (copytruncate, then a
    /// rename) is recovered from its copy first — read to its end or not,
    /// resumed from a checkpoint and not read since included — so the copy
    /// of what was read is known and not read again. False when the
    /// receiver is gone.
    pub(super) fn check_renamed(&mut self, tx: &ChunkSender, scope: &Scope) -> bool {
        for idx in 0..self.followed.len() {
            if !scope.covers(&self.followed[idx].0) {
                continue;
            }
            let (path, current) = self.followed[idx].clone();
            let now = self.fs.metadata(&path).ok().map(|m| m.key);
            if now == current {
                continue;
            }
            // The newest file known at this path, even when the path was
            // empty at the last look (between a rename and a create).
            let mut previous = self.newest_at.get(&path).copied();
            let mut generations = Vec::new();
            if let Some(old) = current {
                // (At its end or not: of a file not read since it was
                // resumed, or stopped mid-read, what was not read is in the
                // copy, read from where reading stopped; what was read is
                // not read again.)
                if let Some(t) = self.tracked.iter_mut().find(|t| t.key == old && !t.rotated) {
                    if t.truncated(false) {
                        match recover_truncated(&*self.fs, t, tx) {
                            None => return false,
                            Some(copy) => t.recovered_from = Some(copy),
                        }
                        self.note_copies();
                    }
                }
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
                // Not read at all yet: the generations found may be older
                // than its content (copies of what it held before a
                // truncation), so it takes its place among them by time.
                let unread = self.tracked.iter().position(|t| t.key == old && t.unread());
                if let (Some(i), false) = (unread, generations.is_empty()) {
                    let mut t = self.tracked.remove(i);
                    previous = t.waits_for;
                    // A partial line it carries continues in the first of
                    // them when that one is older.
                    let modified = |t: &Tracked| t.file.meta().ok().and_then(|m| m.modified);
                    generations.sort_by_key(|g| (modified(g), g.key.ino));
                    if let Some(first) = generations.first_mut() {
                        if modified(first) <= modified(&t) {
                            FileSource::route_carry(&mut t, first);
                        }
                    }
                    generations.push(t);
                }
            }
            for (key, file, opened_at) in self.watcher.take(&path) {
                if !self.is_tracked(key) && !generations.iter().any(|t| t.key == key) {
                    let mut t = Tracked::adopt(&path, Box::new(file), self.framing, &self.label);
                    t.opened_at = opened_at;
                    generations.push(t);
                }
            }
            // The file at the path now (looked at again: the writer may have
            // rotated meanwhile) is the newest; all are read in the order
            // they were written, after the old one.
            let now = self.fs.metadata(&path).ok().map(|m| m.key);
            if let Some(key) = now {
                if !self.is_tracked(key) && !generations.iter().any(|t| t.key == key) {
                    match Tracked::open(&*self.fs, &path, 0, self.framing, &self.label) {
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
        true
    }

    /// Opens siblings of `path` (`path.1`, `path-2026…`, `path.<time>`) that
    /// were written after `since` and are not known: generations created
    /// and rotated away between two checks. Compressed files are skipped.
    pub(super) fn missed_generations(
        &mut self,
        path: &Path,
        since: SystemTime,
        except_copy_of: Option<&dyn FsFile>,
    ) -> Vec<Tracked> {
        let mut found: Vec<(SystemTime, PathBuf)> = Vec::new();
        for (candidate, meta) in rotated_siblings(&*self.fs, path) {
            let key = meta.key;
            if !meta.is_file || self.is_tracked(key) || self.is_closed(key, &candidate) {
                continue;
            }
            // A copy of the current content, or one still being written
            // (its first bytes are the current content's).
            if except_copy_of.is_some_and(|live| {
                self.fs
                    .open(&candidate)
                    .is_ok_and(|c| copy_of(&*c, live, meta.len))
            }) {
                continue;
            }
            match meta.modified {
                Some(m) if m >= since => found.push((m, candidate)),
                _ => {}
            }
        }
        found.sort();
        found
            .into_iter()
            .filter_map(|(_, candidate)| {
                Tracked::open(&*self.fs, &candidate, 0, self.framing, &self.label).ok()
            })
            .collect()
    }

    /// Tracks rotated generations to be read one after another, in the
    /// order they were last written, after the file numbered `previous`;
    /// returns the last one's number.
    pub(super) fn chain(
        &mut self,
        generations: &mut Vec<Tracked>,
        mut previous: Option<u64>,
    ) -> Option<u64> {
        // File times are coarse (a clock tick): equal times are ordered by
        // inode number, which file systems hand out increasingly.
        generations.sort_by_key(|t| (t.file.meta().ok().and_then(|m| m.modified), t.key.ino));
        for mut t in generations.drain(..) {
            t.rotated = true;
            t.waits_for = previous;
            // (Unread: its first line may continue the previous one.)
            t.carry_checked = false;
            previous = Some(t.id);
            self.tracked.push(t);
        }
        previous
    }
}

/// Rotated, uncompressed generations beside `path` (`path.1`,
/// `path-<time>`, …): regular files, with their metadata.
pub(super) fn rotated_siblings(fs: &dyn Fs, path: &Path) -> Vec<(PathBuf, Meta)> {
    siblings(fs, path, is_rotated_name)
}

/// Compressed rotated generations beside `path` (`path.1.gz`, …).
pub(super) fn compressed_siblings(fs: &dyn Fs, path: &Path) -> Vec<(PathBuf, Meta)> {
    siblings(fs, path, |base, name| {
        let Some(rest) = name.strip_prefix(base) else {
            return false;
        };
        let compressed = [".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4"]
            .iter()
            .any(|ext| rest.ends_with(ext));
        compressed && (rest.starts_with('.') || rest.starts_with('-') || rest.starts_with('_'))
    })
}

/// Regular files beside `path` whose names `wanted(base, name)` accepts.
fn siblings(fs: &dyn Fs, path: &Path, wanted: impl Fn(&str, &str) -> bool) -> Vec<(PathBuf, Meta)> {
    let (Some(dir), Some(base)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let base = base.to_string_lossy();
    let listed = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs.read_dir(listed) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let name = entry.file_name()?.to_string_lossy().into_owned();
            if !wanted(&base, &name) {
                return None;
            }
            let candidate = dir.join(&name);
            let meta = fs.metadata(&candidate).ok()?;
            meta.is_file.then_some((candidate, meta))
        })
        .collect()
}

/// Whether `name` looks like a rotated, uncompressed generation of `base`.
pub(super) fn is_rotated_name(base: &str, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(base) else {
        return false;
    };
    let compressed = [".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".tmp"]
        .iter()
        .any(|ext| rest.ends_with(ext));
    !compressed && (rest.starts_with('.') || rest.starts_with('-') || rest.starts_with('_'))
}

/// Whether `copy` (`len` bytes long) starts with the same bytes as `live`:
/// a copy of its current content, or one still being written. A copy
/// longer than `live`'s content is of earlier content.
pub(super) fn copy_of(copy: &dyn FsFile, live: &dyn FsFile, len: u64) -> bool {
    let n = len.min(FINGERPRINT_BYTES as u64) as u32;
    n > 0
        && matches!(
            (Fingerprint::read(copy, n), Fingerprint::read(live, n)),
            (Ok(Some(a)), Ok(Some(b))) if a == b
        )
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
