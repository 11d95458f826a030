//! The rule catalog: detection rules loaded from TOML pattern files.
//!
//! A pattern file holds one family of rules (`cards`, `stripe`, `keys`,
//! `cloud`, `forges`, `ai`, ...). The built-in files in `patterns/` are embedded into the
//! binary at build time, so `logscrub` works alone with no configuration.
//!
//! Every rule is checked when it is loaded: its regex must compile in ASCII
//! byte mode, must not match the empty string, its validator must exist and
//! its ids must be unique. Errors name the file, the rule and the reason.

pub mod checksum;
pub mod doc;
pub mod limits;
pub mod mask_style;
pub mod validate;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use limits::regex_config;
pub use mask_style::MaskStyle;
pub use validate::{Rejection, Validator};

/// A built-in pattern file: its name in `patterns/` and its text as JSON
/// (written by the build script from the TOML file, the same document).
pub struct BuiltinFile {
    /// `patterns/<name>.toml`, as errors and `rules list` name it.
    pub name: &'static str,
    /// The file as JSON.
    pub json: &'static str,
}

macro_rules! builtin_files {
    ($($stem:literal),* $(,)?) => {
        &[$(BuiltinFile {
            name: concat!("patterns/", $stem, ".toml"),
            json: include_str!(concat!(env!("OUT_DIR"), "/patterns/", $stem, ".json")),
        }),*]
    };
}

/// The built-in pattern files, in priority order: when two rules match at
/// the same position, the one loaded first wins.
pub const BUILTIN_FILES: &[BuiltinFile] = builtin_files![
    "cloud",
    "keys",
    "cards",
    "stripe",
    "forges",
    "ai",
    "commerce",
    "messaging",
    "saas",
    "urls",
    "pii",
    "bank",
    "personal",
    "generic",
];

/// One detection rule, as written in a pattern file and checked.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Unique id, e.g. `pan`; used in metrics labels and on the command line.
    pub id: String,
    /// The family (the pattern file's `family`), e.g. `cards`.
    pub family: String,
    /// One sentence on what the rule finds.
    pub description: String,
    /// The regex, compiled in ASCII byte mode. A group named `secret`, if
    /// present, is the part that gets redacted; otherwise the whole match.
    pub regex: String,
    /// The check that confirms a candidate, if any.
    pub validator: Option<Validator>,
    /// The replacement text, e.g. `[CARD_REDACTED]`.
    pub label: String,
    /// Inputs with the output expected from the default rules.
    pub examples: Vec<Example>,
    /// Inputs that must come out unchanged.
    pub survives: Vec<String>,
    /// Where the rule came from (a path, or `patterns/x.toml` when built in).
    pub source: String,
    /// How the `mask` action masks this rule's values.
    pub mask: MaskStyle,
    /// The label is written whatever action is configured (the CVV).
    pub always_label: bool,
    /// When not empty, the rule runs only on lines holding one of these
    /// literals (ASCII case-insensitive).
    pub keywords: Vec<String>,
    /// The minimum Shannon entropy (bits per byte) of the redacted text.
    pub entropy: Option<f64>,
    /// False for an opt-in rule: loaded, listed, but off unless a config
    /// file's `enable` names it or its family.
    pub enabled: bool,
}

/// A rule example: `input` must scrub to `output`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// A log line.
    pub input: String,
    /// What the default rules turn it into.
    pub output: String,
}

