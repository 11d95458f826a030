//! Packaging helpers generated from the clap definitions, so they never
//! disagree with `--help`: shell completions (`clap_complete`) and man
//! pages (`clap_mangen`).

use std::io::{self, Write};
use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;

/// Writes the completion script for `shell` to `out`.
pub(crate) fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Cli::command(), "logscrub", out);
}

/// Writes the man page of the whole command (section 1) to `out`.
pub(crate) fn man(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

/// Writes `logscrub.1` and one page per subcommand (`logscrub-scan.1`,
/// `logscrub-rules-list.1`, ...) into `dir`, which must exist. Returns the
/// pages written.
pub(crate) fn man_pages(dir: &Path) -> io::Result<Vec<String>> {
    let mut written = Vec::new();
    let mut command = Cli::command();
    command.build();
    write_pages(&command, "logscrub", dir, &mut written)?;
    Ok(written)
}

fn write_pages(
    command: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<String>,
) -> io::Result<()> {
    let file = format!("{name}.1");
    let mut bytes = Vec::new();
    clap_mangen::Man::new(command.clone())
        .title(name.to_string())
        .render(&mut bytes)?;
    std::fs::write(dir.join(&file), bytes)?;
    written.push(file);
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        use clap::ValueEnum;
        for shell in clap_complete::Shell::value_variants() {
            let mut out = Vec::new();
            completions(*shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            for word in ["scan", "report-format", "completions"] {
                assert!(text.contains(word), "{shell}: no {word}");
            }
        }
    }
}
