//! The invariants of the socket framers, checked on arbitrary input by the
//! fuzz target `fuzz_targets/framers.rs` and replayed on every
//! `fuzz/regressions/framers-*` file by `tests/framer_regressions.rs`.
//!
//! An input is read as: byte 0 picks `max_line_bytes` (1–64, times 8 when
//! flag bit 2 is set), byte 1 holds flags (bit 0: hold CRI partial lines,
//! bit 1: feed with `push` instead of `spare`/`filled`, bits 3–4: the size
//! class of the reads), bytes 2–3 seed the split points, and the rest is the
//! stream. With CRI holding on, the bytes 0x01, 0x02 and 0x03 of the stream
//! expand to a CRI prefix (`<time> stdout P `, `… stdout F `,
//! `… stderr P `), so the fuzzer reaches the partial-run paths.
//!
//! [`Framer`] (newline framing), fed whole, a byte at a time and at split
//! points derived from the input:
//!
//! 1. Position: each `Lines` batch is exactly the next bytes of the input;
//!    each `OverLong { terminated, bytes }` covers exactly the next line
//!    (`bytes` with its newline, `terminated` iff it had one), and that
//!    line is over the limit (its content, without `\n` and then `\r`, is
//!    longer than `max_line_bytes`). So the Lines bytes plus the OverLong
//!    byte counts add up to the input.
//! 2. Batches: a `Lines` batch is never empty and ends with `\n`, except the
//!    last event of a stream that does not end with one; an unterminated
//!    `OverLong` is the last event too.
//! 3. `consumed()` equals the bytes of the events handed out so far after
//!    every event (it is the checkpoint offset), and the input length at
//!    `End`; `End` comes only after `finish()` and stays; `NeedInput` never
//!    comes after `finish()`.
//! 4. Memory bound: whenever the framer asks for input, it holds at most
//!    `max_line_bytes + 1` bytes (`pending()`), so no line of a `Lines`
//!    batch is longer than `max_line_bytes + 1` plus the size of the read
//!    that completed it. Fed a byte at a time, no line is longer than
//!    `max_line_bytes + 1` before its `\n` (the `+ 1` is a `\r`'s slack).
//!    A longer line that arrives whole in one read is handed out in a
//!    `Lines` batch, by design: the redactor fails it closed.
//! 5. Split independence: every feeding gives the same sequence of lines
//!    once each line over the limit, whether handed out in a `Lines` batch
//!    or as an `OverLong`, is written as an over-long marker, and that
//!    sequence is `split_inclusive(b'\n')` of the input (the naive oracle).
//! 6. CRI holding: a `Lines` batch handed out before `finish()` that ends
//!    with a CRI partial line holds nothing but CRI partial lines (a run
//!    that passed the limit); otherwise batches end after a whole message.
//!
//! [`OctetDecoder`] (RFC 6587 octet counting):
//!
//! 7. Fed whole, a byte at a time or split as above, it gives the same
//!    events once adjacent `Data` are joined, and they equal a one-shot
//!    reference decoder written from the module's contract; `Data` is
//!    never empty.
//! 8. A stream built from the input as valid frames (`LEN SP MSG`) with
//!    garbage lines between them decodes to exactly each message, followed
//!    by `\n` unless it ended with one, and one `Garbage` event per garbage
//!    line with its exact length; no garbage byte (0xFE, which no message
//!    holds) reaches `Data`.
//!
//! Build and run: see `fuzz/README.md`.

use logscrub::format::parse_cri;
use logscrub::framing::octet::{Decoded, OctetDecoder};
use logscrub::framing::{Batch, Framer, Next};

/// How an input is framed, decoded from its first bytes.
#[derive(Debug, Clone, Copy)]
struct Params {
    max_line_bytes: usize,
    hold_cri: bool,
    push: bool,
    /// Largest read, in bytes, for the derived split points.
    read_max: usize,
    seed: u64,
}

