//! `droidforge completions <shell>` and `droidforge man`: generated from the clap definitions.
//!
//! Completions are dynamic (clap_complete's engine): the script printed here registers the
//! shell to call `COMPLETE=<shell> droidforge -- <words>` at each TAB, so droid names and
//! phase ids come from the manifest of the repository the user is in (see `src/main.rs`).

use clap::CommandFactory;

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::{Context, Result};

/// The environment variable of the completion protocol (clap_complete's default).
pub const COMPLETE_VAR: &str = "COMPLETE";

pub fn completions(ctx: &Ctx, args: &CompletionsArgs) -> Result<i32> {
    let shells = clap_complete::env::Shells::builtins();
    let name = args.shell.to_string();
    let shell = shells.completer(&name).ok_or_else(|| {
        droidforge::error::Error::usage(format!("no completion support for `{name}`"))
    })?;
    let mut out = Vec::new();
    shell
        .write_registration(
            COMPLETE_VAR,
            "droidforge",
            "droidforge",
            "droidforge",
            &mut out,
        )
        .context("cannot write the completion script")?;
    ctx.ui.data(&String::from_utf8_lossy(&out));
    Ok(0)
}

pub fn man(ctx: &Ctx, args: &ManArgs) -> Result<i32> {
    let Some(dir) = &args.dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .context("cannot render the man page")?;
        ctx.ui.data(&String::from_utf8_lossy(&out));
        return Ok(0);
    };
    let dir = ctx.cwd.join(dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    // droidforge.1 plus droidforge-<command>.1 for every visible command, which the top
    // page's SUBCOMMANDS section refers to.
    clap_mangen::generate_to(Cli::command(), &dir)
        .with_context(|| format!("cannot write man pages to `{}`", dir.display()))?;
    let pages = std::fs::read_dir(&dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "1"))
                .count()
        })
        .unwrap_or(0);
    ctx.ui.status(
        "Wrote",
        &format!(
            "{pages} man page{} to {}",
            if pages == 1 { "" } else { "s" },
            dir.display()
        ),
    );
    Ok(0)
}
