//! Runs the `examples` and `survives` lines of every built-in rule through
//! the full default catalog (opt-in rules: through every built-in rule).

use std::sync::Arc;

use logscrub::redact::scrub_with;
use logscrub::rules::builtin_rules;
use logscrub::scan::Scanner;

#[test]
fn every_rule_example_holds() {
    let scanner = Arc::new(Scanner::builtin());
    let everything = Arc::new(Scanner::new(builtin_rules()).unwrap());
    let mut failures = Vec::new();
    let mut checked = 0;
    for rule in builtin_rules() {
        let scanner = if rule.enabled { &scanner } else { &everything };
        assert!(
            !rule.examples.is_empty(),
            "rule {} has no examples",
            rule.id
        );
        for ex in &rule.examples {
            let got = scrub_with(scanner, ex.input.as_bytes());
            if got != ex.output.as_bytes() {
                failures.push(format!(
                    "{} ({}): {:?}\n   expected {:?}\n   got      {:?}",
                    rule.id,
                    rule.source,
                    ex.input,
                    ex.output,
                    String::from_utf8_lossy(&got)
                ));
            }
            checked += 1;
        }
        for keep in &rule.survives {
            let got = scrub_with(scanner, keep.as_bytes());
            if got != keep.as_bytes() {
                failures.push(format!(
                    "{} ({}): must survive {:?}\n   got {:?}",
                    rule.id,
                    rule.source,
                    keep,
                    String::from_utf8_lossy(&got)
                ));
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} examples");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
