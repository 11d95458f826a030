//! Configuration: the TOML config file and command-line overrides, turned
//! into a compiled [`Scanner`] with its [`Policy`].
//!
//! Everything is checked before anything runs: unknown keys (named with file
//! and line by the TOML parser), unknown rule ids or families, unknown
//! actions, bad allowlist regexes, and `hash` without a key are errors. The
//! same function builds the first configuration and every live reload, so a
//! reload is exactly a restart without losing a line.
//!
//! See `examples/logscrub.toml` for the whole format, commented.

pub mod io;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::policy::{Action, Allowlist, HashKey, Hasher, PanMask, Policy};
use crate::redact::OverlongPolicy;
use crate::rules::{self, CatalogError, Rule};
use crate::scan::Scanner;

/// The environment variable holding the HMAC key for the `hash` action.
pub const HASH_KEY_ENV: &str = "LOGSCRUB_HASH_KEY";

/// A configuration error. Messages name the file, key or rule at fault and
/// never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("config file {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown keys.
    #[error("config file {file}: {detail}")]
    Parse {
        /// The file.
        file: String,
        /// Line, column and the parser's message, naming the key (never
        /// the line's text, which may hold a secret).
        detail: String,
    },
    /// A pattern file is wrong (or two rules share an id).
    #[error("{origin}: {source}")]
    Catalog {
        /// Where the pattern files were named: `FILE: patterns` (the config
        /// file) or `--patterns`.
        origin: String,
        /// What is wrong, naming the pattern file and the rule.
        #[source]
        source: CatalogError,
    },
    /// The policy cannot be built (hash key, key id).
    #[error("{file}: {key}: {source}")]
    Policy {
        /// The config file, or `command line`.
        file: String,
        /// The setting, e.g. `[hash] key_id` or where the key came from.
        key: String,
        /// What is wrong.
        #[source]
        source: crate::policy::PolicyError,
    },
    /// An allowlist of the config file is wrong.
    #[error("{file}: [{section}]: {source}")]
    Allowlist {
        /// The config file.
        file: String,
        /// The table, e.g. `allowlist.rules.pan`.
        section: String,
        /// What is wrong.
        #[source]
        source: crate::policy::PolicyError,
    },
    /// `disable`, `enable`, `[actions]`, `--action`, `[labels]` or
    /// `[allowlist.rules]` names a rule or family that does not exist.
    #[error("{file}: {place} names unknown rule or family {name:?} (see `logscrub rules list`)")]
    UnknownRule {
        /// The config file, or `command line`.
        file: String,
        /// Where the name is, e.g. `[actions]` or `--action`.
        place: &'static str,
        /// The unknown name.
        name: String,
    },
    /// `[actions] RULE = ACTION` names no action.
    #[error("{file}: [actions] {rule} = {action:?}: unknown action (label, mask, hash, drop)")]
    UnknownAction {
        /// The config file.
        file: String,
        /// The rule id or family (the key).
        rule: String,
        /// The value.
        action: String,
    },
    /// `--action SPEC` is not `RULE=ACTION`.
    #[error("--action {spec:?}: expected RULE=ACTION, e.g. pan=mask")]
    ActionFlagSyntax {
        /// The flag's value.
        spec: String,
    },
    /// `--action RULE=ACTION` names no action.
    #[error("--action {spec:?}: unknown action (label, mask, hash, drop)")]
    ActionFlagUnknown {
        /// The flag's value.
        spec: String,
    },
    /// A `[labels]` value could look like a secret or break a line.
    #[error("{file}: [labels] {rule}: a label must be non-empty, without digits, quotes, backslashes or control characters")]
    UnsafeLabel {
        /// The config file.
        file: String,
        /// The rule id (the key); the label itself is not repeated.
        rule: String,
    },
    /// `[mask] char` is not one ASCII punctuation character.
    #[error("{file}: [mask] char = {value:?}: use one ASCII punctuation character, e.g. \"*\"")]
    MaskChar {
        /// The config file.
        file: String,
        /// The value.
        value: String,
    },
    /// `[mask] pan` names no card mask.
    #[error("{file}: [mask] pan = {value:?}: use first6_last4, last4 or none")]
    PanMask {
        /// The config file.
        file: String,
        /// The value.
        value: String,
    },
    /// The hash key file cannot be read.
    #[error("{origin}: hash key file {path}: {source}", path = path.display())]
    HashKeyFile {
        /// Where the path was given: `--hash-key-file` or
        /// `FILE: [hash] key_file`.
        origin: String,
        /// The key file (its content is never shown).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A rule hashes and no key is given.
    #[error("{file}: the hash action needs a key: set {HASH_KEY_ENV} or --hash-key-file (or [hash] key_file)")]
    MissingHashKey {
        /// The config file, or `command line`.
        file: String,
    },
    /// `overlong` is neither `replace` nor `drop`.
    #[error("{file}: overlong = {value:?}: use \"replace\" or \"drop\"")]
    Overlong {
        /// The config file.
        file: String,
        /// The value.
        value: String,
    },
    /// The line limit is 0.
    #[error("{origin}: max_line_bytes must be at least 1")]
    ZeroLineLimit {
        /// Where it was given: `--max-line-bytes` or the config file.
        origin: String,
    },
    /// `format` / `--format` names no format.
    #[error("{origin}: format {value:?}: use auto, raw, json, docker, cri or logfmt")]
    UnknownFormat {
        /// Where it was given: `--format` or the config file.
        origin: String,
        /// The value.
        value: String,
    },
    /// A `[sensitive_keys]` entry names a rule that does not exist.
    #[error("{file}: [sensitive_keys] {key} = {rule:?}: unknown rule (or \"off\")")]
    SensitiveKeyRule {
        /// The config file.
        file: String,
        /// The key of structured logs.
        key: String,
        /// The unknown rule id.
        rule: String,
    },
}