/// An error in a pattern file.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file is not valid TOML or has unknown or missing fields.
    #[error("pattern file {file}: {detail}")]
    Parse {
        /// The file.
        file: String,
        /// Line, column and the parser's message (never the line's text,
        /// which may hold a secret).
        detail: String,
    },
    /// The file could not be read.
    #[error("pattern file {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// A rule names a validator that does not exist.
    #[error("pattern file {file}, rule {rule}: unknown validator {name:?} (known: {known})")]
    UnknownValidator {
        file: String,
        rule: String,
        name: String,
        known: String,
    },
    /// A rule's regex does not compile.
    #[error("pattern file {file}, rule {rule}: invalid regex: {source}")]
    Regex {
        file: String,
        rule: String,
        #[source]
        source: Box<regex_automata::meta::BuildError>,
    },
    /// A rule is unusable for another reason (empty match, bad label, ...).
    #[error("pattern file {file}, rule {rule}: {reason}")]
    Invalid {
        file: String,
        rule: String,
        reason: String,
    },
    /// Two rules share an id.
    #[error("pattern file {file}, rule {rule}: duplicate rule id (first defined in {first})")]
    DuplicateId {
        file: String,
        rule: String,
        first: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternFile {
    family: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(rename = "rule", default)]
    rules: Vec<RuleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    description: String,
    regex: String,
    #[serde(default)]
    validator: Option<String>,
    label: String,
    #[serde(default)]
    examples: Vec<Example>,
    #[serde(default)]
    survives: Vec<String>,
    #[serde(default)]
    mask: Option<String>,
    #[serde(default)]
    always_label: bool,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default = "default_true")]
    enabled: bool,
}

fn default_true() -> bool {
    true
}

/// Parses one pattern file's text; `file` names it in errors.
pub fn parse_pattern_file(file: &str, text: &str) -> Result<Vec<Rule>, CatalogError> {
    parse_checked(file, text, true)
}

/// Parses a pattern file; `check` also checks each rule and compiles it
/// alone. The built-in files skip both at start-up (parsing their regexes
/// twice was a fifth of the start-up): unit tests check and compile them.
fn parse_checked(file: &str, text: &str, check: bool) -> Result<Vec<Rule>, CatalogError> {
    let parsed: PatternFile = toml::from_str(text).map_err(|e| CatalogError::Parse {
        file: file.to_string(),
        detail: toml_error_detail(text, &e),
    })?;
    rules_of(file, parsed, check)
}

/// The rules of a parsed pattern file, checked when `check`.
fn rules_of(file: &str, parsed: PatternFile, check: bool) -> Result<Vec<Rule>, CatalogError> {
    let mut rules = Vec::with_capacity(parsed.rules.len());
    for spec in parsed.rules {
        let validator =
            match &spec.validator {
                None => None,
                Some(name) => Some(Validator::from_name(name).ok_or_else(|| {
                    CatalogError::UnknownValidator {
                        file: file.to_string(),
                        rule: spec.id.clone(),
                        name: name.clone(),
                        known: Validator::NAMES.join(", "),
                    }
                })?),
            };
        let mask = match &spec.mask {
            Some(name) => MaskStyle::from_name(name).ok_or_else(|| CatalogError::Invalid {
                file: file.to_string(),
                rule: spec.id.clone(),
                reason: format!(
                    "unknown mask {name:?} (known: {})",
                    MaskStyle::NAMES.join(", ")
                ),
            })?,
            None => match validator {
                Some(Validator::Pan) => MaskStyle::Pan,
                Some(Validator::Ssn) => MaskStyle::Last4,
                _ => MaskStyle::Prefix,
            },
        };
        let rule = Rule {
            mask,
            always_label: spec.always_label,
            keywords: spec.keywords,
            entropy: spec.entropy,
            enabled: spec.enabled,
            id: spec.id,
            family: parsed.family.clone(),
            description: spec.description,
            regex: spec.regex,
            validator,
            label: spec.label,
            examples: spec.examples,
            survives: spec.survives,
            source: file.to_string(),
        };
        if check {
            check_rule(&rule)?;
            compile_check(&rule)?;
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// `line L, column C: message` for a TOML error, without quoting the
/// offending line (config and pattern files may hold secrets, and errors go
/// to stderr).
pub fn toml_error_detail(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_string(),
    }
}

/// Reads a pattern file from disk.
pub fn load_pattern_file(path: &Path) -> Result<Vec<Rule>, CatalogError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Read {
        file: name.clone(),
        source: e,
    })?;
    parse_pattern_file(&name, &text)
}

