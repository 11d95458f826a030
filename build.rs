//! Build script: the git revision for `--version`, the run report and
//! `logscrub_build_info`; and the built-in pattern files as JSON.
//!
//! Each `patterns/*.toml` is written to `$OUT_DIR/patterns/<name>.json`,
//! the same document, which the binary embeds and reads at start-up: JSON
//! parses in a fraction of TOML's time (TOML was a fifth of the start-up).
//! A pattern file that is not valid TOML fails the build, naming the file
//! and the line.
//!
//! `LOGSCRUB_GIT_REVISION` in the build environment wins (container builds
//! and release tooling, which have no `.git`); otherwise `git rev-parse` in
//! the source tree (the commit, not uncommitted edits: the script does
//! not run again for every edited file); else `unknown`. A build never
//! fails for want of git.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=LOGSCRUB_GIT_REVISION");
    let revision = match std::env::var("LOGSCRUB_GIT_REVISION") {
        Ok(r) if !r.trim().is_empty() => r.trim().to_string(),
        _ => from_git().unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=LOGSCRUB_GIT_REVISION={revision}");
    if let Err(e) = patterns_as_json() {
        panic!("{e}");
    }
}

/// Writes every built-in pattern file as JSON to `$OUT_DIR/patterns`.
fn patterns_as_json() -> Result<(), String> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("patterns");
    println!("cargo:rerun-if-changed={}", source.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| format!("OUT_DIR: {e}"))?)
        .join("patterns");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let entries = std::fs::read_dir(&source).map_err(|e| format!("{}: {e}", source.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("{}: {e}", source.display()))?
            .path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value: toml::Value =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let json = serde_json::to_string(&value).map_err(|e| format!("{}: {e}", path.display()))?;
        let target = out.join(path.with_extension("json").file_name().unwrap_or_default());
        std::fs::write(&target, json).map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(())
}

fn from_git() -> Option<String> {
    let revision = git(&["rev-parse", "--short=12", "HEAD"])?;
    // Build again when HEAD moves: HEAD itself (a branch switch or a
    // detached checkout), the branch's loose ref, or, when the branch is
    // packed, the refs directory (a commit then writes a loose ref) and
    // packed refs. Only paths that exist: a missing one would make cargo
    // run this script on every build.
    let at = |p: &str| {
        git(&["rev-parse", "--git-path", p])
            .map(|p| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p))
    };
    let branch = git(&["symbolic-ref", "-q", "HEAD"]).and_then(|r| at(&r));
    let mut watch = vec![at("HEAD"), at("packed-refs")];
    match branch {
        Some(loose) if loose.exists() => watch.push(Some(loose)),
        _ => watch.push(at("refs/heads")),
    }
    for path in watch.into_iter().flatten().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Some(revision)
}
