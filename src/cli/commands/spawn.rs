//! `droidforge spawn`: render the spawn outcomes (one status line per droid, or JSON).

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::{Error, Result};
use droidforge::ops::spawn::{SpawnStatus, spawn};
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &SpawnArgs) -> Result<i32> {
    if args.run {
        // `run` spawns what is missing, then starts the agents (default agent settings).
        let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
        if args.from.is_some() {
            return Err(
                Error::usage("`spawn --run` cannot be combined with `--from`")
                    .hint("spawn with `--from` first, then run `droidforge run`"),
            );
        }
        if args.sparse {
            return Err(
                Error::usage("`spawn --run` cannot be combined with `--sparse`")
                    .hint("spawn with `--sparse` first, then run `droidforge run`"),
            );
        }
        // The same selection rule as `run`: no selection is this worktree's droid, never all.
        let droids = droidforge::ops::run::select(&ws, &args.select.to_ops())?;
        let run_args = RunArgs {
            select: args.select.clone(),
            json: args.json,
            ..RunArgs::default()
        };
        return super::run::run_droids(ctx, &ws, &droids, &run_args);
    }
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    let s = &args.select;
    let droids = ws.forge.select(&s.droids, s.phase, s.all)?;
    let from = match &args.from {
        Some(rev) => Some(ws.repo.rev_parse(rev)?),
        None => None,
    };
    let bar = ctx.ui.progress(droids.len() as u64, "Spawning");
    let outcomes = spawn(&ws, &droids, from, args.sparse, &|n| bar.inc(n as u64));
    bar.finish_and_clear();
    let outcomes = outcomes?;
    let failed = outcomes
        .iter()
        .filter(|o| o.status == SpawnStatus::Error || o.hooks_error.is_some())
        .count();
    if args.json {
        ctx.ui.json(&serde_json::json!({
            "version": 1,
            "integration": ws.integration,
            "droids": outcomes,
        }));
    } else {
        for o in &outcomes {
            let at = ws.display_path(&o.worktree);
            match o.status {
                SpawnStatus::Created => {
                    let note = if o.branch_created {
                        String::new()
                    } else {
                        ", existing branch".to_owned()
                    };
                    let sparse = match &o.sparse {
                        // The root-files prelude of non-cone patterns says nothing new.
                        Some(list) => format!(
                            ", sparse: {}",
                            list.iter()
                                .filter(|l| !matches!(l.as_str(), "/*" | "!/*/"))
                                .map(String::as_str)
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        None => String::new(),
                    };
                    ctx.ui.status(
                        "Spawned",
                        &format!("{} at {at} (branch {}{note}{sparse})", o.droid, o.branch),
                    );
                    if let Some(n) = &o.note {
                        ctx.ui.warn(n);
                    }
                }
                SpawnStatus::Exists => {
                    let note = match (o.brief_written, o.hooks.is_empty()) {
                        (true, true) => "; brief updated",
                        (true, false) => "; brief and agent hooks updated",
                        (false, false) => "; agent hooks updated",
                        (false, true) => "",
                    };
                    ctx.ui.status(
                        "Unchanged",
                        &format!(
                            "{} already exists at {at} (branch {}); nothing to do{note}",
                            o.droid, o.branch
                        ),
                    );
                }
                SpawnStatus::Error => {}
            }
            if let Some(e) = &o.hooks_error {
                let mut err = Error::failure(format!(
                    "agent edit hooks for `{}` not installed: {e}",
                    o.droid
                ));
                err.hints = o.hints.clone();
                ctx.ui.error(&err);
            }
            match o.status {
                SpawnStatus::Created | SpawnStatus::Exists => {}
                SpawnStatus::Error => {
                    let mut err = Error::failure(format!(
                        "cannot spawn `{}`: {}",
                        o.droid,
                        o.error.as_deref().unwrap_or("unknown error")
                    ));
                    err.hints = o.hints.clone();
                    ctx.ui.error(&err);
                }
            }
        }
    }
    // The pre-commit guard `spawn` installed or refreshed in every worktree.
    for o in &outcomes {
        match (&o.guard, &o.guard_error) {
            (Some(done), _) if done.fresh && !args.json => {
                super::guard::report_installed(ctx, &o.droid, done)
            }
            (_, Some(e)) => ctx.ui.warn(&format!(
                "no pre-commit guard in `{}`: {e} (the merge gate still checks ownership)",
                o.droid
            )),
            _ => {}
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
