//! End-to-end tests of the `logscrub` binary: line framing, byte
//! transparency, read-chunk boundaries, over-long lines, file inputs, error
//! exits, a closed stdout, and bounded memory on a huge line.
//!
//! Every test runs the real binary (`CARGO_BIN_EXE_logscrub`) as a child
//! process, feeds its standard input from a separate thread (so a full pipe
//! can never deadlock the test) and asserts on the exact bytes it writes.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Child;
use std::thread;

use logscrub::framing::READ_CHUNK;

mod common;
use common::{command, run, temp_dir, TempDir};
const CARD: &[u8] = b"4111111111111111";
const CARD_LABEL: &[u8] = b"[CARD_REDACTED]";
const MARKER: &[u8] = b"[LINE_TOO_LONG_REDACTED]";

/// The pipelines under test: the default (one scrubbing thread per core),
/// the sequential one, and more workers than cores (batches finish out of
/// order and must be put back in order).
const MODES: [&[&str]; 3] = [&[], &["--threads", "1"], &["--threads", "4"]];

/// `mode` followed by `args`.
fn with_mode<'a>(mode: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
    mode.iter().chain(args).copied().collect()
}

/// Spawns the binary with `args`, all three standard streams piped.
fn spawn(args: &[&str]) -> Child {
    command(args).spawn().expect("spawn logscrub")
}

/// Runs the binary and asserts a clean exit with empty stderr; returns
/// stdout.
fn scrub(args: &[&str], input: &[u8]) -> Vec<u8> {
    let out = run(args, input);
    assert_eq!(
        out.status.code(),
        Some(0),
        "logscrub {args:?} failed; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "unexpected stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Replaces every occurrence of `from` in `hay` with `to`.
fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn count_newlines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// Asserts two large outputs are equal, reporting the first differing line
/// instead of dumping megabytes.
fn assert_same_output(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let got_lines: Vec<&[u8]> = got.split_inclusive(|&b| b == b'\n').collect();
    let want_lines: Vec<&[u8]> = want.split_inclusive(|&b| b == b'\n').collect();
    let show = |line: &[u8]| {
        let text = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
        if line.len() > 200 {
            format!("{text}... ({} bytes)", line.len())
        } else {
            text
        }
    };
    for (i, (g, w)) in got_lines.iter().zip(&want_lines).enumerate() {
        assert_eq!(
            show(g),
            show(w),
            "{what}: first difference on line {}",
            i + 1
        );
        if g != w {
            let at = g.iter().zip(w.iter()).take_while(|(a, b)| a == b).count();
            panic!(
                "{what}: line {} differs at byte {at} (lengths {} and {})",
                i + 1,
                g.len(),
                w.len()
            );
        }
    }
    panic!(
        "{what}: {} output lines, expected {} (bytes {} vs {})",
        got_lines.len(),
        want_lines.len(),
        got.len(),
        want.len()
    );
}

/// A fresh, empty directory for one test's files.
fn test_dir(name: &str) -> TempDir {
    temp_dir(&format!("cli-{name}"))
}

/// Parses the first stderr line of `--stats` into (key, value) pairs.
fn stats_fields(stderr: &[u8]) -> Vec<(String, u64)> {
    let text = String::from_utf8_lossy(stderr);
    let first = text.lines().next().unwrap_or_default();
    first
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_string(), v.parse().expect("number"))
        })
        .collect()
}

fn stat(fields: &[(String, u64)], key: &str) -> u64 {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in stats {fields:?}"))
        .1
}

// ---------------------------------------------------------------------------
// Framing and byte transparency
// ---------------------------------------------------------------------------

#[test]
fn one_output_line_per_input_line_in_order() {
    let mut input = Vec::new();
    let mut want = Vec::new();
    for i in 0..50_000 {
        let (raw, scrubbed) = match i % 7 {
            0 => (
                format!("line {i:05} paid with 4111 1111 1111 1111 ok\n"),
                format!("line {i:05} paid with [CARD_REDACTED] ok\n"),
            ),
            3 => (
                format!("line {i:05} mail bob.{i}@example.com sent\n"),
                format!("line {i:05} mail [EMAIL_REDACTED] sent\n"),
            ),
            5 => ("\n".to_string(), "\n".to_string()),
            _ => {
                let plain = format!("line {i:05} nothing secret here\n");
                (plain.clone(), plain)
            }
        };
        input.extend_from_slice(raw.as_bytes());
        want.extend_from_slice(scrubbed.as_bytes());
    }
    for mode in MODES {
        let got = scrub(mode, &input);
        assert_eq!(count_newlines(&got), count_newlines(&input), "{mode:?}");
        assert_same_output(&got, &want, &format!("50000 lines {mode:?}"));
    }
}

