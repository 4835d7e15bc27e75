//! `droidforge pool refresh [--quiet] [--json]`: render [`droidforge::ops::pool::refresh`].

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::Result;
use droidforge::ops::pool;
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &PoolArgs) -> Result<i32> {
    let PoolAction::Refresh { quiet, json } = args.action;
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    let report = pool::refresh(&ws, true)?;
    if json {
        ctx.ui.json(&report);
        return Ok(0);
    }
    if quiet {
        return Ok(0);
    }
    for p in &report.created {
        ctx.ui.status("Added", &ws.display_path(p));
    }
    for p in &report.updated {
        ctx.ui.status(
            "Updated",
            &format!("{} to the integration tip", ws.display_path(p)),
        );
    }
    for i in &report.dropped {
        ctx.ui.status(
            "Dropped",
            &format!("{}: {}", ws.display_path(&i.path), i.reason),
        );
    }
    for i in &report.skipped {
        ctx.ui.warn(&format!(
            "left alone: {}: {}",
            ws.display_path(&i.path),
            i.reason
        ));
    }
    ctx.ui.status(
        "Pool",
        &format!(
            "{} of {} worktrees ready at {}",
            report.ready.len(),
            report.size,
            report
                .tip
                .as_deref()
                .map(droidforge::git::short_hex)
                .unwrap_or("?")
        ),
    );
    Ok(0)
}
