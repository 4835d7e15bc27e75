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
    let droids: Vec<String> = ws
        .forge
        .select(&opts.droids, opts.phase, opts.all)?
        .into_iter()
        .map(|d| d.name.clone())
        .collect();
    let explicit = opts.explicit();
    let mut done = Vec::new();
    let mut first_error = None;
    for droid in &droids {
        match droidforge::ops::sync::abort(ws, droid) {
            Ok(a) => {
                if !json {
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
                done.push(a);
            }
            // With `--all`/`--phase`, droids without a sync to abort are simply not involved.
            Err(e)
                if !explicit
                    && matches!(
                        e.find::<droidforge::ops::sync::SyncError>(),
                        Some(droidforge::ops::sync::SyncError::NothingToAbort { .. })
                    ) => {}
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(e);
                } else {
                    ctx.ui.error(&e);
                }
            }
        }
    }
    if json {
        ctx.ui.json(&serde_json::json!({ "aborted": done }));
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(0),
    }
}
