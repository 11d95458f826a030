//! Decoded views of a line: the same text with JSON string escapes, HTML
//! character references or percent-encoding undone, so that `\u0034111…`,
//! `&#52;111…` or `card%3D4111%201111…` cannot hide a secret from the
//! automaton.
//!
//! Every byte of a view remembers the raw byte range it was decoded from, so
//! a span found in a view maps back to whole escape sequences of the raw line:
//! replacing that raw span never cuts an escape in half, and a JSON string
//! stays valid JSON.
//!
//! A replacement for a span found in a view is written back in that view's
//! encoding ([`Encoding::encode`]): a mask that keeps a space is written
//! `%20` in a URL, `+` in a form body, `\u00a0` in a JSON string and
//! `&#xA0;` in HTML, so the replacement never changes the framing of the
//! text around it.

use std::ops::Range;

/// A set of byte values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    /// Adds `b`.
    pub fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    /// Whether `b` is in the set.
    pub fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] >> (b & 63) & 1 == 1
    }
}

/// A decoded copy of a line with its map back to raw offsets.
///
/// The map is kept per run, not per byte: decoding copies the text between
/// escapes in one piece, and a run of decoded bytes copied as they were
/// maps to raw bytes one for one, so a view of a line with a few escapes
/// holds a few segments whatever its length.
#[derive(Debug, Default)]
pub struct View {
    /// The decoded bytes.
    pub bytes: Vec<u8>,
    /// The map back to the raw line, in decoded order, covering every
    /// decoded byte.
    segments: Vec<Segment>,
}

/// A run of decoded bytes and the raw bytes it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    /// The run's first decoded byte.
    start: u32,
    /// The run's length in decoded bytes.
    len: u32,
    /// The raw bytes: `raw_start..raw_end`.
    raw_start: u32,
    raw_end: u32,
    /// One for one: decoded byte `start + k` came from raw byte
    /// `raw_start + k` alone. Otherwise (an escape sequence, or bytes of
    /// one) every byte of the run came from the whole raw range.
    linear: bool,
}

impl View {
    fn clear(&mut self) {
        self.bytes.clear();
        self.segments.clear();
    }

    /// True when no text made of bytes in `set` can occur in this view
    /// unless it occurs in the raw line: every byte an escape decoded to is
    /// outside `set`, and no two verbatim runs stand side by side (they
    /// would join raw bytes that were apart; contiguous ones are one run).
    pub fn adds_none_of(&self, set: &ByteSet) -> bool {
        let mut last_linear = false;
        for seg in &self.segments {
            if seg.linear {
                if last_linear {
                    return false;
                }
            } else {
                let run = &self.bytes[seg.start as usize..(seg.start + seg.len) as usize];
                if run.iter().any(|&b| set.contains(b)) {
                    return false;
                }
            }
            last_linear = seg.linear;
        }
        true
    }

    /// Appends a segment, joining it to the last one when both are linear
    /// and contiguous.
    fn push_segment(&mut self, seg: Segment) {
        if let Some(last) = self.segments.last_mut() {
            if last.linear
                && seg.linear
                && last.start + last.len == seg.start
                && last.raw_end == seg.raw_start
            {
                last.len += seg.len;
                last.raw_end = seg.raw_end;
                return;
            }
        }
        self.segments.push(seg);
    }

    /// Appends `input[from..to]` as it is: decoded bytes that stand for
    /// themselves. `source` is the view `input` is (None: the raw line).
    fn copy(&mut self, input: &[u8], source: Option<&View>, from: usize, to: usize) {
        if from >= to {
            return;
        }
        let at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(&input[from..to]);
        match source {
            None => self.push_segment(Segment {
                start: at,
                len: (to - from) as u32,
                raw_start: from as u32,
                raw_end: to as u32,
                linear: true,
            }),
            Some(src) => {
                // The source's segments over `from..to`, shifted here.
                let mut i = src.segment_of(from);
                let mut pos = from;
                while pos < to {
                    let seg = src.segments[i];
                    let seg_end = (seg.start + seg.len) as usize;
                    let take = seg_end.min(to) - pos;
                    let (raw_start, raw_end) = if seg.linear {
                        let r = seg.raw_start + (pos as u32 - seg.start);
                        (r, r + take as u32)
                    } else {
                        (seg.raw_start, seg.raw_end)
                    };
                    self.push_segment(Segment {
                        start: at + (pos - from) as u32,
                        len: take as u32,
                        raw_start,
                        raw_end,
                        linear: seg.linear,
                    });
                    pos += take;
                    i += 1;
                }
            }
        }
    }