impl Params {
    fn parse(data: &[u8]) -> (Params, &[u8]) {
        let byte = |i: usize| data.get(i).copied().unwrap_or(0);
        let flags = byte(1);
        let mut max_line_bytes = 1 + usize::from(byte(0) % 64);
        if flags & 4 != 0 {
            max_line_bytes *= 8;
        }
        let read_max = match (flags >> 3) & 3 {
            0 => 3,
            1 => 16,
            // Reads about the size of the limit reach its edges.
            2 => 2 * max_line_bytes + 2,
            _ => 4096,
        };
        let params = Params {
            max_line_bytes,
            hold_cri: flags & 1 != 0,
            push: flags & 2 != 0,
            read_max,
            seed: u64::from(byte(2)) << 8 | u64::from(byte(3)),
        };
        (params, data.get(4..).unwrap_or_default())
    }
}

const CRI_PREFIXES: [&[u8]; 3] = [
    b"2024-04-13T16:22:02.416120330Z stdout P ",
    b"2024-04-13T16:22:02.416120330Z stdout F ",
    b"2024-04-13T16:22:02.416120330Z stderr P ",
];

/// The stream to frame: the payload, with CRI prefixes expanded when CRI
/// partial lines are held.
fn stream_of(payload: &[u8], hold_cri: bool) -> Vec<u8> {
    if !hold_cri {
        return payload.to_vec();
    }
    let mut out = Vec::with_capacity(payload.len());
    for &b in payload {
        match b {
            1..=3 => out.extend_from_slice(CRI_PREFIXES[usize::from(b - 1)]),
            _ => out.push(b),
        }
    }
    out
}

/// A small deterministic generator (SplitMix64) for split points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Read sizes covering `len` bytes: 0 to `read_max` each (an empty read one
/// time in eight), derived from `seed`.
fn split_points(len: usize, read_max: usize, seed: u64) -> Vec<usize> {
    let mut rng = Rng(seed);
    let mut reads = Vec::new();
    let mut left = len;
    while left > 0 {
        let r = rng.next();
        let n = if r & 7 == 0 {
            0
        } else {
            (1 + (r >> 3) as usize % read_max).min(left)
        };
        reads.push(n);
        left -= n;
    }
    reads
}

fn lossy(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// A line without its `\n` and then its `\r`: what the limit applies to.
fn content(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// One line of the framed stream, with over-long lines as markers.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Line(&'a [u8]),
    OverLong { terminated: bool, bytes: u64 },
}

/// A line as it must come out: a marker when it is over the limit.
fn normal_line(line: &[u8], max: usize) -> Line<'_> {
    if content(line).len() > max {
        Line::OverLong {
            terminated: line.ends_with(b"\n"),
            bytes: line.len() as u64,
        }
    } else {
        Line::Line(line)
    }
}

