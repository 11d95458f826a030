//! Fields whose name and value stand on different lines: a table's header
//! row names the columns of the rows under it (Markdown and ASCII tables,
//! `psql` output, CSV/TSV with a header line), and a dump's key ends one
//! line while its value starts the next (PHP `var_dump`, Ruby `pp`, Python
//! `pprint`, YAML).
//!
//! The state that crosses lines is one small `Copy` value, [`Carry`],
//! carried per stream in input order like the private-key block state:
//! [`step`] gives the state after a line from the state before it, and
//! [`cells`] the values a line holds under the state before it.
//!
//! - A **table header** is a row of at least two cells, every cell a name
//!   (a letter, then letters, digits, spaces and `_-./`), one of them
//!   sensitive ([`SensitiveKeys::lookup`]) or an id: cells split at `|` (with or
//!   without outer pipes), or at one of `,` `;` tab (CSV/TSV; quoted names
//!   allowed; two columns only when neither name holds a space, so prose
//!   such as `Invalid password, retrying` is no header). Each row under it
//!   with the same number of cells is a data row: a cell under a sensitive
//!   column is redacted whatever its shape (bar empty, masked or
//!   placeholder values; secret-named columns go through the
//!   `secret_value` validator), and a card number that is the whole cell
//!   of an id column (`order_id`, `txnId`, `ID`) is not a card, as for an
//!   id key (the `pan` validator). A row must have the header's number of
//!   cells and pipe style (a CSV row is no `{`, `[` or `<` line). Separator
//!   and border rows (`|---|:-:|`, `+----+`, `----+----`) keep the table
//!   open.
//! - A **pending key** is a line that ends with a sensitive name and `=>`,
//!   `:` or `=` (`["cvv"]=>`, `:card_number=>`, `'password':`, `cvv:`), or
//!   with a YAML block indicator (`password: |`). The next line's leading
//!   value is its value (`string(3) "123"`, `"4111…",`, `'s3cr3t'}`; the
//!   whole line for a YAML block), unless that line opens a nested
//!   structure or is itself a `key: …` line; a digit rule's value must hold
//!   digits. The name may be quoted words (`["Card Number"]=>`) or words
//!   alone on their line (`Security Code:`). An id key ending a line keeps
//!   the card-like id at the start of the next.
//!
//! Guarantees:
//! - bounded: a header applies to at most [`MAX_TABLE_ROWS`] following
//!   lines, a pending key to the next line only; a blank line, a line that
//!   is not a row of the table, or an over-long line (which the caller
//!   resets) ends the state;
//! - a header or key line starts its state whatever came before, so the
//!   state after a line depends only on the last `MAX_TABLE_ROWS + 1`
//!   lines: [`state_after`] reads at most that tail of a batch, and a batch
//!   scrubbed alone from the state handed to it gives the same output as
//!   the stream scrubbed in one piece;
//! - cheap on lines that are neither: a look at the first byte of the
//!   line's message and its last byte, and one byte scan (left at the
//!   first byte a header cannot hold) of lines that begin with a letter, a
//!   pipe or a quote; names are looked up only on lines that could be a
//!   header or end with a key. No allocation per line (look-ups reuse the
//!   caller's buffer).
//!
//! Lines of a CRI log are read as their message, Docker json-file lines as
//! their `log` string as written (escaped quotes are skipped around names
//! and values; TSV and quoted CSV, whose tabs and quotes JSON escapes, are
//! not read as tables there).

use std::ops::Range;

use super::{fields, Quote, SensitiveKeys};

/// The most rows (separator rows included) a table header applies to.
pub const MAX_TABLE_ROWS: u16 = 200;

/// The most columns a table header may have.
pub const MAX_COLUMNS: usize = 32;

/// The longest name a header cell may hold.
const MAX_NAME: usize = 64;

/// What a column holds, by its header's name, as a `u16` (the state
/// stays small): [`OTHER`], [`ID`], or [`SECRET`] plus a rule index.
type Role = u16;
/// Nothing the header says anything about.
const OTHER: Role = 0;
/// An identifier (`order_id`): a card number there is an id.
const ID: Role = 1;
/// The values of a sensitive name: `SECRET + rule`.
const SECRET: Role = 2;