    /// Appends `decoded`, which stands for the escape `input[from..to]`.
    fn escape(&mut self, decoded: &[u8], source: Option<&View>, from: usize, to: usize) {
        let raw = View::raw_of(source, from, to);
        let at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(decoded);
        self.push_segment(Segment {
            start: at,
            len: decoded.len() as u32,
            raw_start: raw.start,
            raw_end: raw.end,
            linear: false,
        });
    }

    /// The index of the segment holding decoded byte `i`.
    fn segment_of(&self, i: usize) -> usize {
        self.segments
            .partition_point(|s| s.start as usize <= i)
            .saturating_sub(1)
    }

    /// The raw range decoded byte `i` came from.
    fn raw_range(&self, i: usize) -> Range<u32> {
        let seg = self.segments[self.segment_of(i)];
        if seg.linear {
            let r = seg.raw_start + (i as u32 - seg.start);
            r..r + 1
        } else {
            seg.raw_start..seg.raw_end
        }
    }

    /// Maps a non-empty span of this view to the raw line.
    pub fn to_raw(&self, span: Range<usize>) -> Range<usize> {
        debug_assert!(span.start < span.end);
        self.raw_range(span.start).start as usize..self.raw_range(span.end - 1).end as usize
    }

    /// The raw range of the decoded bytes `from..to` of `source`.
    fn raw_of(source: Option<&View>, from: usize, to: usize) -> Range<u32> {
        match source {
            None => from as u32..to as u32,
            Some(v) => v.raw_range(from).start..v.raw_range(to - 1).end,
        }
    }
}

/// One decoding step from a line (or view) to the next view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoding {
    /// JSON string escapes (`\"`, `\u00a0`).
    Json,
    /// HTML character references (`&nbsp;`, `&#52;`).
    Html,
    /// Percent-encoding (`%20`).
    Percent,
    /// A form body: `+` for a space, and percent-encoding.
    Form,
}

/// The decodings a view is made of, in the order they were applied to the
/// raw line (at most five, as many as there are views). Empty for the raw
/// line itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Encoding {
    steps: [Option<Decoding>; 5],
}

impl Encoding {
    /// True for the raw line: nothing to encode.
    pub fn is_raw(&self) -> bool {
        self.steps[0].is_none()
    }

    /// How many of the steps undo JSON string escapes.
    pub fn json_steps(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| **s == Some(Decoding::Json))
            .count()
    }

    /// This encoding followed by one more decoding step.
    pub fn then(mut self, step: Decoding) -> Encoding {
        if let Some(slot) = self.steps.iter_mut().find(|s| s.is_none()) {
            *slot = Some(step);
        }
        self
    }

    /// Writes `text` (decoded) so that it reads as `text` once decoded
    /// again: each step is undone from the innermost out. Only bytes that
    /// the encoding cannot carry as they are get escaped, so labels, hash
    /// tokens and masks without such bytes are written unchanged.
    pub fn encode(&self, text: &[u8], out: &mut Vec<u8>) {
        if self.is_raw() {
            out.extend_from_slice(text);
            return;
        }
        let mut cur = text.to_vec();
        let mut next = Vec::with_capacity(text.len() + 8);
        for step in self.steps.iter().rev().flatten() {
            next.clear();
            match step {
                Decoding::Json => json_escape(&cur, &mut next),
                Decoding::Html => html_escape(&cur, &mut next),
                Decoding::Percent => percent_escape(&cur, false, &mut next),
                Decoding::Form => percent_escape(&cur, true, &mut next),
            }
            std::mem::swap(&mut cur, &mut next);
        }
        out.extend_from_slice(&cur);
    }
}

/// The characters of `text`: each valid UTF-8 sequence as its code point
/// and length, any other byte as itself (a code point below 0x100 that is
/// flagged invalid).
fn utf8_chars(text: &[u8], mut each: impl FnMut(Result<char, u8>, &[u8])) {
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        let len = match b {
            0x00..=0x7f => 1,
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 0,
        };
        let ch = (len > 0 && i + len <= text.len())
            .then(|| std::str::from_utf8(&text[i..i + len]).ok())
            .flatten()
            .and_then(|s| s.chars().next());
        match ch {
            Some(c) => {
                each(Ok(c), &text[i..i + len]);
                i += len;
            }
            None => {
                each(Err(b), &text[i..i + 1]);
                i += 1;
            }
        }
    }
}

