//! Fuzz target: the invariants of `fuzz/invariants.rs` on arbitrary input
//! bytes. Build and run: see `fuzz/README.md`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../invariants.rs"]
mod invariants;

fuzz_target!(|data: &[u8]| invariants::check(data));
