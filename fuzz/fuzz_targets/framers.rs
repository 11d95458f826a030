//! Fuzz target: the socket framers (`framing::Framer` and
//! `framing::octet::OctetDecoder`) against the invariants of
//! `fuzz/framer_invariants.rs`: split independence, byte accounting,
//! `consumed()`, the memory bound, CRI partial runs, and octet counting
//! against a one-shot reference. Build and run: see `fuzz/README.md`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../framer_invariants.rs"]
mod framer_invariants;

fuzz_target!(|data: &[u8]| framer_invariants::check(data));