/// JSON string escaping: quotes, backslashes, control bytes, and every
/// non-ASCII character as `\uXXXX` (the text was escaped, so it stays so).
fn json_escape(text: &[u8], out: &mut Vec<u8>) {
    utf8_chars(text, |c, raw| match c {
        Ok('"') => out.extend_from_slice(b"\\\""),
        Ok('\\') => out.extend_from_slice(b"\\\\"),
        Ok(c) if (c as u32) < 0x20 || (c as u32) >= 0x7f => {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.extend_from_slice(format!("\\u{u:04x}").as_bytes());
            }
        }
        Ok(_) => out.extend_from_slice(raw),
        Err(b) => out.push(b),
    });
}

/// HTML escaping: markup bytes and non-ASCII characters as references.
fn html_escape(text: &[u8], out: &mut Vec<u8>) {
    utf8_chars(text, |c, raw| match c {
        Ok('&') => out.extend_from_slice(b"&amp;"),
        Ok('<') => out.extend_from_slice(b"&lt;"),
        Ok('>') => out.extend_from_slice(b"&gt;"),
        Ok('"') => out.extend_from_slice(b"&quot;"),
        Ok('\'') => out.extend_from_slice(b"&#39;"),
        Ok(c) if (c as u32) >= 0x7f => {
            out.extend_from_slice(format!("&#x{:X};", c as u32).as_bytes())
        }
        Ok(_) => out.extend_from_slice(raw),
        Err(b) => out.push(b),
    });
}

/// Percent-encoding of every byte that cannot stand in a query value as it
/// is (letters, digits and `-._~*[]:@!$(),/` can); in a form body a space
/// is a `+`.
fn percent_escape(text: &[u8], form: bool, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text {
        if b.is_ascii_alphanumeric() || b"-._~*[]:@!$(),/".contains(&b) {
            out.push(b);
        } else if form && b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

/// False when `bytes` holds none of the bytes any decoding starts from
/// (`\\`, `&`, `%`, `+`): then no decoded view differs from the line. One
/// pass, where the four checks below take one each.
pub fn may_need_decoding(bytes: &[u8]) -> bool {
    memchr::memchr3(b'\\', b'&', b'%', bytes).is_some() || memchr::memchr(b'+', bytes).is_some()
}

/// True when `bytes` may hold a JSON escape worth decoding.
pub fn has_json_escape(bytes: &[u8]) -> bool {
    memchr::memchr(b'\\', bytes).is_some()
}

/// True when every JSON escape in `bytes` is a newline (`\n`) that ends
/// its string: followed by another one, a closing quote or the end (the
/// `\n` a container runtime appends to each log line). Decoding them adds
/// only newlines, after which comes no word byte: to rules that match no
/// newline and look at no more than word boundaries and the ends of the
/// text, the decoded view holds no match the raw bytes do not (see
/// `Scanner::scan`).
pub fn only_closing_line_breaks(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'\\', bytes).all(|i| {
        bytes.get(i + 1) == Some(&b'n') && matches!(bytes.get(i + 2), None | Some(b'"' | b'\\'))
    })
}

/// True when `bytes` holds at least one `%XX` sequence.
pub fn has_percent_escape(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'%', bytes).any(|i| {
        bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    })
}

fn hex(b: u8) -> u32 {
    match b {
        b'0'..=b'9' => u32::from(b - b'0'),
        b'a'..=b'f' => u32::from(b - b'a' + 10),
        b'A'..=b'F' => u32::from(b - b'A' + 10),
        _ => 0,
    }
}

fn hex4(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < 4 || !bytes[..4].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    Some(bytes[..4].iter().fold(0, |acc, &b| acc * 16 + hex(b)))
}

