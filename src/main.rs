//! The `droidforge` binary: parse, run, map the error to an exit code.

use clap::Parser;

fn main() {
    let cli = droidforge::cli::Cli::parse();
    let quiet = cli.quiet;
    let code = match droidforge::commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            droidforge::ui::Ui::new(quiet).error(&err);
            err.kind.code()
        }
    };
    std::process::exit(code);
}
