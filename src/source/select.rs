//! Which files an `--input` pattern picks up: `--exclude GLOB` (repeatable)
//! and `--ignore-older DURATION`, as Vector's and Fluent Bit's file sources
//! offer, so that a DaemonSet's first start neither reads its own output
//! nor every old log on the node.
//!
//! Contract: a path matching any exclude pattern (matched against the whole
//! path, `*` not crossing `/`) is never opened. A file whose last
//! modification is older than the ignore-older age when the pattern finds
//! it is not opened either; it is looked at again at each discovery while
//! following, so a file written to again is picked up (from its start, or
//! from its checkpoint). Files already being read are never dropped by
//! either setting, and rotated generations of a file being read are still
//! read to their end.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// An invalid `--exclude` pattern.
#[derive(Debug, thiserror::Error)]
#[error("--exclude {pattern}: {source}")]
pub struct SelectError {
    /// The pattern as given.
    pub pattern: String,
    /// Why it is invalid.
    #[source]
    pub source: glob::PatternError,
}

/// The file selection of a file source.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    exclude: Vec<glob::Pattern>,
    ignore_older: Option<Duration>,
}

impl Selection {
    /// Files matching none of `exclude` and, with `ignore_older`, modified
    /// within that age.
    ///
    /// # Errors
    ///
    /// An exclude pattern that is not a valid glob, named in the error.
    pub fn new(
        exclude: &[String],
        ignore_older: Option<Duration>,
    ) -> Result<Selection, SelectError> {
        let exclude = exclude
            .iter()
            .map(|p| {
                glob::Pattern::new(p).map_err(|source| SelectError {
                    pattern: p.clone(),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Selection {
            exclude,
            ignore_older,
        })
    }

    /// Whether `path` is excluded by a pattern.
    pub fn is_excluded(&self, path: &Path) -> bool {
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..glob::MatchOptions::new()
        };
        self.exclude
            .iter()
            .any(|p| p.matches_path_with(path, options))
    }

    /// Whether a file found at `path`, last modified at `modified`, is to
    /// be opened at `now`.
    pub fn accepts(&self, path: &Path, modified: Option<SystemTime>, now: SystemTime) -> bool {
        if self.is_excluded(path) {
            return false;
        }
        match (self.ignore_older, modified) {
            (Some(age), Some(modified)) => now
                .duration_since(modified)
                .map_or(true, |elapsed| elapsed <= age),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn excludes_and_ages() {
        let s = Selection::new(
            &[
                "/var/log/containers/logscrub-*".into(),
                "/var/log/containers/*_kube-system_*".into(),
            ],
            Some(Duration::from_secs(3600)),
        )
        .unwrap();
        let now = SystemTime::now();
        let fresh = Some(now - Duration::from_secs(10));
        let stale = Some(now - Duration::from_secs(7200));
        let app = Path::new("/var/log/containers/api-1_shop_app-abc.log");
        assert!(s.accepts(app, fresh, now));
        assert!(!s.accepts(app, stale, now));
        // Exactly at the age: still accepted. In the future: accepted.
        assert!(s.accepts(app, Some(now - Duration::from_secs(3600)), now));
        assert!(s.accepts(app, Some(now + Duration::from_secs(60)), now));
        assert!(s.accepts(app, None, now));
        assert!(!s.accepts(
            Path::new("/var/log/containers/logscrub-x_ops_l-1.log"),
            fresh,
            now
        ));
        assert!(!s.accepts(
            Path::new("/var/log/containers/dns-1_kube-system_c-1.log"),
            fresh,
            now
        ));
        // `*` does not cross a directory.
        assert!(s.accepts(
            Path::new("/var/log/containers/logscrub-x/y.log"),
            fresh,
            now
        ));
        assert!(Selection::new(&["[".into()], None)
            .unwrap_err()
            .to_string()
            .starts_with("--exclude [: "));
        assert!(Selection::default().accepts(app, stale, now));
    }

    proptest! {
        /// A file is accepted exactly when no pattern matches it and it is
        /// not older than the age, whatever the names and times.
        #[test]
        fn accepts_is_exclude_and_age(
            name in "[a-z]{1,8}",
            prefix in "[a-z]{0,3}",
            age in 0u64..10_000,
            elapsed in 0u64..20_000,
            with_age in any::<bool>(),
        ) {
            let s = Selection::new(
                &[format!("/logs/{prefix}*.log")],
                with_age.then(|| Duration::from_secs(age)),
            ).unwrap();
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
            let path = format!("/logs/{name}.log");
            let modified = now - Duration::from_secs(elapsed);
            let expected = !name.starts_with(&prefix) && (!with_age || elapsed <= age);
            prop_assert_eq!(s.accepts(Path::new(&path), Some(modified), now), expected);
        }
    }
}
