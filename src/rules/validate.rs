//! Validators: the checks that confirm or reject a candidate found by the
//! automaton.
//!
//! A validator sees the whole line and the candidate's span (already narrowed
//! to the rule's `secret` group when it has one). It answers with the span to
//! redact, which may be a sub-span of the candidate (a card number followed by
//! the digits of a timestamp), or with the reason it rejected the candidate.
//! Validators never allocate and run in time linear in the candidate's length.

use std::ops::Range;

/// Why a validator turned a candidate down. The names are the bounded label
/// values used when rejections are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The digits fail the Luhn checksum.
    Luhn,
    /// The digits pass Luhn but carry no card-network prefix or length.
    Network,
    /// The text around the candidate shows it is not a secret (an HDFS block
    /// id, part of a longer number, an invalid SSN area).
    Context,
    /// The candidate fails the ABA routing-number checksum.
    Checksum,
    /// The value is on an allowlist.
    Allowlist,
}

impl Rejection {
    /// Every reason, in counter-slot order.
    pub const ALL: [Rejection; 5] = [
        Rejection::Luhn,
        Rejection::Network,
        Rejection::Context,
        Rejection::Checksum,
        Rejection::Allowlist,
    ];

    /// Its position in [`Rejection::ALL`]: where it is counted.
    pub fn slot(self) -> usize {
        match self {
            Rejection::Luhn => 0,
            Rejection::Network => 1,
            Rejection::Context => 2,
            Rejection::Checksum => 3,
            Rejection::Allowlist => 4,
        }
    }

    /// The label value for metrics and `explain` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Luhn => "luhn",
            Rejection::Network => "network",
            Rejection::Context => "context",
            Rejection::Checksum => "checksum",
            Rejection::Allowlist => "allowlist",
        }
    }
}

/// The built-in validators a rule can name in its `validator` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validator {
    /// Card numbers: digit groups, Luhn, network prefix and length.
    Pan,
    /// US social security numbers: area, group and serial rules.
    Ssn,
    /// ABA routing numbers: the 3-7-1 weighted checksum.
    Aba,
    /// Luhn only, for user rules over other numbering schemes.
    Luhn,
    /// A private-key block: redact from the end of the BEGIN marker to the
    /// END marker, or to the end of the line when the block goes on.
    PemBlock,
    /// The value of a secret-named key: rejects values that are plainly not
    /// secrets (an object dump `Token{…}`, a dotted package or class name,
    /// `null`, `redacted`).
    SecretValue,
    /// A provider token whose last six characters are the base62 CRC32 of
    /// the body after its prefix (npm, GitHub).
    Crc32Base62,
    /// An IBAN: known country, that country's length, mod-97 check.
    Iban,
    /// The value after a credential-like name, for the generic rule:
    /// rejects UUIDs, digests written with their algorithm (`sha256:…`,
    /// `sha512-…`), and plain words or identifiers (lowercase letters and
    /// separators only), on top of the placeholder checks of `SecretValue`.
    GenericSecret,
    /// The password of a URL's userinfo: rejects placeholders (`***`,
    /// `${VAR}`, `<password>`, `%s`), masked values (`ghp_****`) and the
    /// empty password.
    UrlPassword,
    /// The credentials after an HTTP `Basic` or `Bearer` scheme word:
    /// Basic credentials must be base64 of `user:password` (RFC 7617), and a
    /// bearer token must not be a lowercase word (`default bearer
    /// activated`, `basic scheduling enabled` are prose).
    AuthCredential,
    /// An e-mail address: rejects what only looks like one, a systemd
    /// template unit (`user@0.service`), a file name (`logo@2x.png`), an
    /// SSH remote's `git@` user and a Kerberos service principal
    /// (`nfs/host.lab@LAB.LOCAL`).
    Email,
    /// A bank account number after an account key: rejects a 12-digit AWS
    /// account id on a line about AWS (`arn:aws:…`, `"source": "aws.ec2"`).
    BankAccount,
}

impl Validator {
    /// Parses a validator name as written in a pattern file.
    pub fn from_name(name: &str) -> Option<Validator> {
        Some(match name {
            "pan" => Validator::Pan,
            "ssn" => Validator::Ssn,
            "aba" => Validator::Aba,
            "luhn" => Validator::Luhn,
            "pem_block" => Validator::PemBlock,
            "secret_value" => Validator::SecretValue,
            "crc32_base62" => Validator::Crc32Base62,
            "iban" => Validator::Iban,
            "generic_secret" => Validator::GenericSecret,
            "url_password" => Validator::UrlPassword,
            "auth_credential" => Validator::AuthCredential,
            "email" => Validator::Email,
            "bank_account" => Validator::BankAccount,
            _ => return None,
        })
    }

