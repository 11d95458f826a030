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

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{FileSource, RENAME_CHECK_INTERVAL};
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
}

impl Watcher {
    /// The polling fallback (file systems without inotify events).
    pub(super) fn run(&self) {
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
    pub(super) fn on_event(&self, dir: &Path) {
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
    /// watches their directories for events.
    pub(super) fn publish_paths(&mut self) {
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
}
