//! logfmt pairs: `key=value key2="quoted value"`, found anywhere in a line
//! (plain text logs carry them too).
//!
//! A key is a run of `[A-Za-z0-9_.-]` that starts a token; a value is
//! either a double-quoted string (with `\"` escapes) or a run of bytes up
//! to the next space. Anything else is skipped, so any line can be walked.

use std::ops::Range;

/// One `key=value` pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The key.
    pub key: Range<usize>,
    /// The value's content (inside the quotes when quoted).
    pub value: Range<usize>,
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Calls `visit` for every `key=value` pair of `line`.
pub fn pairs(line: &[u8], visit: &mut dyn FnMut(&Pair)) {
    let mut search = 0;
    while let Some(rel) = memchr::memchr(b'=', &line[search..]) {
        let eq = search + rel;
        search = eq + 1;
        let mut k = eq;
        while k > 0 && is_key_byte(line[k - 1]) {
            k -= 1;
        }
        // The key must start a token.
        if k == eq
            || (k > 0
                && !matches!(
                    line[k - 1],
                    b' ' | b'\t' | b'"' | b'{' | b',' | b'&' | b'?' | b';'
                ))
        {
            continue;
        }
        let v = eq + 1;
        let value = if let Some(&q @ (b'"' | b'\'')) = line.get(v) {
            let mut i = v + 1;
            loop {
                match memchr::memchr2(q, b'\\', &line[i.min(line.len())..]) {
                    Some(r) if line[i + r] == b'\\' => i += r + 2,
                    Some(r) => break (v + 1)..(i + r),
                    None => break (v + 1)..line.len(),
                }
                if i >= line.len() {
                    break (v + 1)..line.len();
                }
            }
        } else {
            let end = line[v..]
                .iter()
                .position(u8::is_ascii_whitespace)
                .map_or(line.len(), |p| v + p);
            v..end
        };
        search = value.end.max(search);
        visit(&Pair { key: k..eq, value });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(line: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        pairs(line.as_bytes(), &mut |p| {
            out.push((
                line[p.key.clone()].to_string(),
                line[p.value.clone()].to_string(),
            ))
        });
        out
    }

    #[test]
    fn finds_pairs() {
        assert_eq!(
            all(r#"time=1 level=info msg="a \"b\" = c" password=hunter2 x== n="#),
            vec![
                ("time".into(), "1".into()),
                ("level".into(), "info".into()),
                ("msg".into(), r#"a \"b\" = c"#.into()),
                ("password".into(), "hunter2".into()),
                ("x".into(), "=".into()),
                ("n".into(), "".into()),
            ]
        );
        assert!(all("a==b no-key =x").is_empty() || all("a==b")[0].0 == "a");
        assert_eq!(
            all(r#"unterminated="abc"#),
            vec![("unterminated".into(), "abc".into())]
        );
        assert_eq!(
            all("token='a b' x=1"),
            vec![("token".into(), "a b".into()), ("x".into(), "1".into())]
        );
    }
}
