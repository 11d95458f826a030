//! The invariants of scrubbing, checked on arbitrary input bytes by the fuzz
//! target (`fuzz_targets/scrub.rs`) and replayed on every file of
//! `fuzz/regressions/` by `tests/fuzz_regressions.rs`.
//!
//! For every input it checks, in order:
//!
//! 1. Framing: the output has exactly as many `\n` as the input.
//! 2. Idempotence: scrubbing the output again gives the same output.
//! 3. Streaming: the pipe (`pipe::run`, with the input trickled in reads of
//!    1–16 bytes, sequential or with two scrubbing threads) writes exactly what
//!    `scrub_with` returns for the whole input at once, so read-chunk and
//!    batch boundaries never change the result.
//! 4. Over-long lines: with a tiny `max_line_bytes` (1–32), every line
//!    longer than the limit comes out as exactly the marker (with its
//!    newline, if it had one) and no line within the limit does.
//! 5. Embedded card: the input split in two around a Luhn-valid 16-digit
//!    Visa number (`prefix + " 4…… " + suffix`) never lets that number
//!    through.
//! 6. The line gate changes nothing: scrubbing with the automaton run over
//!    every line (no gate) writes the same bytes.
//! 7. The same for container runtime files: the input's lines wrapped as
//!    Docker's json-file driver and the CRI runtimes store them, where the
//!    gate also decides which decoded views and structures are read.
//!
//! Build and run: see `fuzz/README.md`.

use std::io::{self, Read};
use std::sync::{Arc, OnceLock};

use logscrub::pipe::{self, PipeOptions, OVERLONG_MARKER};
use logscrub::redact::scrub_with;
use logscrub::scan::Scanner;
use logscrub::stats::Stats;

/// The built-in catalog without its line gate, compiled once per process.
fn ungated_scanner() -> &'static Arc<Scanner> {
    static SCANNER: OnceLock<Arc<Scanner>> = OnceLock::new();
    SCANNER.get_or_init(|| Arc::new(Scanner::builtin().without_gate()))
}

/// The built-in catalog, compiled once per process.
fn scanner() -> &'static Arc<Scanner> {
    static SCANNER: OnceLock<Arc<Scanner>> = OnceLock::new();
    SCANNER.get_or_init(|| Arc::new(Scanner::builtin()))
}

/// A source that hands out its bytes at most `step` at a time.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// What the pipe writes for `data`.
fn run_pipe(data: &[u8], step: usize, max_line_bytes: usize, threads: usize) -> Vec<u8> {
    let scanner = scanner();
    let source = Trickle {
        data: data.to_vec(),
        pos: 0,
        step,
    };
    let options = PipeOptions {
        max_line_bytes,
        threads,
        ..PipeOptions::default()
    };
    let mut out = Vec::new();
    let mut stats = Stats::new(scanner.rules().len());
    pipe::run("fuzz", source, &mut out, scanner, &options, &mut stats)
        .expect("an in-memory pipe cannot fail");
    out
}

fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// Non-overlapping occurrences of `needle` in `hay`.
fn occurrences(hay: &[u8], needle: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if &hay[i..i + needle.len()] == needle {
            n += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    n
}

/// A line without its `\n` and then its `\r`, as the redactor measures it.
fn content(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A Luhn-valid 16-digit Visa number: `4`, 14 digits taken from `seed`
/// (1s when it runs out), and the check digit.
fn visa_from(seed: &[u8]) -> [u8; 16] {
    let mut card = [b'1'; 16];
    card[0] = b'4';
    for (slot, &b) in card[1..15].iter_mut().zip(seed) {
        *slot = b'0' + b % 10;
    }
    // Luhn: double every second digit from the right, the check digit
    // itself (position 15) not doubled.
    let mut sum = 0;
    for (i, &d) in card[..15].iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    card[15] = b'0' + ((10 - sum % 10) % 10) as u8;
    card
}

/// True when a number starting at the end of `before` is the value of an id
/// key, which the card rule exempts on purpose (the engine's own test).
fn after_id_key(before: &[u8]) -> bool {
    logscrub::rules::validate::after_id_key(before, before.len())
}

/// The lines of `data` as Docker json-file records and as CRI lines.
fn container_wrapped(data: &[u8]) -> [Vec<u8>; 2] {
    let (mut docker, mut cri) = (Vec::new(), Vec::new());
    for line in data.split_inclusive(|&b| b == b'\n') {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        docker.extend_from_slice(b"{\"log\":\"");
        for &b in text {
            match b {
                b'"' => docker.extend_from_slice(b"\\\""),
                b'\\' => docker.extend_from_slice(b"\\\\"),
                0..=0x1f => docker.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
                _ => docker.push(b),
            }
        }
        docker.extend_from_slice(
            b"\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:00.1Z\"}\n",
        );
        cri.extend_from_slice(b"2024-01-01T00:00:00.1Z stdout F ");
        cri.extend_from_slice(text);
        cri.push(b'\n');
    }
    [docker, cri]
}

/// Checks every invariant on one input; panics on a violation.
pub fn check(data: &[u8]) {
    let scanner = scanner();
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let param = |i: usize| data.get(i).copied().unwrap_or(0) as usize;

    // 1. One output line per input line.
    let once = scrub_with(scanner, data);
    assert_eq!(
        newlines(&once),
        newlines(data),
        "newline count changed: {:?} -> {:?}",
        lossy(data),
        lossy(&once)
    );

    // 6. The gate changes nothing.
    let ungated = scrub_with(ungated_scanner(), data);
    assert!(
        ungated == once,
        "the line gate changed the output:\n input   {:?}\n gated   {:?}\n ungated {:?}",
        lossy(data),
        lossy(&once),
        lossy(&ungated)
    );

    // 7. The gate changes nothing in container runtime files either.
    for wrapped in container_wrapped(data) {
        let gated = scrub_with(scanner, &wrapped);
        let ungated = scrub_with(ungated_scanner(), &wrapped);
        assert!(
            gated == ungated,
            "the line gate changed a wrapped output:\n input   {:?}\n gated   {:?}\n ungated {:?}",
            lossy(&wrapped),
            lossy(&gated),
            lossy(&ungated)
        );
    }

    // 2. Idempotence.
    let twice = scrub_with(scanner, &once);
    assert!(
        twice == once,
        "scrubbing twice differs:\n input {:?}\n once  {:?}\n twice {:?}",
        lossy(data),
        lossy(&once),
        lossy(&twice)
    );

    // 3. The streaming pipe equals the one-shot scrub.
    let step = 1 + param(0) % 16;
    // The parallel pipeline costs a few thread spawns per run, so one input
    // in four takes it here and another one in four in check 4.
    let threads = if param(1) % 4 == 0 { 2 } else { 1 };
    let streamed = run_pipe(data, step, 1 << 20, threads);
    assert!(
        streamed == once,
        "pipe (reads of {step}, {threads} threads) differs:\n input    {:?}\n scrub    {:?}\n streamed {:?}",
        lossy(data),
        lossy(&once),
        lossy(&streamed)
    );

    // 4. Over-long lines fail closed, and only they do.
    let max = 1 + param(2) % 32;
    let threads = if param(1) % 4 == 1 { 2 } else { 1 };
    let limited = run_pipe(data, step, max, threads);
    let in_lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let out_lines: Vec<&[u8]> = limited.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(
        in_lines.len(),
        out_lines.len(),
        "line count changed with max {max}: {:?} -> {:?}",
        lossy(data),
        lossy(&limited)
    );
    for (input, output) in in_lines.iter().zip(&out_lines) {
        let terminated = input.ends_with(b"\n");
        let is_marker = output.strip_suffix(b"\n").unwrap_or(output) == OVERLONG_MARKER;
        if content(input).len() > max {
            let mut want = OVERLONG_MARKER.to_vec();
            if terminated {
                want.push(b'\n');
            }
            assert!(
                *output == want.as_slice(),
                "over-long line (max {max}) not replaced: {:?} -> {:?}",
                lossy(input),
                lossy(output)
            );
        } else {
            assert!(
                !is_marker || content(input) == OVERLONG_MARKER,
                "line within the limit (max {max}) failed closed: {:?}",
                lossy(input)
            );
        }
    }

    // 5. An embedded Luhn-valid Visa number never comes out.
    let card = visa_from(data.get(3..).unwrap_or_default());
    let cut = (param(0) << 8 | param(1)) % (data.len() + 1);
    let (prefix, suffix) = data.split_at(cut);
    let mut text = prefix.to_vec();
    text.push(b' ');
    let card_at = text.len();
    text.extend_from_slice(&card);
    text.push(b' ');
    text.extend_from_slice(suffix);
    // Also exempt: the whole cell of a table's id column, the value of an
    // id key ending the line before (`src/format/carry.rs`).
    let id_cell = logscrub::format::carry::id_cells_in(&text, scanner.sensitive_keys())
        .contains(&(card_at..card_at + card.len()));
    if !after_id_key(&text[..card_at]) && !id_cell {
        let out = scrub_with(scanner, &text);
        // Labels hold no digits, so every occurrence in the output is one
        // of the input's; at least the embedded one must be gone.
        let before = occurrences(&text, &card);
        let after = occurrences(&out, &card);
        assert!(
            after < before,
            "embedded card {} passed: {:?} -> {:?}",
            lossy(&card),
            lossy(&text),
            lossy(&out)
        );
    }
}