/// Frames `stream` fed in `reads`, checking invariants 1–4 and 6 on the
/// way; returns the lines handed out (5's normal form).
fn run_framer<'s>(stream: &'s [u8], p: &Params, reads: &[usize]) -> Vec<Line<'s>> {
    let max = p.max_line_bytes;
    let mut framer =
        Framer::new(max).hold_continued_runs(p.hold_cri.then_some(logscrub::source::cri_partial));
    let mut lines = Vec::new();
    // Bytes of the events handed out so far: where the next one starts.
    let mut at = 0usize;
    let mut fed = 0usize;
    let mut ended_unterminated = false;
    let ctx = |fed: usize| {
        format!(
            "max {max}, hold_cri {}, push {}, fed {fed} of {} in reads {reads:?}, stream {}",
            p.hold_cri,
            p.push,
            stream.len(),
            lossy(stream)
        )
    };
    for step in 0..=reads.len() {
        let finishing = step == reads.len();
        let read = if finishing {
            framer.finish();
            0
        } else {
            let chunk = &stream[fed..fed + reads[step]];
            if p.push {
                framer.push(chunk);
            } else {
                let spare = framer.spare();
                assert!(spare.len() >= chunk.len(), "spare too small");
                spare[..chunk.len()].copy_from_slice(chunk);
                framer.filled(chunk.len());
            }
            fed += chunk.len();
            chunk.len()
        };
        loop {
            let next = framer.next_batch();
            assert!(
                !ended_unterminated || matches!(next, Next::End | Next::NeedInput),
                "an event after the unterminated end: {next:?}; {}",
                ctx(fed)
            );
            match next {
                Next::Batch(Batch::Lines(batch)) => {
                    // 1. Exactly the next bytes of the input.
                    assert!(!batch.is_empty(), "empty Lines batch; {}", ctx(fed));
                    assert!(
                        stream.get(at..at + batch.len()) == Some(batch),
                        "Lines batch {} is not the input at {at}; {}",
                        lossy(batch),
                        ctx(fed)
                    );
                    // The same bytes, borrowed from the input.
                    let batch = &stream[at..at + batch.len()];
                    at += batch.len();
                    // 2. Only the end of the stream may lack a newline.
                    if !batch.ends_with(b"\n") {
                        assert!(
                            finishing && at == stream.len(),
                            "Lines batch {} without a newline before the end; {}",
                            lossy(batch),
                            ctx(fed)
                        );
                        ended_unterminated = true;
                    }
                    // 4. No line longer than the limit, its slack and
                    // the read that completed it.
                    for line in batch.split_inclusive(|&b| b == b'\n') {
                        assert!(
                            line.len() <= max + 1 + read,
                            "line of {} bytes {} in a Lines batch (read of {read}); {}",
                            line.len(),
                            lossy(line),
                            ctx(fed)
                        );
                        lines.push(normal_line(line, max));
                    }
                    // 6. A batch ends after a whole CRI message, or holds
                    // only a run of partial lines.
                    if p.hold_cri && !finishing {
                        let is_partial =
                            |l: &[u8]| parse_cri(content(l)).is_some_and(|c| c.partial);
                        let last = batch[..batch.len() - 1]
                            .iter()
                            .rposition(|&b| b == b'\n')
                            .map_or(batch, |i| &batch[i + 1..]);
                        if is_partial(last) {
                            assert!(
                                batch.split_inclusive(|&b| b == b'\n').all(is_partial),
                                "batch {} ends inside a CRI partial run; {}",
                                lossy(batch),
                                ctx(fed)
                            );
                        }
                    }
                }
                Next::Batch(Batch::OverLong { terminated, bytes }) => {
                    // 1. Exactly the next line, and it is over the limit.
                    let end = at.saturating_add(usize::try_from(bytes).unwrap_or(usize::MAX));
                    let line = stream.get(at..end).unwrap_or_else(|| {
                        panic!(
                            "OverLong of {bytes} bytes at {at} runs past the input; {}",
                            ctx(fed)
                        )
                    });
                    let newline = line.iter().position(|&b| b == b'\n');
                    let one_line = if terminated {
                        newline == Some(line.len() - 1)
                    } else {
                        newline.is_none() && finishing && end == stream.len()
                    };
                    assert!(
                        one_line,
                        "OverLong {{ terminated: {terminated}, bytes: {bytes} }} at {at} \
                         is not one line: {}; {}",
                        lossy(line),
                        ctx(fed)
                    );
                    assert!(
                        content(line).len() > max,
                        "OverLong for a line within the limit: {}; {}",
                        lossy(line),
                        ctx(fed)
                    );
                    at = end;
                    ended_unterminated = !terminated;
                    lines.push(Line::OverLong { terminated, bytes });
                }
                Next::NeedInput => {
                    assert!(!finishing, "NeedInput after finish(); {}", ctx(fed));
                    // 4. The memory bound.
                    assert!(
                        framer.pending() <= max + 1,
                        "{} bytes pending while asking for input; {}",
                        framer.pending(),
                        ctx(fed)
                    );
                    break;
                }
                Next::End => {
                    assert!(finishing, "End before finish(); {}", ctx(fed));
                    break;
                }
            }
            // 3. The checkpoint offset is what was handed out.
            assert_eq!(
                framer.consumed(),
                at as u64,
                "consumed() is not the bytes handed out; {}",
                ctx(fed)
            );
        }
    }
    // 1, 3. Everything was handed out, once, and End stays.
    assert_eq!(at, stream.len(), "bytes handed out; {}", ctx(fed));
    assert_eq!(
        framer.consumed(),
        stream.len() as u64,
        "consumed() at End; {}",
        ctx(fed)
    );
    assert_eq!(framer.pending(), 0, "pending at End; {}", ctx(fed));
    assert_eq!(framer.next_batch(), Next::End, "End again; {}", ctx(fed));
    lines
}