#[test]
fn bytes_outside_secrets_pass_unchanged() {
    let input: &[u8] = b"caf\xe9 \xff\xfe invalid utf-8 4111111111111111 \xc3\x28 end\n\
        nul \x00 bytes \x00\x00 kept 5105105105105100\x00\n\
        crlf line 4242424242424242\r\n\
        \r\n\
        \n\
        plain crlf\r\n\
        tab\tand \x1b[31mansi\x1b[0m 378282246310005\n\
        last line without newline \xff";
    let want: &[u8] = b"caf\xe9 \xff\xfe invalid utf-8 [CARD_REDACTED] \xc3\x28 end\n\
        nul \x00 bytes \x00\x00 kept [CARD_REDACTED]\x00\n\
        crlf line [CARD_REDACTED]\r\n\
        \r\n\
        \n\
        plain crlf\r\n\
        tab\tand \x1b[31mansi\x1b[0m [CARD_REDACTED]\n\
        last line without newline \xff";
    for mode in MODES {
        assert_eq!(scrub(mode, input), want, "{mode:?}");
    }
}

#[test]
fn lines_without_secrets_are_byte_identical() {
    // Every byte value, in lines of 64, none forming a secret.
    let mut input = Vec::new();
    for b in 0u8..=255 {
        if b != b'\n' {
            input.push(b);
        }
        if b % 64 == 63 {
            input.push(b'\n');
        }
    }
    input.extend_from_slice(b"\r\n\n\n\r");
    assert_eq!(scrub(&[], &input), input);
}

#[test]
fn final_line_without_newline_stays_without_newline() {
    assert_eq!(scrub(&[], b"a\nb"), b"a\nb");
    assert_eq!(
        scrub(&[], b"first\ncard 4111111111111111"),
        b"first\ncard [CARD_REDACTED]"
    );
    assert_eq!(scrub(&[], b"no newline at all"), b"no newline at all");
    assert_eq!(scrub(&[], b"ends with cr\r"), b"ends with cr\r");
}

#[test]
fn empty_lines_pass() {
    assert_eq!(scrub(&[], b"\n"), b"\n");
    assert_eq!(scrub(&[], b"\n\n\n"), b"\n\n\n");
    assert_eq!(scrub(&[], b"\r\n\r\n"), b"\r\n\r\n");
}

#[test]
fn empty_input_gives_empty_output() {
    assert_eq!(scrub(&[], b""), b"");
    let out = run(&["--stats"], Vec::new());
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let fields = stats_fields(&out.stderr);
    assert_eq!(stat(&fields, "lines"), 0);
    assert_eq!(stat(&fields, "bytes_out"), 0);
    assert_eq!(stat(&fields, "redactions"), 0);
}

// ---------------------------------------------------------------------------
// Read-chunk boundaries
// ---------------------------------------------------------------------------

/// Appends filler lines (letters only, no secret) to `buf` until it is
/// exactly `target` bytes long; each filler line ends with `\n`.
fn fill_to(buf: &mut Vec<u8>, target: usize) {
    assert!(target > buf.len(), "filler must not be empty");
    while buf.len() < target {
        let n = (target - buf.len()).min(100);
        let end = buf.len() + n - 1;
        buf.resize(end, b'x');
        buf.push(b'\n');
    }
}

/// An input in which, at the k-th multiple of [`READ_CHUNK`], a line
/// holding a card starts `shift` bytes before the boundary, for every shift
/// from "the line starts just after the boundary" to "the line ends just
/// before it". Returns the input and the expected output.
fn boundary_input(line: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut input = Vec::new();
    let shifts = -2..=(line.len() as isize + 2);
    for (k, shift) in (1..).zip(shifts) {
        let start = (k * READ_CHUNK) as isize - shift;
        fill_to(&mut input, start as usize);
        input.extend_from_slice(line);
    }
    input.extend_from_slice(b"tail\n");
    let want = replace_all(&input, CARD, CARD_LABEL);
    (input, want)
}

