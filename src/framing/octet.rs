//! Octet-counted framing (RFC 6587 §3.4.1), as syslog senders use over TCP:
//! each message is `LEN SP MSG`, where `LEN` is the decimal byte count of
//! `MSG`.
//!
//! [`OctetDecoder`] turns such a stream into newline-ended lines without
//! buffering a message: message bytes pass straight through (so the line
//! framer that follows applies the over-long-line limit), and a newline is
//! added after a message that does not end with one. A header that is not
//! `NONZERO-DIGIT *DIGIT SP` (at most 10 digits) is garbage: the bytes up to
//! the next newline are reported as [`Decoded::Garbage`], never passed on,
//! and decoding resumes after that newline. Output does not depend on how the
//! input is split into reads.

/// What the decoder hands on.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Bytes of newline-framed lines.
    Data(&'a [u8]),
    /// A run of `bytes` undecodable bytes was skipped; `terminated` tells
    /// whether it ended with a newline (false: the stream ended first).
    Garbage { bytes: u64, terminated: bool },
}

const MAX_LEN_DIGITS: u32 = 10;

#[derive(Debug, Clone, Copy)]
enum State {
    /// Reading `LEN`: the digits so far and their value.
    Header { digits: u32, len: u64 },
    /// Passing `MSG` on: bytes left, and whether the last one was `\n`.
    Body { left: u64, ended_with_newline: bool },
    /// Skipping garbage up to a newline: bytes skipped so far.
    Garbage { bytes: u64 },
}

/// A streaming decoder of octet-counted frames.
#[derive(Debug)]
pub struct OctetDecoder {
    state: State,
}

impl Default for OctetDecoder {
    fn default() -> OctetDecoder {
        OctetDecoder::new()
    }
}

impl OctetDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> OctetDecoder {
        OctetDecoder {
            state: State::Header { digits: 0, len: 0 },
        }
    }

    /// Decodes `input`, handing the results to `out` in order.
    pub fn decode(&mut self, mut input: &[u8], out: &mut impl FnMut(Decoded<'_>)) {
        while !input.is_empty() {
            match self.state {
                State::Header { digits, len } => {
                    let b = input[0];
                    input = &input[1..];
                    self.state = match b {
                        b'0'..=b'9' if digits < MAX_LEN_DIGITS && (digits > 0 || b != b'0') => {
                            State::Header {
                                digits: digits + 1,
                                len: len * 10 + u64::from(b - b'0'),
                            }
                        }
                        b' ' if digits > 0 => State::Body {
                            left: len,
                            ended_with_newline: false,
                        },
                        b'\n' => {
                            out(Decoded::Garbage {
                                bytes: u64::from(digits) + 1,
                                terminated: true,
                            });
                            State::Header { digits: 0, len: 0 }
                        }
                        _ => State::Garbage {
                            bytes: u64::from(digits) + 1,
                        },
                    };
                }
                State::Body {
                    left,
                    ended_with_newline,
                } => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    let (body, rest) = input.split_at(n);
                    input = rest;
                    let ended = body.last().map_or(ended_with_newline, |&b| b == b'\n');
                    if !body.is_empty() {
                        out(Decoded::Data(body));
                    }
                    let left = left - n as u64;
                    if left == 0 {
                        if !ended {
                            out(Decoded::Data(b"\n"));
                        }
                        self.state = State::Header { digits: 0, len: 0 };
                    } else {
                        self.state = State::Body {
                            left,
                            ended_with_newline: ended,
                        };
                    }
                }
                State::Garbage { bytes } => match memchr::memchr(b'\n', input) {
                    Some(i) => {
                        out(Decoded::Garbage {
                            bytes: bytes + i as u64 + 1,
                            terminated: true,
                        });
                        input = &input[i + 1..];
                        self.state = State::Header { digits: 0, len: 0 };
                    }
                    None => {
                        self.state = State::Garbage {
                            bytes: bytes + input.len() as u64,
                        };
                        input = &[];
                    }
                },
            }
        }
    }

    /// The stream ended. A frame cut short keeps what arrived of it (the
    /// line framer ends it); a partial header or garbage run is reported.
    pub fn finish(&mut self, out: &mut impl FnMut(Decoded<'_>)) {
        match std::mem::replace(&mut self.state, State::Header { digits: 0, len: 0 }) {
            State::Header { digits: 0, .. } | State::Body { .. } => {}
            State::Header { digits, .. } => out(Decoded::Garbage {
                bytes: u64::from(digits),
                terminated: false,
            }),
            State::Garbage { bytes } => out(Decoded::Garbage {
                bytes,
                terminated: false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` in reads of `step` bytes; garbage shows as `<G n t>`.
    fn decode(input: &[u8], step: usize) -> String {
        let mut decoder = OctetDecoder::new();
        let mut text = Vec::new();
        let mut sink = |d: Decoded<'_>| match d {
            Decoded::Data(b) => text.extend_from_slice(b),
            Decoded::Garbage { bytes, terminated } => {
                text.extend_from_slice(format!("<G {bytes} {terminated}>").as_bytes())
            }
        };
        for chunk in input.chunks(step.max(1)) {
            decoder.decode(chunk, &mut sink);
        }
        decoder.finish(&mut sink);
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn frames_become_lines() {
        let input = b"5 hello11 with space\n3 abc";
        for step in [1, 2, 3, 7, 100] {
            assert_eq!(decode(input, step), "hello\nwith space\nabc\n", "{step}");
        }
    }

    #[test]
    fn garbage_is_skipped_to_the_next_newline() {
        assert_eq!(decode(b"hello world\n4 fine", 3), "<G 12 true>fine\n");
        assert_eq!(decode(b"05 xxxxx\n2 ok", 1), "<G 9 true>ok\n");
        assert_eq!(decode(b"\n2 ok", 1), "<G 1 true>ok\n");
        assert_eq!(decode(b"2 ok12345678901 x\n", 4), "ok\n<G 14 true>");
        assert_eq!(decode(b"2 ok12", 4), "ok\n<G 2 false>");
        assert_eq!(decode(b"2 okabc", 4), "ok\n<G 3 false>");
    }

    #[test]
    fn a_cut_frame_keeps_what_arrived() {
        assert_eq!(decode(b"10 abc", 2), "abc");
    }

    #[test]
    fn huge_lengths_stream_through() {
        let mut input = b"9999999999 ".to_vec();
        input.extend_from_slice(&[b'x'; 1000]);
        assert_eq!(decode(&input, 64).len(), 1000);
    }
}
