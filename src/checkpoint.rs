//! Checkpoints: how far each input file has been read *and written*, so a
//! restart resumes exactly there.
//!
//! A file is identified by its device and inode plus a fingerprint (a hash)
//! of its first bytes — never by its name, which rotation changes, and not
//! by the inode alone, which the file system reuses. An offset is recorded
//! only after the lines before it were written to the output (and flushed),
//! so a restart loses nothing; lines written after the last save are read
//! again (at-least-once, bounded by the save interval).
//!
//! The file is JSON, written to a temporary file, synced, renamed over the
//! old one and the directory synced: a crash leaves the old or the new
//! checkpoint, never a torn one.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

/// How many leading bytes of a file its fingerprint covers (fewer while
/// the file is shorter).
pub const FINGERPRINT_BYTES: usize = 1024;

/// Why a checkpoint could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The checkpoint file could not be read or written.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The checkpoint file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The checkpoint file is not a valid checkpoint.
    #[error(
        "checkpoint {path}: not a valid checkpoint file ({detail}); move it away to start over"
    )]
    Invalid {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// Device and inode of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl FileKey {
    /// The key of an open file or of a file's metadata.
    pub fn of(meta: &std::fs::Metadata) -> FileKey {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Reading at an offset: an open file (of the real file system or of the
/// file source's in-memory one, in tests).
pub trait ReadAt {
    /// Reads into `buf` from `offset`; how many bytes were read (0: the
    /// end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

impl ReadAt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
}

/// A hash of a file's first `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// How many bytes it covers.
    pub len: u32,
    /// The first 16 bytes of their SHA-256.
    pub hash: [u8; 16],
}

impl Fingerprint {
    /// The fingerprint of `first` (at most [`FINGERPRINT_BYTES`] are used).
    pub fn of(first: &[u8]) -> Fingerprint {
        let first = &first[..first.len().min(FINGERPRINT_BYTES)];
        let digest = Sha256::digest(first);
        let mut hash = [0u8; 16];
        hash.copy_from_slice(&digest[..16]);
        Fingerprint {
            len: first.len() as u32,
            hash,
        }
    }

    /// Reads the first `len` bytes of `file` and fingerprints them; `None`
    /// when the file is shorter than that now.
    pub fn read<R: ReadAt + ?Sized>(file: &R, len: u32) -> io::Result<Option<Fingerprint>> {
        let mut buf = vec![0u8; len as usize];
        let mut got = 0;
        while got < buf.len() {
            match file.read_at(&mut buf[got..], got as u64) {
                Ok(0) => return Ok(None),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Some(Fingerprint::of(&buf)))
    }

    /// Whether `file` still starts with the bytes this fingerprint covers.
    pub fn matches<R: ReadAt + ?Sized>(&self, file: &R) -> bool {
        matches!(Fingerprint::read(file, self.len), Ok(Some(f)) if f == *self)
    }

    fn to_hex(self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn from_hex(len: u32, hex: &str) -> Option<Fingerprint> {
        if hex.len() != 32 || len as usize > FINGERPRINT_BYTES {
            return None;
        }
        let mut hash = [0u8; 16];
        for (i, byte) in hash.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Fingerprint { len, hash })
    }
}

/// A file position to record once a chunk is written.
#[derive(Clone, Debug)]
pub struct Ack {
    /// The file.
    pub key: FileKey,
    /// Where it was seen.
    pub path: Arc<PathBuf>,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// The offset after the chunk's last byte.
    pub offset: u64,
    /// The file is gone and fully read: drop its checkpoint entry.
    pub forget: bool,
    /// When this run opened the file.
    pub opened_at: SystemTime,
}

/// Where reading a file stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// Where the file was last seen (for people, and to look for it after
    /// a rotation; not used to identify it).
    pub path: PathBuf,
    /// Its fingerprint when the position was recorded.
    pub fingerprint: Fingerprint,
    /// Bytes read and written.
    pub offset: u64,
    /// When a run first opened the file (None in checkpoints written before
    /// this was kept). Any generation created after it was not yet known
    /// to this run, so a sibling the checkpoint does not know and that was
    /// written since may hold lines never committed (see
    /// `source::file::resume`).
    pub opened_at: Option<SystemTime>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct OnDisk {
    version: u32,
    files: Vec<OnDiskFile>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct OnDiskFile {
    dev: u64,
    ino: u64,
    fingerprint_len: u32,
    fingerprint: String,
    offset: u64,
    path: PathBuf,
    /// [`Position::opened_at`], in nanoseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    opened_at_ns: Option<u64>,
}

/// The checkpoint store: positions by file, saved to one file.
#[derive(Debug)]
pub struct Checkpoints {
    path: PathBuf,
    positions: HashMap<FileKey, Position>,
    dirty: bool,
    /// When the loaded checkpoint was saved (its file's modification time).
    saved_at: Option<std::time::SystemTime>,
}

impl Checkpoints {
    /// Loads `path`; a missing file is an empty checkpoint. The directory
    /// is created if needed and must be writable: a checkpoint that cannot
    /// be saved is an error at start-up, not a surprise at the first save.
    pub fn load(path: &Path) -> Result<Checkpoints, CheckpointError> {
        let io_error = |source: io::Error| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_error)?;
        }
        let mut store = Checkpoints {
            path: path.to_path_buf(),
            positions: HashMap::new(),
            dirty: false,
            saved_at: None,
        };
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                store.dirty = true;
                store.save()?;
                return Ok(store);
            }
            Err(source) => {
                return Err(CheckpointError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let invalid = |detail: String| CheckpointError::Invalid {
            path: path.to_path_buf(),
            detail,
        };
        store.saved_at = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let disk: OnDisk = serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
        if disk.version != 1 {
            return Err(invalid(format!("unknown version {}", disk.version)));
        }
        for f in disk.files {
            let fingerprint = Fingerprint::from_hex(f.fingerprint_len, &f.fingerprint)
                .ok_or_else(|| invalid(format!("bad fingerprint for {}", f.path.display())))?;
            store.positions.insert(
                FileKey {
                    dev: f.dev,
                    ino: f.ino,
                },
                Position {
                    path: f.path,
                    fingerprint,
                    offset: f.offset,
                    opened_at: f
                        .opened_at_ns
                        .map(|ns| SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)),
                },
            );
        }
        Ok(store)
    }

    /// Where to resume `file` (whose key is `key`, `len` bytes long): its
    /// recorded offset when the fingerprint still matches and the file is
    /// not shorter.
    pub fn resume_offset<R: ReadAt + ?Sized>(
        &self,
        key: FileKey,
        file: &R,
        len: u64,
    ) -> Option<u64> {
        let position = self.positions.get(&key)?;
        (position.offset <= len && position.fingerprint.matches(file)).then_some(position.offset)
    }

    /// When the checkpoint loaded at start-up was saved (none: there was
    /// no checkpoint file).
    pub fn saved_at(&self) -> Option<std::time::SystemTime> {
        self.saved_at
    }

    /// Every recorded position.
    pub fn positions(&self) -> impl Iterator<Item = (&FileKey, &Position)> {
        self.positions.iter()
    }

    /// Records that `key` was read and written up to `position.offset`.
    pub fn record(&mut self, key: FileKey, position: Position) {
        self.positions.insert(key, position);
        self.dirty = true;
    }

    /// Forgets a file that is gone.
    pub fn forget(&mut self, key: FileKey) {
        if self.positions.remove(&key).is_some() {
            self.dirty = true;
        }
    }

    /// Applies acknowledgements in order — each records its file's
    /// position, or forgets the file when it is gone — draining `acks`.
    /// The one place written positions reach the store: the binary's
    /// writer (`service::commit`) and the file source's model tests both
    /// call it. Saving is the caller's.
    pub fn apply(&mut self, acks: &mut Vec<Ack>) {
        for ack in acks.drain(..) {
            if ack.forget {
                self.forget(ack.key);
            } else {
                // The first opening of the file known: a later run's
                // reopening does not move it.
                let opened_at = self
                    .positions
                    .get(&ack.key)
                    .and_then(|p| p.opened_at)
                    .map_or(ack.opened_at, |t| t.min(ack.opened_at));
                self.record(
                    ack.key,
                    Position {
                        path: (*ack.path).clone(),
                        fingerprint: ack.fingerprint,
                        offset: ack.offset,
                        opened_at: Some(opened_at),
                    },
                );
            }
        }
    }

    /// Writes the checkpoint atomically, if anything changed.
    pub fn save(&mut self) -> Result<(), CheckpointError> {
        if !self.dirty {
            return Ok(());
        }
        let mut files: Vec<OnDiskFile> = self
            .positions
            .iter()
            .map(|(key, p)| OnDiskFile {
                dev: key.dev,
                ino: key.ino,
                fingerprint_len: p.fingerprint.len,
                fingerprint: p.fingerprint.to_hex(),
                offset: p.offset,
                path: p.path.clone(),
                opened_at_ns: p.opened_at.and_then(|t| {
                    t.duration_since(SystemTime::UNIX_EPOCH)
                        .ok()
                        .and_then(|d| u64::try_from(d.as_nanos()).ok())
                }),
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path).then(a.ino.cmp(&b.ino)));
        let text = serde_json::to_vec_pretty(&OnDisk { version: 1, files })
            .map_err(|e| io::Error::other(e.to_string()))
            .and_then(|t| write_atomically(&self.path, &t))
            .map_err(|source| CheckpointError::Io {
                path: self.path.clone(),
                source,
            });
        text?;
        self.dirty = false;
        Ok(())
    }
}

/// Replaces `path` with `data`: temporary file, fsync, rename, fsync of
/// the directory.
fn write_atomically(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        // Readable by its owner only: fingerprints are hashes of log bytes.
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_fingerprint_check() {
        let dir = std::env::temp_dir().join(format!("logscrub-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("app.log");
        std::fs::write(&log, b"first line\nsecond line\n").unwrap();
        let file = File::open(&log).unwrap();
        let key = FileKey::of(&file.metadata().unwrap());
        let store_path = dir.join("ckpt.json");
        let mut store = Checkpoints::load(&store_path).unwrap();
        store.record(
            key,
            Position {
                path: log.clone(),
                fingerprint: Fingerprint::of(b"first line\nsecond line\n"),
                offset: 11,
                opened_at: None,
            },
        );
        store.save().unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&store_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let store = Checkpoints::load(&store_path).unwrap();
        assert_eq!(store.resume_offset(key, &file, 23), Some(11));
        // The same inode with other content is another file.
        std::fs::write(&log, b"other content\n").unwrap();
        assert_eq!(
            store.resume_offset(key, &File::open(&log).unwrap(), 14),
            None
        );
        std::fs::write(&store_path, b"{not json").unwrap();
        let err = Checkpoints::load(&store_path).unwrap_err().to_string();
        assert!(
            err.contains("ckpt.json") && err.contains("not a valid"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn apply_records_and_forgets_in_order() {
        let dir = std::env::temp_dir().join(format!("logscrub-ckpt-apply-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store_path = dir.join("ckpt.json");
        let _ = std::fs::remove_file(&store_path);
        let mut store = Checkpoints::load(&store_path).unwrap();
        store.save().unwrap();
        let a = FileKey { dev: 1, ino: 10 };
        let b = FileKey { dev: 1, ino: 11 };
        let first_open = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ack = |key, offset, forget| Ack {
            key,
            path: Arc::new(PathBuf::from(format!("/log/{}", key.ino))),
            fingerprint: Fingerprint::of(b"first"),
            offset,
            forget,
            opened_at: first_open + Duration::from_secs(offset),
        };
        // The later ack of a file wins; a forget drops what came before it;
        // forgetting an unknown file changes nothing.
        let mut acks = vec![
            ack(a, 5, false),
            ack(b, 7, false),
            ack(a, 9, false),
            ack(b, 7, true),
            ack(FileKey { dev: 2, ino: 1 }, 0, true),
        ];
        store.apply(&mut acks);
        assert!(acks.is_empty(), "apply drains what it applied");
        let mut got: Vec<_> = store.positions().map(|(k, p)| (*k, p.offset)).collect();
        got.sort();
        assert_eq!(got, vec![(a, 9)]);
        assert_eq!(
            store.positions().next().unwrap().1.path,
            PathBuf::from("/log/10")
        );
        // Applying marks the store changed: the save writes the file.
        store.save().unwrap();
        let reloaded = Checkpoints::load(&store_path).unwrap();
        let got: Vec<_> = reloaded.positions().map(|(k, p)| (*k, p.offset)).collect();
        assert_eq!(got, vec![(a, 9)]);
        // The first opening is kept (a later run's reopening does not move
        // it), and survives the save.
        assert_eq!(
            reloaded.positions().next().unwrap().1.opened_at,
            Some(first_open + Duration::from_secs(5))
        );
        // Nothing to apply: nothing changes, nothing is written.
        let before = std::fs::metadata(&store_path).unwrap().modified().unwrap();
        let mut store = reloaded;
        store.apply(&mut Vec::new());
        assert!(!store.dirty);
        store.save().unwrap();
        assert_eq!(
            std::fs::metadata(&store_path).unwrap().modified().unwrap(),
            before
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