/// Reads every `*.toml` file of a directory, in name order, or one file.
pub fn load_pattern_path(path: &Path) -> Result<Vec<Rule>, CatalogError> {
    if !path.is_dir() {
        return load_pattern_file(path);
    }
    let read_err = |e| CatalogError::Read {
        file: path.display().to_string(),
        source: e,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(read_err)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut rules = Vec::new();
    for file in files {
        rules.extend(load_pattern_file(&file)?);
    }
    Ok(rules)
}

/// The embedded default catalog.
pub fn builtin_rules() -> Vec<Rule> {
    let mut rules = Vec::new();
    for file in BUILTIN_FILES {
        // The built-in files are tested; a failure here is a build bug.
        let parsed: PatternFile = serde_json::from_str(file.json)
            .unwrap_or_else(|e| panic!("built-in {}: {e}", file.name));
        match rules_of(file.name, parsed, false) {
            Ok(r) => rules.extend(r),
            Err(e) => panic!("built-in {e}"),
        }
    }
    rules
}

/// The embedded rules that are on by default (the opt-in ones left out).
pub fn default_rules() -> Vec<Rule> {
    builtin_rules().into_iter().filter(|r| r.enabled).collect()
}

/// Checks that ids are unique across a rule list.
pub fn check_unique_ids(rules: &[Rule]) -> Result<(), CatalogError> {
    let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for rule in rules {
        if let Some(first) = seen.insert(&rule.id, &rule.source) {
            return Err(CatalogError::DuplicateId {
                file: rule.source.clone(),
                rule: rule.id.clone(),
                first: first.to_string(),
            });
        }
    }
    Ok(())
}

/// The syntax every rule is compiled with: bytes, ASCII classes and `\b`.
pub fn syntax_config() -> regex_automata::util::syntax::Config {
    regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false)
}

fn check_rule(rule: &Rule) -> Result<(), CatalogError> {
    let invalid = |reason: String| CatalogError::Invalid {
        file: rule.source.clone(),
        rule: rule.id.clone(),
        reason,
    };
    if rule.id.is_empty()
        || !rule
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(invalid(
            "rule ids use lowercase letters, digits and '_'".into(),
        ));
    }
    if rule.label.is_empty() || !label_is_safe(&rule.label) {
        return Err(invalid(
            "a label must be non-empty, without digits (it could look like a secret), quotes, backslashes or control characters".into(),
        ));
    }
    if rule.description.trim().is_empty() {
        return Err(invalid("a description is required".into()));
    }
    if let Some(k) = rule
        .keywords
        .iter()
        .find(|k| k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
    {
        return Err(invalid(format!(
            "keyword {k:?}: keywords are non-empty printable ASCII"
        )));
    }
    if let Some(e) = rule.entropy {
        if !(0.0..=8.0).contains(&e) {
            return Err(invalid(format!(
                "entropy {e}: a minimum in bits per byte, between 0 and 8"
            )));
        }
    }
    let hir = regex_automata::util::syntax::parse_with(&rule.regex, &syntax_config())
        .map_err(|e| invalid(format!("invalid regex: {e}")))?;
    if hir.properties().minimum_len() == Some(0) {
        return Err(invalid("the regex can match the empty string".into()));
    }
    if can_match_newline(&hir) {
        return Err(invalid(
            "the regex can match a newline (lines are scanned one at a time; use [ \\t] instead of \\s)".into(),
        ));
    }
    Ok(())
}

/// Compiles `rule` alone with the size limits used for the whole catalog.
/// Only what can fail is built (the syntax and the NFA under its size
/// limit): the search engines a scanner adds to it fall back rather than
/// fail, and a full DFA per rule made this check most of the start-up with
/// hundreds of user rules.
pub fn compile_check(rule: &Rule) -> Result<(), CatalogError> {
    regex_automata::meta::Regex::builder()
        .syntax(syntax_config())
        .configure(
            regex_config()
                .dfa(false)
                .hybrid(false)
                .onepass(false)
                .backtrack(false)
                .auto_prefilter(false),
        )
        .build(&rule.regex)
        .map_err(|e| CatalogError::Regex {
            file: rule.source.clone(),
            rule: rule.id.clone(),
            source: Box::new(e),
        })?;
    Ok(())
}

