//! Shared helpers of the integration tests, one copy each: the binary and
//! its runners (hermetic: no `LOGSCRUB_*` variable of the caller's
//! environment leaks in), temporary directories that clean themselves up,
//! the eval scorer's digit-group leak rule, numbered test lines with a
//! checker that counts lines lost, duplicated and reordered per stream, and
//! process helpers.

#![allow(dead_code)]

pub mod process;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_logscrub");

/// A card number every test line with a secret carries.
pub const CARD: &str = "4111 1111 1111 1111";

/// Line `n` of stream `s`: every 50th carries a card number and an e-mail.
pub fn line(s: u32, n: u64) -> String {
    if n % 50 == 7 {
        format!("s={s} n={n:09} payment card {CARD} for alice@example.com ok\n")
    } else {
        format!("s={s} n={n:09} GET /api/v1/orders/{n} 200 12ms user=bob\n")
    }
}

/// Lines `from..to` of stream `s`, concatenated.
pub fn lines(s: u32, from: u64, to: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(((to - from) * 64) as usize);
    for n in from..to {
        out.extend_from_slice(line(s, n).as_bytes());
    }
    out
}

/// What arrived, per stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Expected lines that never arrived.
    pub lost: u64,
    /// Lines that arrived more than once (extra copies).
    pub duplicated: u64,
    /// Lines that arrived before a line sent earlier in their stream.
    pub reordered: u64,
    /// Lines that still hold the raw card number.
    pub leaked: u64,
    /// Lines that are not test lines at all.
    pub foreign: u64,
    /// Lines in all.
    pub total: u64,
    /// The first runs of lost lines, as `stream:from-to`.
    pub lost_runs: Vec<String>,
}

/// Which numbered lines of each stream arrived, and in what order: the
/// accounting every delivery test shares.
pub struct Marks {
    seen: HashMap<u32, Vec<u8>>,
    last: HashMap<u32, u64>,
    newest: HashMap<u32, u64>,
}

/// How a line arrived, by [`Marks::mark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// It had arrived before.
    pub duplicate: bool,
    /// The line before it in its stream was a later one (that line's number).
    pub after: Option<u64>,
    /// A later line of its stream had arrived before it.
    pub behind_newest: bool,
}

impl Marks {
    /// Streams `expected` (stream id → line count).
    pub fn new(expected: &[(u32, u64)]) -> Marks {
        Marks {
            seen: expected
                .iter()
                .map(|&(s, n)| (s, vec![0u8; n as usize]))
                .collect(),
            last: HashMap::new(),
            newest: HashMap::new(),
        }
    }

    /// Line `n` of stream `s` arrived; `None` when it is not an expected line.
    pub fn mark(&mut self, s: u32, n: u64) -> Option<Arrival> {
        let mark = self.seen.get_mut(&s)?.get_mut(n as usize)?;
        let arrival = Arrival {
            duplicate: *mark > 0,
            after: self.last.get(&s).copied().filter(|&prev| n < prev),
            behind_newest: self.newest.get(&s).is_some_and(|&m| m > n),
        };
        *mark = mark.saturating_add(1);
        self.last.insert(s, n);
        let newest = self.newest.entry(s).or_insert(n);
        *newest = (*newest).max(n);
        Some(arrival)
    }

    /// Lines that never arrived, and the first `runs` runs of them
    /// (`stream:from-to`).
    pub fn lost(&self, runs: usize) -> (u64, Vec<String>) {
        let mut lost = 0;
        let mut listed = Vec::new();
        let mut streams: Vec<_> = self.seen.iter().collect();
        streams.sort_by_key(|(s, _)| **s);
        for (s, marks) in streams {
            lost += marks.iter().filter(|&&m| m == 0).count() as u64;
            let mut n = 0;
            while n < marks.len() && listed.len() < runs {
                if marks[n] == 0 {
                    let from = n;
                    while n < marks.len() && marks[n] == 0 {
                        n += 1;
                    }
                    listed.push(format!("{s}:{from}-{}", n - 1));
                }
                n += 1;
            }
        }
        (lost, listed)
    }
}