/// Decodes JSON string escapes of `input` into `out`. `source` is the view
/// `input` is (None when it is the raw line). Bytes that are not valid
/// escapes are copied as they are.
pub fn json_unescape(input: &[u8], source: Option<&View>, out: &mut View) {
    out.clear();
    let mut i = 0;
    while let Some(rel) = memchr::memchr(b'\\', &input[i..]) {
        let at = i + rel;
        out.copy(input, source, i, at);
        i = at;
        if i + 1 >= input.len() {
            break;
        }
        let simple = match input[i + 1] {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            _ => None,
        };
        if let Some(c) = simple {
            out.escape(&[c], source, i, i + 2);
            i += 2;
            continue;
        }
        if input[i + 1] == b'u' {
            if let Some(mut cp) = hex4(&input[i + 2..]) {
                let mut len = 6;
                // A surrogate pair: \uD83D\uDE00.
                if (0xD800..0xDC00).contains(&cp)
                    && input.get(i + 6) == Some(&b'\\')
                    && input.get(i + 7) == Some(&b'u')
                {
                    if let Some(low) = hex4(&input[i + 8..]) {
                        if (0xDC00..0xE000).contains(&low) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                            len = 12;
                        }
                    }
                }
                if let Some(ch) = char::from_u32(cp) {
                    let mut buf = [0u8; 4];
                    out.escape(ch.encode_utf8(&mut buf).as_bytes(), source, i, i + len);
                    i += len;
                    continue;
                }
            }
        }
        // Not an escape: the backslash stands for itself.
        out.copy(input, source, i, i + 1);
        i += 1;
    }
    out.copy(input, source, i, input.len());
}

/// True when `bytes` may hold an HTML character reference (`&#52;`,
/// `&amp;`).
pub fn has_html_reference(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'&', bytes).any(|i| html_reference(&bytes[i..]).is_some())
}

/// Named references worth decoding: the ones that can spell part of a
/// secret or its separators.
const HTML_NAMED: &[(&[u8], char)] = &[
    (b"amp", '&'),
    (b"lt", '<'),
    (b"gt", '>'),
    (b"quot", '"'),
    (b"apos", '\''),
    (b"commat", '@'),
    (b"nbsp", '\u{a0}'),
    (b"NonBreakingSpace", '\u{a0}'),
    (b"ensp", '\u{2002}'),
    (b"emsp", '\u{2003}'),
    (b"emsp13", '\u{2004}'),
    (b"emsp14", '\u{2005}'),
    (b"numsp", '\u{2007}'),
    (b"puncsp", '\u{2008}'),
    (b"thinsp", '\u{2009}'),
    (b"ThinSpace", '\u{2009}'),
    (b"hairsp", '\u{200a}'),
    (b"VeryThinSpace", '\u{200a}'),
    (b"ZeroWidthSpace", '\u{200b}'),
    (b"NegativeThinSpace", '\u{200b}'),
    (b"MediumSpace", '\u{205f}'),
    (b"NoBreak", '\u{2060}'),
    (b"dash", '\u{2010}'),
    (b"ndash", '\u{2013}'),
    (b"mdash", '\u{2014}'),
    (b"minus", '\u{2212}'),
    (b"Tab", '\t'),
    (b"sol", '/'),
    (b"equals", '='),
    (b"colon", ':'),
    (b"period", '.'),
    (b"percnt", '%'),
    (b"plus", '+'),
    (b"lowbar", '_'),
    (b"hyphen", '-'),
    (b"num", '#'),
];

/// Parses a reference at the start of `bytes` (`&#52;`, `&#x34;`, `&amp;`):
/// the character and the reference's length. Only references ending in `;`.
fn html_reference(bytes: &[u8]) -> Option<(char, usize)> {
    let semi = memchr::memchr(b';', &bytes[..bytes.len().min(24)])?;
    let body = &bytes[1..semi];
    let cp = if let Some(num) = body.strip_prefix(b"#") {
        let (digits, radix) = match num.first() {
            Some(b'x' | b'X') => (&num[1..], 16),
            _ => (num, 10),
        };
        if digits.is_empty() {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, radix).ok()?
    } else {
        HTML_NAMED.iter().find(|(name, _)| *name == body)?.1 as u32
    };
    Some((char::from_u32(cp)?, semi + 1))
}

/// Decodes HTML character references of `input` into `out`.
pub fn html_unescape(input: &[u8], source: Option<&View>, out: &mut View) {
    out.clear();
    let mut i = 0;
    while let Some(rel) = memchr::memchr(b'&', &input[i..]) {
        let at = i + rel;
        out.copy(input, source, i, at);
        i = at;
        if let Some((ch, len)) = html_reference(&input[i..]) {
            let mut buf = [0u8; 4];
            out.escape(ch.encode_utf8(&mut buf).as_bytes(), source, i, i + len);
            i += len;
        } else {
            out.copy(input, source, i, i + 1);
            i += 1;
        }
    }
    out.copy(input, source, i, input.len());
}

