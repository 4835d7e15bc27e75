//! `droidforge status`: one table (or stable JSON) of every droid's state; `--watch` redraws.

use std::io::IsTerminal;

use super::Ctx;
use crate::cli::*;
use crate::error::Result;
use crate::status::{render_table, status};
use crate::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<i32> {
    let mut first = true;
    loop {
        let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
        if first {
            for w in &ws.forge.warnings {
                ctx.ui.warn(&w.render(&ws.forge.source));
            }
        }
        let droids = match &args.droid {
            Some(name) => vec![ws.forge.require_droid(name)?],
            None => Vec::new(),
        };
        let report = status(&ws, &droids)?;
        let text = if args.json {
            None
        } else {
            Some(render_table(&report, &ws.root))
        };
        match args.watch {
            Some(secs) => {
                if std::io::stdout().is_terminal() {
                    // Clear the screen and home the cursor before each redraw.
                    ctx.ui.data("\x1b[2J\x1b[H");
                }
                match &text {
                    Some(t) => ctx.ui.data(t),
                    None => ctx.ui.json(&report),
                }
                first = false;
                std::thread::sleep(std::time::Duration::from_secs(secs.max(1)));
            }
            None => {
                match &text {
                    Some(t) => ctx.ui.data(t),
                    None => ctx.ui.json(&report),
                }
                return Ok(0);
            }
        }
    }
}
