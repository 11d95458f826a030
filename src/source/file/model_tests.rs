//! Model-based tests of the file source's rotation logic: random sequences
//! of writer and rotator actions (writes that end mid-line, rename-and-create
//! rotation, copytruncate, deletion of read generations) on a real temporary
//! directory, with the reader driven turn by turn (no timing: every turn is
//! a forced sweep), against a model of what must come out — every line
//! written, once, in order, none merged with another or cut.
//!
//! Every model runs twice: on the real file system and on an in-memory one
//! (`fs::MemFs`, where renames, truncations and inode reuse are exact and
//! instant), through the same [`super::fs::Fs`] trait.
//!
//! File times come from a model clock (one second per action, set on every
//! file an action touches, the checkpoint file's included), so the order of
//! generations never depends on the file system's clock granularity.
//!
//! Restarts: the reader commits its checkpoint as the binary does
//! (`Checkpoints::record`/`forget` for every acknowledgement of the lines
//! written since the last commit, then `save`), and is stopped either by
//! SIGTERM (drained, then committed: the next run neither loses nor repeats
//! a line) or killed (dropped after its last commit). A new source then
//! resumes from the checkpoint file, loaded anew, after whatever the writer
//! and the rotator did while it was down. The contract, as the README's
//! "Checkpoints" states it: nothing is lost or reordered, and after a kill
//! the only lines written twice are those written after the last commit,
//! each exactly once more, in order, where the output resumes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use std::sync::{Arc, Mutex};

use proptest::prelude::*;

use super::fs::{Fs, MemFile, MemFs, RealFs};
use super::{FileOptions, FileSource};
use crate::checkpoint::Checkpoints;
use crate::framing::OwnedBatch;
use crate::source::{Ack, Chunk, FramingOptions};

thread_local! {
    /// The model clock, as the reader's wall clock ([`super::wall_clock`]).
    pub(super) static MODEL_NOW: std::cell::Cell<Option<SystemTime>> =
        const { std::cell::Cell::new(None) };
}

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
    /// The oldest rotated generation is deleted, once the reader looked
    /// at it since it was made (and, in a sequence with a kill, once its
    /// lines are committed: a killed reader's open handles are gone).
    DeleteOldest,
    /// The checkpoint is committed: the positions of the lines written so
    /// far are recorded and saved.
    Commit,
    /// The reader stops: drained and committed (SIGTERM), or killed
    /// (dropped after its last commit). The next `Look` or `Commit` starts
    /// a new one from the checkpoint; actions in between happen while no
    /// reader runs.
    Stop { graceful: bool },
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

/// [`op`], with commits and stops.
fn op_with_restarts() -> impl Strategy<Value = Op> {
    prop_oneof![
        9 => op(),
        1 => Just(Op::Commit),
        1 => any::<bool>().prop_map(|graceful| Op::Stop { graceful }),
    ]
}

/// Line `n`: lengths vary, so cuts fall anywhere.
fn line(n: u64) -> Vec<u8> {
    format!("L{n:06} {}\n", "x".repeat(32 + (n * 7 % 23) as usize)).into_bytes()
}

/// Where the files are: a real temporary directory, or an in-memory file
/// system (the checkpoint file is always real).
#[derive(Clone)]
enum Disk {
    Real,
    Mem(Arc<MemFs>),
}

impl Disk {
    /// The file system the reader sees.
    fn fs(&self) -> Arc<dyn Fs> {
        match self {
            Disk::Real => Arc::new(RealFs),
            Disk::Mem(fs) => Arc::clone(fs) as Arc<dyn Fs>,
        }
    }
}

/// The writer's open file.
enum Writer {
    Real(File),
    Mem(MemFile),
}

