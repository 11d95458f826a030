//! The watcher: new generations are held open as soon as they appear, and
//! file system events wake the reader.
//!
//! Job: inotify (through `notify`) reports the followed directories'
//! events; a file appearing at a followed path is opened at once (so a
//! generation created and rotated away before the reader looks again is
//! still readable), and the paths that changed are handed to the reader
//! ([`Wakeup`]), which looks only at those. Without inotify a thread polls
//! the followed paths every few milliseconds instead.
//!
//! Guarantees: every file that appears at a followed path while the
//! source runs is opened (inotify, or the polling fallback); the reader
//! sleeps while nothing changes, with a periodic sweep as a safety net.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use super::{FileSource, POLL_IDLE, RENAME_CHECK_INTERVAL};
use crate::checkpoint::FileKey;

/// The directory whose events tell about `path` (its real location, for a
/// symbolic link such as `/var/log/containers/*.log`).
pub(super) fn watched_dir(path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    real.parent().map(Path::to_path_buf)
}

/// Stops the watcher thread when the source ends.
pub(super) struct StopOnDrop(pub(super) Arc<Watcher>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.done.store(true, Ordering::SeqCst);
    }
}

/// The watcher thread's state. Reading can be slow (backpressure), and a
/// fast writer can create a generation and rotate it away — the kubelet
/// then compresses and deletes it — before the reader looks again. So a
/// separate thread checks the followed paths every few milliseconds and
/// opens each new file that appears there; an open handle keeps a file's
/// bytes readable even after it is deleted.
#[derive(Default)]
pub(super) struct Watcher {
    /// Followed paths and the file the reader last saw there.
    pub(super) paths: Mutex<Vec<(PathBuf, Option<FileKey>)>>,
    /// Files opened at a path, in the order they appeared.
    pub(super) opened: Mutex<Vec<(PathBuf, FileKey, File, SystemTime)>>,
    /// Set when the source stops.
    pub(super) done: AtomicBool,
    /// Poll the followed paths (inotify is unavailable for some of them).
    pub(super) poll: AtomicBool,
    /// The directory whose events tell about each followed path.
    pub(super) dirs: Mutex<HashMap<PathBuf, PathBuf>>,
}