#[test]
fn card_at_every_offset_around_read_chunk_boundaries_from_a_file() {
    // A regular file is read in full READ_CHUNK pieces, so the reads end
    // exactly at multiples of READ_CHUNK: every shift below straddles one.
    for line in [
        &b"pay 4111111111111111 ok\n"[..],
        &b"crlf 4111111111111111\r\n"[..],
        &b"4111111111111111\n"[..],
    ] {
        let (input, want) = boundary_input(line);
        let dir = test_dir("chunk-boundaries");
        let path = dir.join("in.log");
        std::fs::write(&path, &input).unwrap();
        for mode in MODES {
            let got = scrub(&with_mode(mode, &[path.to_str().unwrap()]), b"");
            assert!(!contains(&got, CARD), "a card passed raw {mode:?}");
            assert_same_output(&got, &want, &format!("chunk boundaries (file) {mode:?}"));
        }
    }
}

#[test]
fn card_at_every_offset_around_read_chunk_boundaries_from_stdin() {
    let (input, want) = boundary_input(b"pay 4111111111111111 ok\n");
    let got = scrub(&[], &input);
    assert!(!contains(&got, CARD), "a card passed raw");
    assert_same_output(&got, &want, "card at read-chunk boundaries (stdin)");
}

#[test]
fn long_lines_near_the_limit_straddle_chunks_intact() {
    // Lines of 300 KiB (over one READ_CHUNK, under the 1 MiB default limit)
    // with a card near each end, so cards fall at many chunk offsets.
    let mut input = Vec::new();
    for i in 0..8 {
        input.extend_from_slice(b"begin 4111111111111111 ");
        let end = input.len() + 300 * 1024 + i as usize * 977;
        input.resize(end, b'a' + i);
        input.extend_from_slice(b" 5105105105105100 end\n");
    }
    let want = replace_all(
        &replace_all(&input, CARD, CARD_LABEL),
        b"5105105105105100",
        CARD_LABEL,
    );
    let dir = test_dir("long-lines");
    let path = dir.join("in.log");
    std::fs::write(&path, &input).unwrap();
    let got = scrub(&[path.to_str().unwrap()], b"");
    assert_same_output(&got, &want, "300 KiB lines (file)");
    let got = scrub(&[], &input);
    assert_same_output(&got, &want, "300 KiB lines (stdin)");
}

// ---------------------------------------------------------------------------
// Over-long lines
// ---------------------------------------------------------------------------

/// A 1000-byte line (newline excluded) with a card in the middle.
fn thousand_byte_line_with_card() -> Vec<u8> {
    let mut line = vec![b'z'; 500];
    line.extend_from_slice(b" 4111111111111111 ");
    line.resize(1000, b'y');
    line
}

#[test]
fn over_long_line_is_replaced_by_the_marker() {
    let long = thousand_byte_line_with_card();
    let mut input = b"before 4111111111111111\n".to_vec();
    input.extend_from_slice(&long);
    input.extend_from_slice(b"\nafter one\nafter two 5105105105105100\n");

    for mode in MODES {
        let args = with_mode(mode, &["--max-line-bytes", "100", "--stats"]);
        let out = run(&args, input.clone());
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "before [CARD_REDACTED]\n[LINE_TOO_LONG_REDACTED]\nafter one\nafter two [CARD_REDACTED]\n",
            "{mode:?}"
        );
        assert!(!contains(&out.stdout, CARD));
        assert!(!contains(&out.stdout, b"zzzz"));
        let fields = stats_fields(&out.stderr);
        assert_eq!(stat(&fields, "failed_closed"), 1, "{mode:?}");
        assert_eq!(stat(&fields, "lines"), 4, "{mode:?}");
        assert_eq!(stat(&fields, "redactions"), 2, "{mode:?}");
    }
}

#[test]
fn final_over_long_line_without_newline_gives_the_marker_without_newline() {
    let mut input = b"ok\n".to_vec();
    input.extend_from_slice(&thousand_byte_line_with_card());
    for mode in MODES {
        let args = with_mode(mode, &["--max-line-bytes", "100", "--stats"]);
        let out = run(&args, input.clone());
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "ok\n[LINE_TOO_LONG_REDACTED]",
            "{mode:?}"
        );
        let fields = stats_fields(&out.stderr);
        assert_eq!(stat(&fields, "failed_closed"), 1, "{mode:?}");
        assert_eq!(stat(&fields, "lines"), 2, "{mode:?}");
    }
}

