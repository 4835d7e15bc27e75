//! One module per command; this file is the single dispatch.
//!
//! A command handler parses nothing itself: it takes the clap args, calls library code,
//! renders the report, and returns the process exit code (0, or 3/4/5 for merge outcomes).

use std::path::PathBuf;

use crate::cli::args::{Cli, Command};
use crate::cli::ui::Ui;
use droidforge::error::Result;

pub mod ask;
pub mod check;
pub mod completions;
pub mod demo;
pub mod doctor;
pub mod done;
pub mod events;
pub mod guard;
pub mod guard_hook;
pub mod init;
pub mod internal_stress;
pub mod internal_sweep;
pub mod lock;
pub mod locks;
pub mod merge;
pub mod plan;
pub mod pool;
pub mod progress;
pub mod remove;
pub mod run;
pub mod spawn;
pub mod status;
pub mod sync;
pub mod undo;
pub mod unlock;

/// What every handler gets.
pub struct Ctx {
    pub ui: Ui,
    /// The directory to act in (`-C` or the process cwd).
    pub cwd: PathBuf,
}

/// Run the parsed command; returns the exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let cwd = match &cli.directory {
        Some(dir) => {
            let base = std::env::current_dir()?;
            base.join(dir)
        }
        None => std::env::current_dir()?,
    };
    let ctx = Ctx {
        ui: Ui::new(cli.quiet),
        cwd,
    };
    // This binary has `internal-sweep`: the trash is emptied in a detached process.
    droidforge::state::trash::sweep_in_background();
    match cli.command {
        Command::Init(args) => init::run(&ctx, &args),
        Command::Plan(args) => plan::run(&ctx, &args),
        Command::Spawn(args) => spawn::run(&ctx, &args),
        Command::Run(args) => run::run(&ctx, &args),
        Command::Status(args) => status::run(&ctx, &args),
        Command::Done(args) => done::run(&ctx, &args),
        Command::Merge(args) => merge::run(&ctx, &args),
        Command::Sync(args) => sync::run(&ctx, &args),
        Command::Check(args) => check::run(&ctx, &args),
        Command::Progress(args) => progress::run(&ctx, &args),
        Command::Guard(args) => guard::run(&ctx, &args),
        Command::Lock(args) => lock::lock(&ctx, &args),
        Command::Unlock(args) => unlock::unlock(&ctx, &args),
        Command::Locks(args) => locks::locks(&ctx, &args),
        Command::Events(args) => events::run(&ctx, &args),
        Command::Ask(args) => ask::run(&ctx, &args),
        Command::Remove(args) => remove::remove(&ctx, &args),
        Command::Prune(args) => remove::prune(&ctx, &args),
        Command::Undo(args) => undo::run(&ctx, &args),
        Command::Doctor(args) => doctor::run(&ctx, &args),
        Command::Pool(args) => pool::run(&ctx, &args),
        Command::Mcp(args) => crate::cli::mcp::run(&ctx, &args),
        Command::Demo(args) => demo::run(&ctx, &args),
        Command::Completions(args) => completions::completions(&ctx, &args),
        Command::Man(args) => completions::man(&ctx, &args),
        Command::ScriptedAgent(args) => demo::scripted_agent(&ctx, &args),
        Command::InternalStress(args) => internal_stress::run(&ctx, &args),
        Command::InternalSweep => internal_sweep::run(&ctx),
    }
}