/// Decodes `%XX` sequences of `input` into `out` (`+` is left alone).
pub fn percent_decode(input: &[u8], source: Option<&View>, out: &mut View) {
    decode_percent(input, source, out, false);
}

/// Decodes a form body: `+` is a space, `%XX` a byte (`%2B` a `+`).
pub fn form_decode(input: &[u8], source: Option<&View>, out: &mut View) {
    decode_percent(input, source, out, true);
}

fn decode_percent(input: &[u8], source: Option<&View>, out: &mut View, plus_is_space: bool) {
    out.clear();
    let mut i = 0;
    loop {
        let next = if plus_is_space {
            memchr::memchr2(b'%', b'+', &input[i..])
        } else {
            memchr::memchr(b'%', &input[i..])
        };
        let Some(rel) = next else { break };
        let at = i + rel;
        out.copy(input, source, i, at);
        i = at;
        if input[i] == b'+' {
            out.escape(b" ", source, i, i + 1);
            i += 1;
        } else if input.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && input.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            let byte = (hex(input[i + 1]) * 16 + hex(input[i + 2])) as u8;
            out.escape(&[byte], source, i, i + 3);
            i += 3;
        } else {
            out.copy(input, source, i, i + 1);
            i += 1;
        }
    }
    out.copy(input, source, i, input.len());
}