/// Checks `output` against streams `expected` (stream id → line count).
/// Duplicates that follow a restart are counted, not reordering.
pub fn tally(output: &[u8], expected: &[(u32, u64)]) -> Tally {
    let mut t = Tally::default();
    let mut marks = Marks::new(expected);
    for l in output.split(|&b| b == b'\n') {
        if l.is_empty() {
            continue;
        }
        t.total += 1;
        if memchr_find(l, CARD.as_bytes()) {
            t.leaked += 1;
        }
        let Some(arrival) = parse(l).and_then(|(s, n)| Some((s, n, marks.mark(s, n)?))) else {
            t.foreign += 1;
            continue;
        };
        let (s, n, arrival) = arrival;
        if arrival.duplicate {
            t.duplicated += 1;
            if t.duplicated <= 3 || t.duplicated % 10_000 == 0 {
                t.lost_runs.push(format!("dup {s}:{n}"));
            }
        } else if let Some(prev) = arrival.after {
            t.reordered += 1;
            if t.reordered <= 5 {
                t.lost_runs.push(format!("reorder {s}:{n} after {prev}"));
            }
        }
    }
    let (lost, runs) = marks.lost(8usize.saturating_sub(t.lost_runs.len()));
    t.lost = lost;
    t.lost_runs.extend(runs);
    t
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn parse(line: &[u8]) -> Option<(u32, u64)> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix("s=")?;
    let (s, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("n=")?;
    let n = rest.get(..9)?;
    Some((s.parse().ok()?, n.parse().ok()?))
}

/// A fresh temporary directory.
pub fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("logscrub-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// A test's own directory, removed when the test passes (kept when it
/// fails, for its logs).
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The binary with `args`, its three standard streams piped, and no
/// `LOGSCRUB_*` variable inherited (each flag has one).
pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LOGSCRUB_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs `cmd` (stdin piped) with `input` on its standard input, to its
/// exit. The input is written from a thread, since the child writes its
/// output at the same time and both pipes are bounded. A child may exit
/// without reading all of it (a usage error, an output that went away):
/// it is judged by its status and output, so a broken pipe on its input is
/// not an error of the run.
pub fn run_command(mut cmd: Command, input: impl AsRef<[u8]>) -> std::process::Output {
    let mut child = cmd.spawn().expect("spawn logscrub");
    let mut stdin = child.stdin.take().expect("stdin piped");
    let input = input.as_ref().to_vec();
    let writer = std::thread::spawn(move || match stdin.write_all(&input) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(()),
    });
    let output = child.wait_with_output().expect("wait for logscrub");
    writer
        .join()
        .expect("stdin writer")
        .expect("writing logscrub's input");
    output
}

/// Runs the binary with `args` and `input` (see [`run_command`]).
pub fn run(args: &[&str], input: impl AsRef<[u8]>) -> std::process::Output {
    run_command(command(args), input)
}

/// The digit strings of the digit groups of `text`: maximal runs of ASCII
/// digits where consecutive digits may be separated by up to 3 characters
/// that are neither letters nor digits (Python's `[\W_]`, Unicode-wide) —
/// the eval scorer's leak rule, `[0-9](?:[\W_]{0,3}[0-9])*`.
pub fn digit_groups(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut groups = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut digits = String::from(chars[i]);
        i += 1;
        loop {
            let seps = chars[i..]
                .iter()
                .take(3)
                .take_while(|c| !c.is_alphanumeric())
                .count();
            match chars.get(i + seps) {
                Some(c) if c.is_ascii_digit() => {
                    digits.push(*c);
                    i += seps + 1;
                }
                _ => break,
            }
        }
        groups.push(digits);
    }
    groups
}

