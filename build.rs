//! Build script: the git revision for `--version`, the run report and
//! `logscrub_build_info`.
//!
//! `LOGSCRUB_GIT_REVISION` in the build environment wins (container builds
//! and release tooling, which have no `.git`); otherwise `git rev-parse` in
//! the source tree (the commit, not uncommitted edits: the script does
//! not run again for every edited file); else `unknown`. A build never
//! fails for want of git.

use std::path::PathBuf;
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
