//! Fields in any syntax: finds (name, value) pairs in a line without being
//! told its syntax, so that the value of a sensitive name is redacted
//! whatever the line looks like.
//!
//! The search is driven by the names: a name filter (one automaton of every
//! sensitive key, its words joined by one of ` ._-` or nothing, ASCII
//! case-insensitive) finds where a name may be; the name is widened to its
//! whole identifier and confirmed by [`SensitiveKeys::lookup`] (word-split,
//! so `cvc_check` is not `cvc`). Only then is the syntax around it read:
//!
//! - assignments: `k=v`, `k: v`, `k => v`, `k -> v`, `k := v`, with the name
//!   quoted or bare (`"k"`, `'k'`, `\"k\"`, `:k`, `[k]`, `["k"]`) and the
//!   value quoted, bare, bracketed or a PHP `string(3) "v"` / `int(5)`; a
//!   number under a digit rule's name also after a number sign or a dot
//!   (`acct#: 123…`, `Acct # 123…`, `cvv: #123`), a dash between spaces, a
//!   `::`, or in brackets of any kind (`cvv: <123>`):
//!   JSON, logfmt, YAML, INI and properties lines, HTTP headers, query
//!   strings and form bodies, SQL `SET`/`WHERE`, and the object dumps of Go,
//!   Python, Java/Kotlin, Ruby, PHP, .NET and JavaScript;
//! - XML/HTML elements (`<CVV2>846</CVV2>`, `<ns:AccountNumber a="b">…<`)
//!   and attributes (`cvv="846"`), and a name as the text of one element
//!   followed by its value as the text of the next
//!   (`<td>CVV</td><td>846</td>`, `<dt>…</dt><dd>…</dd>`);
//! - containers whose own name completes their fields' names:
//!   `<card number="…">`, `Card(number=…)`, `Card{number=…}`,
//!   `#<Card number=…>`, `Card { Number = … }`;
//! - a value apart from its name: the pairing of an SQL column list with
//!   each `VALUES (…)` tuple (or PostgreSQL's `Key (…)=(…)`, or the
//!   `[parameters: (…)]` logged for its binds), a name held by a naming
//!   field and its value by a sibling or the element's text
//!   (`{"name":"cvv","value":"123"}`, `<field name="cvv">123</field>`,
//!   `<input name="password" value="…">`,
//!   `ParameterKey=DbPassword,ParameterValue=…`), a bind list
//!   `[["cvv", "123"]]`, a CEF
//!   label/value pair (`cs1Label=cvv cs1=123`), a two-cell table row
//!   (`| cvv | 123 |`);
//! - prose: a name followed by `is`, `was` or nothing, then digits
//!   (`the security code is 123`, `card number 4111 1111 …`).
//!
//! The value's extent follows the syntax: the closing quote (escaped quotes
//! skipped), the closing tag, the matching bracket, or the next separator.
//! A bare number under a name of a digit rule (`pan`, `cvv`, `ssn`,
//! `account`, `routing`) also takes the groups that follow it after one
//! kind of separator (`4111 1111 1111 1111`), up to the rule's digit count.
//! Values that hold nothing (`true`, `null`, `****`, labels) and bind
//! placeholders (`?`, `$1`, `:cvv`) are left alone, and the values of
//! secret-named keys go through the `secret_value` validator like the
//! `kv_secret` rule's.
//!
//! Cost: nothing for a line the name filter does not match (the line gate
//! runs the same name automaton over whole batches, so most lines are not
//! even searched); then work linear in the line per name found, each look
//! around bounded.

use std::ops::Range;

use regex_automata::{meta, Input};

use super::{already_redacted, Quote, SensitiveKeys};

/// Per-thread state of the field recognizer.
#[derive(Debug, Default)]
pub struct FieldScratch {
    /// The name filter's cache, with the id of the filter it belongs to.
    cache: Option<(usize, meta::Cache)>,
    key_buf: Vec<u8>,
    name_buf: Vec<u8>,
}

