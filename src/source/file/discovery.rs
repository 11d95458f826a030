//! Discovery: files matching the pattern that are not open yet.
//!
//! Job: expand the glob, apply the selection (`--exclude`,
//! `--ignore-older`), pick the start offset (a file closed before, a
//! checkpoint, or the end for `--start-at-end`) and track each new file,
//! after the rotated predecessor at its path if one is still unread.
//!
//! Guarantees: a file (by device and inode) is tracked once; an open
//! failure is reported once per path and retried while following.

use std::collections::HashSet;
use std::io::{self};
use std::path::{Path, PathBuf};

use super::tracked::Tracked;
use super::FileSource;

impl FileSource {
    /// Opens files matching the pattern that are not open yet; returns
    /// how many paths matched.
    pub(super) fn discover(&mut self, at_startup: bool) -> usize {
        let paths: Vec<PathBuf> = self.fs.glob(&self.options.pattern);
        let matched = paths.len();
        let followed: HashSet<PathBuf> = self.followed.iter().map(|(p, _)| p.clone()).collect();
        for path in paths {
            if followed.contains(&path) {
                continue;
            }
            let meta = match self.fs.metadata(&path) {
                Ok(m) if m.is_file => m,
                Ok(_) => continue,
                Err(e) => {
                    self.report_open_failure(&path, &e);
                    continue;
                }
            };
            if !self
                .options
                .selection
                .accepts(&path, meta.modified, super::wall_clock())
            {
                continue;
            }
            let key = meta.key;
            if self.is_tracked(key) {
                continue;
            }
            let offset = self.start_offset(key, meta.len, at_startup, &path);
            match Tracked::open(&*self.fs, &path, offset, self.framing, &self.label) {
                Ok(mut t) => {
                    self.reported.remove(&path);
                    self.mark_resumed_mid_line(&mut t);
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

    pub(super) fn report_open_failure(&mut self, path: &Path, e: &io::Error) {
        if self.reported.insert(path.to_path_buf()) {
            crate::telemetry::count_error("receiving", "open_failed");
            crate::diag::emit(
                "error",
                &format!("opening {}: {e} (retried while following)", path.display()),
            );
        }
    }
}
