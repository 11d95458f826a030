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
    /// A pattern file is wrong.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The policy cannot be built (hash key, allowlist).
    #[error(transparent)]
    Policy(crate::policy::PolicyError),
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
    /// A value is wrong; the message names where.
    #[error("{0}")]
    Invalid(String),
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
    let mut all: Vec<Rule> = rules::builtin_rules();
    for p in &config.patterns {
        all.extend(rules::load_pattern_path(&base.join(p))?);
    }
    for p in &overrides.patterns {
        all.extend(rules::load_pattern_path(p)?);
    }
    rules::check_unique_ids(&all)?;

    let known = |name: &str| all.iter().any(|r| r.id == name || r.family == name);
    let unknown = |what: &str, name: &str| {
        ConfigError::Invalid(format!(
            "{config_name}: {what} names unknown rule or family {name:?} (see `logscrub rules list`)"
        ))
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
        all,
        active,
    } = load(overrides)?;
    let known = |name: &str| all.iter().any(|r| r.id == name || r.family == name);
    let unknown = |what: &str, name: &str| {
        ConfigError::Invalid(format!(
            "{config_name}: {what} names unknown rule or family {name:?} (see `logscrub rules list`)"
        ))
    };
    let scanner = Scanner::new(active)?;
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
        let a = Action::from_name(action).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "{config_name}: [actions] {name} = {action:?}: unknown action (label, mask, hash, drop)"
            ))
        })?;
        actions.push((name.clone(), a));
    }
    for spec in &overrides.actions {
        let (name, action) = spec.split_once('=').ok_or_else(|| {
            ConfigError::Invalid(format!(
                "--action {spec:?}: expected RULE=ACTION, e.g. pan=mask"
            ))
        })?;
        if !known(name) {
            return Err(unknown("--action", name));
        }
        let a = Action::from_name(action).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "--action {spec:?}: unknown action (label, mask, hash, drop)"
            ))
        })?;
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
            return Err(ConfigError::Invalid(format!(
                "{config_name}: [labels] {id}: a label must be non-empty, without digits, quotes, backslashes or control characters"
            )));
        }
        policy.set_label(i, label);
    }

    if let Some(c) = &config.mask.char {
        let b = c.as_bytes();
        if b.len() != 1 || b[0].is_ascii_alphanumeric() || !b[0].is_ascii_graphic() {
            return Err(ConfigError::Invalid(format!(
                "{config_name}: [mask] char = {c:?}: use one ASCII punctuation character, e.g. \"*\""
            )));
        }
        policy.mask_char = b[0];
    }
    if let Some(p) = &config.mask.pan {
        policy.pan_mask = PanMask::from_name(p).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "{config_name}: [mask] pan = {p:?}: use first6_last4, last4 or none"
            ))
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
        let key_file = overrides
            .hash_key_file
            .clone()
            .or_else(|| config.hash.key_file.as_ref().map(|p| base.join(p)));
        let secret = match key_file {
            Some(path) => std::fs::read(&path)
                .map_err(|e| ConfigError::Invalid(format!("hash key file {}: {e}", path.display())))
                .map(|mut k| {
                    while k.last().is_some_and(|b| b.is_ascii_whitespace()) {
                        k.pop();
                    }
                    k
                })?,
            None => std::env::var_os(HASH_KEY_ENV)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "the hash action needs a key: set {HASH_KEY_ENV} or --hash-key-file (or [hash] key_file)"
                    ))
                })?,
        };
        let id = config.hash.key_id.as_deref().unwrap_or("k1");
        let key = HashKey::new(id, &secret).map_err(ConfigError::Policy)?;
        let length = config
            .hash
            .length
            .unwrap_or(crate::policy::hash::DEFAULT_TOKEN_CHARS);
        policy.set_hasher(Some(Hasher::new(key, length)));
    }
    policy.check().map_err(ConfigError::Policy)?;

    let overlong = match config.overlong.as_deref() {
        None | Some("replace") => OverlongPolicy::Replace,
        Some("drop") => OverlongPolicy::Drop,
        Some(other) => {
            return Err(ConfigError::Invalid(format!(
                "{config_name}: overlong = {other:?}: use \"replace\" or \"drop\""
            )))
        }
    };
    let max_line_bytes = overrides
        .max_line_bytes
        .or(config.max_line_bytes)
        .unwrap_or(crate::framing::DEFAULT_MAX_LINE_BYTES);
    if max_line_bytes == 0 {
        return Err(ConfigError::Invalid(
            "max_line_bytes must be at least 1".into(),
        ));
    }
    let format_name = overrides
        .format
        .as_deref()
        .or(config.format.as_deref())
        .unwrap_or("auto");
    let format = crate::format::Format::from_name(format_name).ok_or_else(|| {
        ConfigError::Invalid(format!(
            "{config_name}: format {format_name:?}: use auto, raw, json, docker, cri or logfmt"
        ))
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
            return Err(ConfigError::Invalid(format!(
                "{config_name}: [sensitive_keys] {key} = {rule:?}: unknown rule (or \"off\")"
            )));
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
}