/// The world: the writer, the files, the model clock.
struct World {
    dir: PathBuf,
    log: PathBuf,
    /// The reader's checkpoint file (beside, not matching the pattern).
    checkpoint: PathBuf,
    disk: Disk,
    writer: Writer,
    /// The rest of the line the writer is in the middle of, and its number.
    pending: Option<(u64, Vec<u8>)>,
    next: u64,
    clock: SystemTime,
    /// Rotated generations, oldest first.
    rotated: Vec<Generation>,
    generation: u32,
    /// The file that holds the first bytes of the pending line.
    pending_in: Option<PathBuf>,
    /// Lines that go out in two (line number, where): see
    /// [`World::cut_pending_if_rotated`].
    cuts: std::collections::HashMap<u64, usize>,
}

/// A rotated generation the model knows of.
struct Generation {
    path: PathBuf,
    /// The reader looked since it was made.
    looked: bool,
    /// How many lines (from the first) must be committed before its bytes
    /// are all in committed lines: every line it holds a byte of.
    upto: u64,
}

impl World {
    fn new(name: &str, disk: Disk) -> World {
        let dir = std::env::temp_dir().join(format!(
            "logscrub-model-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("app.log");
        let writer = World::create(&disk, &log, SystemTime::now());
        let mut world = World {
            checkpoint: dir.join("checkpoint.json"),
            dir,
            log,
            disk,
            writer,
            pending: None,
            next: 0,
            clock: SystemTime::now(),
            rotated: Vec::new(),
            generation: 0,
            pending_in: None,
            cuts: Default::default(),
        };
        world.touch(&world.log.clone());
        world
    }

    /// Creates the file at `path` and opens it for appending.
    fn create(disk: &Disk, path: &Path, now: SystemTime) -> Writer {
        match disk {
            Disk::Real => Writer::Real(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap(),
            ),
            Disk::Mem(fs) => Writer::Mem(fs.create(path, now)),
        }
    }

    /// Advances the model clock and sets it as `path`'s modification time.
    fn touch(&mut self, path: &Path) {
        self.tick();
        match &self.disk {
            Disk::Mem(fs) if *path != self.checkpoint => {
                let _ = fs.set_modified(path, self.clock);
            }
            _ => {
                if let Ok(f) = OpenOptions::new().write(true).open(path) {
                    f.set_modified(self.clock).unwrap();
                }
            }
        }
    }

    /// Advances the model clock: the reader's next action comes after the
    /// last one of the writer.
    fn tick(&mut self) {
        self.clock += Duration::from_secs(1);
        MODEL_NOW.with(|now| now.set(Some(self.clock)));
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
            self.pending_in = Some(self.log.clone());
            self.next += 1;
        }
        match &mut self.writer {
            Writer::Real(f) => f.write_all(&bytes).unwrap(),
            Writer::Mem(f) => f.append(&bytes),
        }
        let log = self.log.clone();
        self.touch(&log);
    }

    fn rotated_name(&mut self) -> PathBuf {
        self.generation += 1;
        self.dir.join(format!("app.log.{}", self.generation))
    }

    fn rotate_create(&mut self) {
        let to = self.rotated_name();
        match &self.disk {
            Disk::Real => std::fs::rename(&self.log, &to).unwrap(),
            Disk::Mem(fs) => fs.rename(&self.log, &to).unwrap(),
        }
        self.writer = World::create(&self.disk, &self.log, self.clock);
        let log = self.log.clone();
        self.touch(&log);
        self.push_rotated(to);
    }

    fn push_rotated(&mut self, path: PathBuf) {
        if self.pending_in.as_ref() == Some(&self.log) {
            self.pending_in = Some(path.clone());
        }
        self.rotated.push(Generation {
            path,
            looked: false,
            upto: self.next,
        });
    }

    fn copytruncate(&mut self) {
        let to = self.rotated_name();
        match &self.disk {
            Disk::Real => {
                std::fs::copy(&self.log, &to).unwrap();
            }
            Disk::Mem(fs) => fs.copy(&self.log, &to, self.clock).unwrap(),
        }
        self.touch(&to);
        match &self.disk {
            Disk::Real => OpenOptions::new()
                .write(true)
                .open(&self.log)
                .unwrap()
                .set_len(0)
                .unwrap(),
            Disk::Mem(fs) => fs.open_write(&self.log).unwrap().set_len(0),
        }
        let log = self.log.clone();
        self.touch(&log);
        self.push_rotated(to);
    }

    /// Deletes the oldest generation if the reader looked at it and, when
    /// `committed` is given, its lines are all among the first `committed`.
    fn delete_oldest(&mut self, committed: Option<u64>) {
        let deletable = self
            .rotated
            .first()
            .is_some_and(|g| g.looked && committed.is_none_or(|c| c >= g.upto));
        if deletable {
            let g = self.rotated.remove(0);
            match &self.disk {
                Disk::Real => std::fs::remove_file(g.path).unwrap(),
                Disk::Mem(fs) => fs.remove(&g.path).unwrap(),
            }
        }
    }

    /// A reader stopped by SIGTERM keeps the partial line it holds for
    /// the next run, which reads it again from the file at the path; one
    /// that began in a rotated generation or a copy (which may be deleted
    /// before the next run) goes out alone (a cut) and its rest comes as a
    /// line of its own.
    fn cut_pending_if_rotated(&mut self) {
        if let Some((n, rest)) = &self.pending {
            if self.pending_in.as_ref() != Some(&self.log) {
                self.cuts.insert(*n, line(*n).len() - rest.len());
            }
        }
    }

    /// Every line written so far, whole or (see `cuts`) in two.
    fn expected(&self) -> Vec<Vec<u8>> {
        let done = self.pending.as_ref().map_or(self.next, |(n, _)| *n);
        let mut lines = Vec::new();
        for n in 0..done {
            let whole = line(n);
            match self.cuts.get(&n) {
                Some(&at) => {
                    let mut first = whole[..at].to_vec();
                    first.push(b'\n');
                    lines.push(first);
                    lines.push(whole[at..].to_vec());
                }
                None => lines.push(whole),
            }
        }
        lines
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The reader: a file source, the checkpoint it commits to, and what
/// came since the last commit.
struct Reader {
    source: FileSource,
    tx: crate::source::ChunkSender,
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    store: Option<Arc<Mutex<Checkpoints>>>,
    /// Acknowledgements of the lines written since the last commit.
    acks: Vec<Ack>,
    /// Lines the source marked as starting at a cut (their first digits
    /// fail closed).
    cut_heads: Vec<Vec<u8>>,
}

impl Reader {
    /// A reader of `log`; with `checkpoint`, it resumes from that file (as
    /// the binary does at start-up: the file is loaded anew).
    fn new(fs: Arc<dyn Fs>, log: &Path, checkpoint: Option<&Path>) -> Reader {
        let options = FileOptions {
            pattern: log.display().to_string(),
            follow: true,
            start_at_end: false,
            selection: Default::default(),
        };
        let framing = FramingOptions {
            max_line_bytes: 1 << 20,
            continued: None,
        };
        let (tx, rx) = tokio::sync::mpsc::channel(1 << 16);
        let store = checkpoint.map(|path| Arc::new(Mutex::new(Checkpoints::load(path).unwrap())));
        let mut source = FileSource::new(fs, options, framing, store.clone(), false);
        source.start();
        Reader {
            source,
            tx,
            rx,
            store,
            acks: Vec::new(),
            cut_heads: Vec::new(),
        }
    }

    /// Takes what the source sent: its lines go to `out`.
    fn receive(&mut self, out: &mut Vec<Vec<u8>>) -> bool {
        let mut got = false;
        while let Ok(chunk) = self.rx.try_recv() {
            if let OwnedBatch::Lines(lines) = &chunk.payload {
                got |= !lines.is_empty();
                for &cut in chunk.cuts.iter().filter(|&&c| c < lines.len()) {
                    let end = lines[cut..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(lines.len(), |i| cut + i + 1);
                    self.cut_heads.push(lines[cut..end].to_vec());
                }
                out.extend(lines.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec));
            }
            self.acks.extend(chunk.ack);
        }
        got
    }

    /// Turns until nothing more comes.
    fn look(&mut self, out: &mut Vec<Vec<u8>>) {
        let mut quiet = 0;
        for _ in 0..64 {
            let progressed = self.source.turn(&self.tx, true).expect("receiver open");
            let got = self.receive(out);
            quiet = if progressed || got { 0 } else { quiet + 1 };
            if quiet >= 3 {
                return;
            }
        }
    }

    /// Records the positions of the lines received so far and saves the
    /// checkpoint, as the binary's writer does once they are written
    /// (`service::commit`); the file's time is the model clock's.
    fn commit(&mut self, world: &mut World) {
        let Some(store) = &self.store else {
            self.acks.clear();
            return;
        };
        if self.acks.is_empty() {
            return;
        }
        let mut store = store.lock().unwrap();
        store.apply(&mut self.acks);
        store.save().unwrap();
        drop(store);
        let ckpt = world.checkpoint.clone();
        world.touch(&ckpt);
    }

    /// SIGTERM: what the files hold is read and written, then committed.
    fn stop(mut self, out: &mut Vec<Vec<u8>>, world: &mut World) {
        self.source.drain_for_shutdown(&self.tx);
        self.receive(out);
        self.commit(world);
    }
}

fn show(lines: &[Vec<u8>]) -> Vec<String> {
    lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .collect()
}

/// Runs `ops`, then completes the pending line and looks a last time: the
/// reader must have sent exactly the lines written (without a checkpoint);
/// with one, as the restart contract allows (see the module docs).
fn check(ops: &[Op], with_checkpoint: bool, disk: Disk) -> Result<(), TestCaseError> {
    let name = match (with_checkpoint, &disk) {
        (false, Disk::Real) => "rotation",
        (true, Disk::Real) => "restart",
        (false, Disk::Mem(_)) => "rotation-mem",
        (true, Disk::Mem(_)) => "restart-mem",
    };
    let mut world = World::new(name, disk);
    let checkpoint = with_checkpoint.then(|| world.checkpoint.clone());
    let start = |world: &World| Reader::new(world.disk.fs(), &world.log, checkpoint.as_deref());
    let mut reader = Some(start(&world));
    // What the sink received, and how much of it was committed.
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut committed = 0;
    // The sink as the contract sees it: without the lines a killed reader
    // wrote after its last commit, which come again.
    let mut view: Vec<Vec<u8>> = Vec::new();
    // Those lines, by where they must come again in `view`.
    let mut repeats: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
    let kills = ops
        .iter()
        .any(|op| matches!(op, Op::Stop { graceful: false }));
    for op in ops {
        if matches!(op, Op::Look | Op::Commit | Op::Stop { .. }) {
            world.tick();
        }
        if matches!(op, Op::Look | Op::Commit) && reader.is_none() {
            reader = Some(start(&world));
        }
        match op {
            Op::Write { lines, partial } => world.write(*lines, *partial),
            Op::RotateCreate => world.rotate_create(),
            Op::CopyTruncate => world.copytruncate(),
            Op::Look => {
                let mut got = Vec::new();
                reader.as_mut().unwrap().look(&mut got);
                out.extend(got.iter().cloned());
                view.extend(got);
                for g in &mut world.rotated {
                    g.looked = true;
                }
            }
            Op::Commit => {
                reader.as_mut().unwrap().commit(&mut world);
                committed = view.len();
            }
            Op::DeleteOldest => {
                let lines_committed = kills.then(|| committed_lines(&view[..committed]));
                world.delete_oldest(lines_committed);
            }
            Op::Stop { graceful } => {
                let Some(r) = reader.take() else { continue };
                if *graceful {
                    world.cut_pending_if_rotated();
                    let mut got = Vec::new();
                    r.stop(&mut got, &mut world);
                    out.extend(got.iter().cloned());
                    view.extend(got);
                } else {
                    drop(r);
                    let again = view.split_off(committed);
                    repeats.push((committed, again));
                }
                committed = view.len();
            }
        }
    }
    world.tick();
    let mut reader = reader.unwrap_or_else(|| start(&world));
    world.write(1, 0);
    let mut got = Vec::new();
    reader.look(&mut got);
    out.extend(got.iter().cloned());
    view.extend(got);
    let expected = world.expected();
    if let Disk::Mem(_) = world.disk {
        // (Nothing of it on the real disk.)
        prop_assert!(!world.log.exists());
    }
    prop_assert_eq!(show(&view), show(&expected));
    // A killed reader's uncommitted lines come again exactly where the
    // output resumes, in order.
    for (at, again) in &repeats {
        prop_assert_eq!(
            show(again),
            show(&view[*at..(*at + again.len()).min(view.len())])
        );
    }
    prop_assert_eq!(
        out.len(),
        view.len() + repeats.iter().map(|(_, r)| r.len()).sum::<usize>()
    );
    Ok(())
}

/// How many lines from the first are in `lines` (the committed output):
/// the count of the leading run `L000000`, `L000001`, ….
fn committed_lines(lines: &[Vec<u8>]) -> u64 {
    lines
        .iter()
        .enumerate()
        .take_while(|(i, l)| **l == line(*i as u64))
        .count() as u64
}

/// A fresh in-memory file system.
fn mem() -> Disk {
    Disk::Mem(Arc::new(MemFs::default()))
}

/// Case counts: `PROPTEST_CASES` when set (to search with many fresh
/// seeds), else `default`.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(cases(64))]
    #[test]
    fn rotation_never_loses_duplicates_reorders_or_merges(ops in proptest::collection::vec(op(), 1..24)) {
        check(&ops, false, Disk::Real)?;
    }
}

proptest! {
    #![proptest_config(cases(128))]
    #[test]
    fn restarts_from_the_checkpoint_lose_nothing_and_repeat_only_uncommitted_lines(
        ops in proptest::collection::vec(op_with_restarts(), 1..28)
    ) {
        check(&ops, true, Disk::Real)?;
    }
}

proptest! {
    // (In memory: exact and instant, so more cases in the same time.)
    #![proptest_config(cases(256))]
    #[test]
    fn in_memory_rotation_never_loses_duplicates_reorders_or_merges(
        ops in proptest::collection::vec(op(), 1..24)
    ) {
        check(&ops, false, mem())?;
    }

    #[test]
    fn in_memory_restarts_lose_nothing_and_repeat_only_uncommitted_lines(
        ops in proptest::collection::vec(op_with_restarts(), 1..28)
    ) {
        check(&ops, true, mem())?;
    }
}

/// Lines written and committed, a stop (SIGTERM or kill) and perhaps a
/// reader started and left idle, then rotations of either kind in any
/// order and number, with or without writes between them, before the next
/// look: the committed lines are in a copy or a renamed generation (or in
/// both: copytruncate then rename), and are never read again.
fn rotations_while_down() -> impl Strategy<Value = Vec<Op>> {
    let rotation = prop_oneof![
        2 => Just(Op::RotateCreate),
        2 => Just(Op::CopyTruncate),
        1 => (2u8..4, 0u8..60).prop_map(|(lines, partial)| Op::Write { lines, partial }),
    ];
    (
        (2u8..5, 0u8..60),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(rotation, 1..6),
        any::<bool>(),
    )
        .prop_map(|((lines, partial), graceful, idle, rotations, look)| {
            let mut ops = vec![Op::Write { lines, partial }, Op::Look, Op::Commit];
            ops.push(Op::Stop { graceful });
            if idle {
                // (A commit with nothing new starts a reader that does not
                // read: it resumes, then sees the rotations all at once.)
                ops.push(Op::Commit);
            }
            ops.extend(rotations);
            ops.push(if look {
                Op::Look
            } else {
                Op::Stop { graceful: true }
            });
            ops
        })
}

proptest! {
    #![proptest_config(cases(64))]
    #[test]
    fn rotations_while_down_after_a_commit_never_repeat_committed_lines(
        ops in rotations_while_down()
    ) {
        check(&ops, true, Disk::Real)?;
        check(&ops, true, mem())?;
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
    check(&ops, false, Disk::Real).unwrap();
    check(&ops, false, mem()).unwrap();
}

/// Restart sequences the model found wrong, each with what was wrong.
#[test]
fn restart_regressions() {
    use Op::{CopyTruncate as Ct, Look, RotateCreate as Rc};
    let w = |lines, partial| Op::Write { lines, partial };
    let term = Op::Stop { graceful: true };
    let kill = Op::Stop { graceful: false };
    let cases: Vec<(&str, Vec<Op>)> = vec![
        (
            "copytruncate while down: the copy of checkpointed content resumes at its offset",
            vec![w(2, 0), Look, Ct, Op::Commit, kill.clone()],
        ),
        (
            "copytruncate while down: the partial line in the copy is read again",
            vec![w(2, 1), Look, Ct, Op::Commit, kill.clone()],
        ),
        (
            "a known inode truncated and renamed while down holds new content",
            vec![w(2, 0), term.clone(), Ct, w(2, 0), Rc],
        ),
        (
            "SIGTERM reads copies made before the first read",
            vec![w(2, 0), Ct, w(2, 0), term.clone()],
        ),
        (
            "a position recorded under a rotated name belongs to the followed path",
            vec![Rc, w(2, 1), Rc, term.clone()],
        ),
        (
            "SIGTERM passes a partial line through an empty rotated generation",
            vec![w(2, 1), Rc, Rc, w(2, 0), w(2, 0), term.clone()],
        ),
        (
            "a partial line carried into the next generation is not read again",
            vec![
                w(2, 1),
                Rc,
                w(2, 0),
                term.clone(),
                Look,
                Op::DeleteOldest,
                term.clone(),
            ],
        ),
        (
            "a partial line carried over a copytruncate is not read again",
            vec![
                w(2, 1),
                Look,
                Ct,
                Rc,
                w(2, 0),
                term.clone(),
                Look,
                Op::DeleteOldest,
                term.clone(),
            ],
        ),
        (
            "the position of a file's earlier content does not replace its current one",
            vec![w(2, 1), Look, Ct, w(2, 0), term.clone()],
        ),
        (
            "SIGTERM does not keep a rotated generation's partial line (deleted while down)",
            vec![w(2, 1), Rc, Look, term.clone(), Op::DeleteOldest],
        ),
        (
            "SIGTERM reads a file that waited for an empty copy",
            vec![w(2, 1), Look, Ct, Ct, w(2, 0), term.clone()],
        ),
        (
            "SIGTERM notices a resumed file truncated before it read anything",
            vec![w(2, 1), term.clone(), Op::Commit, Ct, term.clone()],
        ),
        (
            "a committed file copied, truncated and renamed while down resumes in its copy",
            vec![w(2, 0), term.clone(), Op::Commit, Ct, Rc, term.clone()],
        ),
        (
            "copies and renames while an idle resumed reader waits: none read again",
            vec![
                w(2, 0),
                term.clone(),
                Op::Commit,
                Ct,
                Ct,
                Rc,
                Ct,
                Rc,
                term.clone(),
            ],
        ),
        (
            "a rename then a copytruncate while an idle resumed reader waits",
            vec![w(2, 0), term.clone(), Op::Commit, Rc, Ct, Rc, term.clone()],
        ),
        (
            "a copy with a reused inode number is found by its content",
            vec![
                w(2, 0),
                Rc,
                w(2, 0),
                Look,
                Op::Commit,
                kill.clone(),
                Op::DeleteOldest,
                Ct,
            ],
        ),
        (
            "a generation written after the last look and rotated before a commit is read after a kill",
            vec![
                w(2, 0),
                Rc,
                Look,
                w(2, 0),
                Rc,
                Op::Commit,
                kill,
                Op::DeleteOldest,
            ],
        ),
    ];
    for (what, ops) in cases {
        for disk in [Disk::Real, mem()] {
            if let Err(e) = check(&ops, true, disk) {
                panic!("{what}: {e}");
            }
        }
    }
}

#[test]
fn a_partial_line_cut_at_sigterm_is_a_cut_for_the_next_run_too() {
    // The first run ends a rotated generation's partial line alone at
    // SIGTERM; the next run reads its continuation at the start of the
    // next generation and marks it a cut (its digits fail closed), though
    // it knows of the cut only from the checkpoint.
    for disk in [Disk::Real, mem()] {
        let mut world = World::new("cut-restart", disk);
        let checkpoint = world.checkpoint.clone();
        let mut reader = Reader::new(world.disk.fs(), &world.log, Some(&checkpoint));
        world.write(2, 9);
        world.rotate_create();
        world.tick();
        let mut out = Vec::new();
        reader.look(&mut out);
        reader.stop(&mut out, &mut world);
        let (n, rest) = world.pending.clone().unwrap();
        let whole = line(n);
        let head = &whole[..whole.len() - rest.len()];
        assert_eq!(out.last().unwrap()[..head.len()], *head, "{:?}", show(&out));
        world.write(1, 0);
        world.tick();
        let mut reader = Reader::new(world.disk.fs(), &world.log, Some(&checkpoint));
        let mut again = Vec::new();
        reader.look(&mut again);
        assert_eq!(again.first(), Some(&rest), "{:?}", show(&again));
        assert_eq!(reader.cut_heads, vec![rest], "{:?}", show(&again));
    }
}

/// A writer that has not reopened the path after a rename appends lines
/// to the old file (more than one turn reads), then reopens and appends to
/// the new one; the reader reads the new file first (as when only its
/// event has come): the old file's late lines still go out first.
#[test]
fn a_late_line_in_the_renamed_file_goes_out_before_the_new_files() {
    for disk in [Disk::Real, mem()] {
        let mut world = World::new("late-old", disk);
        let log = world.log.clone();
        let mut reader = Reader::new(world.disk.fs(), &log, None);
        let mut out = Vec::new();
        world.write(2, 0);
        reader.look(&mut out);
        // logrotate `create`; the writer keeps its handle on the old file.
        let old = world.rotated_name();
        match &world.disk {
            Disk::Real => std::fs::rename(&log, &old).unwrap(),
            Disk::Mem(fs) => fs.rename(&log, &old).unwrap(),
        }
        let reopened = World::create(&world.disk, &log, world.clock);
        world.touch(&log);
        reader.look(&mut out);
        assert_eq!(show(&out), show(&[line(0), line(1)]));
        // More late lines than one turn reads (over 1 MiB).
        for _ in 0..100 {
            world.write(255, 0);
        }
        world.writer = reopened;
        world.write(1, 0);
        let new = reader
            .source
            .tracked
            .iter()
            .position(|t| t.path == log && !t.rotated)
            .expect("the new file is tracked");
        reader.source.read_in_order(new, &reader.tx).unwrap();
        reader.receive(&mut out);
        let want: Vec<Vec<u8>> = (0..world.next).map(line).collect();
        assert!(want.concat().len() > 1 << 20);
        assert_eq!(show(&out), show(&want));
    }
}
