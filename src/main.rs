//! The `droidforge` binary: parse, run, map the error to an exit code.

use clap::{CommandFactory, FromArgMatches};

mod cli;

fn main() {
    // A shell asking for completions (`COMPLETE=bash droidforge -- droidforge spawn co`) is
    // answered here and the process exits; otherwise this does nothing.
    clap_complete::CompleteEnv::with_factory(cli::Cli::command)
        .var(cli::commands::completions::COMPLETE_VAR)
        .complete();
    // `Cli::parse()`, except that the parser's description (every subcommand and argument, a
    // few hundred allocations) is not freed: the process is about to do one thing and exit,
    // and freeing it cost ~0.14M instructions, 3% of a small `spawn`.
    let mut command = cli::Cli::command();
    let mut matches = command.get_matches_mut();
    let cli = cli::Cli::from_arg_matches_mut(&mut matches)
        .unwrap_or_else(|e| e.format(&mut command).exit());
    std::mem::forget(command);
    drop(matches);
    let quiet = cli.quiet;
    let code = match cli::commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            cli::ui::Ui::new(quiet).error(&err);
            cli::error::exit_code(&err)
        }
    };
    std::process::exit(code);
}
