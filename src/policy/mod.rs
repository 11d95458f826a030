//! Redaction policy: what replaces each finding.
//!
//! Every rule has an [`Action`]: its label (the default), a mask that keeps a
//! documented part, a keyed HMAC token, or dropping the whole line. Rules
//! marked `always_label` (the CVV) ignore the configured action: card
//! verification codes may never be stored, not even masked or hashed.
//! Allowlisted values are never redacted.

pub mod hash;
pub mod mask;

use regex_automata::meta::Regex;

pub use crate::rules::MaskStyle;
pub use hash::{HashKey, Hasher};
pub use mask::PanMask;

/// A policy that cannot be built or applied.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// An allowlist regex does not compile.
    #[error("allowlist regex {regex:?}: {source}")]
    AllowlistRegex {
        /// The regex as written.
        regex: String,
        /// The compiler's error.
        #[source]
        source: Box<regex_automata::meta::BuildError>,
    },
    /// Some rules hash, and no key is configured.
    #[error("the hash action needs a key ({rules} rule(s) hash): set LOGSCRUB_HASH_KEY or --hash-key-file")]
    MissingHashKey {
        /// How many rules hash.
        rules: usize,
    },
    /// The hash key is too short.
    #[error("the hash key must be at least 16 bytes long (it has {len})")]
    ShortHashKey {
        /// Its length.
        len: usize,
    },
    /// The hash key id has characters outside letters, digits, `-`, `_`.
    #[error("invalid hash key id {id:?}: use letters, digits, '-' and '_'")]
    HashKeyId {
        /// The id as given.
        id: String,
    },
}

/// What replaces a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The rule's label, e.g. `[CARD_REDACTED]`.
    Label,
    /// Keep a documented part, mask the rest (see [`MaskStyle`]).
    Mask,
    /// A keyed HMAC-SHA256 token, e.g. `[CARD:k1:gfhacbdpmkaoijel]`.
    Hash,
    /// Drop the whole line (counted).
    Drop,
}

impl Action {
    /// Parses `label`, `mask`, `hash` or `drop`.
    pub fn from_name(name: &str) -> Option<Action> {
        Some(match name {
            "label" => Action::Label,
            "mask" => Action::Mask,
            "hash" => Action::Hash,
            "drop" => Action::Drop,
            _ => return None,
        })
    }

    /// The action's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Label => "label",
            Action::Mask => "mask",
            Action::Hash => "hash",
            Action::Drop => "drop",
        }
    }
}

/// The policy of one rule.
#[derive(Clone, Debug)]
pub struct RulePolicy {
    /// The action in force (already forced to `Label` for `always_label`).
    pub action: Action,
    /// The label written by `Label`.
    pub label: Vec<u8>,
    /// How `Mask` masks.
    pub mask: MaskStyle,
    /// The name used in hash tokens: `CARD` for `[CARD_REDACTED]`.
    pub token_name: String,
    /// Values of this rule that are never redacted.
    pub allow: Allowlist,
    /// No fingerprint either (the CVV: even a keyed hash of 3 digits is
    /// a lookup table away from the value).
    pub always_label: bool,
}

/// Exact values and full-match regexes that must never be redacted.
#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    values: Vec<Vec<u8>>,
    regexes: Vec<Regex>,
}

impl Allowlist {
    /// An allowlist of `values` and `regexes` (each must match the whole
    /// value). Fails on a regex that does not compile.
    pub fn new(values: &[String], regexes: &[String]) -> Result<Allowlist, PolicyError> {
        let mut compiled = Vec::with_capacity(regexes.len());
        for re in regexes {
            let anchored = format!("^(?:{re})$");
            let r = Regex::builder()
                .syntax(crate::rules::syntax_config())
                .build(&anchored)
                .map_err(|e| PolicyError::AllowlistRegex {
                    regex: re.clone(),
                    source: Box::new(e),
                })?;
            compiled.push(r);
        }
        Ok(Allowlist {
            values: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
            regexes: compiled,
        })
    }

    /// True when `value` is allowlisted.
    pub fn allows(&self, value: &[u8]) -> bool {
        self.values.iter().any(|v| v == value) || self.regexes.iter().any(|r| r.is_match(value))
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.regexes.is_empty()
    }
}

/// The policy of a whole rule set, indexed like the scanner's rules.
#[derive(Clone, Debug)]
pub struct Policy {
    rules: Vec<RulePolicy>,
    /// Allowlisted for every rule.
    global_allow: Allowlist,
    /// The fixed masking character.
    pub mask_char: u8,
    /// What a PAN mask keeps.
    pub pan_mask: PanMask,
    hasher: Option<Hasher>,
}

