//! Adversarial inputs: what an attacker or a broken producer can feed the
//! scrubber, through the library (`logscrub::redact::scrub_with`) and the
//! real binary (`CARGO_BIN_EXE_logscrub`).
//!
//! Every test asserts a wall-clock bound (generous in debug builds, see
//! [`budget`]); matching must stay linear in the input, so a quadratic
//! path shows up as a timeout. Work that could run away is done on a
//! watchdog thread ([`within`]), so a regression fails in seconds instead
//! of hanging the suite.
//!
//! Covered: 1 MiB lines of digits and digit groups (never a valid card left
//! raw, see [`raw_cards`]); 2 million tiny lines; binary data, NUL bytes and
//! invalid UTF-8 (line count kept, bytes outside secrets unchanged, a card
//! between `0xFF`/`0xC3` bytes still found); `\r`-only line endings (one
//! line); a card at every offset around the 256 KiB read chunk; lines at
//! and around a small `--max-line-bytes`; pathological user rules.
//!
//! The linear-time tests of long candidate runs reproduce defects these
//! tests found (quadratic rescans); they are fixed and kept as regressions.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use logscrub::framing::READ_CHUNK;
use logscrub::redact::scrub_with;
use logscrub::rules::validate::{card_network_valid, luhn_valid};
use logscrub::scan::Scanner;

mod common;
use common::{leaks, temp_dir, TempDir, BIN};
const MIB: usize = 1 << 20;
const CARD: &str = "4111111111111111";
const CARD_LABEL: &[u8] = b"[CARD_REDACTED]";
const MARKER: &[u8] = b"[LINE_TOO_LONG_REDACTED]";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn scanner() -> &'static Arc<Scanner> {
    static SCANNER: OnceLock<Arc<Scanner>> = OnceLock::new();
    SCANNER.get_or_init(|| Arc::new(Scanner::builtin()))
}

/// A time limit: `release_secs` in release builds, ten times that in debug
/// builds (unoptimised regex engines are that much slower).
fn budget(release_secs: u64) -> Duration {
    let secs = if cfg!(debug_assertions) {
        release_secs * 10
    } else {
        release_secs
    };
    Duration::from_secs(secs)
}

/// Runs `work` on a watchdog thread and returns its result and how long it
/// took; fails the test as soon as `limit` passes (the thread is left to
/// finish in the background).
fn within<T: Send + 'static>(
    what: &str,
    limit: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    thread::spawn(move || {
        let out = work();
        let _ = tx.send(out);
    });
    match rx.recv_timeout(limit) {
        Ok(out) => {
            let elapsed = start.elapsed();
            assert!(elapsed < limit, "{what}: took {elapsed:?}, limit {limit:?}");
            (out, elapsed)
        }
        Err(_) => panic!("{what}: did not finish within {limit:?} (not linear?)"),
    }
}

/// Scrubs `input` with the library under a time limit.
fn scrub_timed(what: &str, input: Vec<u8>, limit: Duration) -> (Vec<u8>, Duration) {
    within(what, limit, move || scrub_with(scanner(), &input))
}

/// Runs the binary with `args`, feeding `input` from a thread (a full pipe
/// cannot deadlock), and asserts a clean exit under a time limit.
fn run_bin(args: &[&str], input: Vec<u8>, limit: Duration) -> (Vec<u8>, Duration) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let what = format!("logscrub {args:?}");
    let ((out, what), elapsed) = within(&what.clone(), limit, move || {
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn logscrub");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let writer = thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out: Output = child.wait_with_output().expect("wait for logscrub");
        writer.join().expect("stdin writer");
        (out, what)
    });
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{what}: unexpected stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.stdout, elapsed)
}

/// A fresh directory for one test's files, under Cargo's temporary dir.
fn test_dir(name: &str) -> TempDir {
    temp_dir(&format!("adversarial-{name}"))
}

