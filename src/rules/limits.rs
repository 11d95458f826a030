//! The size limits every rule is compiled with. They belong to the catalog:
//! a rule is checked against them when it is loaded, and the scanner
//! compiles the whole catalog with the same ones.

use regex_automata::meta;

/// The size limits every rule is compiled with, alone and together. They
/// bound compile time and memory for pathological user patterns.
pub fn regex_config() -> meta::Config {
    meta::Config::new()
        .nfa_size_limit(Some(64 << 20))
        .onepass_size_limit(Some(0))
        .hybrid_cache_capacity(8 << 20)
}