/// True when `bytes` has a form-encoded number: a `+` before a run of at
/// least three digits, after another such run, a letter or a `:`, in a
/// token that holds a `=` before it (`card=4111+1111+1111+1111`,
/// `q=security+code+is+1234`). Time offsets (`…239834+00:00`) and numbers
/// signed with `+` (`phone=+14155552671`) do not qualify.
pub fn has_form_plus(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'+', bytes).any(|i| {
        // A run of `+` (doubled spaces) counts as one gap.
        let i = i - bytes[..i].iter().rev().take_while(|&&b| b == b'+').count();
        let pluses = bytes[i..].iter().take_while(|&&b| b == b'+').count();
        let before = bytes[..i]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let after = bytes[i + pluses..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let after_word =
            before == 0 && i > 0 && (bytes[i - 1].is_ascii_alphabetic() || bytes[i - 1] == b':');
        (before >= 3 || after_word)
            && after >= 3
            && bytes[..i - before]
                .iter()
                .rev()
                .take_while(|b| !b.is_ascii_whitespace())
                .any(|&b| b == b'=')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When a view adds none of a set's bytes, every run of those bytes in
    /// the view (so every text made of them) is in the raw line too; views
    /// of views included.
    #[test]
    fn a_view_that_adds_none_of_a_set_holds_only_raw_runs_of_it() {
        use proptest::prelude::*;
        let byte = prop::sample::select(b"ab\\u0061%&#;97x\"".to_vec());
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &(prop::collection::vec(byte, 0..40), 0usize..4, 0usize..4),
                |(raw, first, second)| {
                    let mut set = ByteSet::default();
                    set.insert(b'a');
                    set.insert(b'b');
                    let decode = |k: usize, input: &[u8], source: Option<&View>, out: &mut View| {
                        out.clear();
                        match k {
                            0 => json_unescape(input, source, out),
                            1 => percent_decode(input, source, out),
                            2 => html_unescape(input, source, out),
                            _ => form_decode(input, source, out),
                        }
                    };
                    let mut one = View::default();
                    decode(first, &raw, None, &mut one);
                    let mut two = View::default();
                    decode(second, &one.bytes.clone(), Some(&one), &mut two);
                    for view in [&one, &two] {
                        if !view.adds_none_of(&set) {
                            continue;
                        }
                        for run in view.bytes.split(|&b| !set.contains(b)) {
                            prop_assert!(
                                run.is_empty() || raw.windows(run.len()).any(|w| w == run),
                                "{:?} -> {:?}",
                                String::from_utf8_lossy(&raw),
                                String::from_utf8_lossy(&view.bytes)
                            );
                        }
                    }
                    Ok(())
                },
            )
            .unwrap();
    }

    #[test]
    fn form_bodies() {
        assert!(has_form_plus(b"GET /pay?card=4111+1111+1111+1111&x=1"));
        assert!(has_form_plus(b"c=4111++1111++1111++1111"));
        assert!(!has_form_plus(b"time=2023-04-11T05:44:13.239834+00:00"));
        assert!(!has_form_plus(b"sum 1234+5678"));
        assert!(has_form_plus(b"GET /x?q=security+code+is+1234 HTTP/1.1"));
        assert!(has_form_plus(b"q=cvv+123&x=1"));
        assert!(has_form_plus(b"q=security+code:+1234"));
        assert!(!has_form_plus(b"phone=+14155552671"));
        assert!(!has_form_plus(b"q=cvv+12"));
        assert!(!has_form_plus(b"a b+123"));
        let mut v = View::default();
        form_decode(b"a=41+11%2B", None, &mut v);
        assert_eq!(v.bytes, b"a=41 11+");
    }

    #[test]
    fn json_escapes_map_back_to_whole_sequences() {
        let raw = br#"a\u0034\"b\nc"#;
        let mut v = View::default();
        json_unescape(raw, None, &mut v);
        assert_eq!(v.bytes, b"a4\"b\nc");
        assert_eq!(v.to_raw(1..2), 1..7);
        assert_eq!(v.to_raw(2..4), 7..10);
    }

    #[test]
    fn surrogate_pairs_decode() {
        let raw = br#"\ud83d\ude00x"#;
        let mut v = View::default();
        json_unescape(raw, None, &mut v);
        assert_eq!(v.bytes, "\u{1F600}x".as_bytes());
        assert_eq!(v.to_raw(0..4), 0..12);
    }

    #[test]
    fn percent_views_compose() {
        let raw = b"x%2540y";
        let mut once = View::default();
        percent_decode(raw, None, &mut once);
        assert_eq!(once.bytes, b"x%40y");
        let mut twice = View::default();
        percent_decode(&once.bytes, Some(&once), &mut twice);
        assert_eq!(twice.bytes, b"x@y");
        assert_eq!(twice.to_raw(1..2), 1..6);
        assert_eq!(twice.to_raw(0..3), 0..7);
    }

    #[test]
    fn html_references() {
        let mut v = View::default();
        html_unescape(b"a&#52;&#x31;&amp;&commat;b&foo;&#;", None, &mut v);
        assert_eq!(v.bytes, b"a41&@b&foo;&#;");
        assert_eq!(v.to_raw(1..2), 1..6);
        assert!(has_html_reference(b"x &#52; y"));
        assert!(!has_html_reference(b"a & b; c"));
    }

    /// Every encoding, alone and composed: decoding what was encoded gives
    /// the text back, and the encoded text holds no byte its framing reads.
    #[test]
    fn encodings_round_trip() {
        let texts: [&[u8]; 6] = [
            b"4111 11** **** 1111",
            "4111\u{a0}11**\u{a0}****\u{a0}1111".as_bytes(),
            "3782\u{2009}82****\u{2009}*0005".as_bytes(),
            b"[CARD:k1:abcdefghijklmnop]",
            b"a\"b\\c<d>&e'f+g%h=i\tj",
            b"*****@example.com",
        ];
        let steps = [
            Decoding::Json,
            Decoding::Html,
            Decoding::Percent,
            Decoding::Form,
        ];
        let decode = |step: Decoding, input: &[u8]| {
            let mut v = View::default();
            match step {
                Decoding::Json => json_unescape(input, None, &mut v),
                Decoding::Html => html_unescape(input, None, &mut v),
                Decoding::Percent => percent_decode(input, None, &mut v),
                Decoding::Form => form_decode(input, None, &mut v),
            }
            v.bytes
        };
        for text in texts {
            for a in steps {
                for b in steps {
                    let enc = Encoding::default().then(a).then(b);
                    let mut out = Vec::new();
                    enc.encode(text, &mut out);
                    assert!(out.is_ascii(), "{out:?}");
                    let inner = decode(a, &out);
                    assert_eq!(decode(b, &inner), text, "{a:?} {b:?} {out:?}");
                    // Outside escapes, JSON holds no quote or control byte.
                    let mut i = 0;
                    while i < out.len() {
                        if out[i] == b'\\' {
                            i += 2;
                            continue;
                        }
                        assert!(a != Decoding::Json || (out[i] != b'"' && out[i] >= 0x20));
                        i += 1;
                    }
                    let bad: &[u8] = match a {
                        Decoding::Json => b"\n\t",
                        Decoding::Html => b"<>\"'",
                        Decoding::Percent => b" &=#?\"'+\n",
                        Decoding::Form => b" &=#?\"'\n",
                    };
                    assert!(!out.iter().any(|c| bad.contains(c)), "{a:?} {out:?}");
                }
            }
        }
        let mut out = Vec::new();
        Encoding::default()
            .then(Decoding::Percent)
            .encode(b"4111 11** **** 1111", &mut out);
        assert_eq!(out, b"4111%2011**%20****%201111");
        out.clear();
        Encoding::default().encode(b"[CARD_REDACTED]", &mut out);
        assert_eq!(out, b"[CARD_REDACTED]");
    }

    #[test]
    fn invalid_escapes_pass() {
        let mut v = View::default();
        json_unescape(br"\q\u12", None, &mut v);
        assert_eq!(v.bytes, br"\q\u12");
        percent_decode(b"100%zz%4", None, &mut v);
        assert_eq!(v.bytes, b"100%zz%4");
    }

    /// The per-byte map this module kept before its maps were kept per
    /// run: the model the segment maps are checked against.
    mod per_byte {
        use super::super::{hex, hex4, html_reference};
        use std::ops::Range;

        #[derive(Debug, Default)]
        pub struct PerByte {
            /// The decoded bytes.
            pub bytes: Vec<u8>,
            /// For decoded byte `i`, the raw range it came from is
            /// `starts[i]..ends[i]`.
            starts: Vec<u32>,
            ends: Vec<u32>,
        }

        impl PerByte {
            fn clear(&mut self) {
                self.bytes.clear();
                self.starts.clear();
                self.ends.clear();
            }

            fn push(&mut self, byte: u8, raw: Range<u32>) {
                self.bytes.push(byte);
                self.starts.push(raw.start);
                self.ends.push(raw.end);
            }

            /// Maps a non-empty span of this view to the raw line.
            pub fn to_raw(&self, span: Range<usize>) -> Range<usize> {
                debug_assert!(span.start < span.end);
                self.starts[span.start] as usize..self.ends[span.end - 1] as usize
            }

            /// The raw range of the decoded bytes `from..to` of `source`.
            fn raw_of(source: Option<&PerByte>, from: usize, to: usize) -> Range<u32> {
                match source {
                    None => from as u32..to as u32,
                    Some(v) => v.starts[from]..v.ends[to - 1],
                }
            }
        }

        pub(super) fn json_unescape(input: &[u8], source: Option<&PerByte>, out: &mut PerByte) {
            out.clear();
            let mut i = 0;
            while i < input.len() {
                let b = input[i];
                if b != b'\\' || i + 1 >= input.len() {
                    out.push(b, PerByte::raw_of(source, i, i + 1));
                    i += 1;
                    continue;
                }
                let simple = match input[i + 1] {
                    b'"' => Some(b'"'),
                    b'\\' => Some(b'\\'),
                    b'/' => Some(b'/'),
                    b'n' => Some(b'\n'),
                    b't' => Some(b'\t'),
                    b'r' => Some(b'\r'),
                    b'b' => Some(0x08),
                    b'f' => Some(0x0c),
                    _ => None,
                };
                if let Some(c) = simple {
                    out.push(c, PerByte::raw_of(source, i, i + 2));
                    i += 2;
                    continue;
                }
                if input[i + 1] == b'u' {
                    if let Some(mut cp) = hex4(&input[i + 2..]) {
                        let mut len = 6;
                        // A surrogate pair: \uD83D\uDE00.
                        if (0xD800..0xDC00).contains(&cp)
                            && input.get(i + 6) == Some(&b'\\')
                            && input.get(i + 7) == Some(&b'u')
                        {
                            if let Some(low) = hex4(&input[i + 8..]) {
                                if (0xDC00..0xE000).contains(&low) {
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                                    len = 12;
                                }
                            }
                        }
                        if let Some(ch) = char::from_u32(cp) {
                            let mut buf = [0u8; 4];
                            let raw = PerByte::raw_of(source, i, i + len);
                            for &byte in ch.encode_utf8(&mut buf).as_bytes() {
                                out.push(byte, raw.clone());
                            }
                            i += len;
                            continue;
                        }
                    }
                }
                out.push(b, PerByte::raw_of(source, i, i + 1));
                i += 1;
            }
        }

        pub(super) fn html_unescape(input: &[u8], source: Option<&PerByte>, out: &mut PerByte) {
            out.clear();
            let mut i = 0;
            while i < input.len() {
                if input[i] == b'&' {
                    if let Some((ch, len)) = html_reference(&input[i..]) {
                        let raw = PerByte::raw_of(source, i, i + len);
                        let mut buf = [0u8; 4];
                        for &byte in ch.encode_utf8(&mut buf).as_bytes() {
                            out.push(byte, raw.clone());
                        }
                        i += len;
                        continue;
                    }
                }
                out.push(input[i], PerByte::raw_of(source, i, i + 1));
                i += 1;
            }
        }

        pub(super) fn decode_percent(
            input: &[u8],
            source: Option<&PerByte>,
            out: &mut PerByte,
            plus_is_space: bool,
        ) {
            out.clear();
            let mut i = 0;
            while i < input.len() {
                let b = input[i];
                if b == b'%'
                    && input.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && input.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                {
                    let byte = (hex(input[i + 1]) * 16 + hex(input[i + 2])) as u8;
                    out.push(byte, PerByte::raw_of(source, i, i + 3));
                    i += 3;
                } else {
                    let b = if plus_is_space && b == b'+' { b' ' } else { b };
                    out.push(b, PerByte::raw_of(source, i, i + 1));
                    i += 1;
                }
            }
        }
    }

    /// Views of every decoding, alone and composed over two steps, map every
    /// decoded span to the same raw range as the per-byte model.
    #[test]
    fn segment_maps_equal_the_per_byte_model() {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just(&b"\\u0034"[..]),
            Just(&b"\\ud83d\\ude00"[..]),
            Just(&b"\\n"[..]),
            Just(&b"\\\\"[..]),
            Just(&b"\\q"[..]),
            Just(&b"%41"[..]),
            Just(&b"%2541"[..]),
            Just(&b"%z"[..]),
            Just(&b"+"[..]),
            Just(&b"&#52;"[..]),
            Just(&b"&amp;"[..]),
            Just(&b"&nbsp;"[..]),
            Just(&b"&"[..]),
            Just(&b"ab"[..]),
            Just(&b"4111"[..]),
            Just("\u{e9}".as_bytes()),
        ];
        let steps = [0u8, 1, 2, 3];
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &(
                    proptest::collection::vec(piece, 0..12),
                    0usize..4,
                    0usize..4,
                ),
                |(pieces, a, b)| {
                    let raw: Vec<u8> = pieces.concat();
                    let (mut v1, mut v2) = (View::default(), View::default());
                    let (mut m1, mut m2) =
                        (per_byte::PerByte::default(), per_byte::PerByte::default());
                    let step = |k: u8, input: &[u8], src: Option<&View>, out: &mut View| match k {
                        0 => json_unescape(input, src, out),
                        1 => html_unescape(input, src, out),
                        2 => percent_decode(input, src, out),
                        _ => form_decode(input, src, out),
                    };
                    let model =
                        |k: u8,
                         input: &[u8],
                         src: Option<&per_byte::PerByte>,
                         out: &mut per_byte::PerByte| match k {
                            0 => per_byte::json_unescape(input, src, out),
                            1 => per_byte::html_unescape(input, src, out),
                            2 => per_byte::decode_percent(input, src, out, false),
                            _ => per_byte::decode_percent(input, src, out, true),
                        };
                    step(steps[a], &raw, None, &mut v1);
                    model(steps[a], &raw, None, &mut m1);
                    prop_assert_eq!(&v1.bytes, &m1.bytes);
                    step(steps[b], &v1.bytes.clone(), Some(&v1), &mut v2);
                    model(steps[b], &m1.bytes.clone(), Some(&m1), &mut m2);
                    prop_assert_eq!(&v2.bytes, &m2.bytes);
                    for (v, m) in [(&v1, &m1), (&v2, &m2)] {
                        for s in 0..v.bytes.len() {
                            for e in s + 1..=v.bytes.len() {
                                prop_assert_eq!(v.to_raw(s..e), m.to_raw(s..e));
                            }
                        }
                    }
                    Ok(())
                },
            )
            .unwrap();
    }
}