/// The config file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Lines longer than this many bytes get the over-long policy.
    pub max_line_bytes: Option<usize>,
    /// `replace` (default: a marker line) or `drop`.
    pub overlong: Option<String>,
    /// Extra pattern files or directories, relative to the config file.
    #[serde(default)]
    pub patterns: Vec<PathBuf>,
    /// Rule ids or families to turn off.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Rule ids to keep on although their family is disabled.
    #[serde(default)]
    pub enable: Vec<String>,
    /// Action per rule id or family: `label`, `mask`, `hash` or `drop`.
    #[serde(default)]
    pub actions: BTreeMap<String, String>,
    /// Label per rule id.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Mask options.
    #[serde(default)]
    pub mask: MaskConfig,
    /// Hash options.
    #[serde(default)]
    pub hash: HashConfig,
    /// Values never redacted.
    #[serde(default)]
    pub allowlist: AllowlistConfig,
    /// How lines are read: auto, raw, json, docker, cri, logfmt.
    pub format: Option<String>,
    /// Keys whose values are redacted whole in structured logs: key → the
    /// rule whose label and action apply, or "off" to remove a default.
    #[serde(default)]
    pub sensitive_keys: BTreeMap<String, String>,
    /// `[input]`, `[output]`, `[metrics]`: see [`crate::config::io`] (read
    /// at start-up; the command line wins).
    #[serde(default)]
    pub input: crate::config::io::InputConfig,
    /// `[output]`.
    #[serde(default)]
    pub output: crate::config::io::OutputConfig,
    /// `[metrics]`.
    #[serde(default)]
    pub metrics: crate::config::io::MetricsConfig,
}

/// `[mask]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskConfig {
    /// The masking character (one ASCII character, not a digit or letter).
    pub char: Option<String>,
    /// What a card mask keeps: `first6_last4` (default), `last4`, `none`.
    pub pan: Option<String>,
}

/// `[hash]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashConfig {
    /// The key id written in tokens (default `k1`).
    pub key_id: Option<String>,
    /// A file holding the key (else the `LOGSCRUB_HASH_KEY` variable).
    pub key_file: Option<PathBuf>,
    /// MAC characters per token (default 16, 4 bits each).
    pub length: Option<usize>,
}

/// `[allowlist]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistConfig {
    /// Exact values, for every rule.
    #[serde(default)]
    pub values: Vec<String>,
    /// Regexes matching whole values, for every rule.
    #[serde(default)]
    pub regexes: Vec<String>,
    /// Per rule id.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleAllowlist>,
}

/// `[allowlist.rules.ID]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleAllowlist {
    /// Exact values.
    #[serde(default)]
    pub values: Vec<String>,
    /// Regexes matching whole values.
    #[serde(default)]
    pub regexes: Vec<String>,
}

/// Settings from the command line, which win over the config file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--config` (or `LOGSCRUB_CONFIG`).
    pub config: Option<PathBuf>,
    /// `--patterns`, repeatable.
    pub patterns: Vec<PathBuf>,
    /// `--action RULE=ACTION`, repeatable.
    pub actions: Vec<String>,
    /// `--disable RULE`, repeatable.
    pub disable: Vec<String>,
    /// `--hash-key-file`.
    pub hash_key_file: Option<PathBuf>,
    /// `--max-line-bytes`.
    pub max_line_bytes: Option<usize>,
    /// `--format`.
    pub format: Option<String>,
    /// Load the hash key even when no rule hashes, for fingerprints; a
    /// missing key is then no error.
    pub fingerprints: bool,
}