    /// The name a pattern file uses for this validator.
    pub fn name(self) -> &'static str {
        match self {
            Validator::Pan => "pan",
            Validator::Ssn => "ssn",
            Validator::Aba => "aba",
            Validator::Luhn => "luhn",
            Validator::PemBlock => "pem_block",
            Validator::SecretValue => "secret_value",
            Validator::Crc32Base62 => "crc32_base62",
            Validator::Iban => "iban",
            Validator::GenericSecret => "generic_secret",
            Validator::UrlPassword => "url_password",
            Validator::AuthCredential => "auth_credential",
            Validator::Email => "email",
            Validator::BankAccount => "bank_account",
        }
    }

    /// Every accepted name, for error messages.
    pub const NAMES: &'static [&'static str] = &[
        "pan",
        "ssn",
        "aba",
        "luhn",
        "pem_block",
        "secret_value",
        "crc32_base62",
        "iban",
        "generic_secret",
        "url_password",
        "auth_credential",
        "email",
        "bank_account",
    ];

    /// Confirms `span` of `line`, returning the span to redact.
    ///
    /// `PemBlock` is not handled here: it needs the redactor's state.
    pub fn check(self, line: &[u8], span: Range<usize>) -> Result<Range<usize>, Rejection> {
        match self {
            Validator::Pan => check_pan(line, span),
            Validator::Ssn => check_ssn(line, span),
            Validator::Aba => {
                if aba_valid(&line[span.clone()]) {
                    Ok(span)
                } else {
                    Err(Rejection::Checksum)
                }
            }
            Validator::Luhn => {
                let mut digits = DigitBuf::new();
                for &b in &line[span.clone()] {
                    if b.is_ascii_digit() && !digits.push(b - b'0') {
                        return Err(Rejection::Luhn);
                    }
                }
                if digits.len > 0 && luhn_valid(digits.as_slice()) {
                    Ok(span)
                } else {
                    Err(Rejection::Luhn)
                }
            }
            Validator::PemBlock => Ok(span),
            Validator::SecretValue => check_secret_value(line, span),
            Validator::Crc32Base62 => {
                if super::checksum::crc32_base62_valid(&line[span.clone()]) {
                    Ok(span)
                } else {
                    Err(Rejection::Checksum)
                }
            }
            Validator::Iban => {
                if super::checksum::iban_valid(&line[span.clone()]) {
                    Ok(span)
                } else {
                    Err(Rejection::Checksum)
                }
            }
            Validator::GenericSecret => check_generic_secret(line, span),
            Validator::UrlPassword => check_url_password(line, span),
            Validator::AuthCredential => check_auth_credential(line, span),
            Validator::Email => check_email(line, span),
            Validator::BankAccount => check_bank_account(line, span),
        }
    }
}

/// A fixed-size digit buffer, so that card checks never allocate.
struct DigitBuf {
    digits: [u8; 40],
    len: usize,
}

impl DigitBuf {
    fn new() -> DigitBuf {
        DigitBuf {
            digits: [0; 40],
            len: 0,
        }
    }

    /// Appends one digit value; false when the buffer is full.
    fn push(&mut self, d: u8) -> bool {
        if self.len == self.digits.len() {
            return false;
        }
        self.digits[self.len] = d;
        self.len += 1;
        true
    }

    fn as_slice(&self) -> &[u8] {
        &self.digits[..self.len]
    }
}

/// The Luhn checksum over digit values (0–9).
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// True when `digits` (values 0–9) start with the prefix of a card network
/// that issues numbers of this length.
pub fn card_network_valid(digits: &[u8]) -> bool {
    let n = digits.len();
    let prefix = |k: usize| -> u32 {
        digits[..k]
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
    };
    if n < 13 {
        return false;
    }
    let p1 = prefix(1);
    let p2 = prefix(2);
    let p3 = prefix(3);
    let p4 = prefix(4);
    let p6 = if n >= 6 { prefix(6) } else { 0 };
    // Visa: 4, 13, 16 or 19 digits.
    if p1 == 4 {
        return matches!(n, 13 | 16 | 19);
    }
    // Mastercard: 51–55 and 2221–2720, 16 digits.
    if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) {
        return n == 16;
    }
    // American Express: 34, 37, 15 digits.
    if p2 == 34 || p2 == 37 {
        return n == 15;
    }
    // Discover: 6011, 644–649, 65, 622126–622925; 16–19 digits.
    if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6) {
        return (16..=19).contains(&n);
    }
    // JCB: 3528–3589, 16–19 digits.
    if (3528..=3589).contains(&p4) {
        return (16..=19).contains(&n);
    }
    // Diners Club: 300–305, 36, 38, 39; 14–19 digits.
    if (300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39 {
        return (14..=19).contains(&n);
    }
    // UnionPay: 62, 16–19 digits.
    if p2 == 62 {
        return (16..=19).contains(&n);
    }
    // Maestro: 5018, 5020, 5038, 5893, 6304, 6759, 6761–6763; 12–19 digits.
    if matches!(p4, 5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761..=6763) {
        return (13..=19).contains(&n);
    }
    false
}

/// Card numbers.
///
/// The automaton hands over a run of digit groups separated by a separator
/// (a space, tab, dot or dash, two spaces, ` - `, or the UTF-8 bytes of a
/// Unicode space, dash or zero-width space), bounded by non-word bytes. A
/// card is a leading run of whole groups of 13–19 digits, so the
/// candidate's groups are tried from the longest such prefix down:
/// `4111111111111111 20:46:52` yields the card and leaves the time alone,
/// and a card is never cut out of the middle of a longer number. Grouped
/// cards use one separator throughout (the same bytes between every two
/// groups): the groups up to the first different separator are the
/// candidate.
fn check_pan(line: &[u8], span: Range<usize>) -> Result<Range<usize>, Rejection> {
    // `blk_-<digits>` (HDFS block ids) and other `name_-<digits>` ids.
    if span.start >= 2 && line[span.start - 1] == b'-' && line[span.start - 2] == b'_' {
        return Err(Rejection::Context);
    }
    // `+4915122892875`: an international phone number (E.164, at most 15
    // digits), not a card. (`card+4111…` in a form body is a space.)
    if span.start >= 1
        && line[span.start - 1] == b'+'
        && (span.start == 1 || !line[span.start - 2].is_ascii_alphanumeric())
        && line[span.clone()]
            .iter()
            .filter(|b| b.is_ascii_digit())
            .count()
            <= 15
    {
        return Err(Rejection::Context);
    }
    // The value of an id key (`order_id=…`, `"shipmentId": "…"`) is an
    // identifier, not a card.
    if after_id_key(line, span.start) {
        return Err(Rejection::Context);
    }
    let bytes = &line[span.clone()];
    let mut digits = DigitBuf::new();
    // Group ends: (digit count so far, byte offset just past the group).
    let mut ends: [(usize, usize); 24] = [(0, 0); 24];
    let mut n_ends = 0;
    // The first separator, as a range of `bytes`.
    let mut sep: Option<Range<usize>> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            if !digits.push(b - b'0') {
                break;
            }
            let at_end = i + 1 == bytes.len() || !bytes[i + 1].is_ascii_digit();
            if at_end && n_ends < ends.len() {
                ends[n_ends] = (digits.len, i + 1);
                n_ends += 1;
            }
            i += 1;
        } else {
            // A separator: every byte up to the next digit. A card uses
            // one separator throughout.
            let len = bytes[i..]
                .iter()
                .position(u8::is_ascii_digit)
                .unwrap_or(bytes.len() - i);
            match &sep {
                None => sep = Some(i..i + len),
                Some(s) if bytes[s.clone()] == bytes[i..i + len] => {}
                Some(_) => break,
            }
            i += len;
        }
    }
    let mut rejection = Rejection::Luhn;
    for (k, &(count, end)) in ends[..n_ends].iter().enumerate().rev() {
        if !(13..=19).contains(&count) {
            continue;
        }
        if k > 0 && !is_card_layout(&ends[..=k]) {
            rejection = Rejection::Context;
            continue;
        }
        // A number with a decimal part or a version-like tail is no card.
        let after = span.start + end;
        if line.get(after) == Some(&b'.') && line.get(after + 1).is_some_and(u8::is_ascii_digit) {
            rejection = Rejection::Context;
            continue;
        }
        let d = &digits.as_slice()[..count];
        if !luhn_valid(d) {
            continue;
        }
        if !card_network_valid(d) {
            rejection = Rejection::Network;
            continue;
        }
        return Ok(span.start..span.start + end);
    }
    Err(rejection)
}