/// Invariants 1–6 for one input.
pub fn check_framer(data: &[u8]) {
    let (p, payload) = Params::parse(data);
    let stream = stream_of(payload, p.hold_cri);
    let oracle: Vec<Line<'_>> = stream
        .split_inclusive(|&b| b == b'\n')
        .map(|l| normal_line(l, p.max_line_bytes))
        .collect();
    let whole = [stream.len()];
    let bytes = vec![1; stream.len()];
    let split = split_points(stream.len(), p.read_max, p.seed);
    for (name, reads) in [
        ("whole", &whole[..]),
        ("bytewise", &bytes[..]),
        ("split", &split[..]),
    ] {
        let reads = if stream.is_empty() { &[][..] } else { reads };
        let got = run_framer(&stream, &p, reads);
        assert!(
            got == oracle,
            "{name} framing differs from the input's lines \
             (max {}, hold_cri {}, reads {reads:?}):\n got    {got:?}\n oracle {oracle:?}",
            p.max_line_bytes,
            p.hold_cri
        );
    }
}

/// What the octet decoder hands on, adjacent `Data` joined.
#[derive(Debug, PartialEq, Eq)]
enum Octet {
    Data(Vec<u8>),
    Garbage { bytes: u64, terminated: bool },
}

fn push_data(events: &mut Vec<Octet>, bytes: &[u8]) {
    match events.last_mut() {
        Some(Octet::Data(v)) => v.extend_from_slice(bytes),
        _ => events.push(Octet::Data(bytes.to_vec())),
    }
}

/// Decodes `input` fed in `reads`.
fn run_decoder(input: &[u8], reads: &[usize]) -> Vec<Octet> {
    let mut decoder = OctetDecoder::new();
    let mut events = Vec::new();
    let mut sink = |d: Decoded<'_>| match d {
        Decoded::Data(b) => {
            assert!(!b.is_empty(), "empty Data from {}", lossy(input));
            push_data(&mut events, b);
        }
        Decoded::Garbage { bytes, terminated } => events.push(Octet::Garbage { bytes, terminated }),
    };
    let mut at = 0;
    for &n in reads {
        decoder.decode(&input[at..at + n], &mut sink);
        at += n;
    }
    decoder.finish(&mut sink);
    events
}

/// The octet decoder's contract, one shot: `NONZERO-DIGIT *DIGIT SP` (at
/// most 10 digits) then that many bytes, passed on with a `\n` added when a
/// whole message does not end with one; anything else is garbage up to and
/// including the next `\n` (or the end); a frame cut by the end keeps what
/// arrived, and a header cut by the end is garbage.
fn reference_decode(input: &[u8]) -> Vec<Octet> {
    let mut events = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let mut j = i;
        let mut len = 0u64;
        while j < input.len()
            && j - i < 10
            && input[j].is_ascii_digit()
            && !(j == i && input[j] == b'0')
        {
            len = len * 10 + u64::from(input[j] - b'0');
            j += 1;
        }
        if j == input.len() {
            // A header cut by the end (only digits so far).
            events.push(Octet::Garbage {
                bytes: (j - i) as u64,
                terminated: false,
            });
            break;
        }
        if j > i && input[j] == b' ' {
            let body_start = j + 1;
            let body_end = usize::try_from(len)
                .ok()
                .and_then(|l| body_start.checked_add(l))
                .map_or(input.len(), |e| e.min(input.len()));
            let body = &input[body_start..body_end];
            if !body.is_empty() {
                push_data(&mut events, body);
            }
            let whole = (body_end - body_start) as u64 == len;
            if whole && !body.ends_with(b"\n") {
                push_data(&mut events, b"\n");
            }
            i = body_end;
            continue;
        }
        match input[i..].iter().position(|&b| b == b'\n') {
            Some(k) => {
                events.push(Octet::Garbage {
                    bytes: k as u64 + 1,
                    terminated: true,
                });
                i += k + 1;
            }
            None => {
                events.push(Octet::Garbage {
                    bytes: (input.len() - i) as u64,
                    terminated: false,
                });
                i = input.len();
            }
        }
    }
    events
}

