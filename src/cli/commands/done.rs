//! `droidforge done`: mark a droid's commit ready to merge (`refs/droidforge/ready/<droid>`).

use droidforge::git::short_hex as short;
use serde::Serialize;

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::{Error, Result};
use droidforge::git::Expect;
use droidforge::state::{Event, EventKind};
use droidforge::workspace::{ManifestSource, Workspace};

#[derive(Debug, Serialize)]
struct DoneReport {
    droid: String,
    ready_ref: String,
    commit: String,
    summary: String,
    previous: Option<String>,
    /// Commits not yet on the integration branch.
    ahead: usize,
    integration: String,
    /// Recorded as "finished, nothing to merge" (the commit is already on the integration
    /// branch).
    nothing_to_merge: bool,
    /// Uncommitted or untracked files in the droid's worktree (not part of the mark).
    uncommitted: Option<usize>,
}

pub fn run(ctx: &Ctx, args: &DoneArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::Integration, false)?;
    let droid = ws.droid_arg(args.droid.as_deref())?;
    let branch = ws.branch_of(&droid);
    let commit = match &args.rev {
        Some(rev) => ws.repo.rev_parse(rev)?,
        None => ws.repo.branch_tip(&branch)?.ok_or_else(|| {
            Error::usage(format!("droid `{droid}` has no branch `{branch}`"))
                .hint(format!("create it with `droidforge spawn {droid}`"))
        })?,
    };
    // A commit with no history in common with the integration branch cannot be replayed onto
    // it; refuse it now rather than at merge time.
    let tip = ws.integration_tip()?;
    if ws.repo.merge_base(commit, tip)?.is_none() {
        let what = match &args.rev {
            Some(rev) => format!("`{rev}`"),
            None => format!("branch `{branch}`"),
        };
        let err = format!(
            "{what} ({}) shares no history with `{}`; it cannot be merged",
            droidforge::git::short(commit),
            ws.integration
        );
        let hint = format!(
            "commit the work on a branch started from `{}` (e.g. `droidforge spawn {droid}`) and mark that ready",
            ws.integration
        );
        return Err(match &args.rev {
            Some(_) => Error::usage(err),
            None => Error::failure(err),
        }
        .hint(hint));
    }
    // Uncommitted work is not part of the ready mark; say so (or refuse with `--strict`).
    let uncommitted = uncommitted_in(&ws, &droid);
    if let Some(dirt) = &uncommitted {
        let what = format!(
            "the worktree of `{droid}` has {} that the ready mark does not include: {}",
            droidforge::ops::remove::describe_counts(dirt.counts.changed, dirt.counts.untracked),
            droidforge::ops::remove::sample(dirt)
        );
        if args.strict {
            return Err(Error::failure(what).hint(format!(
                "commit them on `{branch}` (or discard them), then run `droidforge done {droid}` again"
            )));
        }
        ctx.ui.warn(&format!(
            "{what}; commit them and run `droidforge done {droid}` again to include them"
        ));
    }
    let (ahead, _) = ws.repo.ahead_behind(commit, tip)?;
    let ready_ref = ws.ready_ref(&droid);
    let previous = ws.repo.ref_target(&ready_ref)?;
    let expect = match previous {
        Some(p) => Expect::MustMatch(p),
        None => Expect::MustNotExist,
    };
    ws.repo.set_ref(
        &ready_ref,
        commit,
        expect,
        &format!("droidforge: `{droid}` ready"),
    )?;
    let info = ws.repo.commit_info(commit)?;
    // Nothing ahead: the droid is finished with nothing to merge. Record that, so its
    // dependents and later phases may merge (a droid without this record or a merge waits).
    let finished_empty = (ahead == 0).then(|| commit.to_string());
    ws.state.ensure()?;
    ws.state
        .store()
        .update_droid(&droid, |d| d.finished_empty = finished_empty.clone())?;
    ws.event_with(
        Event::new(
            EventKind::Ready,
            Some(&droid),
            format!("{} {}", droidforge::git::short(commit), info.summary),
        )
        .with_data(serde_json::json!({ "commit": commit.to_string() })),
    );
    let report = DoneReport {
        droid: droid.clone(),
        ready_ref,
        commit: commit.to_string(),
        summary: info.summary,
        previous: previous.map(|p| p.to_string()),
        ahead,
        integration: ws.integration.clone(),
        nothing_to_merge: ahead == 0,
        uncommitted: uncommitted.map(|d| d.counts.changed + d.counts.untracked),
    };
    if args.json {
        ctx.ui.json(&report);
        return Ok(0);
    }
    if ahead == 0 {
        ctx.ui.status(
            "Finished",
            &format!(
                "`{droid}` at {} {}: recorded as \"finished, nothing to merge\" (the commit is already on `{}`); droids that come after it may merge now",
                short(&report.commit),
                report.summary,
                ws.integration
            ),
        );
    } else {
        ctx.ui.status(
            "Ready",
            &format!(
                "`{droid}` at {} {} ({} ahead of `{}`)",
                short(&report.commit),
                report.summary,
                droidforge::util::text::count(ahead, "commit"),
                ws.integration
            ),
        );
        ctx.ui
            .hint(&format!("merge it with `droidforge merge {droid}`"));
    }
    Ok(0)
}

/// The droid's worktree's uncommitted and untracked files, if it has a worktree and any.
fn uncommitted_in(ws: &Workspace, droid: &str) -> Option<droidforge::git::DirtyPaths> {
    let path = ws.worktree_path(droid);
    if !path.exists() {
        return None;
    }
    let dirt = droidforge::git::Repo::worktree_dirty_paths(&path, 5).ok()?;
    (!dirt.counts.is_clean()).then_some(dirt)
}