/// True when `digits` survive in `out` in any separator form (invalid
/// UTF-8 counts as a separator).
pub fn leaks(out: &[u8], digits: &str) -> bool {
    digit_groups(&String::from_utf8_lossy(out))
        .iter()
        .any(|g| g.contains(digits))
}

/// The child's standard output, collected on a thread, with a running
/// line count.
pub struct Collected {
    pub lines: Arc<AtomicU64>,
    data: Arc<Mutex<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Collected {
    /// Starts reading `source` to its end.
    pub fn start(mut source: impl Read + Send + 'static) -> Collected {
        let lines = Arc::new(AtomicU64::new(0));
        let data = Arc::new(Mutex::new(Vec::new()));
        let (l, d) = (Arc::clone(&lines), Arc::clone(&data));
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match source.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let newlines = buf[..n].iter().filter(|&&b| b == b'\n').count();
                        d.lock().unwrap().extend_from_slice(&buf[..n]);
                        l.fetch_add(newlines as u64, Ordering::SeqCst);
                    }
                }
            }
        });
        Collected {
            lines,
            data,
            thread: Some(thread),
        }
    }

    /// Lines so far.
    pub fn count(&self) -> u64 {
        self.lines.load(Ordering::SeqCst)
    }

    /// Waits until `n` lines arrived or `timeout` passed; returns the count.
    pub fn wait_for(&self, n: u64, timeout: Duration) -> u64 {
        let start = Instant::now();
        while self.count() < n && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.count()
    }

    /// Waits until `n` lines arrived, or none came for `quiet`, or
    /// `deadline` passed; returns the count.
    pub fn settle(&self, n: u64, quiet: Duration, deadline: Duration) -> u64 {
        let start = Instant::now();
        let (mut last, mut since) = (self.count(), Instant::now());
        while start.elapsed() < deadline {
            let now = self.count();
            if now >= n {
                return now;
            }
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() >= quiet {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.count()
    }

    /// Everything, once the source ended.
    pub fn finish(mut self) -> Vec<u8> {
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        std::mem::take(&mut *self.data.lock().unwrap())
    }

    /// A copy of what arrived so far.
    pub fn snapshot(&self) -> Vec<u8> {
        self.data.lock().unwrap().clone()
    }
}

/// The binary long-running tests start: `LOGSCRUB_BIN` runs another build
/// (to measure the figures of an older one), else the one under test.
pub fn bin() -> String {
    std::env::var("LOGSCRUB_BIN")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| BIN.to_string())
}

/// Starts logscrub ([`bin`]) with `args`, stdout piped, stderr appended to
/// stderr.txt in `dir`.
pub fn spawn(args: &[&str], dir: &Path) -> Child {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stderr.txt"))
        .unwrap();
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Sends `signal` to `child`.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for `child` to exit within `timeout`; kills it and fails if not.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("logscrub did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until process `pid` has `path` open (it follows the file).
pub fn wait_until_open(pid: u32, path: &Path) {
    let start = Instant::now();
    loop {
        let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == path));
        if open {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "logscrub never opened {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Peak resident memory of a running process, in KiB (VmHWM).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The stderr.txt of a test directory.
pub fn stderr_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default()
}

/// A connection a listener thread will accept, read once it is there.
pub struct Accepted<S> {
    pending: Option<std::thread::JoinHandle<S>>,
    conn: Option<S>,
}

impl<S> Accepted<S> {
    /// Reads the connection `accepting` returns.
    pub fn new(accepting: std::thread::JoinHandle<S>) -> Accepted<S> {
        Accepted {
            pending: Some(accepting),
            conn: None,
        }
    }
}

impl<S: Read> Read for Accepted<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(h) = self.pending.take() {
            self.conn = Some(h.join().expect("accepting thread"));
        }
        self.conn.as_mut().expect("accepted").read(buf)
    }
}

/// Proptest's configuration for a property: `PROPTEST_CASES` cases when
/// set, else `default`; failures are not persisted (the seed is printed).
pub fn proptest_config(default: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}