/// Deterministic pseudo-random bytes (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn repeat_to(unit: &[u8], len: usize) -> Vec<u8> {
    unit.iter().copied().cycle().take(len).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn count(hay: &[u8], byte: u8) -> usize {
    hay.iter().filter(|&&b| b == byte).count()
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True when the digit-group sizes are a layout cards are printed in: one
/// group, fours with a last group of 1–4, or 4-6-4 / 4-6-5.
fn card_layout(sizes: &[usize]) -> bool {
    let n = sizes.len();
    n == 1
        || (n == 3 && sizes[0] == 4 && sizes[1] == 6 && matches!(sizes[2], 4 | 5))
        || (sizes[..n - 1].iter().all(|&s| s == 4) && (1..=4).contains(&sizes[n - 1]))
}

/// Every valid card number left raw in `out`: a run of digit groups joined
/// by one kind of single separator (space or dash), 13–19 digits, in a card
/// layout, Luhn-valid with a network prefix, standing alone (a non-word
/// byte or the edge on both sides). The README's deliberate exceptions are
/// not counted: after `word-` (`blk_-…`) or followed by a decimal part.
fn raw_cards(out: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for s in 0..out.len() {
        if !(b'2'..=b'6').contains(&out[s]) || (s > 0 && is_word(out[s - 1])) {
            continue;
        }
        if s >= 2 && out[s - 1] == b'-' && is_word(out[s - 2]) {
            continue;
        }
        let mut digits: Vec<u8> = Vec::new();
        let mut sizes: Vec<usize> = Vec::new();
        let mut sep: Option<u8> = None;
        let mut i = s;
        loop {
            let run = out[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            if run == 0 || digits.len() + run > 19 {
                break;
            }
            digits.extend(out[i..i + run].iter().map(|b| b - b'0'));
            sizes.push(run);
            i += run;
            let alone = !out.get(i).is_some_and(|&b| is_word(b));
            let decimal =
                out.get(i) == Some(&b'.') && out.get(i + 1).is_some_and(u8::is_ascii_digit);
            if alone
                && !decimal
                && digits.len() >= 13
                && card_layout(&sizes)
                && luhn_valid(&digits)
                && card_network_valid(&digits)
            {
                found.push(String::from_utf8_lossy(&out[s..i]).into_owned());
            }
            match (out.get(i), sep) {
                (Some(&b), None) if b == b' ' || b == b'-' => sep = Some(b),
                (Some(&b), Some(x)) if b == x => {}
                _ => break,
            }
            i += 1;
        }
    }
    found
}

#[test]
fn the_raw_card_check_sees_cards() {
    assert_eq!(
        raw_cards(b"x 4111 1111 1111 1111 y"),
        ["4111 1111 1111 1111"]
    );
    assert_eq!(raw_cards(b"4111-1111-1111-1111"), ["4111-1111-1111-1111"]);
    assert_eq!(raw_cards(b"(378282246310005)"), ["378282246310005"]);
    assert_eq!(raw_cards(b"3782 822463 10005"), ["3782 822463 10005"]);
    assert!(raw_cards(b"x4111111111111111 14111111111111111 blk_-4111111111111111").is_empty());
    assert!(raw_cards(b"4111 1111-1111 1111 [CARD_REDACTED] 4111111111111111.5").is_empty());
}

// ---------------------------------------------------------------------------
// Huge lines of digits
// ---------------------------------------------------------------------------

/// One huge line through the library: fast, and no valid card left raw.
fn huge_line(what: &str, mut line: Vec<u8>, limit_secs: u64) -> Vec<u8> {
    line.push(b'\n');
    let input = line.clone();
    let (out, elapsed) = scrub_timed(what, line, budget(limit_secs));
    eprintln!("{what}: {} bytes in {elapsed:?}", input.len());
    assert_eq!(count(&out, b'\n'), 1, "{what}: one line in, one line out");
    assert!(
        !out.starts_with(MARKER),
        "{what}: the line must be scanned, not cut"
    );
    let left = raw_cards(&out);
    assert!(
        left.is_empty(),
        "{what}: {} valid cards left raw, first {:?}",
        left.len(),
        &left[..left.len().min(3)]
    );
    out
}

#[test]
fn one_mib_of_digits() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let digits: Vec<u8> = (0..MIB).map(|_| b'0' + rng.below(10) as u8).collect();
    // A card inside a longer run of digits is no card, by design: the line
    // passes unchanged.
    let out = huge_line("1 MiB of digits", digits.clone(), 2);
    assert_eq!(&out[..MIB], &digits[..]);
}

#[test]
fn one_mib_of_4111_space() {
    // "4111 4111 4111 4111" fails Luhn: nothing to redact.
    let line = repeat_to(b"4111 ", MIB);
    let out = huge_line("1 MiB of '4111 '", line.clone(), 2);
    assert_eq!(&out[..MIB], &line[..]);
}

#[test]
fn one_mib_of_valid_grouped_cards() {
    let line = repeat_to(b"4111 1111 1111 1111 ", MIB);
    let out = huge_line("1 MiB of grouped cards", line, 2);
    assert!(!leaks(&out, CARD));
    assert!(out.len() < MIB, "the cards were replaced");
}

#[test]
fn one_mib_of_random_four_digit_groups() {
    // Every window of four groups is a candidate; about one in twenty is a
    // valid card and must go.
    let mut rng = Rng(42);
    let mut line = Vec::with_capacity(MIB);
    while line.len() < MIB {
        for _ in 0..4 {
            line.push(b'0' + rng.below(10) as u8);
        }
        line.push(b' ');
    }
    // Exactly 1 MiB: the default line limit, so the line is scanned.
    line.truncate(MIB);
    let before = raw_cards(&line).len();
    assert!(before > 1000, "the input holds {before} valid cards");
    huge_line("1 MiB of random 4-digit groups", line, 3);
}

#[test]
fn one_mib_of_1_2_3_dashes() {
    // Regression (fixed): every `2`/`3` after a dash starts a card candidate that the
    // validator rejects, and the search resumes one byte later. Each search
    // then rescans to the end of the run, because the e-mail rule's local
    // part `\b[A-Za-z0-9._+-]+@` started at the same offset has higher
    // priority than `pan` and stays alive while no `@` is seen. So the cost
    // is (candidates × run length): 32 KiB take ~0.4 s, 1 MiB ~7 minutes
    // (release). Any long token of letters, digits, dots and dashes with
    // many candidates in it does this: `4111111111111111-` repeated,
    // `5555555555554444.` repeated, `123-45-` repeated,
    // `eyJaaaaaaaa.` repeated.
    huge_line("1 MiB of '1-2-3-'", repeat_to(b"1-2-3-", MIB), 5);
}

#[test]
fn long_tokens_with_many_candidates_scan_in_linear_time() {
    for unit in [
        &b"4111111111111111-"[..],
        b"5555555555554444.",
        b"123-45-",
        b"eyJaaaaaaaa.",
        b"4111-1111-1111-1111-",
    ] {
        let what = format!("256 KiB of {:?}", String::from_utf8_lossy(unit));
        huge_line(&what, repeat_to(unit, 256 << 10), 2);
    }
}

#[test]
fn rejected_keyed_values_scan_in_linear_time() {
    // Regression (fixed): `kv_secret`'s value `[^\s"'&,;(){}\]<>\\]{5,}` is unbounded and
    // may contain the next key. When the `secret_value` validator rejects
    // the value (a dotted `a.b.` package name, or a value followed by `(`),
    // the search resumes one byte after the key and finds the next key
    // inside the same value, whose candidate again runs to the end: 80 KB
    // of `token=a.b.` take ~17 s in release, 1 MiB would take hours.
    for (unit, tail) in [(&b"token=a.b."[..], &b""[..]), (b"token=abcd", b"(")] {
        let mut line = repeat_to(unit, 256 << 10);
        line.extend_from_slice(tail);
        let what = format!("256 KiB of {:?}", String::from_utf8_lossy(unit));
        huge_line(&what, line, 2);
    }
}

// ---------------------------------------------------------------------------
// Many tiny lines, binary data, invalid UTF-8, CR-only endings
// ---------------------------------------------------------------------------

#[test]
fn two_million_tiny_lines() {
    let input = repeat_to(b"a\n\n", 3_000_000);
    assert_eq!(count(&input, b'\n'), 2_000_000);
    for mode in [&["--threads", "1"][..], &["--threads", "3"][..]] {
        let (out, elapsed) = run_bin(mode, input.clone(), budget(10));
        eprintln!("2M tiny lines, {mode:?}: {elapsed:?}");
        assert!(out == input, "{mode:?}: tiny lines changed");
    }
}

/// Per line, what the library does with it alone: lines it leaves alone
/// must come out of the binary unchanged, the others as the library says.
fn check_line_by_line(input: &[u8], out: &[u8], what: &str) -> usize {
    assert_eq!(count(out, b'\n'), count(input, b'\n'), "{what}: line count");
    let ins: Vec<&[u8]> = input.split_inclusive(|&b| b == b'\n').collect();
    let outs: Vec<&[u8]> = out.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(ins.len(), outs.len(), "{what}: lines");
    let mut changed = 0;
    let mut redactor = logscrub::redact::Redactor::new(Arc::clone(scanner()));
    for (i, (line, got)) in ins.iter().zip(&outs).enumerate() {
        let mut alone = Vec::new();
        redactor.scrub_lines(line, &mut alone);
        if alone == *line {
            assert!(
                got == line,
                "{what}: line {} changed with nothing found in it",
                i + 1
            );
        } else {
            changed += 1;
            assert!(
                *got == alone.as_slice(),
                "{what}: line {} differs from the library",
                i + 1
            );
        }
    }
    changed
}

#[test]
fn binary_data_passes_byte_for_byte() {
    let mut rng = Rng(7);
    // Uniform random bytes: NULs, 0xFF, lone continuation bytes, `\r`, a
    // `\n` every 256 bytes on average.
    let random: Vec<u8> = (0..4 * MIB).map(|_| rng.next() as u8).collect();
    // Binary records with NUL runs and a card in some of them.
    let mut records = Vec::new();
    for i in 0..20_000u32 {
        records.extend_from_slice(b"\0\0\0\x01\x02");
        records.extend((0..rng.below(60)).map(|_| rng.next() as u8 | 0x80));
        if i % 7 == 0 {
            records.extend_from_slice(b"\0card ");
            records.extend_from_slice(CARD.as_bytes());
            records.push(0);
        }
        records.push(b'\n');
    }
    for (what, input) in [("random bytes", random), ("binary records", records)] {
        for mode in [&["--threads", "1"][..], &["--threads", "2"][..]] {
            let (out, elapsed) = run_bin(mode, input.clone(), budget(5));
            let changed = check_line_by_line(&input, &out, what);
            eprintln!("{what} {mode:?}: {elapsed:?}, {changed} lines with findings");
            assert!(!leaks(&out, CARD), "{what}: card leaked");
            if what == "binary records" {
                assert_eq!(changed, 20_000 / 7 + 1);
            }
        }
    }
}

#[test]
fn secrets_between_invalid_utf8_bytes_are_found() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"\xff4111111111111111\xff", b"\xff[CARD_REDACTED]\xff"),
        (b"\xc34111 1111 1111 1111\xc3", b"\xc3[CARD_REDACTED]\xc3"),
        (
            b"\xc3\x284111-1111-1111-1111\xe2\x82",
            b"\xc3\x28[CARD_REDACTED]\xe2\x82",
        ),
        (
            b"\x00\xfe378282246310005\x80",
            b"\x00\xfe[CARD_REDACTED]\x80",
        ),
        (b"\xffbob@example.com\xff", b"\xff[EMAIL_REDACTED]\xff"),
        (b"\xc3\xa9 cvv=123\xff", b"\xc3\xa9 cvv=[CVV_REDACTED]\xff"),
        (b"\xfe123-45-6789\xfe", b"\xfe[SSN_REDACTED]\xfe"),
        (
            b"\xffsk_live_4eC39HqLyjWDarjtT1zdp7dc\xff",
            b"\xff[STRIPE_SECRET_KEY_REDACTED]\xff",
        ),
    ];
    let mut input = Vec::new();
    let mut want = Vec::new();
    for (line, expected) in cases {
        let started = Instant::now();
        let got = scrub_with(scanner(), line);
        assert!(started.elapsed() < budget(1));
        assert_eq!(
            got,
            expected.to_vec(),
            "{:?}",
            String::from_utf8_lossy(line)
        );
        input.extend_from_slice(line);
        input.push(b'\n');
        want.extend_from_slice(expected);
        want.push(b'\n');
    }
    let (out, _) = run_bin(&[], input, budget(5));
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&want)
    );
    assert!(out == want);
}