#[test]
fn line_of_exactly_the_limit_passes() {
    let line = vec![b'q'; 100];
    let mut input = line.clone();
    input.push(b'\n');
    input.extend_from_slice(&line);
    input.extend_from_slice(b"q\n");
    let mut want = line.clone();
    want.push(b'\n');
    want.extend_from_slice(MARKER);
    want.push(b'\n');
    assert_eq!(scrub(&["--max-line-bytes", "100"], &input), want);
}

#[test]
fn over_long_lines_spanning_many_read_chunks() {
    // 4.5 READ_CHUNKs (over the 1 MiB default limit) of cards and no
    // newline: the reader has to discard across several reads, then resume
    // at the right line.
    let pattern = b"card 4111111111111111 ";
    let mut long = Vec::new();
    while long.len() < READ_CHUNK * 9 / 2 {
        long.extend_from_slice(pattern);
    }
    let mut input = b"head\n".to_vec();
    input.extend_from_slice(&long);
    input.extend_from_slice(b"\nmiddle 4111111111111111\n");
    input.extend_from_slice(&long);
    input.extend_from_slice(b"\ntail\n");
    let want: &[u8] =
        b"head\n[LINE_TOO_LONG_REDACTED]\nmiddle [CARD_REDACTED]\n[LINE_TOO_LONG_REDACTED]\ntail\n";

    let dir = test_dir("over-long-chunks");
    let path = dir.join("in.log");
    std::fs::write(&path, &input).unwrap();
    for mode in MODES {
        let args = with_mode(mode, &["--max-line-bytes", "100", "--stats"]);
        let out = run(&args, input.clone());
        assert_eq!(out.status.code(), Some(0));
        assert_same_output(&out.stdout, want, &format!("limit 100 (stdin) {mode:?}"));
        assert_eq!(stat(&stats_fields(&out.stderr), "failed_closed"), 2);

        // The default limit (1 MiB) too, from a file.
        let got = scrub(&with_mode(mode, &[path.to_str().unwrap()]), b"");
        assert_same_output(&got, want, &format!("default limit (file) {mode:?}"));
    }
}

// ---------------------------------------------------------------------------
// Inputs and errors
// ---------------------------------------------------------------------------

#[test]
fn file_inputs_are_read_in_order() {
    let dir = test_dir("file-order");
    let a = dir.join("a.log");
    let b = dir.join("b.log");
    let c = dir.join("c.log");
    std::fs::write(&a, b"a1 4111111111111111\na2\n").unwrap();
    std::fs::write(&b, b"b1\nb2 bob@example.com\n").unwrap();
    std::fs::write(&c, b"c1\n").unwrap();
    let (a, b, c) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    );

    assert_eq!(
        scrub(&[c, a, b], b"ignored: stdin is not read\n"),
        b"c1\na1 [CARD_REDACTED]\na2\nb1\nb2 [EMAIL_REDACTED]\n"
    );
    // `-` is standard input, in its place among the files.
    assert_eq!(
        scrub(&[b, "-", a], b"s1 5105105105105100\n"),
        b"b1\nb2 [EMAIL_REDACTED]\ns1 [CARD_REDACTED]\na1 [CARD_REDACTED]\na2\n"
    );
}

#[test]
fn unreadable_input_exits_2_and_names_the_path() {
    let dir = test_dir("unreadable");
    let good = dir.join("good.log");
    std::fs::write(&good, b"good 4111111111111111\n").unwrap();
    let missing = dir.join("does-not-exist.log");

    let out = run(
        &[good.to_str().unwrap(), missing.to_str().unwrap()],
        Vec::new(),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("logscrub: reading {}: ", missing.display())),
        "stderr: {stderr}"
    );
    // What came before the bad input was written, scrubbed.
    assert_eq!(out.stdout, b"good [CARD_REDACTED]\n");

    // A directory opens but cannot be read.
    let out = run(&[dir.to_str().unwrap()], Vec::new());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("logscrub: reading {}: ", dir.display())),
        "stderr: {stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn closed_stdout_exits_0_quietly() {
    for mode in MODES {
        closed_stdout(mode);
    }
}

