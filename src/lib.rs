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

#![deny(unsafe_code)]

pub mod checkpoint;
pub mod ci;
pub mod config;
pub mod diag;
pub mod env_flags;
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
pub mod workload;

/// The version shown by `--version` and in the run report: the package
/// version and the git revision it was built from (see `build.rs`), e.g.
/// `0.1.0 (rev 9a10875c1d2e)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (rev ",
    env!("LOGSCRUB_GIT_REVISION"),
    ")"
);

/// The git revision the binary was built from, or `unknown`.
pub const GIT_REVISION: &str = env!("LOGSCRUB_GIT_REVISION");