/// The state of one stream between two lines: nothing, a table header's
/// columns, or a key whose value is on the next line; with the id of the
/// sensitive keys it was read with (its rule indexes are theirs: after a
/// configuration change the state is dropped). Small and `Copy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Carry {
    state: State,
    keys: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    None,
    /// A key whose value starts the next line: its rule, and whether the
    /// whole next line is the value (a YAML block scalar).
    Pending { rule: u16, whole_line: bool },
    /// An id key (`["order_id"]=>`) whose value starts the next line: a
    /// card number there is an identifier.
    PendingId,
    /// The rows under a header.
    Table(Table),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Table {
    /// `|`, `,`, `;` or tab.
    delim: u8,
    /// Cells in a row.
    columns: u8,
    /// The header began with `|` (Markdown, ASCII): so must its rows; a
    /// `psql` header and its rows do not.
    outer: bool,
    /// Rows still covered.
    left: u16,
    roles: [Role; MAX_COLUMNS],
}

impl Carry {
    /// No state: what a stream starts with.
    pub const NONE: Carry = Carry {
        state: State::None,
        keys: 0,
    };

    /// True when the next line may hold values named on an earlier line.
    pub fn is_open(&self) -> bool {
        self.state != State::None
    }

    /// The state, when it was read with `keys`.
    fn with(&self, keys: &SensitiveKeys) -> State {
        if self.keys == keys_id(keys) {
            self.state
        } else {
            State::None
        }
    }
}

/// The id of a set of sensitive keys (0 when it has no names).
fn keys_id(keys: &SensitiveKeys) -> usize {
    keys.name_filter().map_or(0, |(id, _)| id)
}

fn carry(state: State, keys: &SensitiveKeys) -> Carry {
    match state {
        State::None => Carry::NONE,
        state => Carry {
            state,
            keys: keys_id(keys),
        },
    }
}

/// Cells of one row: spans in the line (trimmed; a quoted CSV cell without
/// its quotes).
struct Cells {
    spans: [Range<usize>; MAX_COLUMNS],
    len: usize,
    /// More cells than [`MAX_COLUMNS`].
    overflow: bool,
}

impl Cells {
    fn new() -> Cells {
        Cells {
            spans: std::array::from_fn(|_| 0..0),
            len: 0,
            overflow: false,
        }
    }

    fn push(&mut self, line: &[u8], mut span: Range<usize>) {
        while span.start < span.end && matches!(line[span.start], b' ' | b'\t') {
            span.start += 1;
        }
        while span.end > span.start && matches!(line[span.end - 1], b' ' | b'\t') {
            span.end -= 1;
        }
        if self.len == MAX_COLUMNS {
            self.overflow = true;
            return;
        }
        self.spans[self.len] = span;
        self.len += 1;
    }

    fn as_slice(&self) -> &[Range<usize>] {
        &self.spans[..self.len]
    }
}

/// The span of `content` a table or dump is read in: a CRI line's message
/// (`<time> stdout|stderr F|P[:…] <message>`, the time a token of 20 to 40
/// bytes starting with a digit: cheaper than [`super::parse_cri`], which
/// checks the time byte by byte; the shape is all this needs), a Docker
/// json-file line's `log` string as written (escaped, its final `\n`
/// escape left out), else the whole line.
fn message(content: &[u8]) -> Range<usize> {
    let whole = 0..content.len();
    const DOCKER: &[u8] = b"{\"log\":\"";
    if content.starts_with(DOCKER) {
        // The string ends where the next member starts: `","stream":"`.
        // Its first occurrence: inside the string every quote is escaped.
        static NEXT: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\",\"stream\":\""));
        let Some(end) = NEXT
            .find(&content[DOCKER.len()..])
            .map(|p| DOCKER.len() + p)
        else {
            return whole;
        };
        let mut end = end;
        for esc in [&b"\\n"[..], b"\\r"] {
            if content[DOCKER.len()..end].ends_with(esc) {
                end -= esc.len();
            }
        }
        return DOCKER.len()..end;
    }
    if !content.first().is_some_and(u8::is_ascii_digit) {
        return whole;
    }
    let Some(sp) = memchr::memchr(b' ', &content[..content.len().min(41)]) else {
        return whole;
    };
    let rest = &content[sp + 1..];
    if sp < 20 || !(rest.starts_with(b"stdout ") || rest.starts_with(b"stderr ")) {
        return whole;
    }
    let tag = sp + 8;
    if !matches!(content.get(tag), Some(b'F' | b'P')) {
        return whole;
    }
    match memchr::memchr(b' ', &content[tag..]) {
        Some(p) if p == 1 || content[tag + 1] == b':' => {
            (tag + p + 1).min(content.len())..content.len()
        }
        None if content.len() == tag + 1 => content.len()..content.len(),
        _ => whole,
    }
}