/// True when digit groups (given by their cumulative digit counts) follow a
/// layout that card numbers are printed in: groups of four with a shorter
/// last group (4-4-4-4, 4-4-4-4-3, 4-4-4-1), or Amex/Diners 4-6-5 and 4-6-4.
fn is_card_layout(ends: &[(usize, usize)]) -> bool {
    let size = |i: usize| ends[i].0 - if i == 0 { 0 } else { ends[i - 1].0 };
    let n = ends.len();
    if n == 3 && size(0) == 4 && size(1) == 6 && matches!(size(2), 4 | 5) {
        return true;
    }
    (0..n - 1).all(|i| size(i) == 4) && (1..=4).contains(&size(n - 1))
}

/// The key name just before a value: `order_id` in `order_id=`, `"order_id": "`,
/// `shipmentId='`, `:order_id=>"` or, inside a JSON string,
/// `\"order_id\": \"`. Empty when there is none.
fn key_before(line: &[u8], start: usize) -> &[u8] {
    let mut i = start;
    let mut skipped = 0;
    let mut assigns = false;
    while i > 0
        && (matches!(
            line[i - 1],
            b'"' | b'\'' | b':' | b'=' | b' ' | b'\t' | b'(' | b'\\'
        ) || (line[i - 1] == b'>' && i >= 2 && matches!(line[i - 2], b'=' | b'-')))
        && skipped < 6
    {
        assigns |= !matches!(line[i - 1], b' ' | b'\t');
        i -= 1;
        skipped += 1;
    }
    // Prose (`customer id 4111…`) has no key: a key is followed by `=`,
    // `:`, `(` or a quote.
    if !assigns {
        return &[];
    }
    let end = i;
    while i > 0
        && (line[i - 1].is_ascii_alphanumeric() || line[i - 1] == b'_' || line[i - 1] == b'-')
    {
        i -= 1;
    }
    &line[i..end]
}

/// True when the value starting at `start` is the value of an id key
/// (`order_id=`, `"shipmentId": "`, `ID: `): such numbers are not cards.
pub fn after_id_key(line: &[u8], start: usize) -> bool {
    is_id_key(key_before(line, start))
}

/// True for `id`, `*_id`, `*-id`, `* id`, `*.id` and camel-case `*Id` keys.
pub fn is_id_key(key: &[u8]) -> bool {
    let n = key.len();
    if n < 2 || !key[n - 2..].eq_ignore_ascii_case(b"id") {
        return false;
    }
    n == 2
        || matches!(key[n - 3], b'_' | b'-' | b' ' | b'.')
        || (key[n - 2] == b'I' && key[n - 3].is_ascii_lowercase())
        || key == b"ID"
}

/// The longest value the `kv_secret` regex takes; a value that reaches it
/// is followed to its end by the validator (so matching stays linear on
/// adversarial lines, and a long token is still redacted whole).
pub const SECRET_VALUE_BOUND: usize = 256;

/// True for the bytes that end a keyed value (the complement of the
/// `kv_secret` value class).
fn ends_value(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'"' | b'\''
                | b'&'
                | b','
                | b';'
                | b'('
                | b')'
                | b'{'
                | b'}'
                | b']'
                | b'<'
                | b'>'
                | b'\\'
        )
}

