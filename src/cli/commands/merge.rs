//! `droidforge merge`: land ready droids on the integration branch (docs/merge.md): flags →
//! [`MergeOptions`] → [`droidforge::ops::merge`] → `cli/render/merge.rs`.

use super::Ctx;
use crate::cli::args::*;
use crate::cli::render::merge as render;
use droidforge::error::Result;
use droidforge::git::Repo;
use droidforge::ops::merge::{self, MergeEvent, MergeOptions, MergeReport};
use droidforge::ops::sync::SyncReport;
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &MergeArgs) -> Result<i32> {
    let ui = ctx.ui.clone();
    let shown = move |event: MergeEvent| {
        if let Some((label, text)) = render::event_line(&event) {
            ui.status(label, &text);
        }
    };
    // `--json` keeps stderr to what concerns the remote (fetch, push) and errors.
    let quiet = |_: MergeEvent| {};
    let progress: &dyn Fn(MergeEvent) = if args.json { &quiet } else { &shown };

    let repo = Repo::discover(&ctx.cwd)?;
    if let Some(remote) = &args.fetch {
        merge::remote::fetch(&repo, remote, &shown)?;
    }
    let ws = Workspace::load_with(repo, &ctx.cwd, ManifestSource::Integration, false)?;
    if args.abort {
        let report = merge::abort_merge(&ws)?;
        if args.json {
            ctx.ui.json(&report);
        } else {
            render::abort(&ctx.ui, &report);
        }
        return Ok(0);
    }
    let report = if args.continue_ {
        merge::continue_merge(&ws, progress)?
    } else {
        let opts = MergeOptions {
            droids: args.select.droids.clone(),
            phase: args.select.phase,
            all: args.select.all,
            dry_run: args.dry_run,
            verify: args.verify.clone(),
            verify_jobs: args.verify_jobs,
            strategy: args.strategy,
            include_unready: args.include_unready,
            force: args.force,
            no_sync_worktrees: args.no_sync_worktrees,
            ..MergeOptions::default()
        };
        merge::run_merge(&ws, &opts, progress)?
    };
    // A failed push is reported after the report: the merge itself landed.
    let pushed = match &args.push {
        Some(remote) if report.landed && !report.dry_run => {
            merge::remote::push(&ws, remote, &report, &shown)
        }
        _ => Ok(()),
    };
    // `--sync`: the droids that did not merge follow the new tip; the merge's exit code stands.
    let synced = match args.sync && !report.dry_run {
        true => Some(droidforge::ops::sync::sync_unmerged(&ws, &report)?),
        false => None,
    };
    show(ctx, args, &report, synced.as_ref());
    pushed?;
    Ok(report.exit_code())
}

fn show(ctx: &Ctx, args: &MergeArgs, report: &MergeReport, synced: Option<&SyncReport>) {
    if args.json {
        match synced {
            Some(sync) => {
                let mut value = serde_json::to_value(report).unwrap_or_default();
                value["sync"] = serde_json::to_value(sync).unwrap_or_default();
                ctx.ui.json(&value);
            }
            None => ctx.ui.json(report),
        }
    } else {
        render::report(&ctx.ui, report);
        if let Some(sync) = synced {
            ctx.ui.data(&crate::cli::render::sync::render_report(sync));
            if let Some(hint) = crate::cli::render::sync::conflict_hint(sync) {
                ctx.ui.hint(&hint);
            }
        }
    }
}