/// Decodes `input` whole, bytewise and split; all must equal `want`.
/// Returns the split decoding.
fn check_decoder_on(input: &[u8], p: &Params, want: &[Octet], what: &str) -> Vec<Octet> {
    let whole = [input.len()];
    let bytes = vec![1; input.len()];
    let split = split_points(input.len(), p.read_max, p.seed);
    let mut got = Vec::new();
    for (name, reads) in [
        ("whole", &whole[..]),
        ("bytewise", &bytes[..]),
        ("split", &split[..]),
    ] {
        got = run_decoder(input, reads);
        assert!(
            got == want,
            "{what}: octet decoding ({name}, reads {reads:?}) of {} differs:\n \
             got  {got:?}\n want {want:?}",
            lossy(input)
        );
    }
    got
}

/// The byte no generated message holds, and every garbage line is made of.
const GARBAGE: u8 = 0xFE;

/// Invariants 7 and 8 for one input.
pub fn check_octet(data: &[u8]) {
    let (p, payload) = Params::parse(data);

    // 7. Arbitrary bytes: split independence and the reference.
    check_decoder_on(payload, &p, &reference_decode(payload), "arbitrary input");

    // 8. Valid frames with garbage lines between them. Each piece is a
    // control byte (top two bits set: garbage line, else frame) and up to
    // 63 bytes.
    let mut input = Vec::new();
    let mut want = Vec::new();
    let mut rest = payload;
    while let Some((&ctl, tail)) = rest.split_first() {
        let n = usize::from(ctl & 0x3f).min(tail.len());
        let (piece, tail) = tail.split_at(n);
        rest = tail;
        if ctl & 0xc0 == 0xc0 {
            // A line that cannot start a header: a `\n`, or a byte that is
            // not a nonzero digit followed by garbage bytes and a `\n`.
            let mut line = match piece.first() {
                None | Some(b'\n') => Vec::new(),
                Some(b'1'..=b'9') => vec![b'#'],
                Some(&b) => vec![b],
            };
            line.extend(std::iter::repeat_n(GARBAGE, n.saturating_sub(1)));
            line.push(b'\n');
            want.push(Octet::Garbage {
                bytes: line.len() as u64,
                terminated: true,
            });
            input.extend_from_slice(&line);
        } else if !piece.is_empty() {
            let msg: Vec<u8> = piece
                .iter()
                .map(|&b| if b == GARBAGE { b'.' } else { b })
                .collect();
            input.extend_from_slice(format!("{} ", msg.len()).as_bytes());
            input.extend_from_slice(&msg);
            push_data(&mut want, &msg);
            if !msg.ends_with(b"\n") {
                push_data(&mut want, b"\n");
            }
        }
    }
    let got = check_decoder_on(&input, &p, &want, "valid frames and garbage lines");
    assert_eq!(
        reference_decode(&input),
        want,
        "reference on {}",
        lossy(&input)
    );
    for event in &got {
        if let Octet::Data(d) = event {
            assert!(
                !d.contains(&GARBAGE),
                "a garbage byte in Data: {}",
                lossy(d)
            );
        }
    }
}

/// Checks every invariant on one input; panics on a violation.
pub fn check(data: &[u8]) {
    check_framer(data);
    check_octet(data);
}