/// Values of secret-named keys that are plainly not secrets.
fn check_secret_value(line: &[u8], span: Range<usize>) -> Result<Range<usize>, Rejection> {
    let value = &line[span.clone()];
    if value.len() >= SECRET_VALUE_BOUND {
        // A long value: follow it to its end and redact it whole.
        let end = line[span.end..]
            .iter()
            .position(|&b| ends_value(b))
            .map_or(line.len(), |p| span.end + p);
        return Ok(span.start..end);
    }
    // `token=Token{a64f992 …}`, `key=make(…)`: an object or call, not a
    // value. A value that is no type or function name goes on through its
    // brace or parenthesis (`iqLoNnRQZG{-n1w=U1a`, `S!IqBR(H+Hc`): a
    // generated password.
    let mut span = span;
    if matches!(line.get(span.end), Some(b'{' | b'(')) {
        if is_type_or_call_name(value) {
            return Err(Rejection::Context);
        }
        span.end = line[span.end..]
            .iter()
            .position(|&b| {
                b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b',' | b';' | b'&')
            })
            .map_or(line.len(), |p| span.end + p);
    }
    // A reference to a variable or a template, not its value: `$DB_PASS`,
    // `${TOKEN}`, `{{ .Values.token }}`, `%(password)s`. (`$th1OdZEer…`,
    // mixed case, is a password that starts with a dollar.)
    let env_var = |v: &[u8]| {
        v.len() >= 2
            && v[0] == b'$'
            && v[1..]
                .iter()
                .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    if value.starts_with(b"${")
        || env_var(value)
        || value.starts_with(b"{{")
        || value.starts_with(b"%(")
    {
        return Err(Rejection::Context);
    }
    // A status or an error where a value would be: `token=expired`,
    // `invalid refresh token: Forbidden`, `open …/secret: permission denied`.
    if value.iter().all(u8::is_ascii_alphabetic)
        && STATUS_WORDS.iter().any(|w| value.eq_ignore_ascii_case(w))
    {
        return Err(Rejection::Context);
    }
    // Masked: `xxxxxxxx`, `XXXX`.
    if value.len() >= 3
        && value
            .iter()
            .all(|&b| matches!(b, b'x' | b'X' | b'*' | b'#'))
    {
        return Err(Rejection::Context);
    }
    // An error code (`invalid_grant`, `not_set`): lowercase words joined
    // by `_`.
    if value.contains(&b'_')
        && value.iter().all(|&b| b.is_ascii_lowercase() || b == b'_')
        && value.first().is_some_and(u8::is_ascii_lowercase)
    {
        return Err(Rejection::Context);
    }
    // A Go error chain (`unable to read password: timeout awaiting
    // response headers`, `invalid bootstrap token: crypto/rsa:
    // verification error`): after a `:`, a lowercase word that the
    // message goes on from, not a value.
    if after_colon(line, span.start) && is_error_word(value, &line[span.end..]) {
        return Err(Rejection::Context);
    }
    // A page or request marker named like a token (`NextToken=…`,
    // `nextPageToken`, `ContinuationToken`, `ClientRequestToken`): an
    // opaque position, not a credential.
    if is_marker_token_name(key_before(line, span.start)) {
        return Err(Rejection::Context);
    }
    // The secret's name in a reference: a Kubernetes `namespace/name`
    // (`secret="kube-system/bootstrap-token-abcdef"`) or an AWS Secrets
    // Manager ARN (`arn:aws:secretsmanager:…:secret:prod/db-wN985W`).
    if is_namespaced_name(value) || in_arn(line, span.start) {
        return Err(Rejection::Context);
    }
    // A key or certificate file's path (`signing_key=/etc/pki/tls/private/web.pem`).
    if is_key_file_path(value) {
        return Err(Rejection::Context);
    }
    let value = &line[span.clone()];
    // `Password::Reset`: the rest of a type's path after `name:`, not a
    // value (`password: :x`, with a space, is one).
    if value.first() == Some(&b':') && span.start > 0 && line[span.start - 1] == b':' {
        return Err(Rejection::Context);
    }
    // Already masked (`ghp_****`): scrubbing again must change nothing.
    if memchr::memmem::find(value, b"****").is_some()
        || memchr::memmem::find(value, b"####").is_some()
    {
        return Err(Rejection::Context);
    }
    const PLACEHOLDERS: &[&[u8]] = &[
        b"null",
        b"none",
        b"undefined",
        b"redacted",
        b"hidden",
        b"masked",
        b"filtered",
        b"<redacted>",
    ];
    if PLACEHOLDERS.iter().any(|p| value.eq_ignore_ascii_case(p)) {
        return Err(Rejection::Context);
    }
    // A package or class path: `android.os.BinderProxy@2bd79ce`,
    // `com.apple.xpc.activity/4505:` (two lowercase segments and a dot).
    let mut segments = 0;
    let mut i = 0;
    while i < value.len() {
        let start = i;
        while i < value.len()
            && (value[i].is_ascii_lowercase() || (i > start && value[i].is_ascii_digit()))
        {
            i += 1;
        }
        if i == start || i == value.len() || value[i] != b'.' {
            break;
        }
        segments += 1;
        i += 1;
        if segments == 2 {
            return Err(Rejection::Context);
        }
    }
    Ok(span)
}

/// The credentials after a `Basic` or `Bearer` scheme word.
fn check_auth_credential(line: &[u8], span: Range<usize>) -> Result<Range<usize>, Rejection> {
    use base64::Engine as _;
    let value = &line[span.clone()];
    let before = &line[..span.start];
    let word_end = before
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'"' | b'\''))
        .map_or(0, |i| i + 1);
    let basic = before[..word_end].len() >= 5
        && before[word_end - 5..word_end].eq_ignore_ascii_case(b"basic");
    if basic {
        let padded = value.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&value[..padded])
            .map_err(|_| Rejection::Context)?;
        return if decoded.contains(&b':') {
            Ok(span)
        } else {
            Err(Rejection::Context)
        };
    }
    if value.len() < 20 && value.iter().all(u8::is_ascii_lowercase) {
        return Err(Rejection::Context);
    }
    Ok(span)
}

/// Words that say how a secret stands, where its value would be.
const STATUS_WORDS: &[&[u8]] = &[
    b"forbidden",
    b"unauthorized",
    b"expired",
    b"invalid",
    b"missing",
    b"rotated",
    b"revoked",
    b"denied",
    b"permission",
    b"required",
    b"present",
    b"absent",
    b"unset",
    b"empty",
    b"refreshed",
    b"rejected",
    b"accepted",
    b"failed",
    b"mismatch",
    b"incorrect",
    b"malformed",
    b"notfound",
    b"unknown",
    b"provided",
    b"configured",
    b"generated",
    b"verified",
    b"unverified",
    b"updated",
    b"changed",
    b"created",
    b"deleted",
    b"disabled",
    b"enabled",
    b"pending",
    b"success",
    b"error",
    b"context",
    b"connection",
];