impl Watcher {
    /// The polling fallback (file systems without inotify events): every
    /// few milliseconds while `poll` is set; idle otherwise.
    pub(super) fn run(&self) {
        while !self.done.load(Ordering::SeqCst) {
            if !self.poll.load(Ordering::SeqCst) {
                std::thread::sleep(POLL_IDLE);
                continue;
            }
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

    /// A file appeared in `dir`: checks the followed paths there.
    pub(super) fn on_event(&self, dir: &Path) {
        let paths = match self.paths.lock() {
            Ok(p) => p.clone(),
            Err(_) => return,
        };
        let dirs = match self.dirs.lock() {
            Ok(d) => d.clone(),
            Err(_) => return,
        };
        for (path, key) in paths {
            let in_dir = match dirs.get(&path) {
                Some(d) => d == dir,
                None => watched_dir(&path).as_deref() == Some(dir),
            };
            if in_dir {
                self.check(&path, key);
            }
        }
    }

    /// Opens the file at `path` if it is not the one the reader has there
    /// (`known`) and was not opened yet.
    pub(super) fn check(&self, path: &Path, known: Option<FileKey>) {
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
    pub(super) fn take(&self, path: &Path) -> Vec<(FileKey, File, SystemTime)> {
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

impl FileSource {
    /// Tells the watcher which file each followed path holds now, and
    /// watches the directories of paths not seen before for events. A
    /// directory that cannot be watched is polled instead.
    pub(super) fn publish_paths(&mut self) {
        if let Ok(mut paths) = self.watcher.paths.lock() {
            paths.clone_from(&self.followed);
        }
        let mut new_dirs = Vec::new();
        for (path, _) in &self.followed {
            if self.published.contains(path) {
                continue;
            }
            // (A path that does not exist yet is looked at again.)
            let real = std::fs::canonicalize(path).ok();
            if let Some(dir) = watched_dir(path) {
                new_dirs.push((path.clone(), dir));
            }
            if let Some(real) = real {
                self.published.insert(path.clone());
                self.real_paths.insert(real, path.clone());
            }
        }
        for (path, dir) in new_dirs {
            if let Ok(mut dirs) = self.watcher.dirs.lock() {
                dirs.insert(path, dir.clone());
            }
            if !self.watch_dir(dir) {
                self.polling = true;
                self.watcher.poll.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Watches `dir` for events (once); false when it cannot be watched.
    pub(super) fn watch_dir(&mut self, dir: PathBuf) -> bool {
        if self.watched_dirs.contains(&dir) {
            return true;
        }
        let watched = self.events.as_mut().is_some_and(|events| {
            use notify::Watcher as _;
            events
                .watch(&dir, notify::RecursiveMode::NonRecursive)
                .is_ok()
        });
        if watched {
            self.watched_dirs.insert(dir);
        }
        watched
    }

    /// The followed path an event about `path` (a real path) tells about:
    /// the file at a followed path, or one of its rotated generations
    /// (`app.log.1` for `app.log`).
    pub(super) fn followed_for(&self, path: &Path) -> Option<PathBuf> {
        if let Some(p) = self.real_paths.get(path) {
            return Some(p.clone());
        }
        let name = path.file_name()?.to_str()?;
        let dir = path.parent()?;
        name.char_indices()
            .filter(|&(i, c)| i > 0 && matches!(c, '.' | '-' | '_'))
            .find_map(|(i, _)| self.real_paths.get(&dir.join(&name[..i])).cloned())
    }
}

/// What file system events told since the reader last looked.
#[derive(Default)]
pub(super) struct Changes {
    /// Paths events named (real paths).
    pub(super) paths: HashSet<PathBuf>,
    /// A file appeared or was renamed: new files may match the pattern.
    pub(super) appeared: bool,
    /// Events were lost (queue overflow, an error): look at everything.
    pub(super) overflow: bool,
}

/// Wakes the reader when file system events come, and hands it what they
/// named.
#[derive(Default)]
pub(super) struct Wakeup {
    changes: Mutex<Changes>,
    cond: Condvar,
}

/// Beyond this many paths pending, the reader looks at everything.
const MAX_PENDING_PATHS: usize = 100_000;

impl Wakeup {
    /// Records an event from `notify`.
    pub(super) fn note(&self, event: &notify::Result<notify::Event>) {
        use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
        let Ok(mut changes) = self.changes.lock() else {
            return;
        };
        match event {
            Err(_) => changes.overflow = true,
            Ok(e) if e.need_rescan() => changes.overflow = true,
            Ok(e) => {
                match e.kind {
                    // The reader's own opens and reads, and metadata.
                    EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
                    EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => return,
                    EventKind::Create(_)
                    | EventKind::Modify(ModifyKind::Name(_))
                    | EventKind::Any
                    | EventKind::Other => changes.appeared = true,
                    _ => {}
                }
                if changes.paths.len() + e.paths.len() > MAX_PENDING_PATHS {
                    changes.overflow = true;
                    changes.paths.clear();
                } else {
                    changes.paths.extend(e.paths.iter().cloned());
                }
            }
        }
        self.cond.notify_one();
    }

    /// What changed since the last call; waits up to `timeout` for a
    /// change when there is none.
    pub(super) fn take(&self, timeout: Duration) -> Changes {
        let Ok(mut changes) = self.changes.lock() else {
            return Changes {
                overflow: true,
                ..Changes::default()
            };
        };
        let quiet = |c: &Changes| c.paths.is_empty() && !c.appeared && !c.overflow;
        if quiet(&changes) && !timeout.is_zero() {
            changes = match self.cond.wait_timeout_while(changes, timeout, |c| quiet(c)) {
                Ok((c, _)) => c,
                Err(_) => {
                    return Changes {
                        overflow: true,
                        ..Changes::default()
                    }
                }
            };
        }
        std::mem::take(&mut *changes)
    }
}
