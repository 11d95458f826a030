//! docs/rules.md is the current output of `logscrub rules list --format
//! markdown`: a rule added or changed without regenerating it fails here.

use std::process::Command;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md");

#[test]
fn docs_rules_md_is_current() {
    let out = Command::new(env!("CARGO_BIN_EXE_logscrub"))
        .args(["rules", "list", "--format", "markdown"])
        .output()
        .expect("logscrub runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(
        generated,
        logscrub::rules::doc::reference_markdown(&logscrub::rules::builtin_rules())
    );
    let checked_in = std::fs::read_to_string(DOC).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/rules.md is stale: run `cargo run --release -- rules list --format markdown > docs/rules.md`"
    );
}

#[test]
fn the_catalog_is_broad_and_documented() {
    let rules = logscrub::rules::builtin_rules();
    assert!(rules.len() >= 150, "only {} rules", rules.len());
    for rule in &rules {
        assert!(!rule.description.trim().is_empty(), "{}", rule.id);
        assert!(!rule.examples.is_empty(), "{} has no examples", rule.id);
    }
    // Opt-in rules exist and are off in the default scanner.
    let scanner = logscrub::scan::Scanner::builtin();
    for id in ["phone", "ipv4", "ipv6"] {
        assert!(rules.iter().any(|r| r.id == id && !r.enabled), "{id}");
        assert!(scanner.rules().iter().all(|r| r.id != id), "{id} is on");
    }
    assert!(scanner.rules().iter().any(|r| r.id == "iban"));
}