/// True for a type's or a function's name before its `{` or `(`: one
/// lowercase word (`make`, `new_token`), or capitalised words
/// (`Token`, `SecretKeySpec`, `Optional`), perhaps with a path
/// (`api.Token`, `std::string`); not a random mix of cases (`iqLoNnRQZG`).
fn is_type_or_call_name(value: &[u8]) -> bool {
    let name = value
        .iter()
        .rposition(|&b| matches!(b, b'.' | b':'))
        .map_or(value, |i| &value[i + 1..]);
    if name.is_empty() || !name[0].is_ascii_alphabetic() {
        return false;
    }
    if !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') {
        return false;
    }
    // No two capitals in a row, and no capital after a digit.
    !name
        .windows(2)
        .any(|w| w[1].is_ascii_uppercase() && (w[0].is_ascii_uppercase() || w[0].is_ascii_digit()))
}

/// True when the value starting at `start` follows a `:` (and spaces).
fn after_colon(line: &[u8], start: usize) -> bool {
    line[..start]
        .iter()
        .rev()
        .find(|b| !matches!(b, b' ' | b'\t'))
        == Some(&b':')
}

/// True for a lowercase word of an error message that goes on in words
/// after it: `timeout` in `timeout awaiting response headers`,
/// `crypto/rsa:` in `crypto/rsa: verification error`, `x509:` in `x509:
/// certificate signed by …`. A word with a digit counts only as a
/// package's name before its `:` (`hunter2 user=bob` is a password).
fn is_error_word(value: &[u8], rest: &[u8]) -> bool {
    let word = value
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'/' | b'-' | b':'))
        && value.iter().filter(|b| b.is_ascii_lowercase()).count() >= 3
        && (!value.iter().any(u8::is_ascii_digit) || value.ends_with(b":"));
    let mut next = rest
        .strip_prefix(b" ")
        .unwrap_or_default()
        .split(|&b| b == b' ');
    let prose = |w: Option<&[u8]>| {
        w.is_some_and(|w| {
            w.first().is_some_and(u8::is_ascii_lowercase)
                && w.iter()
                    .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
    };
    word && rest.first() == Some(&b' ') && prose(next.next()) && prose(next.next())
}

/// True for a token-named key that holds a position in a listing or a
/// request's identity (`NextToken`, `next_page_token`,
/// `ContinuationToken`, `ClientRequestToken`, `SyncToken`).
fn is_marker_token_name(key: &[u8]) -> bool {
    const MARKERS: &[&[u8]] = &[
        b"next",
        b"nextpage",
        b"page",
        b"continuation",
        b"pagination",
        b"clientrequest",
        b"idempotency",
        b"sync",
        b"resume",
        b"cursor",
        b"start",
    ];
    let norm: Vec<u8> = key
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    norm.strip_suffix(b"token".as_slice())
        .is_some_and(|head| MARKERS.contains(&head))
}

/// True for a Kubernetes `namespace/name` reference: two lowercase DNS
/// labels (letters, digits, `-`, `.`) joined by one `/`.
fn is_namespaced_name(value: &[u8]) -> bool {
    let label = |part: &[u8]| {
        !part.is_empty()
            && part[0].is_ascii_alphanumeric()
            && part[part.len() - 1].is_ascii_alphanumeric()
            && part
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
    };
    let mut parts = value.split(|&b| b == b'/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if label(a) && label(b))
        && value.iter().any(u8::is_ascii_lowercase)
}

/// True when the value starting at `start` is inside an ARN
/// (`arn:aws:secretsmanager:us-east-1:123456789012:secret:name`).
fn in_arn(line: &[u8], start: usize) -> bool {
    let token_start = line[..start]
        .iter()
        .rposition(|&b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'=' | b','))
        .map_or(0, |i| i + 1);
    line[token_start..start].starts_with(b"arn:")
}

/// True for the path of a key or certificate file: absolute, relative or
/// from home, plain path characters, and a key file's extension.
fn is_key_file_path(value: &[u8]) -> bool {
    const EXTENSIONS: &[&[u8]] = &[
        b".pem",
        b".key",
        b".crt",
        b".cer",
        b".der",
        b".p12",
        b".pfx",
        b".jks",
        b".keystore",
        b".pub",
        b".json",
        b".gpg",
        b".asc",
        b".p8",
        b".ppk",
    ];
    (value.starts_with(b"/") || value.starts_with(b"./") || value.starts_with(b"~/"))
        && value.iter().filter(|&&b| b == b'/').count() >= 2
        && value
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'~'))
        && EXTENSIONS.iter().any(|e| {
            value.len() > e.len() && value[value.len() - e.len()..].eq_ignore_ascii_case(e)
        })
}

/// What only looks like a bank account number.
fn check_bank_account(line: &[u8], span: Range<usize>) -> Result<Range<usize>, Rejection> {
    let digits = &line[span.clone()];
    if digits.len() == 12 && memchr::memmem::find(&line.to_ascii_lowercase(), b"aws").is_some() {
        return Err(Rejection::Context);
    }
    Ok(span)
}

