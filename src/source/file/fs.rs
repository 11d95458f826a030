//! The file system the file source runs on: the few operations rotation
//! handling needs, behind a trait, so the same logic runs on the real file
//! system and, in the model tests, on an in-memory one.
//!
//! Job: [`Fs`] lists, stats, opens and globs paths; an open [`FsFile`]
//! reports its metadata (device and inode, length, modification time, link
//! count) and reads at an offset. [`RealFs`] is `std::fs`; `MemFs` (tests
//! only) keeps files in memory, where renames, truncations, deletions and
//! inode reuse are exact and instant.
//!
//! Guarantees: the real implementation is a thin layer over `std::fs` —
//! one virtual call per operation, none per byte (a read moves up to
//! 256 KiB); standard input and sockets never go through it. The watcher
//! (inotify) stays on the real file system.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::checkpoint::{FileKey, ReadAt};

/// What the file source needs to know of a file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    /// Device and inode.
    pub(crate) key: FileKey,
    /// Length in bytes.
    pub(crate) len: u64,
    /// Last modification.
    pub(crate) modified: Option<SystemTime>,
    /// A regular file (not a directory).
    pub(crate) is_file: bool,
    /// Names it has (0: deleted, still open).
    pub(crate) nlink: u64,
}

impl Meta {
    fn of(meta: &std::fs::Metadata) -> Meta {
        use std::os::unix::fs::MetadataExt;
        Meta {
            key: FileKey::of(meta),
            len: meta.len(),
            modified: meta.modified().ok(),
            is_file: meta.is_file(),
            nlink: meta.nlink(),
        }
    }
}

/// An open file.
pub(crate) trait FsFile: ReadAt + Send + Sync {
    /// Its metadata now.
    fn meta(&self) -> io::Result<Meta>;
    /// Another handle on the same file.
    fn try_clone(&self) -> io::Result<Box<dyn FsFile>>;
}

/// A file system.
pub(crate) trait Fs: Send + Sync {
    /// The metadata of the file at `path` (following links).
    fn metadata(&self, path: &Path) -> io::Result<Meta>;
    /// Opens the file at `path` for reading.
    fn open(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// The paths of the entries of directory `dir`.
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// The real path of `path` (links resolved).
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// The paths matching glob `pattern`, sorted.
    fn glob(&self, pattern: &str) -> Vec<PathBuf>;
}

/// `std::fs`.
pub(crate) struct RealFs;

impl FsFile for std::fs::File {
    fn meta(&self) -> io::Result<Meta> {
        self.metadata().map(|m| Meta::of(&m))
    }