/// How far a value is followed when it is not closed by its syntax.
const MAX_VALUE: usize = 4096;
/// How far back an enclosing bracket or tag is looked for.
const MAX_BACK: usize = 512;

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while i < line.len() && matches!(line[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

fn skip_ws_back(line: &[u8], mut i: usize) -> usize {
    while i > 0 && matches!(line[i - 1], b' ' | b'\t') {
        i -= 1;
    }
    i
}

/// A quote at `i`: the quote byte and whether it is escaped (`\"`).
fn quote_at(line: &[u8], i: usize) -> Option<(u8, bool)> {
    match line.get(i)? {
        &q @ (b'"' | b'\'' | b'`') => Some((q, false)),
        b'\\' => match line.get(i + 1)? {
            &q @ (b'"' | b'\'') => Some((q, true)),
            _ => None,
        },
        _ => None,
    }
}

/// The content of a quoted value opening at `i` (the quote, escaped or
/// not): up to the closing quote, escapes skipped; to the end of the line
/// when unterminated (fail closed).
fn quoted(line: &[u8], i: usize, q: u8, escaped: bool) -> Range<usize> {
    let start = i + 1 + usize::from(escaped);
    let limit = line.len().min(start + MAX_VALUE);
    let mut j = start;
    while j < limit {
        let b = line[j];
        if escaped {
            if b == b'\\' && line.get(j + 1) == Some(&q) {
                return start..j;
            }
            if b == b'\\' {
                j += 2;
                continue;
            }
        } else {
            if b == q {
                return start..j;
            }
            if b == b'\\' {
                j += 2;
                continue;
            }
        }
        j += 1;
    }
    start..limit.min(line.len())
}

/// The end (exclusive) of the bracketed value opening at `i`, or the end
/// of the line when it does not close.
fn bracketed(line: &[u8], i: usize) -> usize {
    let (open, close) = match line[i] {
        b'[' => (b'[', b']'),
        b'{' => (b'{', b'}'),
        _ => (b'(', b')'),
    };
    let limit = line.len().min(i + MAX_VALUE);
    let mut depth = 0usize;
    let mut j = i;
    while j < limit {
        let b = line[j];
        if b == open {
            depth += 1;
        } else if b == close {
            depth -= 1;
            if depth == 0 {
                return j + 1;
            }
        } else if b == b'\\' && matches!(line.get(j + 1), Some(b'"' | b'\'')) {
            // A string of JSON inside a string (`[\"a]\"]`): to the
            // escaped quote that closes it.
            j = quoted(line, j, line[j + 1], true).end + 1;
        } else if b == b'"' || b == b'\'' {
            j = quoted(line, j, b, false).end;
        }
        j += 1;
    }
    limit
}

/// The number inside the brackets opening at `i` (`[`, `{`, `(` or `<`),
/// spaces trimmed, when they hold a number and nothing else.
fn bracketed_number(line: &[u8], i: usize) -> Option<Range<usize>> {
    let close = super::closing_bracket(*line.get(i)?)?;
    let start = skip_ws(line, i + 1);
    let mut end = start;
    while end < line.len().min(start + 64)
        && (line[end].is_ascii_digit() || matches!(line[end], b' ' | b'-' | b'.'))
    {
        end += 1;
    }
    let inner = start..skip_ws_back(line, end).max(start);
    let digits = line[inner.clone()]
        .iter()
        .filter(|b| b.is_ascii_digit())
        .count();
    (line.get(skip_ws(line, end)) == Some(&close) && digits > 0).then_some(inner)
}

/// Element `index` of the tuple opening at `open` (`(`): split at its
/// top-level commas, the inside of a quoted element.
fn tuple_element(line: &[u8], open: usize, index: usize) -> Option<Range<usize>> {
    let end = bracketed(line, open);
    let mut j = open + 1;
    for k in 0..=index {
        if j >= end {
            return None;
        }
        let el_start = skip_ws(line, j);
        let mut el_end = el_start;
        while el_end < end - 1 {
            match line[el_end] {
                b',' => break,
                b'\'' | b'"' => el_end = quoted(line, el_end, line[el_end], false).end,
                b'(' => el_end = bracketed(line, el_end) - 1,
                _ => {}
            }
            el_end += 1;
        }
        let el_end = el_end.min(end.saturating_sub(1)).max(el_start);
        if k == index {
            return Some(match quote_at(line, el_start) {
                Some((q, esc)) => quoted(line, el_start, q, esc),
                None => el_start..skip_ws_back(line, el_end).max(el_start),
            });
        }
        j = el_end + 1;
    }
    None
}

/// The length of a separator between two digit groups at `i`: the ASCII
/// ones, the UTF-8 bytes of Unicode spaces and dashes, and their encoded
/// forms (`&nbsp;`, `%20`, `\u00a0`, `+`).
fn digit_separator(line: &[u8], i: usize) -> usize {
    let rest = &line[i..line.len().min(i + 8)];
    const SEPS: &[&[u8]] = &[
        b" - ",
        b"&nbsp;",
        b"&#160;",
        b"&#xA0;",
        b"&#xa0;",
        b"\\u00a0",
        b"\\u00A0",
        b"%C2%A0",
        b"%c2%a0",
        b"%20",
        b"  ",
        b"\xC2\xA0",
        b"\xE2\x80\xAF",
        b"\xE2\x80\x89",
        b"\xE2\x80\x8B",
        b"\xE2\x80\x93",
        b"\xE2\x80\x91",
    ];
    if let Some(s) = SEPS.iter().find(|s| rest.starts_with(s)) {
        return s.len();
    }
    match rest.first() {
        Some(b' ' | b'\t' | b'-' | b'.' | b'+') => 1,
        Some(0xE2) if rest.len() >= 3 && rest[1] == 0x80 && (0x80..=0x95).contains(&rest[2]) => 3,
        _ => 0,
    }
}

/// Codes of at most this many digits are never printed in groups.
const SHORT_CODE_DIGITS: usize = 4;

/// A number starting at `i`: its digits, then further digit groups after
/// one kind of separator while the digits stay within `max_digits`. A group
/// that goes on with another separator and digits belongs to the next
/// number (`6011 1111 1111 1117 0.27`), and one glued to letters to a word.
fn digit_run(line: &[u8], i: usize, max_digits: usize) -> usize {
    let group = |j: usize| line[j..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut end = i + group(i);
    if max_digits <= SHORT_CODE_DIGITS {
        // A short code (CVV, PIN) is printed in one piece: `cvv2=504 7`
        // is the code and another number.
        return end;
    }
    let mut digits = end - i;
    let mut sep: Option<&[u8]> = None;
    loop {
        let len = digit_separator(line, end);
        if len == 0 {
            return end;
        }
        let this = &line[end..end + len];
        if sep.is_some_and(|s| s != this) {
            return end;
        }
        let j = end + len;
        let g = group(j);
        if g == 0 || digits + g > max_digits {
            return end;
        }
        let gend = j + g;
        if line.get(gend).is_some_and(u8::is_ascii_alphabetic) {
            return end;
        }
        let next = digit_separator(line, gend);
        if next > 0
            && line.get(gend + next).is_some_and(u8::is_ascii_digit)
            && &line[gend..gend + next] != this
        {
            return end;
        }
        sep = Some(this);
        end = gend;
        digits += g;
    }
}

/// True for the bytes that end a bare value.
fn ends_bare(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b',' | b';'
                | b'&'
                | b'|'
                | b'<'
                | b'>'
                | b'"'
                | b'\''
                | b'`'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
        )
        || b == b'\\'
}

/// The length of a password-storage scheme at the start of `text`: a name
/// of 2 to 16 letters, digits, `-` or `_` in braces (`{SSHA}`, `{noop}`,
/// `{PBKDF2-SHA256}`). None otherwise.
fn scheme_prefix(text: &[u8]) -> Option<usize> {
    let rest = text.strip_prefix(b"{")?;
    let len = rest.iter().take(17).position(|&b| b == b'}')?;
    let name = &rest[..len];
    ((2..=16).contains(&len)
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(len + 2)
}

/// Values that stand for a value without being one: bind placeholders and
/// format directives.
fn placeholder(value: &[u8]) -> bool {
    matches!(
        value,
        b"?" | b"{}" | b"%s" | b"%d" | b"%v" | b"''" | b"\"\""
    ) || (value.len() >= 2
        && matches!(value[0], b'$' | b':' | b'@' | b'#')
        && value[1..].iter().all(|&b| is_ident(b)))
        || (value.first() == Some(&b'{')
            && value.last() == Some(&b'}')
            && value[1..value.len() - 1].iter().all(|&b| is_ident(b)))
}

/// What a sensitive name's rule asks of its values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ValueShape {
    /// The most digits a number of this rule has (0: not a digit rule).
    pub max_digits: usize,
    /// The fewest digits a value must hold (0: any): a card number's
    /// field with fewer (`card_number=5317`, a last four; `pan=-19`, a
    /// camera's angle) holds no card.
    pub min_digits: usize,
    /// The values go through the `secret_value` validator.
    pub secret_value: bool,
    /// When set, a value is a number of this many digits, perhaps grouped
    /// by spaces, dashes or dots: a bank account or routing number. A word
    /// or a small count under such a name (`routing=orders.created`,
    /// `"acct":"acme"`, `aba=1`) is something else.
    pub digits: Option<(usize, usize)>,
}

/// True when `text` is a number of `min..=max` digits, perhaps grouped by
/// spaces, dashes or dots.
pub(crate) fn is_number(text: &[u8], (min, max): (usize, usize)) -> bool {
    let digits = text.iter().filter(|b| b.is_ascii_digit()).count();
    (min..=max).contains(&digits)
        && text
            .iter()
            .all(|&b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.'))
}

/// One recognizer run over one line.
struct Run<'a> {
    line: &'a [u8],
    keys: &'a SensitiveKeys,
    out: &'a mut Vec<(usize, Range<usize>, Quote)>,
    /// Values end here at the latest so far: names inside them are skipped.
    taken: usize,
}

impl Run<'_> {
    /// Records `value` for `rule` when it holds something.
    fn push(&mut self, rule: usize, value: Range<usize>, cell: bool) -> bool {
        let line = self.line;
        let mut value = value;
        // Trim spaces (a value in a cell or an element).
        while value.start < value.end && line[value.start].is_ascii_whitespace() {
            value.start += 1;
        }
        while value.end > value.start && line[value.end - 1].is_ascii_whitespace() {
            value.end -= 1;
        }
        let text = &line[value.clone()];
        if text.is_empty() || already_redacted(text) || placeholder(text) {
            return false;
        }
        // Part of a masked value (`411111******1111`, `####1111`): already
        // redacted. A lone `#` is a number sign (`acct: #12345678`).
        let masked = |p: usize| match line.get(p) {
            Some(b'*') => true,
            Some(b'#') => {
                matches!(line.get(p + 1), Some(b'*' | b'#'))
                    || p.checked_sub(1)
                        .is_some_and(|q| matches!(line[q], b'*' | b'#'))
            }
            _ => false,
        };
        if masked(value.end) || value.start.checked_sub(1).is_some_and(masked) {
            return false;
        }
        let shape = self.keys.shape(rule);
        // A table cell or an element's text is a value of a digit rule only
        // when it holds digits (a header row's next cell is a name).
        if cell && !text.iter().any(u8::is_ascii_digit) {
            return false;
        }
        // Nor is an id column's name (`| cvv | order2_id |` is a header row,
        // whose id column keeps card-like ids on the rows under it).
        if cell && crate::rules::validate::is_id_key(text) {
            return false;
        }
        if !self.keys.fits(rule, text) {
            return false;
        }
        if shape.secret_value {
            match crate::rules::Validator::SecretValue.check(line, value.clone()) {
                Ok(v) => value = v,
                Err(_) => return false,
            }
        }
        self.taken = self.taken.max(value.end);
        self.out.push((rule, value, Quote::None));
        true
    }

    /// The value after the name `s..e` (known sensitive, for `rule`).
    fn value_after(&mut self, s: usize, e: usize, rule: usize) -> bool {
        let line = self.line;
        let shape = self.keys.shape(rule);
        // An XML element: `<Name …>value</Name>` (or `<ns:Name>`).
        let mut b = s;
        if b > 0 && line[b - 1] == b':' {
            let mut p = b - 1;
            while p > 0 && is_ident(line[p - 1]) {
                p -= 1;
            }
            if p > 0 && line[p - 1] == b'<' {
                b = p;
            }
        }
        // When the element has no content (`<card number="…"/>`), the name
        // spans its tag and first attribute: read on as an attribute.
        if b > 0 && line[b - 1] == b'<' && self.element(e, rule) {
            return true;
        }
        let before = skip_ws_back(line, s);
        // A name that is an element's text: its value is the next
        // element's text (`<td>CVV</td><td>846</td>`).
        if before > 0 && line[before - 1] == b'>' && !header_cell(line, before - 1) {
            let mut j = skip_ws(line, e);
            if line.get(j) == Some(&b':') {
                j = skip_ws(line, j + 1);
            }
            if line.get(j) == Some(&b'<') {
                return self.next_element_text(j, rule);
            }
        }
        // The name's closing quote or bracket.
        let mut i = e;
        let mut quoted_name = None;
        if let Some((q, esc)) = quote_at(line, i) {
            quoted_name = Some(q);
            i += 1 + usize::from(esc);
        }
        if line.get(i) == Some(&b']') {
            i += 1;
        }
        i = skip_ws(line, i);
        // A bind pair `["cvv", "123"]`.
        if quoted_name.is_some() && line.get(i) == Some(&b',') {
            let open = skip_ws_back(line, s.saturating_sub(1));
            if open > 0 && line[open - 1] == b'[' {
                let j = skip_ws(line, i + 1);
                return self.value_at(j, rule, false);
            }
        }
        // A column list: `(id, card_number, cvv) VALUES (…)`.
        if matches!(line.get(i), Some(b',' | b')')) {
            // The values lie after the list, where the other columns'
            // names must still be read.
            let taken = self.taken;
            let found = self.column_list(s, rule);
            self.taken = taken;
            if found {
                return true;
            }
        }
        // A name in parentheses before its separator:
        // `CVC (security code): 123`.
        if line.get(i) == Some(&b')') && before > 0 && line[before - 1] == b'(' {
            let j = skip_ws(line, i + 1);
            if matches!(line.get(j), Some(b':' | b'=')) {
                i = j;
            }
        }
        // A table row: `| cvv | 123 |`.
        if line.get(i) == Some(&b'|') && before > 0 && line[before - 1] == b'|' {
            let j = i + 1;
            let end = memchr::memchr(b'|', &line[j..]).map_or(line.len(), |p| j + p);
            return self.push(rule, j..end, true);
        }
        // A number sign or a dot between a digit rule's name and its
        // separator: `acct#: 123`, `Acct # 123`, `CVV.: 123`.
        let digit_rule = shape.max_digits > 0;
        if digit_rule && number_mark(line, i) {
            i = skip_ws(line, i + 1);
        }
        // The separator.
        let rest = &line[i..];
        let prose;
        if rest.starts_with(b"=>")
            || rest.starts_with(b"->")
            || rest.starts_with(b":=")
            || rest.starts_with(b"==")
        {
            i += 2;
            prose = false;
        } else if rest.starts_with(b"::") {
            // A type's path (`Password::Reset`), unless a number follows
            // under a digit rule's name (`SSN::123456789`) or a space does,
            // as in LDIF, whose `userPassword:: e1NTSEF9…` holds the value
            // in base64.
            let ldif = matches!(rest.get(2), Some(b' ' | b'\t'));
            let number = digit_rule && rest.get(2).is_some_and(u8::is_ascii_digit);
            if !(ldif || number) {
                return false;
            }
            i += 2;
            prose = false;
        } else if matches!(rest.first(), Some(b'=' | b':')) {
            i += 1;
            prose = false;
        } else if let Some(n) = prose_verb(rest) {
            i += n;
            prose = true;
        } else if digit_rule
            && i > e
            && (rest.starts_with(b"- ") || rest.starts_with(b"\xE2\x80\x93 "))
        {
            // A dash between spaces: `cvv - 123`, `acct – 12345678`.
            i += if rest[0] == b'-' { 2 } else { 4 };
            prose = true;
        } else if quoted_name.is_none() {
            // `ParameterKey=DbPassword,ParameterValue=…`.
            if self.named_by_field(s, e, rule) {
                return true;
            }
            prose = true;
        } else {
            return self.named_by_field(s, e, rule);
        }
        i = skip_ws(line, i);
        if prose && line.get(i) == Some(&b':') {
            i = skip_ws(line, i + 1);
        }
        // A number sign before a number: `acct: #12345678`, `cvv=#123`.
        if digit_rule
            && line.get(i) == Some(&b'#')
            && line.get(i + 1).is_some_and(u8::is_ascii_digit)
        {
            i += 1;
        }
        if prose {
            // Prose: only a number, of at least three digits.
            if !line.get(i).is_some_and(u8::is_ascii_digit) || shape.max_digits == 0 {
                return false;
            }
            let end = digit_run(line, i, shape.max_digits);
            let digits = line[i..end].iter().filter(|b| b.is_ascii_digit()).count();
            if digits < 3 || line.get(end).is_some_and(u8::is_ascii_alphanumeric) {
                return false;
            }
            return self.push(rule, i..end, false);
        }
        // Cookies: the whole header value.
        if self.keys.is_cookie(rule, &line[s..e]) && quote_at(line, i).is_none() {
            let end = line.len().min(i + MAX_VALUE);
            return self.push(rule, i..end, false);
        }
        self.value_at(i, rule, false)
    }

    /// A quoted name `s..e` that is the value of a naming field, its value
    /// in a sibling field or the element's text:
    /// `{"name":"cvv","value":"123"}`, `{"Key":"ssn","Value":"…"}`,
    /// `<field name="cvv">123</field>`, `<entry key="password" value="…"/>`.
    fn named_by_field(&mut self, s: usize, e: usize, rule: usize) -> bool {
        let line = self.line;
        // `name":"`, `name="` or `Key=` before the name (or its quote).
        let open = match s.checked_sub(1) {
            Some(q) if quote_at(line, q).is_some() => q,
            _ => s,
        };
        let mut k = skip_ws_back(line, open);
        if k == 0 || !matches!(line[k - 1], b':' | b'=') {
            return false;
        }
        k = skip_ws_back(line, k - 1);
        if k > 0 && matches!(line[k - 1], b'"' | b'\'') {
            k -= 1;
        }
        let key_end = k;
        while k > 0 && (line[k - 1].is_ascii_alphanumeric() || line[k - 1] == b'_') {
            k -= 1;
        }
        if !last_word_is(
            &line[k..key_end],
            &["name", "key", "field", "param", "parameter"],
        ) {
            return false;
        }
        // The sibling `value` field, before the object or the tag ends.
        let limit = line.len().min(e + 256);
        let mut j = e + 1;
        while j < limit {
            match line[j] {
                b'}' | b'<' => return false,
                b'>' => {
                    // An element: its text, when the tag is not empty.
                    if line[j - 1] == b'/' {
                        return false;
                    }
                    let start = j + 1;
                    let end =
                        memchr::memchr(b'<', &line[start..limit]).map_or(limit, |p| start + p);
                    return self.push(rule, start..end, false);
                }
                b'"' | b'\'' | b'a'..=b'z' | b'A'..=b'Z' if !is_ident(line[j - 1]) => {
                    // A key, quoted or bare: `"value":`, `value=`.
                    let word = match line[j] {
                        q @ (b'"' | b'\'') => quoted(line, j, q, false),
                        _ => j..j + line[j..limit].iter().take_while(|&&b| is_ident(b)).count(),
                    };
                    let mut v = word.end;
                    if matches!(line.get(v), Some(b'"' | b'\'')) {
                        v += 1;
                    }
                    v = skip_ws(line, v);
                    if last_word_is(&line[word], &["value", "val"])
                        && matches!(line.get(v), Some(b':' | b'='))
                    {
                        return self.value_at(skip_ws(line, v + 1), rule, false);
                    }
                    j = v.max(j + 1);
                }
                _ => j += 1,
            }
        }
        false
    }

    /// A value starting at `i`, its extent by its syntax.
    fn value_at(&mut self, mut i: usize, rule: usize, cell: bool) -> bool {
        let line = self.line;
        let shape = self.keys.shape(rule);
        if i >= line.len() {
            return false;
        }
        // PHP var_dump: `string(3) "123"`, `int(123)`.
        let rest = &line[i..];
        if rest.starts_with(b"string(") {
            if let Some(p) = memchr::memchr(b')', &rest[..rest.len().min(20)]) {
                i = skip_ws(line, i + p + 1);
            }
        } else if rest.starts_with(b"int(") || rest.starts_with(b"float(") {
            let open = i + memchr::memchr(b'(', rest).unwrap_or(0) + 1;
            let end = memchr::memchr(b')', &line[open..]).map_or(line.len(), |p| open + p);
            return self.push(rule, open..end, cell);
        }
        if let Some((q, esc)) = quote_at(line, i) {
            let v = quoted(line, i, q, esc);
            return self.push(rule, v, cell);
        }
        // A number in brackets under a digit rule's name: the number
        // (`cvv: <123>`, `acct=[12345678]`).
        if shape.max_digits > 0 {
            if let Some(inner) = bracketed_number(line, i) {
                return self.push(rule, inner, cell);
            }
        }
        // A password-storage scheme before the value (`{SSHA}…`, `{noop}…`,
        // `{bcrypt}$2a$…`, `{cipher}…`): the scheme and the value that
        // follows it, with no space between.
        let scheme =
            scheme_prefix(&line[i..]).filter(|&n| line.get(i + n).is_some_and(|&b| !ends_bare(b)));
        match line[i] {
            _ if scheme.is_some() => {
                let end = bare_end(line, i + scheme.unwrap_or(0));
                self.push(rule, i..end, cell)
            }
            b'[' | b'{' | b'(' => {
                let end = bracketed(line, i);
                self.push(rule, i..end, cell)
            }
            // Authorization schemes: the credential after them.
            _ if auth_scheme(&line[i..]).is_some() => {
                let mut j = skip_ws(line, i + auth_scheme(&line[i..]).unwrap_or(0));
                let end = bare_end(line, j);
                // `Token token=…`: the credential is the parameter's value.
                if let Some(eq) = line[j..end].iter().position(|&b| b == b'=') {
                    if eq > 0 && line[j..j + eq].iter().all(u8::is_ascii_alphabetic) {
                        j += eq + 1;
                    }
                }
                self.push(rule, j..end, cell)
            }
            _ => {
                let mut end = bare_end(line, i);
                // A type name before its fields (`Token{a64f…}`,
                // `Token { kind: … }`): an object dump; a secret-named
                // key's object is not a secret (as for `kv_secret`), a
                // card's or a code's is redacted whole.
                let after = skip_ws(line, end);
                if matches!(line.get(after), Some(b'{' | b'(')) {
                    if shape.secret_value {
                        return false;
                    }
                    end = bracketed(line, after);
                }
                if shape.max_digits > 0 && line[i].is_ascii_digit() {
                    end = end.max(digit_run(line, i, shape.max_digits));
                }
                self.push(rule, i..end, cell)
            }
        }
    }

    /// An element's content after its start tag's name ends at `e`.
    fn element(&mut self, e: usize, rule: usize) -> bool {
        let line = self.line;
        let limit = line.len().min(e + MAX_VALUE);
        let Some(gt) = memchr::memchr(b'>', &line[e..limit]).map(|p| e + p) else {
            return false;
        };
        if line[e..gt].contains(&b'<') || (gt > e && line[gt - 1] == b'/') {
            return false;
        }
        let mut start = skip_ws(line, gt + 1);
        const CDATA: &[u8] = b"<![CDATA[";
        if line[start..].starts_with(CDATA) {
            start += CDATA.len();
            let end =
                memchr::memmem::find(&line[start..], b"]]>").map_or(line.len(), |p| start + p);
            return self.push(rule, start..end, false);
        }
        let end = memchr::memchr(b'<', &line[start..]).map_or(line.len(), |p| start + p);
        self.push(rule, start..end, false)
    }

    /// The text of the element after the tags starting at `j`.
    fn next_element_text(&mut self, mut j: usize, rule: usize) -> bool {
        let line = self.line;
        for _ in 0..4 {
            if line.get(j) != Some(&b'<') {
                break;
            }
            let Some(gt) = memchr::memchr(b'>', &line[j..]) else {
                return false;
            };
            j = skip_ws(line, j + gt + 1);
        }
        let end = memchr::memchr(b'<', &line[j..]).map_or(line.len(), |p| j + p);
        self.push(rule, j..end, true)
    }

    /// The name at `s` inside a parenthesised column list followed by
    /// `VALUES (…)`: the values at its position in every tuple.
    fn column_list(&mut self, s: usize, rule: usize) -> bool {
        let line = self.line;
        // The enclosing `(` and the name's position in the list.
        let mut p = s;
        let mut index = 0;
        let floor = s.saturating_sub(MAX_BACK);
        loop {
            if p <= floor {
                return false;
            }
            p -= 1;
            match line[p] {
                b'(' => break,
                b')' => return false,
                b',' => index += 1,
                _ => {}
            }
        }
        let Some(close) = memchr::memchr(b')', &line[s..]).map(|c| s + c) else {
            return false;
        };
        let mut i = skip_ws(line, close + 1);
        // `(a, b) VALUES (…), (…)`, or PostgreSQL's `Key (a, b)=(…)`.
        let kw = &line[i..line.len().min(i + 6)];
        let many = if kw.eq_ignore_ascii_case(b"values") {
            i = skip_ws(line, i + 6);
            true
        } else if line.get(i) == Some(&b'=') {
            i = skip_ws(line, i + 1);
            false
        } else {
            return false;
        };
        let mut any = false;
        let mut bound = false;
        for _ in 0..1000 {
            if line.get(i) != Some(&b'(') {
                break;
            }
            let end = bracketed(line, i);
            if let Some(v) = tuple_element(line, i, index) {
                let text = &line[v.clone()];
                bound |= matches!(text, b"?" | b"%s") || text.starts_with(b"%(");
                any |= self.push(rule, v, false);
            }
            i = skip_ws(line, end);
            if !many || line.get(i) != Some(&b',') {
                break;
            }
            i = skip_ws(line, i + 1);
        }
        // Positional binds (`VALUES (?, ?)`) and the values a driver logs
        // after the statement: SQLAlchemy's `[parameters: ('…', '…')]`.
        if bound {
            if let Some(p) = memchr::memmem::find(&line[i..], b"parameters: (") {
                let open = i + p + "parameters: ".len();
                if let Some(v) = tuple_element(line, open, index) {
                    any |= self.push(rule, v, false);
                }
            }
        }
        any
    }

    /// A container named `s..e` (`Card(…)`, `<card …>`, `#<Card …>`): its
    /// fields, named by the container's name and their own.
    fn container(&mut self, s: usize, e: usize, key_buf: &mut Vec<u8>, name_buf: &mut Vec<u8>) {
        let line = self.line;
        let j = skip_ws(line, e);
        let in_tag = {
            let b = skip_ws_back(line, s);
            let tag_start = |p: usize| p > 0 && line[p - 1] == b'<';
            tag_start(b) || (b >= 2 && line[b - 1] == b'<' && line[b - 2] == b'#')
        };
        let (start, end) = match line.get(j) {
            Some(b'(' | b'{') => (j + 1, bracketed(line, j)),
            Some(_) if in_tag && j > e => {
                let end = memchr::memchr(b'>', &line[j..]).map_or(line.len(), |p| j + p);
                (j, end)
            }
            _ => return,
        };
        let mut i = start;
        while i < end {
            if !is_ident(line[i]) || (i > start && is_ident(line[i - 1])) {
                i += 1;
                continue;
            }
            let fs = i;
            while i < end && is_ident(line[i]) {
                i += 1;
            }
            let fe = i;
            let after = skip_ws(line, fe);
            if !matches!(line.get(after), Some(b'=' | b':')) {
                continue;
            }
            name_buf.clear();
            name_buf.extend_from_slice(&line[s..e]);
            name_buf.push(b'_');
            name_buf.extend_from_slice(&line[fs..fe]);
            if let Some(rule) = self.keys.lookup(name_buf, key_buf) {
                if self.value_after(fs, fe, rule) {
                    i = i.max(self.taken);
                }
            }
        }
    }

    /// A CEF label (`cs1Label=cvv`): the value of the field it labels.
    fn cef_label(&mut self, s: usize, rule: usize) -> bool {
        let line = self.line;
        if s == 0 || line[s - 1] != b'=' {
            return false;
        }
        let mut k = s - 1;
        while k > 0 && line[k - 1].is_ascii_alphanumeric() {
            k -= 1;
        }
        let key = &line[k..s - 1];
        if key.len() <= 5 || !key[key.len() - 5..].eq_ignore_ascii_case(b"label") {
            return false;
        }
        let prefix = &line[k..s - 6];
        let mut from = 0;
        while let Some(p) = memchr::memmem::find(&line[from..], prefix) {
            let at = from + p;
            from = at + 1;
            let eq = at + prefix.len();
            let starts_token = at == 0 || matches!(line[at - 1], b' ' | b'|' | b'\t');
            if !starts_token || line.get(eq) != Some(&b'=') {
                continue;
            }
            // The value runs to the next ` key=` (CEF values may hold
            // spaces).
            let v = eq + 1;
            let mut end = v;
            while end < line.len() {
                if line[end] == b' ' {
                    let key_end = line[end + 1..]
                        .iter()
                        .position(|&b| !b.is_ascii_alphanumeric())
                        .map(|q| end + 1 + q);
                    if key_end.is_some_and(|q| q > end + 1 && line[q] == b'=') {
                        break;
                    }
                }
                end += 1;
            }
            return self.push(rule, v..end, false);
        }
        false
    }
}

/// True when the `>` at `gt` closes a `<th>` tag (a header cell: the next
/// cell is another header, not a value).
fn header_cell(line: &[u8], gt: usize) -> bool {
    let lt =
        memchr::memrchr(b'<', &line[gt.saturating_sub(64)..gt]).map(|p| gt.saturating_sub(64) + p);
    lt.is_some_and(|lt| {
        let tag = &line[lt + 1..gt];
        tag.len() >= 2
            && tag[..2].eq_ignore_ascii_case(b"th")
            && tag.get(2).is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}

/// True when the last word of the identifier `ident` (of at most two
/// words: `name`, `fieldName`, `ParameterKey`, `TagValue`) is one of `words`.
fn last_word_is(ident: &[u8], words: &[&str]) -> bool {
    if ident.is_empty() || ident.len() > 32 {
        return false;
    }
    let split = super::key_words(&String::from_utf8_lossy(ident));
    split.len() <= 2 && split.last().is_some_and(|w| words.contains(&w.as_str()))
}

/// A number sign or an abbreviation dot at `i`, after a name and before
/// its separator or value (`acct#: 123`, `acct # 123`, `CVV.: 123`), not
/// the start of another word (`acct.balance`, `#tag`).
fn number_mark(line: &[u8], i: usize) -> bool {
    matches!(line.get(i), Some(b'#' | b'.'))
        && !line
            .get(i + 1)
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
}

/// `is `, `was `, `are `, `of `, `= ` in prose: the length to skip.
fn prose_verb(rest: &[u8]) -> Option<usize> {
    for verb in [&b"is "[..], b"was ", b"are ", b"is: "] {
        if rest.len() >= verb.len() && rest[..verb.len()].eq_ignore_ascii_case(verb) {
            return Some(verb.len());
        }
    }
    None
}

/// An HTTP authorization scheme word at the start of `rest`, followed by a
/// space: its length.
fn auth_scheme(rest: &[u8]) -> Option<usize> {
    for scheme in [
        &b"bearer "[..],
        b"basic ",
        b"digest ",
        b"token ",
        b"negotiate ",
        // Providers' own schemes (Discord, MessageBird, Splunk HEC,
        // Opsgenie, Okta, AWS signatures, generic API keys).
        b"bot ",
        b"accesskey ",
        b"splunk ",
        b"geniekey ",
        b"ssws ",
        b"apikey ",
        b"key ",
        b"hmac ",
        b"aws4-hmac-sha256 ",
        // OAuth 1 and DPoP, JWT and API-key schemes of APIs (DeepL,
        // Klaviyo, Zoho, GoDaddy, Imgur), Hawk and MAC tokens.
        b"oauth ",
        b"dpop ",
        b"jwt ",
        b"api-key ",
        b"deepl-auth-key ",
        b"klaviyo-api-key ",
        b"zoho-oauthtoken ",
        b"sso-key ",
        b"client-id ",
        b"hawk ",
        b"mac ",
    ] {
        if rest.len() > scheme.len() && rest[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return Some(scheme.len() - 1);
        }
    }
    None
}

/// The end of a bare value starting at `i`: a byte that ends bare values,
/// or a byte of invalid UTF-8 (passed through, never taken as a secret's).
fn bare_end(line: &[u8], i: usize) -> usize {
    let limit = line.len().min(i + MAX_VALUE);
    let mut j = i;
    while j < limit {
        let b = line[j];
        if b < 0x80 {
            if ends_bare(b) {
                return j;
            }
            j += 1;
            continue;
        }
        let len = match b {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => return j,
        };
        match line.get(j..j + len).map(std::str::from_utf8) {
            Some(Ok(_)) => j += len,
            _ => return j,
        }
    }
    limit
}

/// Widens the name `s..e` over the words around it, one space apart, while
/// the longer name is still sensitive: to the right always (`Bank Account`
/// then ` Number`), to the left only inside a delimited name (a quoted
/// string, a cell, an element's text), so a tag or type name is never taken
/// for part of a field's name.
fn widen(
    line: &[u8],
    mut s: usize,
    mut e: usize,
    mut rule: usize,
    keys: &SensitiveKeys,
    key_buf: &mut Vec<u8>,
) -> (usize, usize, usize) {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for _ in 0..3 {
        if line.get(e) != Some(&b' ') || !line.get(e + 1).is_some_and(|&b| word(b)) {
            break;
        }
        let mut j = e + 1;
        while j < line.len() && word(line[j]) {
            j += 1;
        }
        match keys.lookup(&line[s..j], key_buf) {
            Some(r) => {
                e = j;
                rule = r;
            }
            None => break,
        }
    }
    // Up to three words to the left, when the longer name starts right
    // after a delimiter (or the line's start) and is still sensitive.
    let mut w = s;
    for _ in 0..3 {
        if w < 2 || line[w - 1] != b' ' || !word(line[w - 2]) {
            break;
        }
        let mut j = w - 1;
        while j > 0 && word(line[j - 1]) {
            j -= 1;
        }
        w = j;
        let p = skip_ws_back(line, w);
        let delimited = p == 0 || matches!(line[p - 1], b'"' | b'\'' | b'|' | b'>' | b'[');
        if delimited {
            if keys.lookup(&line[w..e], key_buf).is_some() {
                s = w;
            }
            break;
        }
    }
    (s, e, rule)
}

/// Records the value `span` of `line` for `rule` as the recognizer records
/// its own (trimmed; empty, masked, placeholder and already-redacted values
/// skipped; secret-named rules through `secret_value`; with `cell`, only a
/// value holding digits): for values named on another line (see
/// [`super::carry`]). True when one was recorded.
pub(crate) fn push_value(
    line: &[u8],
    keys: &SensitiveKeys,
    rule: usize,
    span: Range<usize>,
    cell: bool,
    out: &mut Vec<(usize, Range<usize>, Quote)>,
) -> bool {
    let mut run = Run {
        line,
        keys,
        out,
        taken: 0,
    };
    run.push(rule, span, cell)
}

/// Records the value starting at `i` of `line` for `rule`, its extent by
/// its syntax (quotes, brackets, PHP `string(3) "…"`, a digit run), as
/// [`push_value`] does.
pub(crate) fn push_value_at(
    line: &[u8],
    keys: &SensitiveKeys,
    rule: usize,
    i: usize,
    cell: bool,
    out: &mut Vec<(usize, Range<usize>, Quote)>,
) -> bool {
    let mut run = Run {
        line,
        keys,
        out,
        taken: 0,
    };
    run.value_at(i, rule, cell)
}

/// Finds the values of sensitive names in `line`, whatever its syntax, and
/// appends them to `out` as (rule, raw span, quote). Does nothing when the
/// keys have no name filter.
pub fn find(
    line: &[u8],
    keys: &SensitiveKeys,
    scratch: &mut FieldScratch,
    out: &mut Vec<(usize, Range<usize>, Quote)>,
) {
    let Some(filter) = keys.name_filter() else {
        return;
    };
    let (id, re) = filter;
    if scratch.cache.as_ref().is_none_or(|(cid, _)| *cid != id) {
        scratch.cache = Some((id, re.create_cache()));
    }
    let FieldScratch {
        cache,
        key_buf,
        name_buf,
    } = scratch;
    let Some((_, cache)) = cache.as_mut() else {
        return;
    };
    let mut run = Run {
        line,
        keys,
        out,
        taken: 0,
    };
    let mut at = 0;
    while at < line.len() {
        let Some(m) = re.search_with(cache, &Input::new(line).range(at..)) else {
            break;
        };
        at = m.end().max(m.start() + 1);
        // The match takes the bytes around the name that show where it
        // starts and ends: step inside them, then widen to the identifier.
        let mut s = m.start();
        while s < m.end() && !line[s].is_ascii_alphanumeric() {
            s += 1;
        }
        while s > 0 && is_ident(line[s - 1]) {
            s -= 1;
        }
        let mut e = m.end();
        while e > s && !line[e - 1].is_ascii_alphanumeric() {
            e -= 1;
        }
        at = at.min(e.max(m.start() + 1));
        while e < line.len() && is_ident(line[e]) {
            e += 1;
        }
        while e > s + 1 && matches!(line[e - 1], b'.' | b'-') {
            e -= 1;
        }
        at = at.max(e);
        if s < run.taken {
            // Inside a value already taken.
            continue;
        }
        // The name of a label or hash token this tool wrote
        // (`[API_KEY:k1:…]`, `[SECRET_REDACTED]`); not a PHP `print_r`
        // key in capitals (`[CVV] => 123`).
        if s > 0
            && line[s - 1] == b'['
            && line[s..e]
                .iter()
                .all(|&b| b.is_ascii_uppercase() || b == b'_')
            && (line.get(e) == Some(&b':')
                || (line.get(e) == Some(&b']') && line[s..e].ends_with(b"REDACTED")))
        {
            continue;
        }
        match keys.lookup(&line[s..e], key_buf) {
            Some(rule) => {
                // A name in words (`Bank Account Number`, `Card Cvv`):
                // the whole name, when it is still sensitive, so that its
                // cell, quotes or brackets are seen around it.
                let (ws, we, rule) = widen(line, s, e, rule, keys, key_buf);
                // A sensitive name with no value of its own may name a
                // container whose fields complete it (`BankAccount(number=…)`).
                if !run.cef_label(ws, rule) && !run.value_after(ws, we, rule) {
                    run.container(s, e, key_buf, name_buf);
                }
            }
            None => run.container(s, e, key_buf, name_buf),
        }
        at = at.max(run.taken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{SensitiveKeys, DEFAULT_SENSITIVE_KEYS};

    fn found(line: &str) -> Vec<(String, String)> {
        let rules = crate::rules::builtin_rules();
        let keys = SensitiveKeys::new(DEFAULT_SENSITIVE_KEYS.iter().copied(), &rules);
        let mut scratch = FieldScratch::default();
        let mut out = Vec::new();
        find(line.as_bytes(), &keys, &mut scratch, &mut out);
        out.sort_by_key(|(_, span, _)| span.start);
        out.iter()
            .map(|(r, span, _)| (rules[*r].id.clone(), line[span.clone()].to_string()))
            .collect()
    }

    fn one(line: &str, rule: &str, value: &str) {
        assert_eq!(
            found(line),
            vec![(rule.to_string(), value.to_string())],
            "{line}"
        );
    }

    fn all(line: &str, want: &[(&str, &str)]) {
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(r, v)| (r.to_string(), v.to_string()))
            .collect();
        assert_eq!(found(line), want, "{line}");
    }

    /// A password-storage scheme and the value after it, and LDIF's
    /// `name:: base64`, are values; a placeholder, an object and a type's
    /// path are not.
    #[test]
    fn password_schemes_and_ldif_values_are_values() {
        for scheme in [
            "{SSHA}",
            "{noop}",
            "{bcrypt}",
            "{cipher}",
            "{PBKDF2-SHA256}",
        ] {
            for conn in [": ", " = ", "=", ":: "] {
                let line = format!("uid=7 userPassword{conn}{scheme}Qx7secretvalue ok");
                one(&line, "kv_secret", &format!("{scheme}Qx7secretvalue"));
            }
        }
        one(
            "dn: uid=a userPassword:: e1NTSEF9cXg3 x",
            "kv_secret",
            "e1NTSEF9cXg3",
        );
        // A placeholder, an object and a type's path stay.
        for line in [
            "password: {} ok",
            "password: {MD5} ok",
            "token: {abc123def456}",
            "Password::Reset called",
        ] {
            assert!(found(line).is_empty(), "{line}: {:?}", found(line));
        }
    }

    /// Between a digit rule's name and its number: a number sign, a dot,
    /// a dash between spaces, a scope `::`, brackets around the number;
    /// a lone `#` is not a mask. Words after `::` and `#` stay.
    #[test]
    fn number_signs_dashes_and_brackets_connect_a_number() {
        for conn in [
            "#",
            "# ",
            " #",
            " # ",
            "#: ",
            " #: ",
            "#=",
            "# :",
            ": #",
            "=#",
            ".: ",
            " - ",
            " \u{2013} ",
            "::",
            " was ",
        ] {
            one(&format!("x cvv{conn}123 y"), "cvv", "123");
            one(&format!("x acct{conn}12345678 y"), "account", "12345678");
        }
        for (open, close) in [("[", "]"), ("(", ")"), ("{", "}"), ("<", ">")] {
            one(&format!("x cvv: {open}123{close} y"), "cvv", "123");
            one(
                &format!("x acct={open} 12345678 {close} y"),
                "account",
                "12345678",
            );
        }
        one("x password=[Qk9!zz8Y2] y", "kv_secret", "[Qk9!zz8Y2]");
        one("CVC (security code): 789 ok", "cvv", "789");
        one(r#"{"name":"cvv","value":"456"}"#, "cvv", "456");
        one(r#"[{"Key":"ssn","Value":"123456789"}]"#, "ssn", "123456789");
        one(r#"<field name="cvv">789</field>"#, "cvv", "789");
        one(
            r#"<entry key="password" value="Qx7!secretvalue"/>"#,
            "kv_secret",
            "Qx7!secretvalue",
        );
        one(
            "{'name': 'acct', 'type': 'str', 'value': '87654321'}",
            "account",
            "87654321",
        );
        one(
            "--parameters ParameterKey=DbPassword,ParameterValue=Qx7!secretvalue",
            "kv_secret",
            "Qx7!secretvalue",
        );
        one("Tags: [{Key: cvv, Value: 321}]", "cvv", "321");
        one(
            r#"{"fieldName":"ssn","fieldValue":"123456789"}"#,
            "ssn",
            "123456789",
        );
        for kept in [
            r#"{"name":"cvv","required":true}"#,
            r#"<field name="cvv"/>"#,
            r#"{"name":"password"}, {"value":"x1"}"#,
        ] {
            assert_eq!(found(kept), vec![], "{kept}");
        }
        for kept in [
            "Password::Reset failed",
            "cvv#check done",
            "acct.balance=12345678",
            "cvv=****123",
            "password=[FILTERED]",
            "acct=[ACCOUNT_REDACTED]",
            "acct=([ACCOUNT_REDACTED])",
            "tokens=[]",
        ] {
            assert_eq!(found(kept), vec![], "{kept}");
        }
    }

    /// A column list pairs with PostgreSQL's `Key (…)=(…)` as with each
    /// `VALUES (…)` tuple, and positional binds with the parameters a
    /// driver logs after the statement.
    #[test]
    fn column_lists_pair_with_keys_and_logged_parameters() {
        all(
            "DETAIL: Key (order_id, cvv)=(77, 321) already exists.",
            &[("cvv", "321")],
        );
        all(
            "[SQL: INSERT INTO p (order_id, cvc) VALUES (?, ?)] [parameters: (7, '999')]",
            &[("cvv", "999")],
        );
        all(
            "INSERT INTO p (id, cvv) VALUES (%s, %s) [parameters: (7, '321')]",
            &[("cvv", "321")],
        );
        all(
            "INSERT INTO p (id, cvv) VALUES (1, '123'), (2, '456')",
            &[("cvv", "123"), ("cvv", "456")],
        );
        // Not a list followed by its values.
        assert_eq!(found("call f(order_id, cvv) = 3"), vec![]);
    }

    /// Bank names take numbers of their rule's length, whatever the
    /// syntax; words and small counts under them are something else.
    #[test]
    fn bank_names_take_numbers_only() {
        one("acct: 12345678901", "account", "12345678901");
        one("<Routing>021000021</Routing>", "routing", "021000021");
        one("rtn=021000022", "routing", "021000022");
        one("BankAccount(number=12345678, x=1)", "account", "12345678");
        one("bank_account={number=1, x=2}", "account", "{number=1, x=2}");
        for decoy in [
            "routing=orders.created",
            "acct: acme-prod",
            "aba=2",
            "routing: 02100002",
            "account_number=ACCT-0001",
        ] {
            assert_eq!(found(decoy), vec![], "{decoy}");
        }
    }

    #[test]
    fn an_authorization_scheme_is_not_the_credential() {
        for scheme in ["Bearer", "Bot", "AccessKey", "Splunk", "GenieKey", "SSWS"] {
            one(
                &format!("Authorization: {scheme} c03b948b540fd9248894"),
                "kv_secret",
                "c03b948b540fd9248894",
            );
        }
        one(
            "Authorization: Token token=ZvvBpNuZd1ZLpt90idAP",
            "kv_secret",
            "ZvvBpNuZd1ZLpt90idAP",
        );
    }

    #[test]
    fn a_short_code_is_one_group() {
        // The number after a code (and a space) is the log's own text.
        for sep in [" ", "  ", "\t", " - "] {
            one(&format!("error state cvv2=504{sep}7"), "cvv", "504");
            one(&format!("the security code is 8461{sep}22"), "cvv", "8461");
        }
    }

    #[test]
    fn every_syntax() {
        one("<CVV2>846</CVV2>", "cvv", "846");
        one(
            "<ns2:AccountNumber type=\"x\">01930044</ns2:AccountNumber>",
            "account",
            "01930044",
        );
        one(
            "<card number=\"4111-1111-1111-1111\"/>",
            "pan",
            "4111-1111-1111-1111",
        );
        one("<Card cvv='846' />", "cvv", "846");
        one("cvv: 846", "cvv", "846");
        one("Routing_Number = 021000021", "routing", "021000021");
        one(
            "X-Card-Number: 4111 1111 1111 1111 exp 12/25",
            "pan",
            "4111 1111 1111 1111",
        );
        all(
            "GET /p?card_number=4111111111111111&cvv2=846 HTTP/1.1",
            &[("pan", "4111111111111111"), ("cvv", "846")],
        );
        one(
            "Cookie: sid=abc123; theme=dark",
            "kv_secret",
            "sid=abc123; theme=dark",
        );
        one("&{Number:4111 CVV:846}", "cvv", "846");
        one("{'security_code': '846'}", "cvv", "846");
        all(
            "Card(number='4111111111111111', cvv=846)",
            &[("pan", "4111111111111111"), ("cvv", "846")],
        );
        one(
            "#<Card number=\"4111111111111111\">",
            "pan",
            "4111111111111111",
        );
        one("Card{number=4111111111111111}", "pan", "4111111111111111");
        one("{:cvv=>\"846\"}", "cvv", "846");
        one("array ( 'cvv' => '846', )", "cvv", "846");
        one("[cvv] => 846", "cvv", "846");
        one("    [CVV] => 846", "cvv", "846");
        one(
            "    [PASSWORD] => Q7x!pa55word",
            "kv_secret",
            "Q7x!pa55word",
        );
        one("[\"cvv\"]=> string(3) \"846\"", "cvv", "846");
        one("Card { Cvv = 846 }", "cvv", "846");
        one(
            "{ cardNumber: '4111111111111111', x: 1 }",
            "pan",
            "4111111111111111",
        );
        one(r#"{\"cvv\":\"846\"}"#, "cvv", "846");
        one("UPDATE cards SET cvv = '846' WHERE id = 1", "cvv", "846");
        assert!(found("SELECT * FROM t WHERE ssn = :ssn AND cvv = ?").is_empty());
        all(
            "INSERT INTO cards (id, card_number, cvv) VALUES (1, '4111111111111111', '846'), (2, '5500000000000004', 123)",
            &[
                ("pan", "4111111111111111"),
                ("cvv", "846"),
                ("pan", "5500000000000004"),
                ("cvv", "123"),
            ],
        );
        one("binds: [[\"cvv\", \"846\"], [\"id\", 1]]", "cvv", "846");
        one(
            "CEF:0|V|P|1|100|x|5|cs1Label=cvv cs1=846 suser=bob",
            "cvv",
            "846",
        );
        one("| cvv | 846 |", "cvv", "846");
        one("<tr><td>CVV</td><td>846</td></tr>", "cvv", "846");
        one("the security code is 846.", "cvv", "846");
        one(
            "my card number: 4111 1111 1111 1111 thanks",
            "pan",
            "4111 1111 1111 1111",
        );
        one("ssn 123-45-6789 on file", "ssn", "123-45-6789");
        one(
            "pan 6011 1111 1111 1117 0.2738080",
            "pan",
            "6011 1111 1111 1117",
        );
        one("cvv=123 2024-01-02T03:04:05Z", "cvv", "123");
        one("Authorization: Bearer abcdefgh", "kv_secret", "abcdefgh");
        one("cvv: Cvv{846}", "cvv", "Cvv{846}");
        one("é cvv=123\u{ff}", "cvv", "123\u{ff}");
        // A card field holding fewer digits than any card: a last four, a
        // BIN, a camera's pan angle.
        for line in [
            "card_number=5317",
            "ptz move pan=-19 tilt=56",
            r#"{"pan": -15.5}"#,
            "pan: 42",
        ] {
            assert!(found(line).is_empty(), "{line}");
        }
    }

    #[test]
    fn decoys_survive() {
        for line in [
            "cvc_check: pass",
            "token_type=Bearer expires_in=3600",
            "cvv: true requires_cvc=false",
            "card_number: ****4242",
            "received card number 658293*********8810 from client",
            "GOOGLE_API_KEY=[API_KEY:k1:nakaolgpigbmgide] x",
            "card number is required",
            "<tr><th>card number</th><th>cvv</th><th>exp</th></tr>",
            "| card number | cvv | exp |",
            "| cvv | order2_id |",
            "cvv: [CVV_REDACTED]",
            "order_id=4111111111111111",
            "Failed password for invalid user admin",
            "card declined: insufficient funds",
            "Token: Token { kind: ContainerToken, service: 10.0.0.1:28345 }",
            "wtoken = AppWindowToken{9f4ef63 token=Token{a64f992 ActivityRecord{de9231d}}}",
        ] {
            assert_eq!(found(line), vec![], "{line}");
        }
    }
}