/// What only looks like an e-mail address.
fn check_email(line: &[u8], span: Range<usize>) -> Result<Range<usize>, Rejection> {
    /// Last labels that are file extensions or systemd unit types, never
    /// a mail domain's.
    const NOT_DOMAINS: &[&[u8]] = &[
        b"png",
        b"jpg",
        b"jpeg",
        b"gif",
        b"svg",
        b"webp",
        b"ico",
        b"bmp",
        b"css",
        b"js",
        b"mjs",
        b"map",
        b"json",
        b"xml",
        b"html",
        b"htm",
        b"txt",
        b"log",
        b"pdf",
        b"zip",
        b"gz",
        b"tgz",
        b"tar",
        b"jar",
        b"war",
        b"so",
        b"dll",
        b"exe",
        b"py",
        b"rb",
        b"java",
        b"class",
        b"yaml",
        b"yml",
        b"toml",
        b"conf",
        b"service",
        b"socket",
        b"timer",
        b"mount",
        b"automount",
        b"target",
        b"path",
        b"slice",
        b"scope",
        b"device",
        b"swap",
    ];
    let address = &line[span.clone()];
    let Some(at) = address.iter().rposition(|&b| b == b'@') else {
        return Err(Rejection::Context);
    };
    let (local, domain) = (&address[..at], &address[at + 1..]);
    let last = domain
        .iter()
        .rposition(|&b| b == b'.')
        .map_or(domain, |i| &domain[i + 1..]);
    if NOT_DOMAINS.iter().any(|d| last.eq_ignore_ascii_case(d)) {
        return Err(Rejection::Context);
    }
    // `git@github.com:org/repo.git`, `ssh://git@host/repo`: a remote's user.
    if local.eq_ignore_ascii_case(b"git") {
        return Err(Rejection::Context);
    }
    // `nfs/fs01.lab.local@LAB.LOCAL`: a service principal in its realm.
    let realm = domain
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'));
    if realm && span.start > 0 && line[span.start - 1] == b'/' {
        return Err(Rejection::Context);
    }
    Ok(span)
}

/// True when `value` is shaped like a UUID (8-4-4-4-12 hex digits).
fn is_uuid(value: &[u8]) -> bool {
    value.len() == 36
        && value.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The value after a credential-like name (see [`Validator::GenericSecret`]).
fn check_generic_secret(line: &[u8], span: Range<usize>) -> Result<Range<usize>, Rejection> {
    let value = &line[span.clone()];
    if is_uuid(value) {
        return Err(Rejection::Context);
    }
    let lower = |i: usize| value.get(i).map(u8::to_ascii_lowercase);
    // `sha256:…`, `sha512-…`, `md5:…`: a digest that names its algorithm.
    let digest = (lower(0) == Some(b's') && lower(1) == Some(b'h') && lower(2) == Some(b'a'))
        || (lower(0) == Some(b'm') && lower(1) == Some(b'd') && lower(2) == Some(b'5'));
    if digest {
        let sep = value.iter().position(|&b| b == b':' || b == b'-');
        if sep.is_some_and(|p| p <= 6 && value[3..p].iter().all(u8::is_ascii_digit)) {
            return Err(Rejection::Context);
        }
    }
    // A word or identifier: lowercase letters and separators only.
    if value
        .iter()
        .all(|&b| b.is_ascii_lowercase() || matches!(b, b'_' | b'-' | b'.' | b'/'))
    {
        return Err(Rejection::Context);
    }
    // Headers whose key is a request's, a cache entry's or an object's
    // name, not a credential (`X-Idempotency-Key`, `X-Cache-Key`).
    let key: Vec<u8> = key_before(line, span.start)
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    const NAMING_KEYS: &[&[u8]] = &[
        b"xrequestkey",
        b"xidempotencykey",
        b"idempotencykey",
        b"xcachekey",
        b"xobjectkey",
        b"xpartitionkey",
        b"xroutingkey",
        b"xsortkey",
        b"xdedupkey",
        b"xdedupekey",
        b"xdeduplicationkey",
        b"xcorrelationkey",
        b"xamzmetakey",
    ];
    if NAMING_KEYS.contains(&key.as_slice()) {
        return Err(Rejection::Context);
    }
    check_secret_value(line, span)
}

/// The password of a URL's userinfo (see [`Validator::UrlPassword`]).
fn check_url_password(line: &[u8], span: Range<usize>) -> Result<Range<usize>, Rejection> {
    let value = &line[span.clone()];
    let placeholder = value.is_empty()
        || value
            .iter()
            .all(|&b| matches!(b, b'*' | b'x' | b'X' | b'.'))
        || value.starts_with(b"${")
        || value.starts_with(b"{{")
        || value.starts_with(b"<")
        || value.starts_with(b"%s")
        || value.starts_with(b"$(")
        // Already masked (`ghp_****`): scrubbing again changes nothing.
        || memchr::memmem::find(value, b"****").is_some();
    if placeholder {
        Err(Rejection::Context)
    } else {
        Ok(span)
    }
}

/// Social security numbers, dashed (`123-45-6789`) or keyed and undashed.
fn check_ssn(line: &[u8], span: Range<usize>) -> Result<Range<usize>, Rejection> {
    let mut d = [0u32; 9];
    let mut n = 0;
    for &b in &line[span.clone()] {
        if b.is_ascii_digit() {
            if n == 9 {
                return Err(Rejection::Context);
            }
            d[n] = u32::from(b - b'0');
            n += 1;
        }
    }
    if n != 9 {
        return Err(Rejection::Context);
    }
    // Part of a longer dashed number (`1-800-55-1234-5`, a part number).
    let before = span.start.checked_sub(1).map(|i| line[i]);
    let after = line.get(span.end).copied();
    let digit_at = |i: Option<usize>| i.and_then(|i| line.get(i)).is_some_and(u8::is_ascii_digit);
    if before == Some(b'-') && digit_at(span.start.checked_sub(2)) {
        return Err(Rejection::Context);
    }
    if after == Some(b'-') && digit_at(Some(span.end + 1)) {
        return Err(Rejection::Context);
    }
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return Err(Rejection::Context);
    }
    Ok(span)
}

