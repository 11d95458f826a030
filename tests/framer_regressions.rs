//! Replays every `fuzz/regressions/framers-*` input (crashers of the
//! `framers` fuzz target, and inputs that once exposed a framing bug)
//! through the target's invariants, `fuzz/framer_invariants.rs`, as a
//! regular test. To keep a new crasher: copy it from
//! `fuzz/artifacts/framers/` to `fuzz/regressions/framers-<what-it-found>`.

#[allow(dead_code)]
#[path = "../fuzz/framer_invariants.rs"]
mod framer_invariants;

#[test]
fn every_kept_framers_input_holds_the_invariants() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("framers-"))
        })
        .collect();
    files.sort();
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let result = std::panic::catch_unwind(|| framer_invariants::check(&data));
        assert!(result.is_ok(), "{} breaks an invariant", file.display());
    }
}

/// Hand-written inputs that reach each path of the invariants: over-long
/// lines whole and split, a `\r` at the limit, CRI partial runs, octet
/// frames with garbage. They hold today; a failure names the invariant.
#[test]
fn seed_inputs_hold_the_invariants() {
    let seeds: &[&[u8]] = &[
        b"",
        // max 4, bytewise-ish reads: over-long lines, terminated or not.
        b"\x03\x00\x01\x02ok\n0123456789abc\nfine\n0123456789",
        // max 4, whole reads: a long line arrives whole.
        b"\x03\x18\x00\x00ab\n0123456789\r\nabcd\r\nabcde\r\n",
        // max 4*8 = 32 is too small for a CRI line, 8*8*8 is not:
        // CRI partial runs held with push and spare/filled.
        b"\x07\x05\x11\x22x\n\x01part\n\x01part\n\x02end\ny\n\x01tail\n",
        b"\x3f\x07\x11\x22x\n\x01part\n\x03err\n\x02end\n\x01p\n\x01p",
        // Octet counting: frames, a cut frame, garbage.
        b"\x01\x08\x05\x06" as &[u8],
        b"\x01\x08\x05\x065 hello11 with space\n3 abc",
        b"\x01\x08\x05\x06hello world\n4 fine05 xxxxx\n2 ok12345678901 x\n2 ok12",
        b"\x01\x10\x05\x06\x05hello\xc3ab\n\x02\n\n\x42x",
    ];
    for seed in seeds {
        framer_invariants::check(seed);
    }
}