/// The cells of a `|` row in `msg` of `line`: split at `|`, the empty
/// cells outside outer pipes dropped.
fn pipe_cells(line: &[u8], msg: Range<usize>) -> Cells {
    let mut cells = Cells::new();
    let text = &line[msg.clone()];
    let first = text.iter().position(|&b| !matches!(b, b' ' | b'\t'));
    let last = text.iter().rposition(|&b| !matches!(b, b' ' | b'\t'));
    let (Some(first), Some(last)) = (first, last) else {
        return cells;
    };
    let mut start = msg.start + first;
    let mut end = msg.start + last + 1;
    if line[start] == b'|' {
        start += 1;
    }
    if end > start && line[end - 1] == b'|' {
        end -= 1;
    }
    let mut at = start;
    for p in memchr::memchr_iter(b'|', &line[start..end]) {
        cells.push(line, at..start + p);
        at = start + p + 1;
    }
    cells.push(line, at..end);
    cells
}

/// The cells of a CSV row in `msg` of `line`, split at `delim` outside
/// double quotes (`""` is a quote inside a quoted cell).
fn csv_cells(line: &[u8], msg: Range<usize>, delim: u8) -> Cells {
    let mut cells = Cells::new();
    let mut i = msg.start;
    loop {
        // Leading spaces, then a quoted or a bare cell.
        let mut j = i;
        while j < msg.end && line[j] == b' ' {
            j += 1;
        }
        if j < msg.end && line[j] == b'"' {
            let open = j + 1;
            let mut k = open;
            while k < msg.end {
                if line[k] == b'"' {
                    if line.get(k + 1) == Some(&b'"') && k + 1 < msg.end {
                        k += 2;
                        continue;
                    }
                    break;
                }
                k += 1;
            }
            cells.push(line, open..k.min(msg.end));
            let after = memchr::memchr(delim, &line[k.min(msg.end)..msg.end]);
            match after {
                Some(p) => i = k.min(msg.end) + p + 1,
                None => return cells,
            }
        } else {
            match memchr::memchr(delim, &line[i..msg.end]) {
                Some(p) => {
                    cells.push(line, i..i + p);
                    i += p + 1;
                }
                None => {
                    cells.push(line, i..msg.end);
                    return cells;
                }
            }
        }
    }
}

/// True for a header cell: a letter, then letters, digits, spaces and
/// `_-./`, at most [`MAX_NAME`] bytes.
fn name_like(cell: &[u8]) -> bool {
    !cell.is_empty()
        && cell.len() <= MAX_NAME
        && cell[0].is_ascii_alphabetic()
        && cell
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'_' | b'-' | b'.' | b'/'))
}

/// A separator or border row: only `-=+:|` and spaces, with a `-` or `=`.
fn separator_row(text: &[u8]) -> bool {
    text.iter().any(|&b| matches!(b, b'-' | b'='))
        && text
            .iter()
            .all(|&b| matches!(b, b'-' | b'=' | b'+' | b':' | b'|' | b' ' | b'\t'))
}

/// The table a header row `cells` starts, when it is one: every cell a
/// name, one of them sensitive.
fn header(
    line: &[u8],
    cells: &Cells,
    delim: u8,
    keys: &SensitiveKeys,
    buf: &mut Vec<u8>,
) -> Option<Table> {
    if cells.overflow || cells.len < 2 {
        return None;
    }
    if !cells.as_slice().iter().all(|c| name_like(&line[c.clone()])) {
        return None;
    }
    // Two CSV columns whose names hold spaces read as prose
    // (`Invalid password, retrying`).
    if delim != b'|'
        && cells.len == 2
        && cells
            .as_slice()
            .iter()
            .any(|c| line[c.clone()].contains(&b' '))
    {
        return None;
    }
    let mut roles = [OTHER; MAX_COLUMNS];
    let mut any = false;
    for (role, c) in roles.iter_mut().zip(cells.as_slice()) {
        let name = &line[c.clone()];
        if let Some(rule) = keys.lookup(name, buf) {
            *role = SECRET.checked_add(u16::try_from(rule).ok()?)?;
            any = true;
        } else if crate::rules::validate::is_id_key(name) {
            *role = ID;
            any = true;
        }
    }
    any.then_some(Table {
        delim,
        columns: cells.len as u8,
        outer: delim == b'|'
            && line[..cells.spans[0].start]
                .iter()
                .rev()
                .find(|&&b| !matches!(b, b' ' | b'\t'))
                == Some(&b'|'),
        left: MAX_TABLE_ROWS,
        roles,
    })
}

/// The bytes a header row holds: name bytes, quotes, spaces and the
/// delimiters.
const fn header_bytes() -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b' ' | b'_' | b'-' | b'.' | b'/' | b'"' | b'|' | b',' | b';' | b'\t'
            );
        b += 1;
    }
    t
}
static HEADER_BYTES: [bool; 256] = header_bytes();

