//! `droidforge merge`: land ready droids on the integration branch (docs/merge.md). Renders the
//! [`MergeReport`] built by [`droidforge::ops::merge::run_merge`].

use super::Ctx;
use crate::cli::args::*;
use crate::cli::render::merge as render;
use droidforge::error::{Error, Result};
use droidforge::git::Repo;
use droidforge::ops::merge::{MergeEvent, MergeOptions, MergeReport};
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &MergeArgs) -> Result<i32> {
    let repo = Repo::discover(&ctx.cwd)?;
    if let Some(remote) = &args.fetch {
        fetch(ctx, &repo, remote)?;
    }
    let ws = Workspace::load_with(repo, &ctx.cwd, ManifestSource::Integration, false)?;
    let ui = ctx.ui.clone();
    let progress = move |event: MergeEvent| {
        if let Some((label, text)) = render::event_line(&event) {
            ui.status(label, &text);
        }
    };
    let quiet_progress = |_: MergeEvent| {};
    let progress_fn: &dyn Fn(MergeEvent) = if args.json {
        &quiet_progress
    } else {
        &progress
    };

    if args.continue_ {
        let report = droidforge::ops::merge::continue_merge(&ws, progress_fn)?;
        return finish(ctx, args, &ws, report);
    }
    if args.abort {
        let report = droidforge::ops::merge::abort_merge(&ws)?;
        if args.json {
            ctx.ui.json(&report);
        } else {
            render::abort(&ctx.ui, &report);
        }
        return Ok(0);
    }

    let opts = MergeOptions {
        droids: args.select.droids.clone(),
        phase: args.select.phase,
        all: args.select.all,
        dry_run: args.dry_run,
        verify: args.verify.clone(),
        strategy: args.strategy,
        include_unready: args.include_unready,
        force: args.force,
        ..MergeOptions::default()
    };
    let report = droidforge::ops::merge::run_merge(&ws, &opts, progress_fn)?;
    finish(ctx, args, &ws, report)
}

fn finish(ctx: &Ctx, args: &MergeArgs, ws: &Workspace, report: MergeReport) -> Result<i32> {
    let mut push_error = None;
    if let Some(remote) = &args.push
        && report.landed
        && !report.dry_run
        && let Err(e) = push(ctx, ws, remote, &report)
    {
        push_error = Some(e);
    }
    if args.json {
        ctx.ui.json(&report);
    } else {
        render::report(&ctx.ui, &report);
    }
    if let Some(e) = push_error {
        return Err(e);
    }
    Ok(report.exit_code())
}

fn fetch(ctx: &Ctx, repo: &Repo, remote: &str) -> Result<()> {
    let root = repo.main_workdir()?;
    // The prefix comes from the working-tree manifest if present; default otherwise.
    let prefix = Workspace::load_with(repo.clone(), &root, ManifestSource::Integration, false)
        .map(|ws| ws.forge.branch_prefix().to_owned())
        .unwrap_or_else(|_| droidforge::forge::manifest::DEFAULT_BRANCH_PREFIX.to_owned());
    let spec = format!("refs/heads/{prefix}*:refs/heads/{prefix}*");
    ctx.ui
        .status("Fetching", &format!("`{prefix}*` from `{remote}`"));
    Repo::git_cli(&root, &["fetch", "--quiet", remote, &spec]).map_err(|e| {
        e.hint("branches checked out in a droid worktree cannot be fetched into; commit there or remove the worktree")
    })?;
    Ok(())
}

fn push(ctx: &Ctx, ws: &Workspace, remote: &str, report: &MergeReport) -> Result<()> {
    let branch = &report.integration;
    let lease = format!("--force-with-lease={branch}:{}", report.old_tip);
    ctx.ui
        .status("Pushing", &format!("`{branch}` to `{remote}`"));
    Repo::git_cli(&ws.root, &["push", "--quiet", &lease, remote, branch]).map_err(|e| {
        Error::failure(format!(
            "the merge landed locally, but pushing `{branch}` to `{remote}` failed"
        ))
        .with_source(e)
        .hint(format!(
            "someone else pushed to `{remote}`; fetch, run `droidforge undo {}` and merge again, or push by hand",
            report.merge_id
        ))
    })?;
    Ok(())
}