/// A compiled configuration.
#[derive(Clone)]
pub struct Engine {
    /// Rules and policy.
    pub scanner: Arc<Scanner>,
    /// The over-long-line limit.
    pub max_line_bytes: usize,
    /// What happens to over-long lines.
    pub overlong: OverlongPolicy,
    /// How lines are read.
    pub format: crate::format::Format,
}

/// Reads a config file.
pub fn read_config(path: &Path) -> Result<ConfigFile, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    parse_config(&file, &text)
}

/// Parses a config file's text; `file` names it in errors.
pub fn parse_config(file: &str, text: &str) -> Result<ConfigFile, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        file: file.to_string(),
        detail: rules::toml_error_detail(text, &e),
    })
}

/// The config file, its folder and name, every rule loaded and the active
/// ones.
struct Loaded {
    config: ConfigFile,
    base: PathBuf,
    config_name: String,
    /// Where pattern files were named, for their errors.
    patterns_origin: String,
    all: Vec<Rule>,
    active: Vec<Rule>,
}

/// The active rules (built in and user rules, less the disabled ones), as
/// the config file and the overrides choose them; no policy is checked.
pub fn active_rules(overrides: &Overrides) -> Result<Vec<Rule>, ConfigError> {
    Ok(load(overrides)?.active)
}

fn load(overrides: &Overrides) -> Result<Loaded, ConfigError> {
    let (config, base) = match &overrides.config {
        Some(path) => (
            read_config(path)?,
            path.parent().map(Path::to_path_buf).unwrap_or_default(),
        ),
        None => (ConfigFile::default(), PathBuf::new()),
    };
    let config_name = overrides
        .config
        .as_ref()
        .map_or_else(|| "command line".to_string(), |p| p.display().to_string());

    // Rules: built in, then the config's pattern paths, then the CLI's.
    let in_config = |source| ConfigError::Catalog {
        origin: format!("{config_name}: patterns"),
        source,
    };
    let mut all: Vec<Rule> = rules::builtin_rules();
    for p in &config.patterns {
        all.extend(rules::load_pattern_path(&base.join(p)).map_err(in_config)?);
    }
    for p in &overrides.patterns {
        all.extend(
            rules::load_pattern_path(p).map_err(|source| ConfigError::Catalog {
                origin: "--patterns".into(),
                source,
            })?,
        );
    }
    let patterns_origin = match (config.patterns.is_empty(), overrides.patterns.is_empty()) {
        (false, true) | (true, true) => format!("{config_name}: patterns"),
        (true, false) => "--patterns".to_string(),
        (false, false) => format!("{config_name}: patterns and --patterns"),
    };
    rules::check_unique_ids(&all).map_err(|source| ConfigError::Catalog {
        origin: patterns_origin.clone(),
        source,
    })?;

    let known = |name: &str| all.iter().any(|r| r.id == name || r.family == name);
    let unknown = |place: &'static str, name: &str| ConfigError::UnknownRule {
        file: config_name.clone(),
        place,
        name: name.to_string(),
    };
    for name in config
        .disable
        .iter()
        .chain(&overrides.disable)
        .chain(&config.enable)
    {
        if !known(name) {
            return Err(unknown("disable/enable", name));
        }
    }
    let disabled = |r: &Rule| {
        let off = config
            .disable
            .iter()
            .chain(&overrides.disable)
            .any(|d| *d == r.id || *d == r.family);
        let on = config.enable.contains(&r.id);
        // Opt-in rules (`enabled = false`) run when `enable` names them
        // or their family.
        let opted_in = config.enable.iter().any(|e| *e == r.id || *e == r.family);
        (off && !on) || (!r.enabled && !opted_in)
    };
    let active: Vec<Rule> = all.iter().filter(|r| !disabled(r)).cloned().collect();
    Ok(Loaded {
        config,
        base,
        config_name,
        patterns_origin,
        all,
        active,
    })
}