impl Policy {
    /// Labels for every rule, nothing allowlisted.
    pub fn labels(rules: &[crate::rules::Rule]) -> Policy {
        Policy {
            rules: rules
                .iter()
                .map(|r| RulePolicy {
                    action: Action::Label,
                    label: r.label.as_bytes().to_vec(),
                    mask: r.mask,
                    token_name: token_name(&r.label),
                    allow: Allowlist::default(),
                    always_label: r.always_label,
                })
                .collect(),
            global_allow: Allowlist::default(),
            mask_char: b'*',
            pan_mask: PanMask::First6Last4,
            hasher: None,
        }
    }

    /// Sets rule `index`'s action (ignored for `always_label` rules).
    pub fn set_action(&mut self, index: usize, action: Action, always_label: bool) {
        self.rules[index].action = if always_label { Action::Label } else { action };
    }

    /// Overrides rule `index`'s label.
    pub fn set_label(&mut self, index: usize, label: &str) {
        self.rules[index].label = label.as_bytes().to_vec();
        self.rules[index].token_name = token_name(label);
    }

    /// Sets rule `index`'s allowlist.
    pub fn set_allowlist(&mut self, index: usize, allow: Allowlist) {
        self.rules[index].allow = allow;
    }

    /// Sets the allowlist shared by every rule.
    pub fn set_global_allowlist(&mut self, allow: Allowlist) {
        self.global_allow = allow;
    }

    /// Sets the HMAC key.
    pub fn set_hasher(&mut self, hasher: Option<Hasher>) {
        self.hasher = hasher;
    }

    /// True when some rule hashes.
    pub fn needs_key(&self) -> bool {
        self.rules.iter().any(|r| r.action == Action::Hash)
    }

    /// True when the policy can be applied: hashing needs a key.
    pub fn check(&self) -> Result<(), PolicyError> {
        if self.needs_key() && self.hasher.is_none() {
            let rules = (0..self.rules.len())
                .filter(|&i| self.rules[i].action == Action::Hash)
                .count();
            return Err(PolicyError::MissingHashKey { rules });
        }
        Ok(())
    }

    /// The policy of rule `index`.
    pub fn rule(&self, index: usize) -> &RulePolicy {
        &self.rules[index]
    }

    /// True when `value` (decoded) must not be redacted by rule `index`.
    pub fn allows(&self, index: usize, value: &[u8]) -> bool {
        (!self.global_allow.is_empty() && self.global_allow.allows(value))
            || (!self.rules[index].allow.is_empty() && self.rules[index].allow.allows(value))
    }

    /// The keyed fingerprint of `value` for rule `index` (the token the
    /// `hash` action writes), when a key is configured.
    pub fn fingerprint(&self, index: usize, value: &[u8]) -> Option<String> {
        let hasher = self.hasher.as_ref()?;
        let rule = &self.rules[index];
        if rule.always_label {
            return None;
        }
        let mut out = Vec::new();
        hasher.write_token(
            &rule.token_name,
            rule.mask == MaskStyle::Pan,
            value,
            &mut out,
        );
        String::from_utf8(out).ok()
    }

    /// Writes the replacement of `value` (the decoded secret) for rule
    /// `index` into `out`. `Drop` is the caller's business.
    pub fn write_replacement(&self, index: usize, value: &[u8], out: &mut Vec<u8>) {
        let rule = &self.rules[index];
        match rule.action {
            Action::Label | Action::Drop => out.extend_from_slice(&rule.label),
            Action::Mask => mask::write_mask(rule.mask, self.pan_mask, self.mask_char, value, out),
            Action::Hash => match &self.hasher {
                Some(h) => h.write_token(&rule.token_name, rule.mask == MaskStyle::Pan, value, out),
                // `check` refuses this; fall back to the label, never the value.
                None => out.extend_from_slice(&rule.label),
            },
        }
    }
}

/// `CARD` for `[CARD_REDACTED]`, `API_KEY` for `[API_KEY_REDACTED]`.
fn token_name(label: &str) -> String {
    let inner = label.trim_start_matches('[').trim_end_matches(']');
    let inner = inner.strip_suffix("_REDACTED").unwrap_or(inner);
    let name: String = inner
        .chars()
        .filter(|c| c.is_ascii_alphabetic() || *c == '_')
        .collect();
    if name.is_empty() {
        "REDACTED".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names() {
        assert_eq!(token_name("[CARD_REDACTED]"), "CARD");
        assert_eq!(token_name("[API_KEY_REDACTED]"), "API_KEY");
        assert_eq!(token_name("<gone>"), "gone");
    }

    #[test]
    fn allowlists_match_whole_values() {
        let allow =
            Allowlist::new(&["ops@example.com".into()], &["4242(?: ?4242){3}".into()]).unwrap();
        assert!(allow.allows(b"ops@example.com"));
        assert!(allow.allows(b"4242 4242 4242 4242"));
        assert!(!allow.allows(b"x4242424242424242"));
        assert!(Allowlist::new(&[], &["(".into()]).is_err());
    }
}