/// `\r` alone is not a line terminator: only `\n` ends a line (and a `\r`
/// right before it is kept with it). A CR-only file (classic Mac) is ONE
/// line; it is scrubbed as one, so nothing leaks, and every `\r` passes
/// through. When the whole file is longer than `--max-line-bytes` it is
/// replaced by the over-long marker (fail closed): raise the limit, or
/// convert the endings, to keep such logs.
#[test]
fn cr_only_line_endings_are_one_line() {
    let mut input = Vec::new();
    let mut n = 0;
    while input.len() < 600_000 {
        input.extend_from_slice(
            format!("record {n} card {CARD} mail u{n}@example.com ok\r").as_bytes(),
        );
        n += 1;
    }
    input.extend_from_slice(
        b"-----BEGIN RSA PRIVATE KEY-----\rMIIEowIBAAKCAQEAx4\r-----END RSA PRIVATE KEY-----\r",
    );
    for mode in [&["--threads", "1"][..], &["--threads", "2"][..]] {
        let args = [mode, &["--max-line-bytes", "4194304"][..]].concat();
        let (out, elapsed) = run_bin(&args, input.clone(), budget(5));
        eprintln!("CR-only {} bytes, {mode:?}: {elapsed:?}", input.len());
        assert_eq!(count(&out, b'\n'), 0, "no line terminator appears");
        // Every `\r` passes, but the two inside the private-key body (on
        // one line, BEGIN and END markers included, the body between them
        // is redacted whole).
        assert_eq!(count(&out, b'\r'), count(&input, b'\r') - 2);
        assert!(!leaks(&out, CARD), "a card leaked");
        assert!(!contains(&out, b"@example.com"));
        assert!(!contains(&out, b"MIIEowIBAAKCAQEAx4"));
        assert_eq!(
            out.windows(CARD_LABEL.len())
                .filter(|w| *w == CARD_LABEL)
                .count(),
            n
        );
    }
    // Under the default limit (1 MiB) a 2 MiB CR-only input is one over-long
    // line: the marker, never the raw text.
    let mut big = Vec::new();
    while big.len() < 2 * MIB {
        big.extend_from_slice(format!("card {CARD}\r").as_bytes());
    }
    let (out, _) = run_bin(&[], big, budget(5));
    assert_eq!(out, MARKER);
}

