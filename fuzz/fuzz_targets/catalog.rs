//! Fuzz target: the config and pattern-file parsers. Any input gives a
//! clear error (naming the file) or a valid catalog that compiles, never a
//! panic or a hang (compilation is bounded by the NFA size limits).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match logscrub::rules::parse_pattern_file("fuzz.toml", &text) {
        Ok(rules) => {
            if let Err(e) = logscrub::scan::Scanner::new(rules) {
                assert!(e.to_string().contains("fuzz.toml"), "{e}");
            }
        }
        Err(e) => assert!(e.to_string().contains("fuzz.toml"), "{e}"),
    }
    if let Err(e) = logscrub::config::parse_config("fuzz-config.toml", &text) {
        assert!(e.to_string().contains("fuzz-config.toml"), "{e}");
    }
});
