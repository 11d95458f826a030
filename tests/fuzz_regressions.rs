//! Replays every input kept in `fuzz/regressions/` (crashers and inputs that
//! once exposed a bug) through the fuzz target's invariants, as a regular
//! test. To keep a new crasher: copy it from `fuzz/artifacts/scrub/` into
//! `fuzz/regressions/` with a name that says what it found.

#[allow(dead_code)]
#[path = "../fuzz/invariants.rs"]
mod invariants;

#[test]
fn every_kept_fuzz_input_holds_the_invariants() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        // The framers target's inputs are replayed by framer_regressions.rs.
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("framers-"))
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "regression inputs missing in {}",
        dir.display()
    );
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let result = std::panic::catch_unwind(|| invariants::check(&data));
        assert!(result.is_ok(), "{} breaks an invariant", file.display());
    }
}