// ---------------------------------------------------------------------------
// Read-chunk boundaries and the line limit
// ---------------------------------------------------------------------------

/// A file whose byte `offset` starts `secret`, on a line of its own among
/// filler lines, with more filler after it.
fn file_with_secret_at(offset: usize, prefix: &[u8], secret: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(offset + 4096);
    let line_start = offset - prefix.len();
    while data.len() + 100 <= line_start {
        data.extend_from_slice(&[b'x'; 99]);
        data.push(b'\n');
    }
    // One shorter filler line (at least "\n") to land exactly.
    let left = line_start - data.len();
    if left > 0 {
        data.extend_from_slice(&vec![b'y'; left - 1]);
        data.push(b'\n');
    }
    data.extend_from_slice(prefix);
    assert_eq!(data.len(), offset);
    data.extend_from_slice(secret);
    data.extend_from_slice(b" ok\n");
    for _ in 0..50 {
        data.extend_from_slice(&[b'z'; 99]);
        data.push(b'\n');
    }
    data
}

#[test]
fn card_at_every_offset_around_the_read_chunk() {
    let dir = test_dir("card_offsets");
    let forms: [&[u8]; 3] = [
        b"4111111111111111",
        b"4111 1111 1111 1111",
        b"3782-822463-10005",
    ];
    let mut paths = Vec::new();
    let mut expected_lines = 0;
    for offset in READ_CHUNK - 40..=READ_CHUNK + 40 {
        for (f, form) in forms.iter().enumerate() {
            let data = file_with_secret_at(offset, b"pay card=", form);
            expected_lines += count(&data, b'\n');
            let path = dir.join(format!("{offset}-{f}.log"));
            std::fs::write(&path, &data).expect("write test file");
            paths.push(path.display().to_string());
        }
    }
    // All files in one run: each input is its own stream, read from its
    // start in READ_CHUNK reads.
    for mode in [&["--threads", "1"][..], &["--threads", "3"][..]] {
        let mut args: Vec<&str> = mode.to_vec();
        args.extend(paths.iter().map(String::as_str));
        let (out, elapsed) = run_bin(&args, Vec::new(), budget(10));
        eprintln!(
            "{} files around READ_CHUNK, {mode:?}: {elapsed:?}",
            paths.len()
        );
        assert_eq!(count(&out, b'\n'), expected_lines);
        let labels = out
            .windows(CARD_LABEL.len())
            .filter(|w| *w == CARD_LABEL)
            .count();
        assert_eq!(labels, paths.len(), "one card per file, each redacted");
        assert!(!leaks(&out, CARD) && !leaks(&out, "378282246310005"));
        assert!(raw_cards(&out).is_empty());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--max-line-bytes 100`: a line of exactly 100 bytes (terminator
/// excluded; a `\r` before the `\n` does not count either) with a card at
/// its end is scanned and the card redacted; a line of 101 bytes becomes
/// the marker. Never raw — whether the line sits at the start of a read or
/// straddles the 256 KiB read boundary.
#[test]
fn lines_around_a_small_line_limit() {
    const LIMIT: usize = 100;
    let dir = test_dir("line_limit");
    let line_of = |len: usize, ending: &[u8]| -> Vec<u8> {
        let mut line = vec![b'w'; len - CARD.len() - 1];
        line.push(b' ');
        line.extend_from_slice(CARD.as_bytes());
        line.extend_from_slice(ending);
        line
    };
    let mut paths = Vec::new();
    let mut expected = Vec::new();
    for len in [90, 99, 100, 101, 102, 150] {
        for ending in [&b"\n"[..], b"\r\n", b""] {
            // At the start of the stream, and straddling the read boundary
            // with 1 byte, half the line, part of the card, all the content
            // (the terminator in the next read) and the `\r` of a `\r\n`
            // in the first read.
            for first_read in [
                None,
                Some(1),
                Some(len / 2),
                Some(len - 8),
                Some(len),
                Some(len + 1),
            ] {
                let mut data = match first_read {
                    None => Vec::new(),
                    Some(k) => {
                        let start = READ_CHUNK - k;
                        let filler = file_with_secret_at(start, b"", b"")[..start].to_vec();
                        assert_eq!(filler.last(), Some(&b'\n'));
                        filler
                    }
                };
                let line = line_of(len, ending);
                let filler_len = data.len();
                data.extend_from_slice(&line);
                let scanned = len <= LIMIT;
                let mut want = data[..filler_len].to_vec();
                if scanned {
                    want.extend_from_slice(&line[..len - CARD.len()]);
                    want.extend_from_slice(CARD_LABEL);
                    if ending == b"\r\n" {
                        want.push(b'\r');
                    }
                } else {
                    want.extend_from_slice(MARKER);
                }
                if !ending.is_empty() {
                    want.push(b'\n');
                }
                let path = dir.join(format!("{len}-{}-{first_read:?}.log", ending.len()));
                std::fs::write(&path, &data).expect("write test file");
                paths.push(path.display().to_string());
                // A file that ends without a newline gets one when another
                // input follows, so lines of two files never join.
                if expected.last().is_some_and(|&b| b != b'\n') {
                    expected.push(b'\n');
                }
                expected.extend_from_slice(&want);
            }
        }
    }
    let limit = LIMIT.to_string();
    for mode in [&["--threads", "1"][..], &["--threads", "2"][..]] {
        // Each file is its own stream, read from its start in READ_CHUNK
        // reads; the output is the files' outputs in order.
        let mut args: Vec<&str> = mode.to_vec();
        args.extend(["--max-line-bytes", &limit]);
        args.extend(paths.iter().map(String::as_str));
        let (out, elapsed) = run_bin(&args, Vec::new(), budget(10));
        eprintln!("{} line-limit files, {mode:?}: {elapsed:?}", paths.len());
        assert!(!leaks(&out, CARD), "{mode:?}: a card leaked");
        if out != expected {
            let at = out
                .iter()
                .zip(&expected)
                .take_while(|(a, b)| a == b)
                .count();
            let show = |b: &[u8]| {
                String::from_utf8_lossy(&b[at.saturating_sub(120)..(at + 60).min(b.len())])
                    .into_owned()
            };
            panic!(
                "{mode:?}: output differs at byte {at}:\n got:  {}\n want: {}",
                show(&out),
                show(&expected)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// Pathological user rules
// ---------------------------------------------------------------------------

fn pattern_file(id: &str, regex: &str) -> String {
    format!(
        "family = \"user\"\n\
         [[rule]]\n\
         id = \"{id}\"\n\
         description = \"a pathological rule\"\n\
         regex = '''{regex}'''\n\
         label = \"[USER_REDACTED]\"\n"
    )
}

/// Loads one user rule next to the built-in ones: the pattern file parse
/// and check, then the catalog compile. Returns the scanner or the error
/// text, and how long it took.
fn load_user_rule(id: &str, regex: &str) -> (Result<Scanner, String>, Duration) {
    let text = pattern_file(id, regex);
    let started = Instant::now();
    let result = logscrub::rules::parse_pattern_file("user.toml", &text)
        .and_then(|user| {
            let mut rules = logscrub::rules::builtin_rules();
            rules.extend(user);
            Scanner::new(rules)
        })
        .map_err(|e| e.to_string());
    (result, started.elapsed())
}

#[test]
fn pathological_user_rules_are_rejected_or_compiled_quickly() {
    let nested = format!("{}a{}", "(".repeat(300), ")".repeat(300));
    let cases: Vec<(&str, String)> = vec![
        ("alt_star", "(?:a|aa)*b{1000}".into()),
        ("nested_counts", "[a-z]{1,100}{1,100}".into()),
        ("huge_counts", "[a-z]{1,1000}{1,1000}".into()),
        ("nested_stars", "((((((((a*)*)*)*)*)*)*)*)*b".into()),
        ("many_words", r"(?:\b\w+\b[ ,]*){50}x".into()),
        ("deep_nesting", nested),
        ("empty_match", "(?:a|b)*".into()),
        ("unclosed", "(abc".into()),
        ("lookahead", "a(?=b)".into()),
        ("backref", r"(a)\1".into()),
    ];
    for (id, regex) in &cases {
        let id = format!("evil_{id}");
        let (result, elapsed) = load_user_rule(&id, regex);
        eprintln!(
            "{id}: {} in {elapsed:?}",
            match &result {
                Ok(_) => "compiled".to_string(),
                Err(e) => format!("rejected: {e}"),
            }
        );
        assert!(elapsed < budget(1), "{id} ({regex}): {elapsed:?} to load");
        match result {
            Err(e) => {
                assert!(e.contains(&id), "the error names the rule: {e}");
                assert!(e.contains("user.toml"), "the error names the file: {e}");
            }
            Ok(scanner) => {
                // It also scans a hostile 4 KiB line in bounded time.
                let mut scratch = scanner.scratch();
                for line in [vec![b'a'; 4096], repeat_to(b"ab ", 4096)] {
                    let started = Instant::now();
                    scanner.scan_line(&line, &mut scratch);
                    let took = started.elapsed();
                    assert!(took < budget(2), "{id}: scanning 4 KiB took {took:?}");
                }
            }
        }
    }
    // What must be rejected is rejected, with the reason.
    for (id, why) in [
        ("evil_huge_counts", "NFA"),
        ("evil_deep_nesting", "nest"),
        ("evil_empty_match", "empty string"),
        ("evil_unclosed", "regex"),
        ("evil_lookahead", "regex"),
        ("evil_backref", "regex"),
    ] {
        let regex = &cases
            .iter()
            .find(|(c, _)| format!("evil_{c}") == id)
            .expect("listed")
            .1;
        let (result, _) = load_user_rule(id, regex);
        let err = result.err().unwrap_or_else(|| panic!("{id} compiled"));
        assert!(err.contains(why), "{id}: {err}");
    }
}
