//! Baselines for `logscrub scan`: the findings a team has accepted, so the
//! gate fails only on new ones when it is adopted on old logs.
//!
//! The file is text, one finding identity per line (see
//! [`super::Finding::baseline_key`]), `#` starting a comment. Identities
//! never hold a value: a keyed fingerprint (HMAC, needs the hash key) or a
//! place (rule, input, line, byte offset). Written sorted and without
//! duplicates, atomically, mode 0600, by `scan --write-baseline FILE`.

use std::collections::BTreeSet;
use std::path::Path;

/// The first line of a written baseline.
pub const HEADER: &str = "# logscrub scan baseline v1";

/// A baseline that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file cannot be read or written.
    #[error("baseline {file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a finding identity.
    #[error("baseline {file}:{line}: not a finding identity (rule:fingerprint or rule@input:line:offset)")]
    Parse {
        /// The file.
        file: String,
        /// The line, from 1.
        line: usize,
    },
}

/// Accepted finding identities.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    keys: BTreeSet<String>,
}

impl Baseline {
    /// A baseline of `keys`.
    pub fn from_keys(keys: impl IntoIterator<Item = String>) -> Baseline {
        Baseline {
            keys: keys.into_iter().collect(),
        }
    }

    /// Reads a baseline file.
    ///
    /// # Errors
    /// The file cannot be read, or a line is not an identity.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Io {
            file: file.clone(),
            source,
        })?;
        Baseline::parse(&file, &text)
    }

    /// Parses the text of a baseline file named `file`.
    ///
    /// # Errors
    /// A line is not an identity.
    pub fn parse(file: &str, text: &str) -> Result<Baseline, BaselineError> {
        let mut keys = BTreeSet::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let rule_end = line.find([':', '@']);
            if rule_end.is_none_or(|n| n == 0 || n + 1 == line.len()) {
                return Err(BaselineError::Parse {
                    file: file.to_string(),
                    line: i + 1,
                });
            }
            keys.insert(line.to_string());
        }
        Ok(Baseline { keys })
    }

    /// Whether the finding with identity `key` is accepted.
    pub fn accepts(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// How many identities it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The file text: the header, then the identities in order.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{HEADER}\n# Accepted findings, one per line: rule:fingerprint (keyed, with a hash key) or rule@input:line:offset.\n"
        );
        for key in &self.keys {
            out.push_str(key);
            out.push('\n');
        }
        out
    }

    /// Writes the baseline to `path`, atomically, mode 0600.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        crate::report::write_private_atomically(path, self.render().as_bytes()).map_err(|source| {
            BaselineError::Io {
                file: path.display().to_string(),
                source,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// What is written reads back the same, whatever the identities.
        #[test]
        fn render_then_parse_round_trips(keys in proptest::collection::btree_set("[a-z_]{1,8}(:[A-Za-z0-9_\\[\\]:]{1,20}|@[a-z./]{1,12}:[0-9]{1,4}:[0-9]{1,3})", 0..20)) {
            let b = Baseline::from_keys(keys);
            prop_assert_eq!(Baseline::parse("b", &b.render()).unwrap(), b);
        }
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = Baseline::parse("base.txt", "# c\npan:abc\n\nnonsense\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "baseline base.txt:4: not a finding identity (rule:fingerprint or rule@input:line:offset)"
        );
        assert!(Baseline::parse("b", ":x\n").is_err());
        assert!(Baseline::parse("b", "pan:\n").is_err());
    }
}
