//! Every run flag settable from the environment, as container manifests
//! expect: `--foo-bar` is also read from `LOGSCRUB_FOO_BAR`, and `--help`
//! shows the variable next to the flag (`[env: LOGSCRUB_FOO_BAR=]`).
//!
//! Contract: a flag given on the command line wins over its variable, and
//! the variable wins over the config file and the default. A repeatable
//! flag (`--input`, `--exclude`, `--listen`, `--action`, …) takes a
//! comma-separated list from its variable (and, for symmetry, also accepts
//! `--exclude a,b` on the command line). A switch (`--follow`, `--stats`)
//! takes `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`). Applied
//! to the top-level command only: subcommands (`scan`, `rules`, `explain`)
//! are tools run by hand or in CI and do not pick up a daemon's
//! environment, except `LOGSCRUB_CONFIG`. Positional arguments, `--help`
//! and `--version` have no variable.

use clap::{Arg, ArgAction, Command};

/// The prefix of every variable.
pub const PREFIX: &str = "LOGSCRUB_";

/// The variable of the flag `--long`: `LOGSCRUB_` and the name in upper
/// case with `-` as `_`.
pub fn var_name(long: &str) -> String {
    format!("{PREFIX}{}", long.to_ascii_uppercase().replace('-', "_"))
}

/// `command` with an environment variable on each of its own flags that
/// has none yet.
pub fn with_env(command: Command) -> Command {
    command.mut_args(add_env)
}

fn add_env(arg: Arg) -> Arg {
    let Some(long) = arg.get_long().map(var_name) else {
        return arg;
    };
    if arg.get_env().is_some()
        || matches!(
            arg.get_action(),
            ArgAction::Help | ArgAction::HelpLong | ArgAction::HelpShort | ArgAction::Version
        )
    {
        return arg;
    }
    let arg = match arg.get_action() {
        ArgAction::Append => arg.value_delimiter(','),
        ArgAction::SetTrue => arg.value_parser(clap::builder::BoolishValueParser::new()),
        _ => arg,
    };
    // clap keeps borrowed names without its `string` feature: leak the
    // few names once (one per flag, at start-up).
    arg.env(&*Box::leak(long.into_boxed_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser, Debug)]
    struct Cli {
        #[arg(long)]
        input: Vec<String>,
        #[arg(long)]
        follow: bool,
        #[arg(long, default_value_t = 10)]
        shutdown_timeout: u64,
        #[arg(long, env = "OTHER_NAME")]
        config: Option<String>,
        positional: Vec<String>,
    }

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Cli, clap::Error> {
        // Variables are read through the process environment: each test
        // uses its own names (`LOGSCRUB_` flags of this test command).
        for (k, v) in env {
            std::env::set_var(k, v);
        }
        let matches = with_env(Cli::command())
            .try_get_matches_from(std::iter::once("t").chain(args.iter().copied()));
        for (k, _) in env {
            std::env::remove_var(k);
        }
        Cli::from_arg_matches(&matches?)
    }

    #[test]
    fn variables_fill_unset_flags() {
        assert_eq!(var_name("ignore-older"), "LOGSCRUB_IGNORE_OLDER");
        let cli = parse(
            &[],
            &[
                ("LOGSCRUB_INPUT", "/a/*.log,/b/*.log"),
                ("LOGSCRUB_FOLLOW", "true"),
                ("LOGSCRUB_SHUTDOWN_TIMEOUT", "3"),
            ],
        )
        .unwrap();
        assert_eq!(cli.input, ["/a/*.log", "/b/*.log"]);
        assert!(cli.follow);
        assert_eq!(cli.shutdown_timeout, 3);
        // The command line wins.
        let cli = parse(
            &["--input", "/c.log", "--shutdown-timeout", "5"],
            &[
                ("LOGSCRUB_INPUT", "/a.log"),
                ("LOGSCRUB_SHUTDOWN_TIMEOUT", "3"),
            ],
        )
        .unwrap();
        assert_eq!(
            (cli.input, cli.shutdown_timeout),
            (vec!["/c.log".into()], 5)
        );
        for (value, expected) in [("false", false), ("0", false), ("yes", true), ("on", true)] {
            assert_eq!(
                parse(&[], &[("LOGSCRUB_FOLLOW", value)]).unwrap().follow,
                expected
            );
        }
        assert!(parse(&[], &[("LOGSCRUB_FOLLOW", "maybe")]).is_err());
        // An existing variable name is kept; positionals get none.
        let help = with_env(Cli::command()).render_long_help().to_string();
        assert!(help.contains("[env: OTHER_NAME=]"), "{help}");
        assert!(!help.contains("LOGSCRUB_CONFIG") && !help.contains("LOGSCRUB_POSITIONAL"));
        assert!(help.contains("[env: LOGSCRUB_INPUT=]") && help.contains("[env: LOGSCRUB_FOLLOW="));
        assert!(!help.contains("LOGSCRUB_HELP"));
    }
}
