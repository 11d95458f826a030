//! Packaging on the real binary: `--version` names the git revision, the
//! shell completions work in a real bash, the man pages render with groff
//! without a warning and list every flag, and the release binary carries
//! no debug info.

use std::process::{Command, Stdio};

mod common;

use common::process::{assert_success, has_command};
use common::{run_command, temp_dir, BIN};

/// The binary with `args` and an empty standard input, to its exit.
fn logscrub(args: &[&str]) -> std::process::Output {
    common::run(args, "")
}

#[test]
fn version_names_the_package_version_and_the_git_revision() {
    let out = logscrub(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let expected_prefix = format!("logscrub {} (rev ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&expected_prefix), "{text}");
    let revision = text
        .trim()
        .strip_prefix(&expected_prefix)
        .and_then(|r| r.strip_suffix(')'))
        .unwrap();
    match std::env::var("LOGSCRUB_GIT_REVISION") {
        Ok(r) if !r.trim().is_empty() => assert_eq!(revision, r.trim()),
        _ => {
            let head = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output();
            match head {
                Ok(h) if h.status.success() => {
                    assert_eq!(revision, String::from_utf8(h.stdout).unwrap().trim())
                }
                // No git or no repository: the build says so.
                _ => assert_eq!(revision, "unknown"),
            }
        }
    }
}

/// Asks bash's programmable completion what it offers for `words`.
fn bash_complete(script: &str, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        "{script}\nCOMP_WORDS=({line})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n_logscrub logscrub '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let mut bash = Command::new("bash");
    bash.args(["--norc", "--noprofile", "-s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = run_command(bash, program);
    assert_success(&out);
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn bash_completes_subcommands_flags_and_values() {
    let out = logscrub(&["completions", "bash"]);
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    let offered = bash_complete(&script, &["logscrub", "sc"]);
    assert_eq!(offered, ["scan"]);
    let offered = bash_complete(&script, &["logscrub", "scan", "--report-f"]);
    assert_eq!(offered, ["--report-format"]);
    let offered = bash_complete(&script, &["logscrub", "scan", "--report-format", ""]);
    assert_eq!(offered, ["table", "json", "sarif"]);
    let offered = bash_complete(&script, &["logscrub", "--rep"]);
    assert_eq!(offered, ["--report"]);
}

#[test]
fn every_shell_has_a_completion_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = logscrub(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("report-format") && text.contains("scan"),
            "{shell}"
        );
    }
    assert_eq!(logscrub(&["completions", "tcsh"]).status.code(), Some(64));
}

/// Every long flag of a command, from its `--help`.
fn long_flags(help: &str) -> Vec<String> {
    help.split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches([',', '.', ':', ')', '`', '\''])
                .split('=')
                .next()
                .unwrap()
                .to_string()
        })
        .filter(|w| w[2..].chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .collect()
}

#[test]
fn man_pages_render_and_document_every_flag() {
    let dir = temp_dir("man");
    let out = logscrub(&["man", "--out-dir", dir.to_str().unwrap()]);
    assert_success(&out);
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "logscrub-completions.1",
            "logscrub-explain.1",
            "logscrub-man.1",
            "logscrub-rules-list.1",
            "logscrub-rules-test.1",
            "logscrub-rules.1",
            "logscrub-scan.1",
            "logscrub.1",
        ]
    );
    // `logscrub man` prints the main page.
    let main = logscrub(&["man"]).stdout;
    assert_eq!(main, std::fs::read(dir.join("logscrub.1")).unwrap());

    for (page, args) in [
        ("logscrub.1", &["--help"][..]),
        ("logscrub-scan.1", &["scan", "--help"]),
        ("logscrub-rules-test.1", &["rules", "test", "--help"]),
    ] {
        let roff = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(roff.contains(".TH "), "{page}");
        let help = String::from_utf8(logscrub(args).stdout).unwrap();
        let flags = long_flags(&help);
        assert!(flags.len() > 5, "{page}: {flags:?}");
        // roff escapes dashes: `\-\-report\-format`.
        for flag in flags {
            let escaped = flag.replace('-', "\\-");
            assert!(roff.contains(&escaped), "{page} lacks {flag}");
        }
        if has_command("groff") {
            // Rendered by the real formatter as man(1) runs it (-k: preconv
            // for UTF-8), every warning on.
            let out = Command::new("groff")
                .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
                .arg(dir.join(page))
                .output()
                .unwrap();
            assert!(out.status.success(), "{page}");
            assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{page}");
        }
    }
}

/// Section names of an ELF file (64-bit little-endian, as on the CI
/// machines).
fn elf_sections(bytes: &[u8]) -> Vec<String> {
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!((bytes[4], bytes[5]), (2, 1), "64-bit little-endian ELF");
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let header = |i: usize| shoff + i * shentsize;
    let strtab = u64_at(header(shstrndx) + 0x18);
    (0..shnum)
        .map(|i| {
            let name = strtab
                + u32::from_le_bytes(bytes[header(i)..header(i) + 4].try_into().unwrap()) as usize;
            let end = name + bytes[name..].iter().position(|&b| b == 0).unwrap();
            String::from_utf8_lossy(&bytes[name..end]).into_owned()
        })
        .collect()
}

#[test]
fn the_release_binary_has_no_debug_info() {
    // Only meaningful for the release profile (tests also run in debug).
    if !BIN.contains("/release/") || !cfg!(all(target_os = "linux", target_pointer_width = "64")) {
        return;
    }
    let sections = elf_sections(&std::fs::read(BIN).unwrap());
    assert!(sections.iter().any(|s| s == ".text"), "{sections:?}");
    let debug: Vec<&String> = sections
        .iter()
        .filter(|s| s.starts_with(".debug_"))
        .collect();
    assert!(
        debug.is_empty(),
        "debug sections in the release binary: {debug:?}"
    );
}