/// `logscrub | head -1`: read one line, close the pipe, and the binary must
/// stop with status 0 and nothing on stderr.
fn closed_stdout(mode: &[&str]) {
    let mut child = spawn(mode);
    let mut stdin = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        let mut block = Vec::new();
        for i in 0..1000 {
            block.extend_from_slice(format!("line {i:04} card 4111111111111111 ok\n").as_bytes());
        }
        // Far more than the pipe buffers hold; stop at the first error
        // (the child has gone).
        for _ in 0..2000 {
            if stdin.write_all(&block).is_err() {
                return true;
            }
        }
        false
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "line 0000 card [CARD_REDACTED] ok\n");
    drop(stdout);

    let out = child.wait_with_output().unwrap();
    let writer_saw_exit = writer.join().unwrap();
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{mode:?}: status {:?}",
        out.status
    );
    assert!(
        writer_saw_exit,
        "logscrub read all input: it did not stop on the closed stdout"
    );
}

// ---------------------------------------------------------------------------
// Rules end to end
// ---------------------------------------------------------------------------

#[test]
fn multi_line_pem_private_key_body_is_redacted() {
    let input = b"loading key\n\
        -----BEGIN RSA PRIVATE KEY-----\n\
        MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n\
        VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n\
        \tLCL2PfF8IyRVuwR+y8X9Q8Fnq0PSnyMFMGXAH6p2YRJxQ7Wml1E=\r\n\
        -----END RSA PRIVATE KEY-----\n\
        key loaded\n";
    let want = b"loading key\n\
        -----BEGIN RSA PRIVATE KEY-----\n\
        [PRIVATE_KEY_REDACTED]\n\
        [PRIVATE_KEY_REDACTED]\n\
        \t[PRIVATE_KEY_REDACTED]\r\n\
        -----END RSA PRIVATE KEY-----\n\
        key loaded\n";
    for mode in MODES {
        let got = scrub(mode, input);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "{mode:?}"
        );
        assert!(!contains(&got, b"MIIE"));
    }
}

#[test]
fn pem_block_across_read_chunk_boundaries() {
    // The batch boundary falls at the start, inside and at the end of every
    // line of a key block: the block state must carry across batches (and
    // across workers, with several threads).
    let block: [&[u8]; 5] = [
        b"-----BEGIN PRIVATE KEY-----\n",
        b"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n",
        b"BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n",
        b"MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3S\n",
        b"-----END PRIVATE KEY-----\n",
    ];
    let redacted: [&[u8]; 5] = [
        block[0],
        b"[PRIVATE_KEY_REDACTED]\n",
        b"[PRIVATE_KEY_REDACTED]\n",
        b"[PRIVATE_KEY_REDACTED]\n",
        block[4],
    ];
    let mut cuts = Vec::new();
    let mut at = 0;
    for line in block {
        cuts.extend([at, at + 1, at + line.len() - 1]);
        at += line.len();
    }
    cuts.push(at);
    let (mut input, mut want) = (Vec::new(), Vec::new());
    for (k, cut) in (1..).zip(cuts) {
        let start = k * READ_CHUNK - cut;
        let filler_from = input.len();
        fill_to(&mut input, start);
        want.extend_from_slice(&input[filler_from..]);
        input.extend(block.concat());
        want.extend(redacted.concat());
    }
    input.extend_from_slice(b"after\n");
    want.extend_from_slice(b"after\n");
    let dir = test_dir("pem-boundaries");
    let path = dir.join("in.log");
    std::fs::write(&path, &input).unwrap();
    for mode in MODES {
        let got = scrub(&with_mode(mode, &[path.to_str().unwrap()]), b"");
        assert_same_output(&got, &want, &format!("PEM at chunk boundaries {mode:?}"));
    }
}