/// The delimiter of a line that may be a header row: it holds nothing but
/// name bytes, quotes, spaces and delimiters (one scan, which most log
/// lines leave at their first `:`, `[`, `=` or digit-led timestamp); `|`
/// when it holds one, else the first of `,` `;` tab, which must then be
/// the only one of them.
fn header_delimiter(text: &[u8]) -> Option<u8> {
    let mut delim = None;
    for &b in text {
        if !HEADER_BYTES[usize::from(b)] {
            return None;
        }
        if matches!(b, b'|' | b',' | b';' | b'\t') {
            match delim {
                None => delim = Some(b),
                Some(d) if d == b || d == b'|' => {}
                Some(_) if b == b'|' => delim = Some(b'|'),
                Some(_) if b == b'\t' => {}
                Some(_) => return None,
            }
        }
    }
    delim
}

/// True when a line's first byte may begin a header row (a name, a quote,
/// a pipe, leading spaces) or a CRI header.
fn may_begin_header(first: u8) -> bool {
    first.is_ascii_alphanumeric() || matches!(first, b'|' | b'"' | b' ' | b'\t')
}

/// True when the last byte that is not a space may end a key line: `:`,
/// `=>`, `=`, or a YAML block indicator.
fn may_end_key(text: &[u8]) -> bool {
    text.iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .is_some_and(|i| matches!(text[i], b':' | b'>' | b'=' | b'|' | b'-' | b'+'))
}

/// The state a line starts whatever came before: a table header, or a
/// key whose value is on the next line.
fn start(line: &[u8], msg: Range<usize>, keys: &SensitiveKeys, buf: &mut Vec<u8>) -> Option<State> {
    let text = &line[msg.clone()];
    let first = text.iter().position(|&b| !matches!(b, b' ' | b'\t'));
    let header_like =
        first.is_some_and(|i| text[i].is_ascii_alphabetic() || matches!(text[i], b'|' | b'"'));
    if header_like {
        match header_delimiter(text) {
            Some(b'|') => {
                if let Some(t) = header(line, &pipe_cells(line, msg.clone()), b'|', keys, buf) {
                    return Some(State::Table(t));
                }
            }
            Some(delim) => {
                if let Some(t) =
                    header(line, &csv_cells(line, msg.clone(), delim), delim, keys, buf)
                {
                    return Some(State::Table(t));
                }
            }
            None => {}
        }
    }
    if may_end_key(text) {
        return pending_key(text, keys, buf);
    }
    None
}

/// A line ending with a sensitive key and its separator, the value to
/// come on the next line.
fn pending_key(text: &[u8], keys: &SensitiveKeys, buf: &mut Vec<u8>) -> Option<State> {
    let mut end = text.iter().rposition(|&b| !b.is_ascii_whitespace())? + 1;
    let mut whole_line = false;
    // A YAML block scalar: `key: |`, `key: >-`.
    if matches!(text[end - 1], b'|' | b'>' | b'-' | b'+') && end >= 3 {
        let mut k = end;
        while k > 0 && matches!(text[k - 1], b'-' | b'+') {
            k -= 1;
        }
        if k >= 3
            && matches!(text[k - 1], b'|' | b'>')
            && text[k - 2] == b' '
            && text[k - 3] == b':'
        {
            whole_line = true;
            end = k - 2;
        }
    }
    let last = text[end - 1];
    if !matches!(last, b':' | b'>' | b'=') {
        return None;
    }
    // The separator: `=>`, `:`, `=` (not `::`, `==`, `->`, `>=`).
    let sep = match last {
        b'>' if end >= 2 && text[end - 2] == b'=' => 2,
        b':' if end < 2 || text[end - 2] != b':' => 1,
        b'=' if end < 2 || !matches!(text[end - 2], b'=' | b'!' | b'<' | b'>') => 1,
        _ => return None,
    };
    let mut e = end - sep;
    while e > 0 && text[e - 1] == b' ' {
        e -= 1;
    }
    // The name's closing bracket and quote.
    if e > 0 && text[e - 1] == b']' {
        e -= 1;
    }
    let mut quote = None;
    if e > 0 && matches!(text[e - 1], b'"' | b'\'') {
        e -= 1;
        quote = Some(text[e]);
        // An escaped quote (`[\"cvv\"]=>` in a JSON string).
        if e > 0 && text[e - 1] == b'\\' {
            e -= 1;
        }
    }
    let ident = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let mut s = e;
    while s > 0 && ident(text[s - 1]) {
        s -= 1;
    }
    // A name in words: quoted (`["Card Number"]=>`, `'Security Code':`), or
    // alone at the start of its line (`  Security Code:` in YAML).
    if s > 0 && text[s - 1] == b' ' {
        let words = |from: usize| {
            let name = &text[from..e];
            name.len() <= MAX_NAME && name.iter().all(|&b| ident(b) || b == b' ')
        };
        match quote {
            Some(q) => {
                if let Some(open) = memchr::memrchr(q, &text[..s]) {
                    if words(open + 1) {
                        s = open + 1;
                    }
                }
            }
            None => {
                let first = text
                    .iter()
                    .position(|&b| !matches!(b, b' ' | b'\t' | b'-' | b'{' | b'[' | b','))
                    .unwrap_or(s);
                if first < s && text[first].is_ascii_alphabetic() && words(first) {
                    s = first;
                }
            }
        }
    }
    if s == e {
        return None;
    }
    let name = &text[s..e];
    match keys.lookup(name, buf) {
        Some(rule) => Some(State::Pending {
            rule: u16::try_from(rule).ok()?,
            whole_line,
        }),
        None if !whole_line && crate::rules::validate::is_id_key(name) => Some(State::PendingId),
        None => None,
    }
}

