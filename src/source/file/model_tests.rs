//! Model-based tests of the file source's rotation logic: random sequences
//! of writer and rotator actions (writes that end mid-line, rename-and-create
//! rotation, copytruncate, deletion of read generations) on a real temporary
//! directory, with the reader driven turn by turn (no timing: every turn is
//! a forced sweep), against a model of what must come out — every line
//! written, once, in order, none merged with another or cut.
//!
//! File times come from a model clock (one second per action, set on every
//! file an action touches), so the order of generations never depends on
//! the file system's clock granularity.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::{FileOptions, FileSource};
use crate::framing::OwnedBatch;
use crate::source::{Chunk, FramingOptions};

/// One action of the writer, the rotator or the reader.
#[derive(Clone, Debug)]
enum Op {
    /// One `write(2)`: the rest of the pending line, `lines` whole lines,
    /// then the first `partial` bytes of the next one (cut mid-line).
    Write { lines: u8, partial: u8 },
    /// logrotate `create`: rename to `app.log.<n>`, create `app.log`; the
    /// writer reopens the path.
    RotateCreate,
    /// logrotate `copytruncate`: copy to `app.log.<n>`, truncate (with no
    /// write in between: nothing is lost).
    CopyTruncate,
    /// The reader takes turns until nothing more comes.
    Look,
    /// The oldest rotated generation the reader looked at since it was
    /// made is deleted.
    DeleteOldest,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // (At least two whole lines a write: a generation is then long
        // enough to be told apart by its first bytes, see
        // `MIN_FINGERPRINT_BYTES`; shorter ones are a documented limit.)
        4 => (2u8..5, 0u8..60).prop_map(|(lines, partial)| Op::Write { lines, partial }),
        1 => Just(Op::RotateCreate),
        1 => Just(Op::CopyTruncate),
        2 => Just(Op::Look),
        1 => Just(Op::DeleteOldest),
    ]
}

/// Line `n`: lengths vary, so cuts fall anywhere.
fn line(n: u64) -> Vec<u8> {
    format!("L{n:06} {}\n", "x".repeat(32 + (n * 7 % 23) as usize)).into_bytes()
}

/// The world: the writer, the files, the model clock.
struct World {
    dir: PathBuf,
    log: PathBuf,
    writer: File,
    /// The rest of the line the writer is in the middle of, and its number.
    pending: Option<(u64, Vec<u8>)>,
    next: u64,
    clock: SystemTime,
    /// Rotated generations, oldest first, with whether the reader looked
    /// since each was made.
    rotated: Vec<(PathBuf, bool)>,
    generation: u32,
}