/// Builds the engine from the config file (if any) and the overrides.
pub fn build(overrides: &Overrides) -> Result<Engine, ConfigError> {
    let Loaded {
        config,
        base,
        config_name,
        patterns_origin,
        all,
        active,
    } = load(overrides)?;
    let known = |name: &str| all.iter().any(|r| r.id == name || r.family == name);
    let unknown = |place: &'static str, name: &str| ConfigError::UnknownRule {
        file: config_name.clone(),
        place,
        name: name.to_string(),
    };
    let scanner = Scanner::new(active).map_err(|source| ConfigError::Catalog {
        origin: patterns_origin,
        source,
    })?;
    let rules = scanner.rules().to_vec();
    let mut policy = Policy::labels(&rules);

    // Actions: families first, then ids, then the command line.
    let mut actions: Vec<(String, Action)> = Vec::new();
    let mut by_family: Vec<(&String, &String)> = config
        .actions
        .iter()
        .filter(|(k, _)| !all.iter().any(|r| r.id == **k))
        .collect();
    by_family.extend(
        config
            .actions
            .iter()
            .filter(|(k, _)| all.iter().any(|r| r.id == **k)),
    );
    for (name, action) in by_family {
        if !known(name) {
            return Err(unknown("[actions]", name));
        }
        let a = Action::from_name(action).ok_or_else(|| ConfigError::UnknownAction {
            file: config_name.clone(),
            rule: name.clone(),
            action: action.clone(),
        })?;
        actions.push((name.clone(), a));
    }
    for spec in &overrides.actions {
        let (name, action) = spec
            .split_once('=')
            .ok_or_else(|| ConfigError::ActionFlagSyntax { spec: spec.clone() })?;
        if !known(name) {
            return Err(unknown("--action", name));
        }
        let a = Action::from_name(action)
            .ok_or_else(|| ConfigError::ActionFlagUnknown { spec: spec.clone() })?;
        actions.push((name.to_string(), a));
    }
    for (name, action) in &actions {
        for (i, r) in rules.iter().enumerate() {
            if r.id == *name || r.family == *name {
                policy.set_action(i, *action, r.always_label);
            }
        }
    }
    for (id, label) in &config.labels {
        let i = rules
            .iter()
            .position(|r| r.id == *id)
            .ok_or_else(|| unknown("[labels]", id))?;
        if label.is_empty() || !rules::label_is_safe(label) {
            return Err(ConfigError::UnsafeLabel {
                file: config_name.clone(),
                rule: id.clone(),
            });
        }
        policy.set_label(i, label);
    }

    if let Some(c) = &config.mask.char {
        let b = c.as_bytes();
        if b.len() != 1 || b[0].is_ascii_alphanumeric() || !b[0].is_ascii_graphic() {
            return Err(ConfigError::MaskChar {
                file: config_name.clone(),
                value: c.clone(),
            });
        }
        policy.mask_char = b[0];
    }
    if let Some(p) = &config.mask.pan {
        policy.pan_mask = PanMask::from_name(p).ok_or_else(|| ConfigError::PanMask {
            file: config_name.clone(),
            value: p.clone(),
        })?;
    }

    let bad_allow = |source| ConfigError::Allowlist {
        file: config_name.to_string(),
        section: "allowlist".into(),
        source,
    };
    policy.set_global_allowlist(
        Allowlist::new(&config.allowlist.values, &config.allowlist.regexes).map_err(bad_allow)?,
    );
    for (id, allow) in &config.allowlist.rules {
        if !all.iter().any(|r| r.id == *id) {
            return Err(unknown("[allowlist.rules]", id));
        }
        if let Some(i) = rules.iter().position(|r| r.id == *id) {
            let list = Allowlist::new(&allow.values, &allow.regexes).map_err(|source| {
                ConfigError::Allowlist {
                    file: config_name.to_string(),
                    section: format!("allowlist.rules.{id}"),
                    source,
                }
            })?;
            policy.set_allowlist(i, list);
        }
    }

    let key_available = overrides.hash_key_file.is_some()
        || config.hash.key_file.is_some()
        || std::env::var_os(HASH_KEY_ENV).is_some();
    if policy.needs_key() || (overrides.fingerprints && key_available) {
        let key_file = match (&overrides.hash_key_file, &config.hash.key_file) {
            (Some(path), _) => Some(("--hash-key-file".to_string(), path.clone())),
            (None, Some(path)) => {
                Some((format!("{config_name}: [hash] key_file"), base.join(path)))
            }
            (None, None) => None,
        };
        // Where the key comes from, to name it if it is unusable.
        let key_origin = match (&overrides.hash_key_file, &config.hash.key_file) {
            (Some(path), _) => format!("--hash-key-file {}", path.display()),
            (None, Some(path)) => format!("[hash] key_file {}", base.join(path).display()),
            (None, None) => format!("the hash key in {HASH_KEY_ENV}"),
        };
        let secret = match key_file {
            Some((origin, path)) => std::fs::read(&path)
                .map_err(|source| ConfigError::HashKeyFile {
                    origin,
                    path: path.clone(),
                    source,
                })
                .map(|mut k| {
                    while k.last().is_some_and(|b| b.is_ascii_whitespace()) {
                        k.pop();
                    }
                    k
                })?,
            None => std::env::var_os(HASH_KEY_ENV)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| ConfigError::MissingHashKey {
                    file: config_name.clone(),
                })?,
        };
        let id = config.hash.key_id.as_deref().unwrap_or("k1");
        let key = HashKey::new(id, &secret).map_err(|source| ConfigError::Policy {
            file: config_name.clone(),
            key: match source {
                crate::policy::PolicyError::HashKeyId { .. } => "[hash] key_id".to_string(),
                _ => key_origin.clone(),
            },
            source,
        })?;
        let length = config
            .hash
            .length
            .unwrap_or(crate::policy::hash::DEFAULT_TOKEN_CHARS);
        policy.set_hasher(Some(Hasher::new(key, length)));
    }
    policy.check().map_err(|source| ConfigError::Policy {
        file: config_name.clone(),
        key: "[actions]".into(),
        source,
    })?;

    let overlong = match config.overlong.as_deref() {
        None | Some("replace") => OverlongPolicy::Replace,
        Some("drop") => OverlongPolicy::Drop,
        Some(other) => {
            return Err(ConfigError::Overlong {
                file: config_name.clone(),
                value: other.to_string(),
            })
        }
    };
    // A setting is named by its flag when the command line gave it.
    let origin = |from_flag: bool, flag: &str| {
        if from_flag {
            flag.to_string()
        } else {
            config_name.clone()
        }
    };
    let max_line_bytes = overrides
        .max_line_bytes
        .or(config.max_line_bytes)
        .unwrap_or(crate::framing::DEFAULT_MAX_LINE_BYTES);
    if max_line_bytes == 0 {
        return Err(ConfigError::ZeroLineLimit {
            origin: origin(overrides.max_line_bytes.is_some(), "--max-line-bytes"),
        });
    }
    let format_name = overrides
        .format
        .as_deref()
        .or(config.format.as_deref())
        .unwrap_or("auto");
    let format = crate::format::Format::from_name(format_name).ok_or_else(|| {
        ConfigError::UnknownFormat {
            origin: origin(overrides.format.is_some(), "--format"),
            value: format_name.to_string(),
        }
    })?;
    let mut keys: BTreeMap<String, String> = crate::format::DEFAULT_SENSITIVE_KEYS
        .iter()
        .map(|(k, r)| (k.to_string(), r.to_string()))
        .collect();
    for (key, rule) in &config.sensitive_keys {
        if rule == "off" {
            // `client_secret`, `ClientSecret` and `clientsecret` are one key.
            let norm = |k: &str| -> String {
                k.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .map(|c| c.to_ascii_lowercase())
                    .collect()
            };
            keys.retain(|k, _| norm(k) != norm(key));
        } else if !all.iter().any(|r| r.id == *rule) {
            return Err(ConfigError::SensitiveKeyRule {
                file: config_name.clone(),
                key: key.clone(),
                rule: rule.clone(),
            });
        } else {
            keys.insert(key.clone(), rule.clone());
        }
    }
    let scanner = scanner
        .with_policy(policy)
        .with_sensitive_keys(keys.iter().map(|(k, r)| (k.as_str(), r.as_str())));
    Ok(Engine {
        format,
        scanner: Arc::new(scanner),
        max_line_bytes,
        overlong,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("logscrub-config-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn scrub(engine: &Engine, line: &str) -> String {
        String::from_utf8(crate::redact::scrub_with(&engine.scanner, line.as_bytes())).unwrap()
    }

    #[test]
    fn unknown_keys_name_key_file_and_line() {
        let dir = tempdir("unknown");
        let p = write(
            &dir,
            "c.toml",
            "max_line_bytes = 10\n\n[mask]\ncolour = \"*\"\n",
        );
        let err = build(&Overrides {
            config: Some(p),
            ..Overrides::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("c.toml") && err.contains("colour") && err.contains("line 4"),
            "{err}"
        );
    }

    #[test]
    fn actions_labels_allowlists_and_disable() {
        let dir = tempdir("actions");
        let p = write(
            &dir,
            "c.toml",
            r#"
disable = ["stripe"]
enable = ["stripe_key"]
[actions]
pan = "mask"
cvv = "hash"
[labels]
email = "<email>"
[allowlist]
values = ["ops@example.com"]
[allowlist.rules.pan]
regexes = ['4242(?:[ -]?4242){3}']
"#,
        );
        let engine = build(&Overrides {
            config: Some(p),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(
            scrub(
                &engine,
                "card 4111-1111-1111-1111 cvv=123 a@b.com ops@example.com 4242424242424242"
            ),
            "card 4111-11**-****-1111 cvv=[CVV_REDACTED] <email> ops@example.com 4242424242424242"
        );
        assert_eq!(
            scrub(
                &engine,
                "cus_pXvoccSr2KT89E sk_live_DdFx4Yrn0YfBvX3zb6C7wZc6"
            ),
            "cus_pXvoccSr2KT89E [STRIPE_SECRET_KEY_REDACTED]"
        );
    }

    #[test]
    fn cli_overrides_and_errors() {
        let engine = build(&Overrides {
            actions: vec!["email=drop".into(), "keys=mask".into()],
            disable: vec!["ssn".into()],
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(
            scrub(
                &engine,
                "a@b.com\nssn 123-45-6789 ghp_dkc5EBM0YBL3oYerjNcpwYoub1PhXbuPBLgx\n"
            ),
            "ssn 123-45-6789 ghp_****\n"
        );
        for bad in [
            vec!["nope=mask".to_string()],
            vec!["pan=shred".to_string()],
            vec!["pan".to_string()],
        ] {
            assert!(build(&Overrides {
                actions: bad,
                ..Overrides::default()
            })
            .is_err());
        }
        assert!(build(&Overrides {
            disable: vec!["nope".into()],
            ..Overrides::default()
        })
        .is_err());
    }

    #[test]
    fn hash_needs_a_key_and_reads_a_key_file() {
        let dir = tempdir("hash");
        let err = build(&Overrides {
            actions: vec!["pan=hash".into()],
            hash_key_file: Some(dir.join("missing")),
            ..Overrides::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("missing"), "{err}");
        let key = write(&dir, "key", "a-very-secret-key-of-32-bytes!!!\n");
        let engine = build(&Overrides {
            actions: vec!["pan=hash".into()],
            hash_key_file: Some(key),
            ..Overrides::default()
        })
        .unwrap();
        let a = scrub(&engine, "4111 1111 1111 1111");
        assert_eq!(a, scrub(&engine, "4111111111111111"));
        assert!(a.starts_with("[CARD:k1:") && !a.contains("4111"), "{a}");
    }

    /// Builds with the config file `text` (named `bad.toml`) and `overrides`,
    /// expecting an error.
    fn config_error(tag: &str, text: &str, overrides: Overrides) -> (ConfigError, String, String) {
        let dir = tempdir(tag);
        let p = write(&dir, "bad.toml", text);
        let file = p.display().to_string();
        let err = build(&Overrides {
            config: Some(p),
            ..overrides
        })
        .err()
        .expect("a configuration error");
        let message = err.to_string();
        (err, message, file)
    }

    #[test]
    fn each_config_file_error_names_the_file_the_key_and_the_value() {
        // (config text, the variant, what the message must name besides the file)
        type Check = fn(&ConfigError) -> bool;
        let cases: &[(&str, Check, &[&str])] = &[
            (
                "[sensitive_keys]\npassword = \"no_such_rule\"\n",
                |e| matches!(e, ConfigError::SensitiveKeyRule { .. }),
                &["[sensitive_keys]", "password", "no_such_rule"],
            ),
            (
                "[actions]\npan = \"shred\"\n",
                |e| matches!(e, ConfigError::UnknownAction { .. }),
                &["[actions]", "pan", "shred"],
            ),
            (
                "[actions]\nnope = \"mask\"\n",
                |e| {
                    matches!(
                        e,
                        ConfigError::UnknownRule {
                            place: "[actions]",
                            ..
                        }
                    )
                },
                &["[actions]", "nope"],
            ),
            (
                "disable = [\"nope\"]\n",
                |e| matches!(e, ConfigError::UnknownRule { .. }),
                &["disable", "nope"],
            ),
            (
                "[labels]\nnope = \"x\"\n",
                |e| {
                    matches!(
                        e,
                        ConfigError::UnknownRule {
                            place: "[labels]",
                            ..
                        }
                    )
                },
                &["[labels]", "nope"],
            ),
            (
                "[labels]\nemail = \"mail1\"\n",
                |e| matches!(e, ConfigError::UnsafeLabel { .. }),
                &["[labels]", "email"],
            ),
            (
                "[allowlist.rules.nope]\nvalues = [\"x\"]\n",
                |e| matches!(e, ConfigError::UnknownRule { .. }),
                &["[allowlist.rules]", "nope"],
            ),
            (
                "[mask]\nchar = \"ab\"\n",
                |e| matches!(e, ConfigError::MaskChar { .. }),
                &["[mask] char", "ab"],
            ),
            (
                "[mask]\npan = \"first4\"\n",
                |e| matches!(e, ConfigError::PanMask { .. }),
                &["[mask] pan", "first4"],
            ),
            (
                "[actions]\npan = \"hash\"\n[hash]\nkey_file = \"no-such-key\"\n",
                |e| matches!(e, ConfigError::HashKeyFile { .. }),
                &["[hash] key_file", "no-such-key"],
            ),
            (
                "overlong = \"truncate\"\n",
                |e| matches!(e, ConfigError::Overlong { .. }),
                &["overlong", "truncate"],
            ),
            (
                "max_line_bytes = 0\n",
                |e| matches!(e, ConfigError::ZeroLineLimit { .. }),
                &["max_line_bytes"],
            ),
            (
                "format = \"xml\"\n",
                |e| matches!(e, ConfigError::UnknownFormat { .. }),
                &["format", "xml"],
            ),
        ];
        for (i, (text, is_variant, names)) in cases.iter().enumerate() {
            let (err, message, file) =
                config_error(&format!("variant{i}"), text, Overrides::default());
            assert!(is_variant(&err), "{text}: {err:?}");
            assert!(message.contains(&file), "{text}: {message}");
            for name in *names {
                assert!(message.contains(name), "{text}: {message} lacks {name}");
            }
        }
    }

    #[test]
    fn flag_errors_name_the_flag_and_its_value() {
        let flag = |overrides: Overrides| build(&overrides).err().expect("an error");
        let e = flag(Overrides {
            actions: vec!["pan".into()],
            ..Overrides::default()
        });
        assert!(matches!(e, ConfigError::ActionFlagSyntax { .. }), "{e:?}");
        assert!(e.to_string().contains("--action \"pan\""), "{e}");
        let e = flag(Overrides {
            actions: vec!["pan=shred".into()],
            ..Overrides::default()
        });
        assert!(matches!(e, ConfigError::ActionFlagUnknown { .. }), "{e:?}");
        assert!(e.to_string().contains("--action \"pan=shred\""), "{e}");
        let e = flag(Overrides {
            actions: vec!["nope=mask".into()],
            ..Overrides::default()
        });
        assert!(
            e.to_string()
                .starts_with("command line: --action names unknown")
                && e.to_string().contains("\"nope\""),
            "{e}"
        );
        let e = flag(Overrides {
            max_line_bytes: Some(0),
            ..Overrides::default()
        });
        assert_eq!(
            e.to_string(),
            "--max-line-bytes: max_line_bytes must be at least 1"
        );
        let e = flag(Overrides {
            format: Some("xml".into()),
            ..Overrides::default()
        });
        assert!(e.to_string().starts_with("--format: format \"xml\""), "{e}");
        let dir = tempdir("flagkey");
        let e = flag(Overrides {
            actions: vec!["pan=hash".into()],
            hash_key_file: Some(dir.join("absent-key")),
            ..Overrides::default()
        });
        assert!(matches!(e, ConfigError::HashKeyFile { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("--hash-key-file: hash key file ")
                && e.to_string().contains("absent-key"),
            "{e}"
        );
        // A flag wins over the file, and the message names the flag.
        let (_, message, _) = config_error(
            "flagwins",
            "format = \"json\"\n",
            Overrides {
                format: Some("xml".into()),
                ..Overrides::default()
            },
        );
        assert!(message.starts_with("--format:"), "{message}");
    }

    #[test]
    fn pattern_file_errors_name_the_config_file_or_the_flag_and_the_pattern_file() {
        let dir = tempdir("patterns");
        let broken = write(&dir, "broken.toml", "family = \"x\"\n[[rule]]\nid = 3\n");
        let broken_name = broken.display().to_string();
        // Named in the config file (relative to it).
        let (err, message, file) = config_error(
            "patterns",
            "patterns = [\"broken.toml\"]\n",
            Overrides::default(),
        );
        assert!(matches!(err, ConfigError::Catalog { .. }), "{err:?}");
        assert!(
            message.starts_with(&format!("{file}: patterns: pattern file "))
                && message.contains(&broken_name),
            "{message}"
        );
        // Named by the flag.
        let err = build(&Overrides {
            patterns: vec![broken.clone()],
            ..Overrides::default()
        })
        .err()
        .expect("an error");
        let message = err.to_string();
        assert!(
            message.starts_with("--patterns: pattern file ") && message.contains(&broken_name),
            "{message}"
        );
        // A rule the engine rejects (over its size limit), by the flag.
        let explode = write(
            &dir,
            "explode.toml",
            "family = \"mine\"\ndescription = \"d\"\n[[rule]]\nid = \"explode\"\ndescription = \"d\"\nregex = '''\\w{1000}{1000}'''\nlabel = \"[X]\"\n",
        );
        let message = build(&Overrides {
            patterns: vec![explode],
            ..Overrides::default()
        })
        .err()
        .expect("an error")
        .to_string();
        assert!(
            message.starts_with("--patterns: pattern file ")
                && message.contains("explode.toml")
                && message.contains("explode"),
            "{message}"
        );
        // A rule id used twice (across files): the config file, the id.
        let twice = "family = \"dup\"\ndescription = \"d\"\n[[rule]]\nid = \"dup_rule\"\ndescription = \"d\"\nregex = 'zz[0-9]{8}'\nlabel = \"[DUP]\"\n";
        write(&dir, "a.toml", twice);
        write(&dir, "b.toml", twice);
        let (err, message, file) = config_error(
            "patterns2",
            &format!(
                "patterns = [{:?}, {:?}]\n",
                dir.join("a.toml").display().to_string(),
                dir.join("b.toml").display().to_string()
            ),
            Overrides::default(),
        );
        assert!(matches!(err, ConfigError::Catalog { .. }), "{err:?}");
        assert!(
            message.starts_with(&format!("{file}: patterns: ")) && message.contains("dup_rule"),
            "{message}"
        );
    }

    #[test]
    fn hash_key_errors_name_the_config_file_and_the_key() {
        let dir = tempdir("hashkey");
        let short = write(&dir, "short.key", "too-short\n");
        let long = write(&dir, "long.key", "a-very-secret-key-of-32-bytes!!!\n");
        // A short key from `[hash] key_file`.
        let (err, message, file) = config_error(
            "shortkey",
            &format!(
                "[actions]\npan = \"hash\"\n[hash]\nkey_file = {:?}\n",
                short.display().to_string()
            ),
            Overrides::default(),
        );
        assert!(matches!(err, ConfigError::Policy { .. }), "{err:?}");
        assert!(
            message.starts_with(&format!("{file}: [hash] key_file "))
                && message.contains("short.key")
                && message.contains("at least 16 bytes")
                && !message.contains("too-short"),
            "{message}"
        );
        // A short key from `--hash-key-file`.
        let (_, message, file) = config_error(
            "shortflag",
            "[actions]\npan = \"hash\"\n",
            Overrides {
                hash_key_file: Some(short),
                ..Overrides::default()
            },
        );
        assert!(
            message.starts_with(&format!("{file}: --hash-key-file "))
                && message.contains("short.key")
                && message.contains("at least 16 bytes"),
            "{message}"
        );
        // A bad key id.
        let (err, message, file) = config_error(
            "keyid",
            &format!(
                "[actions]\npan = \"hash\"\n[hash]\nkey_file = {:?}\nkey_id = \"bad id!\"\n",
                long.display().to_string()
            ),
            Overrides::default(),
        );
        assert!(matches!(err, ConfigError::Policy { .. }), "{err:?}");
        assert!(
            message.starts_with(&format!("{file}: [hash] key_id: "))
                && message.contains("\"bad id!\""),
            "{message}"
        );
    }

    #[test]
    fn a_missing_hash_key_names_the_config_file_and_the_remedy() {
        if std::env::var_os(HASH_KEY_ENV).is_some() {
            return;
        }
        let (err, message, file) =
            config_error("nokey", "[actions]\npan = \"hash\"\n", Overrides::default());
        assert!(matches!(err, ConfigError::MissingHashKey { .. }), "{err:?}");
        assert!(
            message.contains(&file)
                && message.contains(HASH_KEY_ENV)
                && message.contains("key_file"),
            "{message}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 12, ..Default::default() })]

        /// Any unknown name, in any table that takes a rule, gives an error
        /// naming the config file, the table and the name.
        #[test]
        fn an_unknown_rule_anywhere_is_named_with_file_and_table(
            name in "zz[a-z_]{1,10}",
            place in 0usize..6,
        ) {
            let (text, table) = match place {
                0 => (format!("disable = [\"{name}\"]\n"), "disable"),
                1 => (format!("enable = [\"{name}\"]\n"), "enable"),
                2 => (format!("[actions]\n{name} = \"mask\"\n"), "[actions]"),
                3 => (format!("[labels]\n{name} = \"x\"\n"), "[labels]"),
                4 => (format!("[allowlist.rules.{name}]\nvalues = []\n"), "[allowlist.rules]"),
                _ => (format!("[sensitive_keys]\nsome_key = \"{name}\"\n"), "[sensitive_keys]"),
            };
            let (err, message, file) = config_error("prop", &text, Overrides::default());
            proptest::prop_assert!(
                matches!(err, ConfigError::UnknownRule { .. } | ConfigError::SensitiveKeyRule { .. }),
                "{:?}", err
            );
            proptest::prop_assert!(message.contains(&file), "{}", message);
            proptest::prop_assert!(message.contains(table), "{}", message);
            proptest::prop_assert!(message.contains(&format!("{name:?}")), "{}", message);
        }
    }
}