/// The span of a plain value at `i`: the content of a quoted string
/// (after a PHP `string(N) `), or a run of digits.
fn plain_value(line: &[u8], mut i: usize) -> Option<Range<usize>> {
    if line[i..].starts_with(b"string(") {
        i += memchr::memchr(b')', &line[i..])? + 1;
        while line.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    // A quote escaped inside a JSON string (`\"4111…\"`).
    let escaped = line.get(i) == Some(&b'\\');
    if escaped {
        i += 1;
    }
    match *line.get(i)? {
        q @ (b'"' | b'\'') => {
            let mut end = i + 1 + memchr::memchr(q, &line[i + 1..])?;
            if escaped && line[end - 1] == b'\\' {
                end -= 1;
            }
            Some(i + 1..end)
        }
        b'0'..=b'9' => {
            let n = line[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            Some(i..i + n)
        }
        _ => None,
    }
}

/// Moves `state` past `content` (a line without its terminator): the
/// state after the line, given the state before it.
pub fn step(content: &[u8], state: &mut Carry, keys: &SensitiveKeys, buf: &mut Vec<u8>) {
    // Cheap tests first, on the raw line (a CRI message is its suffix): a
    // header begins with a name, a quote, a pipe or spaces (or a CRI
    // timestamp), a key line ends with its separator.
    let msg = message(content);
    let text = &content[msg.clone()];
    let could_start = text.first().is_some_and(|&b| may_begin_header(b)) || may_end_key(text);
    if !could_start && state.state == State::None {
        return;
    }
    if could_start {
        if let Some(started) = start(content, msg.clone(), keys, buf) {
            *state = carry(started, keys);
            return;
        }
    }
    if state.state == State::None {
        return;
    }
    *state = match state.with(keys) {
        State::Table(mut t) if t.left > 0 && is_row(content, msg, &t) => {
            t.left -= 1;
            carry(State::Table(t), keys)
        }
        _ => Carry::NONE,
    };
}

/// True when `msg` of `line` is a row of table `t` (a data row of its
/// width, or a separator row).
fn is_row(line: &[u8], msg: Range<usize>, t: &Table) -> bool {
    let text = &line[msg.clone()];
    if t.delim == b'|' && separator_row(text) {
        return true;
    }
    data_cells(line, msg, t).is_some()
}

/// The first byte of `text` that is not a space or tab.
fn first_byte(text: &[u8]) -> Option<u8> {
    text.iter().copied().find(|&b| !matches!(b, b' ' | b'\t'))
}

/// The cells of a data row of table `t`, or None when `msg` is not one: a
/// row of the header's width and pipe style; a CSV row is not a JSON, XML
/// or bracketed log line.
fn data_cells(line: &[u8], msg: Range<usize>, t: &Table) -> Option<Cells> {
    let text = &line[msg.clone()];
    let first = first_byte(text)?;
    if t.delim == b'|' && (first == b'|') != t.outer {
        return None;
    }
    if t.delim != b'|' && matches!(first, b'{' | b'[' | b'<') {
        return None;
    }
    memchr::memchr(t.delim, text)?;
    let cells = if t.delim == b'|' {
        pipe_cells(line, msg)
    } else {
        csv_cells(line, msg, t.delim)
    };
    (!cells.overflow && cells.len == usize::from(t.columns)).then_some(cells)
}

/// Adds the values `content` holds under the state `before` (the state
/// at its start): the cells of sensitive columns and a pending key's value
/// go to `out` as (rule, span, quote); the whole cells of id columns to
/// `id_cells` (a card number there is an identifier).
pub fn cells(
    content: &[u8],
    before: Carry,
    keys: &SensitiveKeys,
    out: &mut Vec<(usize, Range<usize>, Quote)>,
    id_cells: &mut Vec<Range<usize>>,
) {
    let msg = message(content);
    match before.with(keys) {
        State::None => {}
        State::PendingId => {
            let text = &content[msg.clone()];
            if let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) {
                if let Some(v) = plain_value(content, msg.start + first) {
                    id_cells.push(v);
                }
            }
        }
        State::Pending { rule, whole_line } => {
            let rule = usize::from(rule);
            let text = &content[msg.clone()];
            let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
                return;
            };
            let i = msg.start + first;
            if nested(&content[i..]) {
                return;
            }
            if whole_line {
                let end = msg.start
                    + text
                        .iter()
                        .rposition(|b| !b.is_ascii_whitespace())
                        .map_or(0, |p| p + 1);
                fields::push_value(content, keys, rule, i..end, false, out);
            } else {
                let digits = keys.shape(rule).max_digits > 0;
                fields::push_value_at(content, keys, rule, i, digits, out);
            }
        }
        State::Table(t) => {
            if t.left == 0 || (t.delim == b'|' && separator_row(&content[msg.clone()])) {
                return;
            }
            let Some(cells) = data_cells(content, msg, &t) else {
                return;
            };
            for (&role, span) in t.roles.iter().zip(cells.as_slice()) {
                match role {
                    OTHER => {}
                    ID => id_cells.push(span.clone()),
                    rule => {
                        let rule = usize::from(rule - SECRET);
                        fields::push_value(content, keys, rule, span.clone(), false, out);
                    }
                }
            }
        }
    }
}

