//! The redactor: turns a line into its scrubbed form.
//!
//! It runs the [`Scanner`] over each line and writes the line with every
//! finding replaced by its rule's label. Every other byte is copied as it is:
//! invalid UTF-8, NUL bytes, `\r\n` and a missing final newline included.
//! It also carries the one piece of state that spans lines: the body of a
//! multi-line private-key block, which is redacted line by line until its
//! END marker, for at most [`MAX_BLOCK_LINES`] lines.

use std::sync::Arc;

use crate::rules::Validator;
use crate::scan::{Finding, Scanner, Scratch};
use crate::stats::Stats;

/// The longest private-key body followed across lines; a block without an
/// END marker stops being followed after this many lines.
pub const MAX_BLOCK_LINES: u32 = 200;

/// A scrubber for one stream of lines.
pub struct Redactor {
    scanner: Arc<Scanner>,
    scratch: Scratch,
    /// Index of the private-key rule, when enabled.
    block_rule: Option<usize>,
    /// Lines of a private-key body still to redact, when inside one.
    block_lines_left: u32,
    /// Lines longer than this are replaced whole (fail closed).
    max_line_bytes: usize,
}

impl Redactor {
    /// A redactor using `scanner`'s rules.
    pub fn new(scanner: Arc<Scanner>) -> Redactor {
        let scratch = scanner.scratch();
        let block_rule = scanner
            .rules()
            .iter()
            .position(|r| r.validator == Some(Validator::PemBlock));
        Redactor {
            scanner,
            scratch,
            block_rule,
            block_lines_left: 0,
            max_line_bytes: crate::framing::DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// Sets the over-long-line limit (terminator excluded).
    pub fn set_max_line_bytes(&mut self, max: usize) {
        self.max_line_bytes = max;
    }

    /// Writes the marker for a line that cannot be scanned, and counts it.
    pub fn fail_closed(&mut self, terminated: bool, out: &mut Vec<u8>) {
        self.scratch.stats.lines += 1;
        self.scratch.stats.failed_closed += 1;
        out.extend_from_slice(crate::pipe::OVERLONG_MARKER);
        if terminated {
            out.push(b'\n');
        }
        self.scratch.stats.bytes_out +=
            (crate::pipe::OVERLONG_MARKER.len() + usize::from(terminated)) as u64;
    }

    /// The counters accumulated so far.
    pub fn stats_mut(&mut self) -> &mut Stats {
        &mut self.scratch.stats
    }

    /// Scrubs a buffer of whole lines (the last one may lack its newline)
    /// and appends the result to `out`.
    pub fn scrub_lines(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut start = 0;
        while start < input.len() {
            let end = memchr::memchr(b'\n', &input[start..]).map_or(input.len(), |i| start + i + 1);
            self.scrub_line(&input[start..end], out);
            start = end;
        }
    }

    /// Scrubs one line, with or without its terminator, appending to `out`.
    pub fn scrub_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let mut content_end = line.len();
        if content_end > 0 && line[content_end - 1] == b'\n' {
            content_end -= 1;
        }
        if content_end > 0 && line[content_end - 1] == b'\r' {
            content_end -= 1;
        }
        let content = &line[..content_end];
        if content.len() > self.max_line_bytes {
            self.scratch.stats.bytes_in += line.len() as u64;
            self.fail_closed(line.last() == Some(&b'\n'), out);
            return;
        }
        let out_before = out.len();
        self.scratch.stats.lines += 1;
        self.scratch.stats.bytes_in += line.len() as u64;

        let outcome = self.scanner.scan_line(content, &mut self.scratch);
        if self.block_lines_left > 0 {
            self.continue_block(content);
        }
        if outcome.opens_block && self.block_rule.is_some() {
            self.block_lines_left = MAX_BLOCK_LINES;
        }

        let mut copied = 0;
        for f in &self.scratch.findings {
            out.extend_from_slice(&content[copied..f.span.start]);
            out.extend_from_slice(self.scanner.label(f.rule));
            copied = f.span.end;
        }
        out.extend_from_slice(&line[copied..]);
        self.scratch.stats.bytes_out += (out.len() - out_before) as u64;
    }

    /// Inside a private-key block: the line up to the END marker (or all of
    /// it) is key material.
    fn continue_block(&mut self, content: &[u8]) {
        let Some(rule) = self.block_rule else {
            self.block_lines_left = 0;
            return;
        };
        let end = memchr::memmem::find(content, b"-----END");
        let body_end = end.unwrap_or(content.len());
        self.block_lines_left = if end.is_some() {
            0
        } else {
            self.block_lines_left - 1
        };
        let body = &content[..body_end];
        let first = body.iter().position(|b| !b.is_ascii_whitespace());
        let last = body.iter().rposition(|b| !b.is_ascii_whitespace());
        if let (Some(first), Some(last)) = (first, last) {
            self.scratch.stats.redactions[rule] += 1;
            let findings = &mut self.scratch.findings;
            findings.push(Finding {
                rule,
                span: first..last + 1,
            });
            // Keep the merged, sorted form the writer relies on.
            findings.sort_by_key(|f| f.span.start);
            let mut merged: Vec<Finding> = Vec::with_capacity(findings.len());
            for f in findings.drain(..) {
                match merged.last_mut() {
                    Some(prev) if f.span.start < prev.span.end => {
                        prev.span.end = prev.span.end.max(f.span.end);
                    }
                    _ => merged.push(f),
                }
            }
            *findings = merged;
        }
    }
}

/// Scrubs `text` with the built-in rules: a convenience for tests and tools.
pub fn scrub_with(scanner: &Arc<Scanner>, text: &[u8]) -> Vec<u8> {
    let mut redactor = Redactor::new(Arc::clone(scanner));
    let mut out = Vec::with_capacity(text.len());
    redactor.scrub_lines(text, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrub(text: &str) -> String {
        let scanner = Arc::new(Scanner::builtin());
        String::from_utf8(scrub_with(&scanner, text.as_bytes())).unwrap()
    }

    #[test]
    fn bytes_outside_secrets_pass_unchanged() {
        let scanner = Arc::new(Scanner::builtin());
        let input = b"caf\xe9 \x00 4111111111111111\r\nno newline \xff";
        let out = scrub_with(&scanner, input);
        assert_eq!(
            out,
            b"caf\xe9 \x00 [CARD_REDACTED]\r\nno newline \xff".to_vec()
        );
    }

    #[test]
    fn multi_line_private_key() {
        let input = "start\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAIYn6oCbvo4UK1j\nRam6dHMWmNz35kyvYuwhsU22N4A\n-----END RSA PRIVATE KEY-----\nafter\n";
        assert_eq!(
            scrub(input),
            "start\n-----BEGIN RSA PRIVATE KEY-----\n[PRIVATE_KEY_REDACTED]\n[PRIVATE_KEY_REDACTED]\n-----END RSA PRIVATE KEY-----\nafter\n"
        );
    }

    #[test]
    fn unterminated_block_is_bounded() {
        let mut input = String::from("-----BEGIN PRIVATE KEY-----\n");
        for _ in 0..MAX_BLOCK_LINES + 5 {
            input.push_str("QUJDREVGR0g=\n");
        }
        let out = scrub(&input);
        let redacted = out
            .lines()
            .filter(|l| *l == "[PRIVATE_KEY_REDACTED]")
            .count();
        assert_eq!(redacted, MAX_BLOCK_LINES as usize);
    }
}
