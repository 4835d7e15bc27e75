//! `droidforge sync`: bring droids' branches up to date with the integration branch, or
//! `--abort` the last sync (docs/merge.md, "Sync"). Renders [`droidforge::ops::sync`]'s reports.

use super::Ctx;
use crate::cli::args::SyncArgs;
use droidforge::error::{Error, Result};
use droidforge::ops::sync::{AbortHow, SyncOptions};
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &SyncArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::Integration, false)?;
    let mut opts = SyncOptions {
        droids: args.select.droids.clone(),
        phase: args.select.phase,
        all: args.select.all,
    };
    if opts.droids.is_empty() && opts.phase.is_none() && !opts.all {
        // Inside a droid's worktree: that droid. From the main worktree a bare `sync` would
        // touch every worktree, so it has to be asked for.
        let droid = ws.current_droid().ok_or_else(|| {
            Error::usage("which droids? name them, or pass `--phase N` or `--all`")
                .hint("inside a droid's worktree `droidforge sync` syncs that droid")
        })?;
        opts.droids.push(droid);
    }
    if args.abort {
        return abort(ctx, &ws, &opts, args.json);
    }
    let report = droidforge::ops::sync::sync(&ws, &opts)?;
    if args.json {
        ctx.ui.json(&report);
    } else {
        ctx.ui
            .data(&crate::cli::render::sync::render_report(&report));
        if let Some(hint) = crate::cli::render::sync::conflict_hint(&report) {
            ctx.ui.hint(&hint);
        }
    }
    Ok(report.exit_code())
}

fn abort(ctx: &Ctx, ws: &Workspace, opts: &SyncOptions, json: bool) -> Result<i32> {
    let report = droidforge::ops::sync::abort_selection(ws, opts)?;
    if json {
        ctx.ui
            .json(&serde_json::json!({ "aborted": report.aborted }));
    } else {
        for a in &report.aborted {
            let how = match a.how {
                AbortHow::RebaseAborted => "rebase aborted",
                AbortHow::MovedBack => "moved back",
                AbortHow::AlreadyThere => "already back",
            };
            ctx.ui.status(
                "Aborted",
                &format!(
                    "sync of `{}`: {how}; `{}` is at {}",
                    a.droid,
                    a.branch,
                    droidforge::git::short_hex(&a.tip)
                ),
            );
        }
    }
    let mut errors = report.errors.into_iter();
    let first = errors.next();
    for e in errors {
        ctx.ui.error(&e);
    }
    match first {
        Some(e) => Err(e),
        None => Ok(0),
    }
}
