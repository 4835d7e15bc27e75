//! `droidforge status`: one table (or stable JSON) of every droid's state; `--watch` redraws.

use std::io::IsTerminal;

use super::Ctx;
use crate::cli::args::*;
use crate::cli::render::status::render_table;
use droidforge::error::{Context, Result};
use droidforge::ops::status::status;
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<i32> {
    loop {
        let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
        // Like every command, `status` infers the droid inside its worktree; `--all` (or the
        // main worktree) shows them all.
        let droids = match (&args.droid, args.all) {
            (Some(name), _) => vec![ws.forge.require_droid(name)?],
            (None, true) => Vec::new(),
            (None, false) => match ws.current_droid() {
                Some(name) => vec![ws.forge.require_droid(&name)?],
                None => Vec::new(),
            },
        };
        let report = status(&ws, &droids)?;
        let text = if args.json {
            crate::cli::ui::json::to_string_pretty(&report)
                .context("cannot serialize the status")?
        } else {
            render_table(&report, &ws.root, crate::cli::ui::stdout_width())
        };
        let Some(secs) = args.watch else {
            ctx.ui.data(&text);
            return Ok(0);
        };
        // Clear the screen and home the cursor before each redraw (only on a terminal).
        let clear = if std::io::stdout().is_terminal() {
            "\x1b[2J\x1b[H"
        } else {
            ""
        };
        if ctx.ui.try_data(&format!("{clear}{text}")).is_err() {
            // The reader went away (`| head`): stop watching.
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_secs(secs.max(1)));
    }
}
