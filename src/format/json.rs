//! A byte-level JSON walker: finds the member values of every object in a
//! line, with their keys and spans, without building a tree or allocating.
//!
//! It validates as it walks; a line that is not exactly one JSON value (bar
//! surrounding whitespace) is reported as malformed and handled as raw text.
//! Nesting deeper than [`MAX_DEPTH`] counts as malformed too, which bounds
//! the recursion.

use std::ops::Range;

/// The deepest nesting walked.
pub const MAX_DEPTH: usize = 64;

/// What kind of value a member has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// A string; the span covers its content, without the quotes.
    String,
    /// A number, `true`, `false` or `null`.
    Scalar,
    /// An object or an array; the span covers its brackets.
    Container,
}

/// One object member: `"key": value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The key's raw content (between its quotes, escapes not decoded).
    pub key: Range<usize>,
    /// The value's span (see [`ValueKind`]).
    pub value: Range<usize>,
    /// The value's kind.
    pub kind: ValueKind,
}

/// Walks `line` as one JSON value, calling `visit` for every object member
/// at any depth, once its value is complete (nested members before the
/// member holding them). Returns false when the line is not valid JSON
/// (members seen so far were visited). Allocates nothing.
pub fn walk(line: &[u8], visit: &mut dyn FnMut(&Member)) -> bool {
    walk_with(line, &mut |m: &Member| visit(m))
}

/// True when `line` is exactly one JSON value (bar surrounding
/// whitespace): what [`walk`] returns, without visiting anything.
pub fn is_valid(line: &[u8]) -> bool {
    walk_with(line, &mut |_: &Member| {})
}

fn walk_with<V: FnMut(&Member)>(line: &[u8], visit: &mut V) -> bool {
    let mut p = Parser { s: line, i: 0 };
    p.ws();
    if p.value(0, visit).is_none() {
        return false;
    }
    p.ws();
    p.i == line.len()
}