    fn try_clone(&self) -> io::Result<Box<dyn FsFile>> {
        std::fs::File::try_clone(self).map(|f| Box::new(f) as Box<dyn FsFile>)
    }
}

impl Fs for RealFs {
    fn metadata(&self, path: &Path) -> io::Result<Meta> {
        std::fs::metadata(path).map(|m| Meta::of(&m))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let file = std::fs::File::open(path)?;
        Ok(Box::new(file))
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        Ok(std::fs::read_dir(dir)?
            .flatten()
            .map(|entry| dir.join(entry.file_name()))
            .collect())
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn glob(&self, pattern: &str) -> Vec<PathBuf> {
        match glob::glob(pattern) {
            Ok(paths) => paths.filter_map(Result::ok).collect(),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
pub(crate) use mem::{MemFile, MemFs};

#[cfg(test)]
mod mem {
    //! An in-memory file system for the model tests: one directory tree of
    //! regular files, inode numbers handed out lowest free first (reused
    //! once a file is deleted and closed, as ext4 and tmpfs do), file times
    //! set by the test.

    use std::collections::BTreeMap;
    use std::io;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex, Weak};
    use std::time::SystemTime;

    use super::{Fs, FsFile, Meta};
    use crate::checkpoint::{FileKey, ReadAt};

    /// The device number of every file.
    const DEV: u64 = 0x6d65;

    struct Node {
        ino: u64,
        data: Vec<u8>,
        modified: SystemTime,
        nlink: u64,
    }

    #[derive(Default)]
    struct Tree {
        paths: BTreeMap<PathBuf, Arc<Mutex<Node>>>,
        /// Every inode made, while a name or a handle keeps it.
        inodes: Vec<Weak<Mutex<Node>>>,
    }

    /// The file system.
    #[derive(Default)]
    pub(crate) struct MemFs {
        tree: Mutex<Tree>,
    }

    /// An open file (keeps its inode alive, as a descriptor does).
    pub(crate) struct MemFile(Arc<Mutex<Node>>);

    fn not_found(path: &Path) -> io::Error {
        io::Error::new(io::ErrorKind::NotFound, path.display().to_string())
    }

    fn meta_of(node: &Node) -> Meta {
        Meta {
            key: FileKey {
                dev: DEV,
                ino: node.ino,
            },
            len: node.data.len() as u64,
            modified: Some(node.modified),
            is_file: true,
            nlink: node.nlink,
        }
    }

    impl MemFs {
        fn node(&self, path: &Path) -> io::Result<Arc<Mutex<Node>>> {
            let tree = self.tree.lock().unwrap();
            tree.paths.get(path).cloned().ok_or_else(|| not_found(path))
        }

        /// Creates an empty file at `path` (replacing a name there), with
        /// the lowest inode number no file holds.
        pub(crate) fn create(&self, path: &Path, now: SystemTime) -> MemFile {
            let mut tree = self.tree.lock().unwrap();
            tree.inodes.retain(|w| w.strong_count() > 0);
            let mut used: Vec<u64> = tree
                .inodes
                .iter()
                .filter_map(Weak::upgrade)
                .map(|n| n.lock().unwrap().ino)
                .collect();
            used.sort_unstable();
            let ino = (2..).find(|i| used.binary_search(i).is_err()).unwrap();
            let node = Arc::new(Mutex::new(Node {
                ino,
                data: Vec::new(),
                modified: now,
                nlink: 1,
            }));
            tree.inodes.push(Arc::downgrade(&node));
            if let Some(old) = tree.paths.insert(path.to_path_buf(), Arc::clone(&node)) {
                old.lock().unwrap().nlink -= 1;
            }
            MemFile(node)
        }

        /// Opens `path` for writing (appending).
        pub(crate) fn open_write(&self, path: &Path) -> io::Result<MemFile> {
            self.node(path).map(MemFile)
        }

        /// `rename(2)`.
        pub(crate) fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            let mut tree = self.tree.lock().unwrap();
            let node = tree.paths.remove(from).ok_or_else(|| not_found(from))?;
            if let Some(old) = tree.paths.insert(to.to_path_buf(), node) {
                old.lock().unwrap().nlink -= 1;
            }
            Ok(())
        }

        /// Copies `from` to a new file `to` (its time: `now`).
        pub(crate) fn copy(&self, from: &Path, to: &Path, now: SystemTime) -> io::Result<()> {
            let data = self.node(from)?.lock().unwrap().data.clone();
            let copy = self.create(to, now);
            copy.0.lock().unwrap().data = data;
            Ok(())
        }

        /// `unlink(2)`.
        pub(crate) fn remove(&self, path: &Path) -> io::Result<()> {
            let mut tree = self.tree.lock().unwrap();
            let node = tree.paths.remove(path).ok_or_else(|| not_found(path))?;
            node.lock().unwrap().nlink -= 1;
            Ok(())
        }

        /// Sets the modification time of `path`.
        pub(crate) fn set_modified(&self, path: &Path, time: SystemTime) -> io::Result<()> {
            self.node(path)?.lock().unwrap().modified = time;
            Ok(())
        }
    }

    impl MemFile {
        /// Appends `bytes` (`O_APPEND`).
        pub(crate) fn append(&self, bytes: &[u8]) {
            self.0.lock().unwrap().data.extend_from_slice(bytes);
        }

        /// Truncates to `len` bytes.
        pub(crate) fn set_len(&self, len: u64) {
            self.0.lock().unwrap().data.truncate(len as usize);
        }
    }

    impl ReadAt for MemFile {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            let node = self.0.lock().unwrap();
            let start = (offset as usize).min(node.data.len());
            let n = buf.len().min(node.data.len() - start);
            buf[..n].copy_from_slice(&node.data[start..start + n]);
            Ok(n)
        }
    }

    impl FsFile for MemFile {
        fn meta(&self) -> io::Result<Meta> {
            Ok(meta_of(&self.0.lock().unwrap()))
        }

        fn try_clone(&self) -> io::Result<Box<dyn FsFile>> {
            Ok(Box::new(MemFile(Arc::clone(&self.0))))
        }
    }

    impl Fs for MemFs {
        fn metadata(&self, path: &Path) -> io::Result<Meta> {
            Ok(meta_of(&self.node(path)?.lock().unwrap()))
        }

        fn open(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
            Ok(Box::new(MemFile(self.node(path)?)))
        }

        fn read_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
            let tree = self.tree.lock().unwrap();
            Ok(tree
                .paths
                .keys()
                .filter(|p| p.parent() == Some(dir))
                .cloned()
                .collect())
        }

        fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
            self.node(path).map(|_| path.to_path_buf())
        }

        fn glob(&self, pattern: &str) -> Vec<PathBuf> {
            let Ok(pattern) = glob::Pattern::new(pattern) else {
                return Vec::new();
            };
            let tree = self.tree.lock().unwrap();
            tree.paths
                .keys()
                .filter(|p| pattern.matches_path(p))
                .cloned()
                .collect()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn renames_truncations_and_inode_reuse_are_exact() {
            let fs = MemFs::default();
            let now = SystemTime::UNIX_EPOCH;
            let a = Path::new("/d/a");
            let w = fs.create(a, now);
            w.append(b"hello\n");
            let reader = fs.open(a).unwrap();
            let ino = reader.meta().unwrap().key.ino;
            fs.rename(a, Path::new("/d/a.1")).unwrap();
            assert!(fs.metadata(a).is_err());
            assert_eq!(fs.metadata(Path::new("/d/a.1")).unwrap().key.ino, ino);
            // A new file gets another inode while the old one is held.
            let b = fs.create(a, now);
            assert_ne!(b.meta().unwrap().key.ino, ino);
            fs.remove(Path::new("/d/a.1")).unwrap();
            assert_eq!(reader.meta().unwrap().nlink, 0);
            let mut buf = [0u8; 16];
            assert_eq!(reader.read_at(&mut buf, 0).unwrap(), 6);
            // Deleted and closed: its number is free again.
            drop((reader, w));
            let c = fs.create(Path::new("/d/c"), now);
            assert_eq!(c.meta().unwrap().key.ino, ino);
            b.append(b"abc");
            b.set_len(1);
            assert_eq!(fs.metadata(a).unwrap().len, 1);
            assert_eq!(
                fs.glob("/d/*"),
                vec![PathBuf::from("/d/a"), PathBuf::from("/d/c")]
            );
            assert_eq!(fs.read_dir(Path::new("/d")).unwrap().len(), 2);
        }
    }
}