impl World {
    fn new(name: &str) -> World {
        let dir = std::env::temp_dir().join(format!(
            "logscrub-model-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("app.log");
        let writer = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut world = World {
            dir,
            log,
            writer,
            pending: None,
            next: 0,
            clock: SystemTime::now(),
            rotated: Vec::new(),
            generation: 0,
        };
        world.touch(&world.log.clone());
        world
    }

    /// Advances the model clock and sets it as `path`'s modification time.
    fn touch(&mut self, path: &Path) {
        self.clock += Duration::from_secs(1);
        if let Ok(f) = OpenOptions::new().write(true).open(path) {
            f.set_modified(self.clock).unwrap();
        }
    }

    fn write(&mut self, lines: u8, partial: u8) {
        let mut bytes = Vec::new();
        if let Some((_, rest)) = self.pending.take() {
            bytes.extend_from_slice(&rest);
        }
        for _ in 0..lines {
            bytes.extend_from_slice(&line(self.next));
            self.next += 1;
        }
        let next = line(self.next);
        let cut = usize::from(partial) % next.len();
        if cut > 0 {
            bytes.extend_from_slice(&next[..cut]);
            self.pending = Some((self.next, next[cut..].to_vec()));
            self.next += 1;
        }
        self.writer.write_all(&bytes).unwrap();
        let log = self.log.clone();
        self.touch(&log);
    }

    fn rotated_name(&mut self) -> PathBuf {
        self.generation += 1;
        self.dir.join(format!("app.log.{}", self.generation))
    }

    fn rotate_create(&mut self) {
        let to = self.rotated_name();
        std::fs::rename(&self.log, &to).unwrap();
        self.writer = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let log = self.log.clone();
        self.touch(&log);
        self.rotated.push((to, false));
    }

    fn copytruncate(&mut self) {
        let to = self.rotated_name();
        std::fs::copy(&self.log, &to).unwrap();
        self.touch(&to);
        OpenOptions::new()
            .write(true)
            .open(&self.log)
            .unwrap()
            .set_len(0)
            .unwrap();
        let log = self.log.clone();
        self.touch(&log);
        self.rotated.push((to, false));
    }

    fn delete_oldest(&mut self) {
        if self.rotated.first().is_some_and(|(_, looked)| *looked) {
            let (path, _) = self.rotated.remove(0);
            std::fs::remove_file(path).unwrap();
        }
    }

    /// Every line written so far, whole.
    fn expected(&self) -> Vec<Vec<u8>> {
        let done = self.pending.as_ref().map_or(self.next, |(n, _)| *n);
        (0..done).map(line).collect()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The reader: a file source and the chunks it sent.
struct Reader {
    source: FileSource,
    tx: crate::source::ChunkSender,
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    lines: Vec<Vec<u8>>,
}

impl Reader {
    fn new(log: &Path) -> Reader {
        let options = FileOptions {
            pattern: log.display().to_string(),
            follow: true,
            start_at_end: false,
            selection: Default::default(),
        };
        let framing = FramingOptions {
            max_line_bytes: 1 << 20,
            hold_cri_partials: false,
        };
        let (tx, rx) = tokio::sync::mpsc::channel(1 << 16);
        let mut source = FileSource::new(options, framing, None, false);
        source.start();
        Reader {
            source,
            tx,
            rx,
            lines: Vec::new(),
        }
    }

    /// Turns until nothing more comes.
    fn look(&mut self) {
        let mut quiet = 0;
        for _ in 0..64 {
            let progressed = self.source.turn(&self.tx, true).expect("receiver open");
            let mut got = false;
            while let Ok(chunk) = self.rx.try_recv() {
                if let OwnedBatch::Lines(lines) = &chunk.payload {
                    got |= !lines.is_empty();
                    self.lines
                        .extend(lines.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec));
                }
            }
            quiet = if progressed || got { 0 } else { quiet + 1 };
            if quiet >= 3 {
                return;
            }
        }
    }
}

fn show(lines: &[Vec<u8>]) -> Vec<String> {
    lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .collect()
}

/// Runs `ops`, then completes the pending line and looks a last time: the
/// reader must have sent exactly the lines written.
fn check(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut world = World::new("rotation");
    let mut reader = Reader::new(&world.log);
    for op in ops {
        match op {
            Op::Write { lines, partial } => world.write(*lines, *partial),
            Op::RotateCreate => world.rotate_create(),
            Op::CopyTruncate => world.copytruncate(),
            Op::Look => {
                reader.look();
                for (_, looked) in &mut world.rotated {
                    *looked = true;
                }
            }
            Op::DeleteOldest => world.delete_oldest(),
        }
    }
    world.write(1, 0);
    reader.look();
    let expected = world.expected();
    prop_assert_eq!(show(&reader.lines), show(&expected));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn rotation_never_loses_duplicates_reorders_or_merges(ops in proptest::collection::vec(op(), 1..24)) {
        check(&ops)?;
    }
}

#[test]
fn two_copytruncates_between_looks_keep_the_partial_line_with_its_continuation() {
    // The partial line of the first content continues in the second, which
    // is only in the second copy: it moves there (found by the model).
    let ops = [
        Op::Write {
            lines: 2,
            partial: 5,
        },
        Op::Look,
        Op::CopyTruncate,
        Op::Write {
            lines: 1,
            partial: 7,
        },
        Op::CopyTruncate,
        Op::Write {
            lines: 1,
            partial: 3,
        },
        Op::Look,
    ];
    check(&ops).unwrap();
}
