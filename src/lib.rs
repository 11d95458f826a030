//! logscrub: a log scrubber that removes card numbers, keys, tokens and
//! personal data from log lines in one pass.
//!
//! Data flows source → [`framing`] → [`scan`] → [`redact`] → sink, with
//! [`stats`] beside. The rule catalog ([`rules`]) is data: TOML pattern files
//! embedded at build time, compiled by [`scan::Scanner`] into one
//! multi-pattern automaton.
//!
//! ```
//! use std::sync::Arc;
//! let scanner = Arc::new(logscrub::scan::Scanner::builtin());
//! let out = logscrub::redact::scrub_with(&scanner, b"paid with 4111 1111 1111 1111\n");
//! assert_eq!(out, b"paid with [CARD_REDACTED]\n");
//! ```

pub mod checkpoint;
pub mod ci;
pub mod config;
pub mod diag;
pub mod findings;
pub mod format;
pub mod framing;
pub mod pipe;
pub mod policy;
pub mod redact;
pub mod report;
pub mod rules;
pub mod scan;
pub mod service;
pub mod shutdown;
pub mod sink;
pub mod source;
pub mod stats;
pub mod telemetry;

/// The version shown by `--version`, the run report and `logscrub_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