/// True when the value line opens a nested structure or is itself a
/// `key: value` line: the pending key named a container.
fn nested(rest: &[u8]) -> bool {
    const OPENERS: &[&[u8]] = &[b"array(", b"object(", b"Array", b"#<", b"NULL", b"bool("];
    if matches!(rest.first(), Some(b'{' | b'[' | b'(' | b'-'))
        && !rest.get(1).is_some_and(u8::is_ascii_digit)
    {
        return true;
    }
    if OPENERS.iter().any(|o| rest.starts_with(o)) {
        return true;
    }
    // `key: …`, `key = …`, `"key" => …`: a line of its own fields.
    let mut j = 0;
    if matches!(rest.first(), Some(b'"' | b'\'' | b':')) {
        j = 1;
    }
    let name_start = j;
    while j < rest.len()
        && (rest[j].is_ascii_alphanumeric() || matches!(rest[j], b'_' | b'-' | b'.'))
    {
        j += 1;
    }
    if j == name_start || !rest[name_start].is_ascii_alphabetic() {
        return false;
    }
    if matches!(rest.get(j), Some(b'"' | b'\'')) {
        j += 1;
    }
    while j < rest.len() && rest[j] == b' ' {
        j += 1;
    }
    let after = &rest[j..];
    (after.starts_with(b":") && !after.starts_with(b"::"))
        || after.starts_with(b"=>")
        || (after.starts_with(b"=") && !after.starts_with(b"=="))
}

/// The state after a buffer of whole lines, starting from `before`: what a
/// redactor would carry into the next line. Reads only the last
/// `MAX_TABLE_ROWS + 1` lines (the state does not depend on earlier ones);
/// a line longer than `max_line_bytes` resets it, as the redactor does.
pub fn state_after(
    lines: &[u8],
    before: Carry,
    keys: &SensitiveKeys,
    max_line_bytes: usize,
) -> Carry {
    // The start of the window: after the (N+2)-th newline from the end
    // (the last line may lack its newline).
    let window = usize::from(MAX_TABLE_ROWS) + 1;
    let body = match lines.last() {
        Some(b'\n') => &lines[..lines.len() - 1],
        _ => lines,
    };
    let mut from = 0;
    let mut state = before;
    let mut seen = 0;
    for p in memchr::memrchr_iter(b'\n', body) {
        seen += 1;
        if seen == window {
            from = p + 1;
            state = Carry::NONE;
            break;
        }
    }
    if lines.is_empty() {
        return before;
    }
    let mut buf = Vec::new();
    let mut start = from;
    while start < lines.len() {
        let end = memchr::memchr(b'\n', &lines[start..]).map_or(lines.len(), |i| start + i + 1);
        let content = line_content(&lines[start..end]);
        if content.len() > max_line_bytes {
            state = Carry::NONE;
        } else {
            step(content, &mut state, keys, &mut buf);
        }
        start = end;
    }
    state
}