#[test]
fn scrubbing_the_output_again_is_a_no_op() {
    let input: &[u8] = b"card 4111 1111 1111 1111 and 5105-1051-0510-5100\n\
        {\"pan\": 4242424242424242, \"email\": \"alice@example.com\"}\n\
        Authorization: Bearer 6UGMTyy1FpssgIkv2BL3wqTuqKefvpmadmct4Xov\n\
        api_key=Dragon_1779X4Hpq token='Winter!56773yPIz'\n\
        key AKIAIOSFODNN7EXAMPLE sk_live_DdFx4Yrn0YfBvX3zb6C7wZc6\n\
        ssn=289382099 cvv=123 jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n\
        {\"msg\": \"card \\u0034111111111111111\"} email=bob%40example.com&x=1\n\
        -----BEGIN PRIVATE KEY-----\n\
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n\
        -----END PRIVATE KEY-----\n\
        key=\"-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA -----END OPENSSH PRIVATE KEY-----\"\n\
        plain line";
    let want: &[u8] = b"card [CARD_REDACTED] and [CARD_REDACTED]\n\
        {\"pan\": \"[CARD_REDACTED]\", \"email\": \"[EMAIL_REDACTED]\"}\n\
        Authorization: Bearer [TOKEN_REDACTED]\n\
        api_key=[SECRET_REDACTED] token='[SECRET_REDACTED]'\n\
        key [API_KEY_REDACTED] [STRIPE_SECRET_KEY_REDACTED]\n\
        ssn=[SSN_REDACTED] cvv=[CVV_REDACTED] jwt [TOKEN_REDACTED]\n\
        {\"msg\": \"card [CARD_REDACTED]\"} email=[EMAIL_REDACTED]&x=1\n\
        -----BEGIN PRIVATE KEY-----\n\
        [PRIVATE_KEY_REDACTED]\n\
        -----END PRIVATE KEY-----\n\
        key=\"-----BEGIN OPENSSH PRIVATE KEY-----[PRIVATE_KEY_REDACTED]-----END OPENSSH PRIVATE KEY-----\"\n\
        plain line";
    let once = scrub(&[], input);
    assert_eq!(
        String::from_utf8_lossy(&once),
        String::from_utf8_lossy(want)
    );
    let twice = scrub(&[], &once);
    assert_eq!(
        String::from_utf8_lossy(&twice),
        String::from_utf8_lossy(&once)
    );
    let out = run(&["--stats"], once);
    assert_eq!(
        stat(&stats_fields(&out.stderr), "redactions"),
        1,
        "only the PEM body line is re-labelled"
    );
}

// ---------------------------------------------------------------------------
// Bounded memory on a huge line without newline
// ---------------------------------------------------------------------------

/// The peak resident set size (VmHWM, in KiB) of a live process, or None
/// once it has exited (a zombie has no memory lines) or is gone.
#[cfg(target_os = "linux")]
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Streams `total` bytes of a repeating card pattern with no newline into
/// the binary (default settings), generated 1 MiB at a time, and checks the
/// output is exactly the marker and the child's peak RSS stays under 64 MiB.
#[cfg(target_os = "linux")]
fn huge_line_without_newline(mode: &[&str], total: usize) {
    const PEAK_LIMIT_KIB: u64 = 64 * 1024;
    const PIECE: usize = 1 << 20;
    let started = std::time::Instant::now();
    let mut child = spawn(mode);
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();

    let writer = thread::spawn(move || {
        let pattern = b"user=alice card=4111111111111111 cvv=123 ";
        // One piece plus a pattern's length of repetitions, so that a slice
        // starting anywhere in the cycle is a full piece.
        let mut cycle = Vec::with_capacity(PIECE + pattern.len());
        while cycle.len() < PIECE + pattern.len() {
            cycle.extend_from_slice(pattern);
        }
        let mut written = 0;
        while written < total {
            let at = written % pattern.len();
            let n = PIECE.min(total - written);
            stdin
                .write_all(&cycle[at..at + n])
                .expect("write to logscrub");
            written += n;
        }
        // Dropping stdin closes it: end of input.
    });

    // Poll the child's high-water mark until it exits: VmHWM only grows, so
    // the last reading taken before the exit is the peak.
    let poller = thread::spawn(move || {
        let mut peak = 0;
        let mut readings = 0u64;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
        while let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
            readings += 1;
            if std::time::Instant::now() > deadline {
                break;
            }
            thread::sleep(std::time::Duration::from_millis(2));
        }
        (peak, readings)
    });

    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    writer.join().unwrap();
    let (peak_kib, readings) = poller.join().unwrap();
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "{} MiB without newline {mode:?}: peak RSS {peak_kib} KiB ({readings} readings), {:.1?}",
        total >> 20,
        started.elapsed()
    );

    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(MARKER),
        "the output must be exactly the marker, without newline"
    );
    assert!(readings > 0 && peak_kib > 0, "no VmHWM reading was taken");
    assert!(
        peak_kib < PEAK_LIMIT_KIB,
        "peak RSS {peak_kib} KiB is over {PEAK_LIMIT_KIB} KiB"
    );
}

#[test]
#[cfg(target_os = "linux")]
fn huge_line_without_newline_512_mib_bounded_memory() {
    huge_line_without_newline(&[], 512 << 20);
    huge_line_without_newline(&["--threads", "1"], 512 << 20);
}
