//! Criterion benchmark of logscrub's scan/redact core, in process.
//!
//! What it measures: `Redactor::scrub_lines` over a realistic ~4 MiB corpus
//! (group `scrub/raw_corpus`), next to a memchr line-splitting copy of the
//! same bytes (group `copy/memchr_lines`), the floor any line-oriented filter
//! pays. Both report bytes/s (`Throughput::Bytes`); compare them as a ratio
//! measured in the same run, since this machine is shared and noisy.
//!
//! The corpus is built here at bench start, deterministically (fixed seed,
//! no I/O besides reading the loghub files): real loghub lines from
//! `tests/data/loghub/*_2k.log` cycled in runs of 100 lines per source, ~20%
//! JSON application-log lines (some naming customers with non-ASCII UTF-8
//! such as "José Müller" or "渡辺 健", ~1.5% of all lines; some with 16-digit
//! order ids that fail Luhn), and about 1 line in 200 carrying one secret from
//! a fixed list of known card numbers, keys, tokens and e-mails.
//!
//! Before measuring, the bench checks correctness: it scrubs the corpus
//! without the injected secrets (the loghub lines hold a few real e-mail
//! addresses, in Linux_2k.log and Mac_2k.log) to get a baseline, then the
//! full corpus, and asserts that the redaction count, per rule and in total,
//! and the number of labels written, each equal the baseline plus the
//! injected secrets, exactly.
//!
//! Group `scan` compares, with `--format raw`, the scrubber with its line
//! gate (the default), the same without the gate (the full automaton over
//! every line; the counts are asserted equal), the gate alone, and one plain
//! multi-pattern regex over every line that only detects.
//!
//! Run:
//!
//!     cargo bench --bench scrub
//!     cargo bench --bench scrub -- scrub/      # one group
//!
//! The loghub lines are from https://github.com/logpai/loghub; see
//! tests/data/loghub/LICENSE for the notice that comes with them.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logscrub::format::Format;
use logscrub::redact::Redactor;
use logscrub::scan::Scanner;

/// Size of the generated corpus (the version with the injected secrets).
const TARGET_BYTES: usize = 4 << 20;
/// Seed of the generator: the same seed gives the same corpus.
const SEED: u64 = 0x6c6f_6773_6372_7562;
/// Lines taken from one loghub source before moving to the next.
const RUN_LEN: usize = 100;
/// One line in this many (on average) carries a secret.
const INJECT_EVERY: u64 = 200;
/// One line in this many (on average) is a JSON application-log line.
const JSON_ONE_IN: u64 = 5;

/// The secrets injected, each with the rule that must redact it, exactly
/// once, wherever it is put (mid-line after a space, or in a JSON string).
/// All are well-known test values or made up.
const SECRETS: &[(&str, &str)] = &[
    ("pan", "card=4111111111111111"),
    ("pan", "paid with 5555555555554444"),
    ("pan", "amex 378282246310005"),
    ("pan", "card 4242-4242-4242-4242"),
    ("pan", "pan 6011 1111 1111 1117"),
    ("cvv", "cvv: 834"),
    ("email", "jose.muller@example.com"),
    ("email", "contact watanabe.ken@mail.example.org"),
    ("email", "grace_lee42@acme.io"),
    ("aws_access_key", "key AKIAIOSFODNN7EXAMPLE"),
    ("github_token", "ghp_dkc5EBM0YBL3oYerjNcpwYoub1PhXbuPBLgx"),
    (
        "slack_token",
        "xoxb-269050856035-65331795638-bfSkGVdBypo6QDjTNkBWZNff",
    ),
    ("google_api_key", "AIzaSyD3xAmPlEkEy0000000000000000000000"),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    (
        "bearer",
        "Authorization: Bearer 6UGMTyy1FpssgIkv2BL3wqTuqKefvpmadmct4Xov",
    ),
    ("kv_secret", "password=hunter2hunter2"),
    ("stripe_key", "sk_live_Zx8fakeKey0benchmark0only"),
    ("stripe_customer", "customer cus_NffrFeUfNV2Hib"),
    ("ssn", "ssn 536-22-1234"),
    ("routing", "routing 011000015"),
    ("account", "bank account: 7082826850"),
    (
        "private_key",
        "-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA -----END OPENSSH PRIVATE KEY-----",
    ),
];

