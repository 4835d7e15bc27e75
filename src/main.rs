//! The `droidforge` binary: parse, run, map the error to an exit code.

use clap::{CommandFactory, Parser};

mod cli;

fn main() {
    // A shell asking for completions (`COMPLETE=bash droidforge -- droidforge spawn co`) is
    // answered here and the process exits; otherwise this does nothing.
    clap_complete::CompleteEnv::with_factory(cli::Cli::command)
        .var(cli::commands::completions::COMPLETE_VAR)
        .complete();
    let cli = cli::Cli::parse();
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