/// True when `label` can replace a span of any text, JSON strings and
/// quoted fields included, and cannot look like a secret.
pub fn label_is_safe(label: &str) -> bool {
    label.bytes().all(|b| {
        !b.is_ascii_digit() && !matches!(b, b'"' | b'\\' | b'\'') && b >= 0x20 && b != 0x7f
    })
}

/// True when some match of `hir` can contain a `\n` byte.
pub(crate) fn can_match_newline(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(lit) => lit.0.contains(&b'\n'),
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= b'\n' && b'\n' <= r.end()),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= '\n' && '\n' <= r.end()),
        HirKind::Repetition(rep) => rep.max != Some(0) && can_match_newline(&rep.sub),
        HirKind::Capture(cap) => can_match_newline(&cap.sub),
        HirKind::Concat(items) | HirKind::Alternation(items) => items.iter().any(can_match_newline),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_loads() {
        let rules = builtin_rules();
        check_unique_ids(&rules).unwrap();
        for id in [
            "pan",
            "cvv",
            "email",
            "ssn",
            "jwt",
            "private_key",
            "routing",
            "account",
        ] {
            assert!(rules.iter().any(|r| r.id == id), "missing rule {id}");
        }
    }

    /// The embedded JSON is the TOML file: the same rules, in the same
    /// order, as a user's copy of `patterns/` loads them (checked); and
    /// every file of `patterns/` is embedded.
    #[test]
    fn builtin_json_is_the_toml_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut from_toml = Vec::new();
        for file in BUILTIN_FILES {
            let text = std::fs::read_to_string(dir.join(file.name)).unwrap();
            from_toml.extend(parse_pattern_file(file.name, &text).unwrap());
        }
        assert_eq!(format!("{:?}", builtin_rules()), format!("{from_toml:?}"));
        let mut on_disk: Vec<String> = std::fs::read_dir(dir.join("patterns"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".toml"))
            .map(|name| format!("patterns/{name}"))
            .collect();
        let mut embedded: Vec<String> = BUILTIN_FILES.iter().map(|f| f.name.to_string()).collect();
        on_disk.sort();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn every_builtin_rule_compiles_alone() {
        for rule in builtin_rules() {
            compile_check(&rule).unwrap();
        }
    }

    #[test]
    fn every_builtin_rule_passes_the_user_rule_checks() {
        for rule in builtin_rules() {
            check_rule(&rule).unwrap();
        }
    }

    #[test]
    fn errors_name_file_and_rule() {
        let text = "family = \"x\"\n[[rule]]\nid = \"bad\"\ndescription = \"d\"\nregex = \"(unclosed\"\nlabel = \"[X]\"\n";
        let err = parse_pattern_file("mine.toml", text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mine.toml") && err.contains("bad") && err.contains("regex"),
            "{err}"
        );

        let text = "family = \"x\"\n[[rule]]\nid = \"empty\"\ndescription = \"d\"\nregex = \"a*\"\nlabel = \"[X]\"\n";
        let err = parse_pattern_file("mine.toml", text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty string"), "{err}");

        let text = "family = \"x\"\n[[rule]]\nid = \"v\"\ndescription = \"d\"\nregex = \"a\"\nlabel = \"[X]\"\nvalidator = \"nope\"\n";
        let err = parse_pattern_file("mine.toml", text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown validator"), "{err}");

        let text = "family = \"x\"\n[[rule]]\nid = \"nl\"\ndescription = \"d\"\nregex = 'a\\s+b'\nlabel = \"[X]\"\n";
        let err = parse_pattern_file("mine.toml", text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("newline") && err.contains("nl"), "{err}");

        let text = "family = \"x\"\n[[rule]]\nid = \"v\"\ndescription = \"d\"\nregex = \"a\"\nlabel = \"[X]\"\ncolour = 1\n";
        let err = parse_pattern_file("mine.toml", text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("mine.toml") && err.contains("colour"), "{err}");
    }
}