/// Customer names of the JSON lines: 4 of 16 are non-ASCII.
const NAMES: &[&str] = &[
    "Alice Smith",
    "Bob Jones",
    "Carol White",
    "José Müller",
    "Dave Brown",
    "Erin Taylor",
    "Frank Moore",
    "渡辺 健",
    "Grace Lee",
    "Heidi Klum",
    "Ivan Petrov",
    "Zoë Ødegård",
    "Judy Chen",
    "Oscar Diaz",
    "Łukasz Żak",
    "Peggy Hill",
];
const SERVICES: &[&str] = &[
    "checkout", "billing", "auth", "search", "cart", "notifier", "gateway", "ledger",
];
const LEVELS: &[&str] = &[
    "INFO", "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR",
];
const PATHS: &[&str] = &[
    "/v1/payments",
    "/v1/customers",
    "/v1/charges",
    "/api/login",
    "/api/cart/items",
    "/healthz",
    "/v2/orders",
    "/static/app.js",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"];
const STATUSES: &[u16] = &[200, 200, 200, 200, 200, 201, 204, 302, 400, 404, 500, 503];
const MSGS: &[&str] = &[
    "request completed",
    "payment intent created",
    "cache miss",
    "user logged in",
    "retrying upstream call",
    "order placed",
    "webhook delivered",
    "token refreshed",
    "rate limit exceeded",
    "db query slow",
    "invoice finalized",
    "connection reset by peer",
];

/// SplitMix64: a small, fixed, dependency-free generator.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True once in `n` times on average.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

/// A 16-digit number that fails the Luhn check: a realistic near miss.
fn non_luhn_id(rng: &mut Rng) -> String {
    let mut digits: Vec<u8> = (0..15)
        .map(|i| if i == 0 { 1 + rng.below(9) } else { rng.below(10) } as u8)
        .collect();
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        // Position 0 from the right becomes odd once the check digit is added.
        let mut v = u32::from(d);
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    let good = ((10 - sum % 10) % 10) as u8;
    digits.push((good + 1) % 10);
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

/// One JSON application-log line; `extra` is an additional field, already
/// rendered (`"key":"value"`), for an injected secret.
fn json_line(rng: &mut Rng, i: usize, extra: Option<&str>) -> String {
    let mut s = format!(
        "{{\"ts\":\"2024-05-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"level\":\"{}\",\"service\":\"{}\",\
         \"trace_id\":\"{}\",\"span_id\":\"{}\",\"msg\":\"{}\",\
         \"http\":{{\"method\":\"{}\",\"path\":\"{}\",\"status\":{}}},\"duration_ms\":{}.{:03}",
        1 + (i >> 22) % 28,
        (i >> 16) % 24,
        (i >> 10) % 60,
        (i >> 4) % 60,
        rng.below(1000),
        rng.pick(LEVELS),
        rng.pick(SERVICES),
        rng.hex(32),
        rng.hex(16),
        rng.pick(MSGS),
        rng.pick(METHODS),
        rng.pick(PATHS),
        rng.pick(STATUSES),
        rng.below(250),
        rng.below(1000),
    );
    let k = rng.below(100);
    if k < 30 {
        let user = 1_000_000 + rng.below(9_000_000);
        let name = rng.pick(NAMES);
        s.push_str(&format!(",\"user_id\":{user},\"customer_name\":\"{name}\""));
    } else if k < 45 {
        s.push_str(&format!(",\"order_id\":\"{}\"", non_luhn_id(rng)));
    } else if k < 55 {
        let amount = 100 + rng.below(100_000);
        let currency = rng.pick(&["usd", "eur", "gbp"]);
        s.push_str(&format!(",\"amount\":{amount},\"currency\":\"{currency}\""));
    }
    if let Some(extra) = extra {
        s.push(',');
        s.push_str(extra);
    }
    s.push('}');
    s
}

/// The generated corpus: the same lines with and without the injected
/// secrets, and what was injected.
struct Corpus {
    /// Lines with the injected secrets: what is benchmarked.
    bytes: Vec<u8>,
    /// The same lines without them: the baseline for the expected counts.
    clean: Vec<u8>,
    lines: usize,
    json_lines: usize,
    non_ascii_lines: usize,
    /// Secrets injected, per rule id.
    injected: Vec<(&'static str, u64)>,
}

impl Corpus {
    fn injected_total(&self) -> u64 {
        self.injected.iter().map(|(_, n)| n).sum()
    }
}

fn load_loghub() -> Vec<Vec<String>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/loghub");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("_2k.log"))
        })
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        16,
        "expected 16 loghub *_2k.log files in {dir}"
    );
    files
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.trim_end_matches('\r').to_string())
                .collect()
        })
        .collect()
}