/// True when the line starts like a JSON object (`{` after whitespace).
pub fn looks_like_json(line: &[u8]) -> bool {
    line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// The bytes that end a run of ordinary string content: the closing quote,
/// a backslash, and the control bytes JSON does not allow raw.
const STRING_STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stop[b] = true;
        b += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop
};

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Parses a value; returns its span and kind.
    fn value<V: FnMut(&Member)>(
        &mut self,
        depth: usize,
        visit: &mut V,
    ) -> Option<(Range<usize>, ValueKind)> {
        if depth > MAX_DEPTH {
            return None;
        }
        let start = self.i;
        match self.peek()? {
            b'{' => {
                self.object(depth, visit)?;
                Some((start..self.i, ValueKind::Container))
            }
            b'[' => {
                self.array(depth, visit)?;
                Some((start..self.i, ValueKind::Container))
            }
            b'"' => {
                let content = self.string()?;
                Some((content, ValueKind::String))
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => {
                self.number()?;
                Some((start..self.i, ValueKind::Scalar))
            }
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<(Range<usize>, ValueKind)> {
        let start = self.i;
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Some((start..self.i, ValueKind::Scalar))
        } else {
            None
        }
    }

    fn number(&mut self) -> Option<()> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.i += 1;
            }
            p.i > s
        };
        if !digits(self) {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        (self.i > start).then_some(())
    }

    /// Parses a string at `"`; returns the content span.
    fn string(&mut self) -> Option<Range<usize>> {
        self.i += 1;
        let start = self.i;
        // One pass: the closing quote, escapes skipped, control bytes
        // refused (most strings are short: a byte loop beats a search).
        // Ordinary bytes are skipped with one table test each.
        loop {
            let rest = self.s.get(self.i..).unwrap_or_default();
            self.i += rest
                .iter()
                .position(|&b| STRING_STOP[usize::from(b)])
                .unwrap_or(rest.len());
            match *self.s.get(self.i)? {
                b'"' => {
                    let content = start..self.i;
                    self.i += 1;
                    return Some(content);
                }
                b'\\' if self.s.get(self.i + 1).is_some_and(|&c| c < 0x20) => return None,
                b'\\' => self.i += 2,
                _ => return None,
            }
        }
    }

    fn object<V: FnMut(&Member)>(&mut self, depth: usize, visit: &mut V) -> Option<()> {
        self.i += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            self.ws();
            let (value, kind) = self.value(depth + 1, visit)?;
            visit(&Member { key, value, kind });
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array<V: FnMut(&Member)>(&mut self, depth: usize, visit: &mut V) -> Option<()> {
        self.i += 1;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            let (value, kind) = self.value(depth + 1, visit)?;
            if kind == ValueKind::Scalar {
                // An element: reported with an empty key, so that a bare
                // number in an array is known too.
                visit(&Member {
                    key: value.start..value.start,
                    value,
                    kind,
                });
            }
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(line: &str) -> (bool, Vec<(String, String, ValueKind)>) {
        let mut out = Vec::new();
        let ok = walk(line.as_bytes(), &mut |m| {
            out.push((
                line[m.key.clone()].to_string(),
                line[m.value.clone()].to_string(),
                m.kind,
            ));
        });
        (ok, out)
    }

    #[test]
    fn walks_nested_members_in_order() {
        let (ok, m) =
            members(r#"{"a": 1, "b": {"c": "x\"y", "d": [true, {"e": null}]}, "f": -1.5e3}"#);
        assert!(ok);
        let keys: Vec<&str> = m.iter().map(|(k, _, _)| k.as_str()).collect();
        // `true` in the array is an element: an empty key.
        assert_eq!(keys, ["a", "c", "", "e", "d", "b", "f"]);
        assert_eq!(m[1].1, r#"x\"y"#);
        assert_eq!(m[1].2, ValueKind::String);
        assert_eq!(m[2].1, "true");
        assert_eq!(m[5].2, ValueKind::Container);
        assert_eq!(m[6].1, "-1.5e3");
    }

    #[test]
    fn malformed_lines_are_reported() {
        for bad in [
            r#"{"a": 1"#,
            r#"{"a" 1}"#,
            r#"{"a": tru}"#,
            r#"{"a": "x"} tail"#,
            "{\"a\": \"\u{1}\"}",
            r#"{"a": 01x}"#,
        ] {
            assert!(!members(bad).0, "{bad}");
        }
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(!walk(deep.as_bytes(), &mut |_| {}));
    }

    /// String content: every byte at every place of a string, against the
    /// rule read byte by byte (a quote ends it, a backslash takes the next
    /// byte unless that is a control byte, a raw control byte is refused).
    #[test]
    fn string_content_is_read_byte_by_byte() {
        fn reference(content: &[u8]) -> Option<usize> {
            let mut i = 0;
            while let Some(&b) = content.get(i) {
                match b {
                    b'"' => return Some(i),
                    b'\\' if content.get(i + 1).is_some_and(|&c| c < 0x20) => return None,
                    b'\\' => i += 2,
                    0..=0x1f => return None,
                    _ => i += 1,
                }
            }
            None
        }
        for b in 0..=255u8 {
            for content in [
                vec![b],
                vec![b'x', b, b'y'],
                vec![b'\\', b],
                vec![b'a', b'\\', b, b'z'],
                vec![b, b'\\'],
            ] {
                for closed in [false, true] {
                    let mut line = b"{\"k\": \"".to_vec();
                    line.extend_from_slice(&content);
                    if closed {
                        line.extend_from_slice(b"\"}");
                    }
                    let mut tail = content.clone();
                    if closed {
                        tail.extend_from_slice(b"\"}");
                    }
                    let want = reference(&tail).is_some_and(|end| &tail[end..] == b"\"}");
                    assert_eq!(is_valid(&line), want, "{line:?}");
                }
            }
        }
    }
}
