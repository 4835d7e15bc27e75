//! `droidforge merge`: land ready droids on the integration branch (docs/merge.md). Renders the
//! [`MergeReport`] built by [`droidforge::ops::merge::run_merge`].

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::{Error, Result};
use droidforge::git::Repo;
use droidforge::git::short_hex as short;
use droidforge::ops::merge::{DroidStatus, MergeEvent, MergeOptions, MergeReport};
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &MergeArgs) -> Result<i32> {
    let repo = Repo::discover(&ctx.cwd)?;
    if let Some(remote) = &args.fetch {
        fetch(ctx, &repo, remote)?;
    }
    let ws = Workspace::load_with(repo, &ctx.cwd, ManifestSource::Integration, false)?;
    let ui = ctx.ui.clone();
    let progress = move |event: MergeEvent| {
        if let Some((label, text)) = crate::cli::render::merge::event_line(&event) {
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
            ctx.ui.status(
                "Aborted",
                &format!(
                    "merge `{}`{}",
                    report.merge_id,
                    if report.restored {
                        format!(
                            "; `{}` is back at {}",
                            report.integration,
                            short(&report.tip)
                        )
                    } else {
                        String::new()
                    }
                ),
            );
            for n in &report.notes {
                ctx.ui.status("Note", n);
            }
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
        render(ctx, &report);
    }
    if let Some(e) = push_error {
        return Err(e);
    }
    Ok(report.exit_code())
}

fn render(ctx: &Ctx, report: &MergeReport) {
    let mut rows = Vec::new();
    for d in &report.droids {
        let commits = droidforge::util::text::count(d.commits.len(), "commit");
        let detail = match (d.status, &d.tip) {
            (DroidStatus::Merged, Some(tip)) => format!("{commits} → {}", short(tip)),
            (DroidStatus::Merged, None) => commits,
            _ => d.reason.clone().unwrap_or_default(),
        };
        // A dry run speaks in the conditional: nothing happened.
        let result = match (d.status, report.dry_run) {
            (DroidStatus::Merged, true) => "would merge",
            (s, _) => s.as_str(),
        };
        rows.push(vec![
            format!("{} {result}", d.status.symbol()),
            d.droid.clone(),
            detail,
        ]);
    }
    let mut out = crate::cli::ui::table(&["RESULT", "DROID", "DETAIL"], &rows);
    for d in &report.droids {
        for v in &d.violations {
            out.push_str(&format!(
                "  {}: `{}` {} in {}: {}\n",
                d.droid,
                v.path,
                v.kind,
                short(&v.commit),
                v.owner
            ));
        }
        for c in &d.conflicts {
            out.push_str(&format!(
                "  {}: `{}` conflict ({}) applying {}\n",
                d.droid,
                c.path,
                c.kind,
                short(&c.commit)
            ));
        }
    }
    ctx.ui.data(&out);

    let merged = report.count(DroidStatus::Merged);
    let total = report.droids.len();
    if report.dry_run {
        ctx.ui.status(
            "Dry run",
            &format!(
                "{merged} of {} would merge onto `{}`; nothing was changed",
                droidforge::util::text::count(total, "droid"),
                report.integration
            ),
        );
    } else if report.landed {
        ctx.ui.status(
            "Landed",
            &format!(
                "{merged} of {} on `{}` ({} → {}), merge `{}`",
                droidforge::util::text::count(total, "droid"),
                report.integration,
                short(&report.old_tip),
                short(&report.new_tip),
                report.merge_id
            ),
        );
        ctx.ui.hint(&format!(
            "undo it with `droidforge undo {}`",
            report.merge_id
        ));
    } else if report.droids.iter().any(|d| d.status.is_rejection()) {
        ctx.ui.status(
            "Nothing",
            &format!(
                "landed; `{}` is unchanged. The results are in the event journal (`droidforge events`); `droidforge progress --write` adds them to PROGRESS.md",
                report.integration
            ),
        );
    } else {
        ctx.ui.status(
            "Nothing",
            &format!("to merge; `{}` is unchanged", report.integration),
        );
    }
    for n in &report.notes {
        ctx.ui.status("Note", n);
    }
    let unready: Vec<&str> = report
        .droids
        .iter()
        .filter(|d| d.status == DroidStatus::Unready)
        .map(|d| d.droid.as_str())
        .collect();
    if !unready.is_empty() {
        ctx.ui.hint(&format!(
            "not ready: {}; mark them with `droidforge done <droid>` or pass `--include-unready`",
            unready.join(", ")
        ));
    }
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
