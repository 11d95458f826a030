//! Directory walking for `logscrub scan`: the regular files under a path,
//! in name order, minus the excluded ones.
//!
//! Guarantees: a path that is a file is returned as is (an explicit path is
//! never excluded); a directory is walked recursively in byte order of the
//! names, so the order is the same on every run; an entry whose path
//! matches an `--exclude` pattern is skipped, and an excluded directory is
//! not entered. Symbolic links to files are followed, symbolic links to
//! directories are not (no cycles). A directory that cannot be read is
//! reported through `on_error` and the walk goes on.

use std::path::{Path, PathBuf};

/// How patterns match: `*` also crosses `/`, so `*.gz` excludes compressed
/// files at any depth; `**` works as in shells.
const MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// Whether `path` matches one of `exclude`.
pub fn is_excluded(path: &Path, exclude: &[glob::Pattern]) -> bool {
    exclude.iter().any(|p| p.matches_path_with(path, MATCH))
}

/// The files to scan for `root`; errors go to `on_error` with the path at
/// fault. A `root` that does not exist is returned as is, so that opening
/// it reports the error.
pub fn files(
    root: &Path,
    exclude: &[glob::Pattern],
    on_error: &mut dyn FnMut(&Path, std::io::Error),
) -> Vec<PathBuf> {
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => {
            let mut out = Vec::new();
            walk(root, exclude, on_error, &mut out);
            out
        }
        _ => vec![root.to_path_buf()],
    }
}

fn walk(
    dir: &Path,
    exclude: &[glob::Pattern],
    on_error: &mut dyn FnMut(&Path, std::io::Error),
    out: &mut Vec<PathBuf>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return on_error(dir, e),
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => paths.push(e.path()),
            Err(e) => on_error(dir, e),
        }
    }
    paths.sort();
    for path in paths {
        if is_excluded(&path, exclude) {
            continue;
        }
        let Ok(link) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if link.is_dir() {
            walk(&path, exclude, on_error, out);
        } else if link.is_file()
            || (link.file_type().is_symlink()
                && std::fs::metadata(&path).is_ok_and(|m| m.is_file()))
        {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_in_order_and_prunes_excluded_entries() {
        let root = std::env::temp_dir().join(format!("logscrub-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for dir in ["b", "a/deep", "vendor/x"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            "z.log",
            "b/1.log",
            "a/deep/2.log",
            "a/old.log.gz",
            "vendor/x/3.log",
        ] {
            std::fs::write(root.join(file), b"x\n").unwrap();
        }
        #[cfg(unix)]
        {
            // A link back up the tree is not followed; a link to a file is.
            std::os::unix::fs::symlink(&root, root.join("b/loop")).unwrap();
            std::os::unix::fs::symlink(root.join("z.log"), root.join("b/link.log")).unwrap();
        }
        let exclude = vec![
            glob::Pattern::new("*.gz").unwrap(),
            glob::Pattern::new("**/vendor").unwrap(),
        ];
        let mut errors = 0;
        let got = files(&root, &exclude, &mut |_, _| errors += 1);
        let rel: Vec<String> = got
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        let mut expected = vec!["a/deep/2.log", "b/1.log"];
        if cfg!(unix) {
            expected.push("b/link.log");
        }
        expected.push("z.log");
        assert_eq!(rel, expected);
        assert_eq!(errors, 0);
        // An explicit file is never excluded.
        let gz = root.join("a/old.log.gz");
        assert_eq!(files(&gz, &exclude, &mut |_, _| ()), vec![gz.clone()]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