/// The ABA routing-number checksum: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9)
/// is a multiple of 10 (and not all zeros).
pub fn aba_valid(bytes: &[u8]) -> bool {
    let mut d = [0u32; 9];
    let mut n = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            continue;
        }
        if n == 9 {
            return false;
        }
        d[n] = u32::from(b - b'0');
        n += 1;
    }
    if n != 9 {
        return false;
    }
    let sum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8]);
    sum != 0 && sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_has_its_own_slot() {
        for (i, r) in Rejection::ALL.iter().enumerate() {
            assert_eq!(r.slot(), i, "{}", r.as_str());
        }
    }

    /// A validator's check, as [`Validator::check`] dispatches to it.
    type Check = fn(&[u8], Range<usize>) -> Result<Range<usize>, Rejection>;

    /// The verdict of `check` on `value`, found in `line`.
    fn accepts(check: Check, line: &str, value: &str) -> bool {
        let start = line.find(value).unwrap();
        check(line.as_bytes(), start..start + value.len()).is_ok()
    }

    fn pan(s: &str) -> Result<&str, Rejection> {
        check_pan(s.as_bytes(), 0..s.len()).map(|r| &s[r])
    }

    #[test]
    fn luhn_known_numbers() {
        let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(luhn_valid(&digits("4111111111111111")));
        assert!(luhn_valid(&digits("378282246310005")));
        assert!(!luhn_valid(&digits("4111111111111112")));
    }

    #[test]
    fn networks() {
        let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(card_network_valid(&digits("2223003122003222")));
        assert!(card_network_valid(&digits("6011111111111117")));
        assert!(card_network_valid(&digits("3530111333300000")));
        assert!(card_network_valid(&digits("36227206271667")));
        assert!(!card_network_valid(&digits("8888888888888888")));
        assert!(!card_network_valid(&digits("7111111111111111")));
    }

    #[test]
    fn pan_groups() {
        assert_eq!(pan("4111 1111 1111 1111"), Ok("4111 1111 1111 1111"));
        assert_eq!(pan("4111-1111-1111-1111"), Ok("4111-1111-1111-1111"));
        assert_eq!(pan("4111111111111111 20"), Ok("4111111111111111"));
        assert_eq!(pan("3782-822463-10005"), Ok("3782-822463-10005"));
        assert_eq!(pan("4111-1111 1111-1111"), Err(Rejection::Luhn));
        for sep in [
            "\u{a0}", "\u{202f}", "\u{2009}", "\u{2007}", "\u{2013}", "\u{2011}", "\u{200b}", "\t",
            ".", "  ", " - ", "\u{3000}", "\u{2212}",
        ] {
            let card = ["4111", "1111", "1111", "1111"].join(sep);
            assert_eq!(pan(&card), Ok(card.as_str()), "{sep:?}");
            let amex = ["3782", "822463", "10005"].join(sep);
            assert_eq!(pan(&amex), Ok(amex.as_str()), "{sep:?}");
            // One separator kind per number.
            let mixed = format!("4111{sep}1111-1111{sep}1111");
            let other = if sep == "-" { " " } else { "-" };
            let mixed = mixed.replace('-', other);
            assert!(pan(&mixed).is_err(), "{mixed:?}");
        }
        assert_eq!(pan("4111111111111112"), Err(Rejection::Luhn));
    }

    #[test]
    fn pan_layouts_and_id_keys() {
        assert_eq!(pan("5020 150604 240"), Err(Rejection::Context));
        assert_eq!(pan("3056-930902-5904"), Ok("3056-930902-5904"));
        for line in [
            "order_id=4111111111111111",
            "\"shipmentId\": \"4111111111111111\"",
            "ID: 4111111111111111",
        ] {
            let start = line.find('4').unwrap();
            assert_eq!(
                check_pan(line.as_bytes(), start..start + 16),
                Err(Rejection::Context),
                "{line}"
            );
        }
        let line = "customer id 4111111111111111";
        assert!(check_pan(line.as_bytes(), 12..28).is_ok());
        let line = "card_number=4111111111111111 uuid=4111111111111111";
        assert!(check_pan(line.as_bytes(), 12..28).is_ok());
        assert!(check_pan(line.as_bytes(), 34..50).is_ok());
    }

    #[test]
    fn pan_context() {
        let line = b"blk_-4111111111111111";
        assert_eq!(check_pan(line, 5..line.len()), Err(Rejection::Context));
        let line = b"4111111111111111.25";
        assert_eq!(check_pan(line, 0..16), Err(Rejection::Context));
        let line = b"4111111111111111 10.11.10.1";
        assert_eq!(check_pan(line, 0..19), Ok(0..16));
    }

    #[test]
    fn secret_values() {
        let check = |line: &str, value: &str| accepts(check_secret_value, line, value);
        assert!(check("token=Winter!56773yPIz", "Winter!56773yPIz"));
        assert!(check(
            "token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc"
        ));
        assert!(!check("token=Token{a64f992}", "Token"));
        assert!(!check(
            "token: android.os.BinderProxy@2bd79ce",
            "android.os.BinderProxy@2bd79ce"
        ));
        assert!(!check("password=REDACTED", "REDACTED"));
        assert!(!check("Password::Reset called", ":Reset"));
        assert!(check("password: :hunter2hunter2", ":hunter2hunter2"));
        // A brace or parenthesis inside a generated password.
        let span = |line: &str, value: &str| {
            let start = line.find(value).unwrap();
            check_secret_value(line.as_bytes(), start..start + value.len())
                .map(|r| line[r].to_string())
        };
        assert_eq!(
            span("password: iqLoNnRQZG{-n1w=U1ajc+9P= x", "iqLoNnRQZG"),
            Ok("iqLoNnRQZG{-n1w=U1ajc+9P=".to_string())
        );
        assert_eq!(
            span("ApiKey: S!IqBR(H+HcFTcI", "S!IqBR"),
            Ok("S!IqBR(H+HcFTcI".to_string())
        );
        assert!(!check("key=make(map[string]int)", "make"));
        assert!(!check("token: SecretKeySpec(bytes)", "SecretKeySpec"));
        assert!(!check("token=api.Token{id: 1}", "api.Token"));
        // References, statuses, paths.
        for (line, value) in [
            ("password=$DB_PASSWORD", "$DB_PASSWORD"),
            ("token=${TOKEN}", "${TOKEN}"),
            ("password: {{ .Values.password }}", "{{"),
            ("invalid refresh token: Forbidden", "Forbidden"),
            ("token=rotated", "rotated"),
            ("open /etc/app/secret: permission denied", "permission"),
            ("Secret=payments/db-creds", "payments/db-creds"),
            (
                "arn=arn:aws:secretsmanager:us-east-1:936643358638:secret:prod/db-wN985W",
                "prod/db-wN985W",
            ),
            (
                "signing_key=/etc/pki/tls/private/Web-01.pem",
                "/etc/pki/tls/private/Web-01.pem",
            ),
        ] {
            assert!(!check(line, value), "{line}");
        }
        for (line, value) in [
            ("password=Forbidden1", "Forbidden1"),
            ("secret=Ab/Cd9xQ", "Ab/Cd9xQ"),
            (
                "aws_secret_access_key=/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ),
            ("secret: x$yz1234", "x$yz1234"),
            ("password: $th1OdZEerXsmFxLF", "$th1OdZEerXsmFxLF"),
            ("password: hunter2 user=bob", "hunter2"),
            ("password: letmeinnow", "letmeinnow"),
        ] {
            assert!(check(line, value), "{line}");
        }
    }

    #[test]
    fn markers_phones_and_naming_headers() {
        let secret = |line: &str, value: &str| accepts(check_secret_value, line, value);
        for line in [
            "NextToken=375086abc",
            "nextPageToken: CiAKGjBpNDd2",
            "\"ContinuationToken\": \"1ueGcxLPRx1\"",
        ] {
            let value = line
                .rsplit([' ', '=', '"'])
                .find(|s| !s.is_empty())
                .unwrap();
            assert!(!secret(line, value), "{line}");
        }
        assert!(secret("access_token=Zq8wLm2pTe9xK", "Zq8wLm2pTe9xK"));
        assert!(secret("refresh_token=Zq8wLm2pTe9xK", "Zq8wLm2pTe9xK"));
        let card = |line: &str, value: &str| accepts(check_pan, line, value);
        assert!(!card("recipient=+4915122892875", "4915122892875"));
        assert!(card("q=card+4111111111111111", "4111111111111111"));
        assert!(card("to +4111111111111111", "4111111111111111"));
        let generic = |line: &str, value: &str| accepts(check_generic_secret, line, value);
        assert!(!generic(
            "X-Idempotency-Key: 9f8e7d6c5b4a39281706",
            "9f8e7d6c5b4a39281706"
        ));
        assert!(generic(
            "X-Auth-Key: 7fA9kQ2mZx8LpR4tVn6bWc3Hd5Ys1Ej0",
            "7fA9kQ2mZx8LpR4tVn6bWc3Hd5Ys1Ej0"
        ));
    }

    #[test]
    fn bank_accounts() {
        let check = |line: &str, value: &str| accepts(check_bank_account, line, value);
        assert!(check("bank account: 7082826850 ok", "7082826850"));
        assert!(check("Account=359573714053", "359573714053"));
        assert!(!check(
            r#"{"source": "aws.ec2", "account": "359573714053"}"#,
            "359573714053"
        ));
        assert!(!check(
            r#""Account": "359573714053", "Arn": "arn:aws:iam::359573714053:user/ci""#,
            "359573714053"
        ));
    }

    #[test]
    fn emails() {
        let check = |line: &str, value: &str| accepts(check_email, line, value);
        assert!(check(
            "login: ivan.tanaka33@outlook.com | x",
            "ivan.tanaka33@outlook.com"
        ));
        assert!(check("to ALICE@EXAMPLE.COM", "ALICE@EXAMPLE.COM"));
        assert!(check(
            "user/alice@corp.example.com",
            "alice@corp.example.com"
        ));
        assert!(check("from git.admin@example.org", "git.admin@example.org"));
        assert!(!check("Started user@0.service.", "user@0.service"));
        assert!(!check("GET /img/logo@3x.png", "logo@3x.png"));
        assert!(!check(
            "from git@gitlab.com:infra/charts.git",
            "git@gitlab.com"
        ));
        assert!(!check(
            "principal nfs/fs01.lab.local@LAB.LOCAL",
            "fs01.lab.local@LAB.LOCAL"
        ));
    }

    #[test]
    fn auth_credentials() {
        let check = |line: &str, value: &str| accepts(check_auth_credential, line, value);
        assert!(check(
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            "dXNlcjpwYXNzd29yZA=="
        ));
        assert!(check(
            "Authorization: basic YWRtaW46c2VjcmV0",
            "YWRtaW46c2VjcmV0"
        ));
        assert!(!check("basic scheduling enabled", "scheduling"));
        assert!(!check("Basic aGVsbG8gd29ybGQ=", "aGVsbG8gd29ybGQ="));
        assert!(check(
            "Bearer 6UGMTyy1FpssgIkv2BL3wq",
            "6UGMTyy1FpssgIkv2BL3wq"
        ));
        assert!(!check("default bearer activated", "activated"));
        assert!(check(
            "Bearer abcdefghijklmnopqrstuvwx",
            "abcdefghijklmnopqrstuvwx"
        ));
    }

    #[test]
    fn ssn_rules() {
        let ssn = |s: &str| check_ssn(s.as_bytes(), 0..s.len()).is_ok();
        assert!(ssn("123-45-6789"));
        assert!(!ssn("000-45-6789"));
        assert!(!ssn("666-45-6789"));
        assert!(!ssn("912-45-6789"));
        assert!(!ssn("123-00-6789"));
        assert!(!ssn("123-45-0000"));
        assert!(ssn("123456789"));
    }

    #[test]
    fn aba_checksum() {
        assert!(aba_valid(b"011000015"));
        assert!(aba_valid(b"021000021"));
        assert!(!aba_valid(b"021000022"));
    }
}