/// The spans of `text` (whole lines, read from the start of a stream) that
/// are the whole cells of id columns or the values of id keys ending the
/// line before: where a card number is taken for an identifier. For
/// checks outside the redactor (the fuzz invariants' exemptions).
pub fn id_cells_in(text: &[u8], keys: &SensitiveKeys) -> Vec<Range<usize>> {
    let mut state = Carry::NONE;
    let (mut buf, mut out, mut ids, mut all) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut start = 0;
    while start < text.len() {
        let end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i + 1);
        let content = line_content(&text[start..end]);
        ids.clear();
        cells(content, state, keys, &mut out, &mut ids);
        all.extend(ids.iter().map(|r| start + r.start..start + r.end));
        step(content, &mut state, keys, &mut buf);
        start = end;
    }
    all
}

/// A line without its `\n` or `\r\n` terminator.
fn line_content(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::DEFAULT_SENSITIVE_KEYS;

    /// (rule id, value) found on each line of `text`, in order, with the
    /// state carried from line to line; id cells as ("id", value).
    fn run(text: &str) -> Vec<Vec<(String, String)>> {
        let rules = crate::rules::builtin_rules();
        let keys = SensitiveKeys::new(DEFAULT_SENSITIVE_KEYS.iter().copied(), &rules);
        let mut state = Carry::NONE;
        let mut buf = Vec::new();
        let mut all = Vec::new();
        for line in text.lines() {
            let (mut out, mut ids) = (Vec::new(), Vec::new());
            cells(line.as_bytes(), state, &keys, &mut out, &mut ids);
            step(line.as_bytes(), &mut state, &keys, &mut buf);
            let mut got: Vec<(String, String)> = out
                .iter()
                .map(|(r, s, _)| (rules[*r].id.clone(), line[s.clone()].to_string()))
                .collect();
            got.extend(
                ids.iter()
                    .map(|s| ("id".to_string(), line[s.clone()].to_string())),
            );
            all.push(got);
        }
        all
    }

    fn flat(text: &str) -> Vec<(String, String)> {
        run(text).into_iter().flatten().collect()
    }

    fn pairs(want: &[(&str, &str)]) -> Vec<(String, String)> {
        want.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn markdown_ascii_psql_and_csv_tables() {
        assert_eq!(
            flat("| name | card_number | cvv |\n|---|:---:|---|\n| bob | 4111 1111 1111 1111 | 123 |\n| amy | 5500-0000-0000-0004 | 0421 |"),
            pairs(&[("pan", "4111 1111 1111 1111"), ("cvv", "123"), ("pan", "5500-0000-0000-0004"), ("cvv", "0421")])
        );
        assert_eq!(
            flat("+------+-----------+\n| user | ssn       |\n+======+===========+\n| bob  | 078051120 |\n+------+-----------+"),
            pairs(&[("ssn", "078051120")])
        );
        assert_eq!(
            flat(" id | Routing Number | note\n----+----------------+------\n  1 | 021000021      | ok\n(1 row)\n  2 | 011000015      | ok"),
            pairs(&[("routing", "021000021"), ("id", "1")])
        );
        assert_eq!(
            flat("name,card number,cvv,order_id\nbob,4111111111111111,321,4111111111111111\n\"amy\",\"5500 0000 0000 0004\",\"0421\",7"),
            pairs(&[("pan", "4111111111111111"), ("cvv", "321"), ("id", "4111111111111111"), ("pan", "5500 0000 0000 0004"), ("cvv", "0421"), ("id", "7")])
        );
        assert_eq!(
            flat("user\tpassword\nbob\tQ7x!pa55word-long\n"),
            pairs(&[("kv_secret", "Q7x!pa55word-long")])
        );
    }

    #[test]
    fn a_table_ends_at_a_blank_or_foreign_line_and_its_bound() {
        assert!(flat("| name | cvv |\n\n| bob | 123 |").is_empty());
        assert!(flat("| name | cvv |\nplain log line\n| bob | 123 |").is_empty());
        // A row of another width is not the table's.
        assert!(flat("| name | cvv |\n| bob | 123 | x |\n| bob | 123 |").is_empty());
        // A row of another pipe style, a JSON line under a CSV header.
        assert!(flat("| name | cvv |\nbob | 123\n| bob | 123 |").is_empty());
        assert!(flat("a,cvv\n{\"x\":1,\"y\":2}\nb,123").is_empty());
        let mut text = String::from("a,cvv,b\n");
        for _ in 0..MAX_TABLE_ROWS + 3 {
            text.push_str("x,123,y\n");
        }
        assert_eq!(flat(&text).len(), usize::from(MAX_TABLE_ROWS));
    }

    #[test]
    fn headers_that_are_not() {
        for text in [
            "| card number | cvv |\n| ---- | --- |",
            "Invalid password, retrying\nConnecting to db, attempt 2",
            "CEF:0|Acme|Pay|1.0|cvv|x|5|\n0|1|2|3|4|5|6|",
            "| order_id | timestamp |\n| 4111111111111111 | 1712345678901 |",
            "cvc_check,status\npass,ok",
        ] {
            assert!(
                flat(text).iter().all(|(r, _)| r == "id"),
                "{text}: {:?}",
                flat(text)
            );
        }
    }

    #[test]
    fn dumps_with_the_value_on_the_next_line() {
        assert_eq!(
            flat("array(2) {\n  [\"cvv\"]=>\n  string(3) \"123\"\n}"),
            pairs(&[("cvv", "123")])
        );
        assert_eq!(
            flat("{:card_number=>\n  \"4111111111111111\",\n :name=>\"bob\"}"),
            pairs(&[("pan", "4111111111111111")])
        );
        assert_eq!(
            flat("{'password':\n    'Q7x!pa55word-long'}"),
            pairs(&[("kv_secret", "Q7x!pa55word-long")])
        );
        assert_eq!(flat("card:\n  cvv:\n    842\n"), pairs(&[("cvv", "842")]));
        assert_eq!(
            flat("password: |\n  Q7x pa55 word long\n"),
            pairs(&[("kv_secret", "Q7x pa55 word long")])
        );
        assert_eq!(
            flat("  [\"order_id\"]=>\n  string(16) \"4111111111111111\"\n:txn_id=>\n  4111111111111111,\n[\\\"id\\\"]=>\n string(3) \\\"412\\\""),
            pairs(&[("id", "4111111111111111"), ("id", "4111111111111111"), ("id", "412")])
        );
        // A container, a key line, prose, a value without digits for a
        // digit rule: nothing.
        for text in [
            "  [\"card\"]=>\n  array(2) {",
            "password:\n  hash: abc",
            "Invalid card number:\n  at com.acme.Pay.charge(Pay.java:42)",
            "cvv:\n  required",
            "std::cvv::\nfoo",
        ] {
            assert!(flat(text).is_empty(), "{text}: {:?}", flat(text));
        }
    }

    #[test]
    fn docker_lines_are_read_as_their_log_string() {
        let wrap = |m: &str| {
            format!(
                "{{\"log\":\"{m}\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:00Z\"}}\n"
            )
        };
        let text = [
            wrap("| name | card_number | cvv |"),
            wrap("|---|---|---|"),
            wrap("| bob | 4111 1111 1111 1111 | 123 |"),
            wrap("  [\\\"cvv\\\"]=>"),
            wrap("  string(3) \\\"842\\\""),
        ]
        .concat();
        assert_eq!(
            flat(&text),
            pairs(&[
                ("pan", "4111 1111 1111 1111"),
                ("cvv", "123"),
                ("cvv", "842")
            ])
        );
    }

    #[test]
    fn cri_lines_are_read_as_their_message() {
        let text = "2024-01-01T00:00:00.000000000Z stdout F | name | cvv |\n2024-01-01T00:00:00.000000000Z stdout F | bob | 123 |";
        assert_eq!(flat(text), pairs(&[("cvv", "123")]));
    }

    #[test]
    fn the_state_depends_only_on_the_last_lines() {
        let rules = crate::rules::builtin_rules();
        let keys = SensitiveKeys::new(DEFAULT_SENSITIVE_KEYS.iter().copied(), &rules);
        let mut text = String::from("| a | cvv |\n");
        for i in 0..300 {
            text.push_str(if i % 97 == 50 {
                "| b | cvv |\n"
            } else {
                "| x | 1 |\n"
            });
        }
        text.push_str("[\"cvv\"]=>\n");
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut state = Carry::NONE;
        let mut buf = Vec::new();
        for cut in 0..=lines.len() {
            let head = lines[..cut].concat();
            assert_eq!(
                state_after(head.as_bytes(), Carry::NONE, &keys, 1 << 20),
                state,
                "cut {cut}"
            );
            if let Some(l) = lines.get(cut) {
                step(line_content(l.as_bytes()), &mut state, &keys, &mut buf);
            }
        }
        // An over-long line resets it.
        assert_eq!(
            state_after(b"| a | cvv |\n", Carry::NONE, &keys, 4),
            Carry::NONE
        );
    }
}