fn build_corpus() -> Corpus {
    let sources = load_loghub();
    let mut rng = Rng(SEED);
    let mut injected: Vec<(&'static str, u64)> = Vec::new();
    let mut bytes = Vec::with_capacity(TARGET_BYTES + 4096);
    let mut clean = Vec::with_capacity(TARGET_BYTES + 4096);
    let mut pos = vec![0usize; sources.len()];
    let (mut src, mut in_run) = (0usize, 0usize);
    let (mut lines, mut json_lines, mut non_ascii_lines) = (0, 0, 0);

    while bytes.len() < TARGET_BYTES {
        let secret = rng.one_in(INJECT_EVERY).then(|| *rng.pick(SECRETS));
        let (plain, dirty) = if rng.one_in(JSON_ONE_IN) {
            json_lines += 1;
            // The same random draws for both versions of the line.
            let state = rng.0;
            let plain = json_line(&mut rng, lines, None);
            let dirty = secret.map(|(rule, text)| {
                rng.0 = state;
                let field = if rule == "email" && !text.contains(' ') {
                    format!("\"email\":\"{text}\"")
                } else {
                    format!("\"note\":\"{text}\"")
                };
                (rule, json_line(&mut rng, lines, Some(&field)))
            });
            (plain, dirty)
        } else {
            let source = &sources[src];
            let line = source[pos[src] % source.len()].clone();
            pos[src] += 1;
            in_run += 1;
            if in_run == RUN_LEN {
                in_run = 0;
                src = (src + 1) % sources.len();
            }
            let dirty = secret.map(|(rule, text)| {
                let spaces: Vec<usize> = line.match_indices(' ').map(|(i, _)| i).collect();
                let with = if !spaces.is_empty() && rng.one_in(2) {
                    let at = *rng.pick(&spaces);
                    format!("{} {text}{}", &line[..at], &line[at..])
                } else {
                    format!("{line} {text}")
                };
                (rule, with)
            });
            (line, dirty)
        };
        let line = match dirty {
            Some((rule, with)) => {
                match injected.iter_mut().find(|(r, _)| *r == rule) {
                    Some((_, n)) => *n += 1,
                    None => injected.push((rule, 1)),
                }
                with
            }
            None => plain.clone(),
        };
        if !line.is_ascii() {
            non_ascii_lines += 1;
        }
        lines += 1;
        clean.extend_from_slice(plain.as_bytes());
        clean.push(b'\n');
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    }
    injected.sort();
    Corpus {
        bytes,
        clean,
        lines,
        json_lines,
        non_ascii_lines,
        injected,
    }
}

/// Scrubs `input` with a fresh redactor: redactions per rule, and the number
/// of labels written.
fn scrub_counts(scanner: &Arc<Scanner>, input: &[u8]) -> (Vec<u64>, usize) {
    let mut redactor = Redactor::new(Arc::clone(scanner));
    let mut out = Vec::with_capacity(input.len());
    redactor.scrub_lines(input, &mut out);
    let labels: Vec<&[u8]> = scanner.rules().iter().map(|r| r.label.as_bytes()).collect();
    let written = memchr::memchr_iter(b'[', &out)
        .filter(|&i| labels.iter().any(|l| out[i..].starts_with(l)))
        .count();
    let stats = redactor.stats_mut();
    assert_eq!(
        stats.total_redactions(),
        stats.redactions.iter().sum::<u64>()
    );
    (stats.redactions.clone(), written)
}

/// Checks that scrubbing the corpus finds exactly the baseline plus the
/// injected secrets.
fn check_counts(scanner: &Arc<Scanner>, corpus: &Corpus) {
    let rules = scanner.rules();
    let (base, base_labels) = scrub_counts(scanner, &corpus.clean);
    let (got, got_labels) = scrub_counts(scanner, &corpus.bytes);
    let mut expected = base.clone();
    for (rule, n) in &corpus.injected {
        let i = rules
            .iter()
            .position(|r| r.id == *rule)
            .unwrap_or_else(|| panic!("no rule {rule:?} in the built-in catalog"));
        expected[i] += n;
    }
    let total = |v: &[u64]| v.iter().sum::<u64>();
    eprintln!(
        "corpus: {} bytes, {} lines, {} JSON ({:.1}%), {} non-ASCII ({:.2}%), \
         {} injected secrets (1 line in {:.0})",
        corpus.bytes.len(),
        corpus.lines,
        corpus.json_lines,
        100.0 * corpus.json_lines as f64 / corpus.lines as f64,
        corpus.non_ascii_lines,
        100.0 * corpus.non_ascii_lines as f64 / corpus.lines as f64,
        corpus.injected_total(),
        corpus.lines as f64 / corpus.injected_total() as f64,
    );
    eprintln!(
        "redactions: baseline {} (labels {base_labels}) + injected {} = expected {}; got {} (labels {got_labels})",
        total(&base),
        corpus.injected_total(),
        total(&expected),
        total(&got),
    );
    let mismatch: Vec<String> = rules
        .iter()
        .enumerate()
        .filter(|(i, _)| expected[*i] != got[*i])
        .map(|(i, r)| {
            format!(
                "{}: baseline {} expected {} got {}",
                r.id, base[i], expected[i], got[i]
            )
        })
        .collect();
    assert!(
        mismatch.is_empty(),
        "redaction counts differ per rule:\n  {}",
        mismatch.join("\n  ")
    );
    assert_eq!(total(&got), total(&expected), "total redaction count");
    assert_eq!(
        got_labels as u64,
        base_labels as u64 + corpus.injected_total(),
        "labels written"
    );
}

/// The floor: split into lines with memchr and copy each one.
fn memchr_copy(input: &[u8], out: &mut Vec<u8>) {
    let mut start = 0;
    while start < input.len() {
        let end = memchr::memchr(b'\n', &input[start..]).map_or(input.len(), |i| start + i + 1);
        out.extend_from_slice(&input[start..end]);
        start = end;
    }
}

fn benches(c: &mut Criterion) {
    let corpus = build_corpus();
    let scanner = Arc::new(Scanner::builtin());
    check_counts(&scanner, &corpus);
    let input = corpus.bytes.as_slice();

    let mut group = c.benchmark_group("scrub");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(input.len() as u64));
    let mut redactor = Redactor::new(Arc::clone(&scanner));
    let mut out = Vec::with_capacity(input.len() + 4096);
    group.bench_function("raw_corpus", |b| {
        b.iter(|| {
            out.clear();
            redactor.scrub_lines(black_box(input), &mut out);
            black_box(out.len())
        })
    });
    group.finish();

    // The structured paths, each over the same lines: `--format raw` (the
    // scanner alone), every line wrapped as Kubernetes CRI, and every line
    // wrapped as a Docker json-file record.
    let cri = wrap_lines(input, |line, out| {
        out.extend_from_slice(b"2024-05-01T00:00:26.219221000Z stdout F ");
        out.extend_from_slice(line);
    });
    let docker = wrap_lines(input, |line, out| {
        out.extend_from_slice(b"{\"log\":\"");
        json_escape(line, out);
        out.extend_from_slice(
            b"\\n\",\"stream\":\"stdout\",\"time\":\"2024-05-01T00:00:26.219221Z\"}",
        );
    });
    for (name, bytes, format) in [
        ("format_raw", input, Format::Raw),
        ("format_cri", cri.as_slice(), Format::Cri),
        ("format_docker", docker.as_slice(), Format::Docker),
    ] {
        let mut group = c.benchmark_group("scrub");
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5))
            .throughput(Throughput::Bytes(bytes.len() as u64));
        let mut redactor = Redactor::new(Arc::clone(&scanner));
        redactor.set_format(format);
        // Every format finds at least the injected secrets.
        out.clear();
        redactor.scrub_lines(bytes, &mut out);
        let found = redactor.take_stats().total_redactions();
        assert!(
            found >= corpus.injected_total(),
            "{name}: {found} redactions"
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                redactor.scrub_lines(black_box(bytes), &mut out);
                black_box(out.len())
            })
        });
        group.finish();
    }

    // The scan itself, `--format raw`: with the line gate (the default),
    // without it (the full automaton over every line, the same findings),
    // the gate alone, and one plain multi-pattern regex over every line
    // that only detects (what a filter built on one regex would pay).
    let ungated = Arc::new(Scanner::builtin().without_gate());
    check_counts(&ungated, &corpus);
    let mut group = c.benchmark_group("scan");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(input.len() as u64));
    for (name, s) in [("gated", &scanner), ("ungated", &ungated)] {
        let mut redactor = Redactor::new(Arc::clone(s));
        redactor.set_format(Format::Raw);
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                redactor.scrub_lines(black_box(input), &mut out);
                black_box(out.len())
            })
        });
    }
    let mut scratch = scanner.scratch();
    assert!(
        scanner.flag_lines(input, &mut scratch),
        "the corpus is gated"
    );
    group.bench_function("gate_only", |b| {
        b.iter(|| {
            scanner.flag_lines(black_box(input), &mut scratch);
            black_box(scratch.flagged.len())
        })
    });
    let patterns: Vec<&str> = scanner.rules().iter().map(|r| r.regex.as_str()).collect();
    let plain = regex_automata::meta::Regex::builder()
        .syntax(logscrub::rules::syntax_config())
        .configure(logscrub::scan::regex_config())
        .build_many(&patterns)
        .expect("the rules compile");
    let mut cache = plain.create_cache();
    group.bench_function("plain_regex_detect", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for line in black_box(input).split(|&b| b == b'\n') {
                hits += usize::from(
                    plain
                        .search_with(&mut cache, &regex_automata::Input::new(line))
                        .is_some(),
                );
            }
            black_box(hits)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("copy");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("memchr_lines", |b| {
        b.iter(|| {
            out.clear();
            memchr_copy(black_box(input), &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

/// Rewrites every line of `input` with `wrap` (which gets the line without
/// its newline), newline-terminated.
fn wrap_lines(input: &[u8], wrap: impl Fn(&[u8], &mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 2);
    for line in input.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        wrap(line, &mut out);
        out.push(b'\n');
    }
    out
}

/// Escapes `s` as the content of a JSON string.
fn json_escape(s: &[u8], out: &mut Vec<u8>) {
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
}

criterion_group!(scrub, benches);
criterion_main!(scrub);
