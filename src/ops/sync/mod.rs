//! `droidforge sync`: bring droids' branches up to date with the integration branch
//! (docs/merge.md, "Sync").
//!
//! Per droid, in this order:
//! 1. nothing is touched while its worktree is mid-operation (a rebase, a merge, unmerged
//!    paths), or while its agent runs (unless this process *is* that agent, syncing itself);
//! 2. its commits since the integration tip are replayed in memory with the merger's replay
//!    code (commits that already landed, or whose change is upstream, are dropped as the merger
//!    drops them). Clean → the branch moves with compare-and-swap and the worktree follows,
//!    changing only the paths that differ and keeping unrelated uncommitted edits (the merger's
//!    two-tree checkout); an uncommitted edit on a path the sync changes leaves everything as
//!    it was (`dirty`);
//! 3. a conflict → a real `git rebase <integration tip>` in the worktree (clean worktrees only),
//!    which stops on the first conflicting commit with conflict markers: an agent or a human
//!    finishes it with `git add` + `git rebase --continue`. Why a rebase and not a merge: the
//!    merger replays a droid's commits and refuses merge commits inside the range, so a merge
//!    of the integration branch into the droid branch would make it unmergeable.
//!
//! The tip before each sync is kept in the state (`droids.<name>.sync`), so
//! [`abort`] puts the branch and worktree back exactly (`git rebase --abort` when the worktree
//! is mid-rebase). Events: `synced`, `sync-conflict`, `sync-aborted`.
//!
//! API for callers (the CLI, `merge --sync`, `run --land`, MCP):
//! - [`sync`]: a selection of droids → [`SyncReport`] (never fails for one droid's problem:
//!   each droid has a [`SyncStatus`]; [`SyncReport::exit_code`] maps them to 0/1/3);
//! - [`sync_droid`]: one droid onto a given integration tip → [`DroidSync`] (errors only
//!   for hostile input such as a branch with no merge base: [`SyncError`]);
//! - [`sync_unmerged`]: `merge --sync`, every droid a merge report did not merge;
//! - [`abort`]: undo the last sync of one droid → [`SyncAbort`];
//! - [`in_progress`]: is a droid's worktree mid-rebase/merge or holding unmerged paths (an agent
//!   that exits 0 in that state resolved nothing).

mod abort;
mod report;

pub use abort::{AbortHow, AbortReport, SyncAbort, abort, abort_selection};
pub use report::{
    DroidSync, SYNC_REPORT_VERSION, StoppedAt, SyncError, SyncOptions, SyncReport, SyncStatus,
};

use std::collections::BTreeMap;

use crate::error::Result;
use crate::git::{ConflictEntry, Expect, Oid, RebaseOutcome, ReplayOutcome, Repo, Unfinished};
use crate::state::{Event, EventKind, FileLock, SyncRecord};
use crate::workspace::Workspace;

/// Sync a selection of droids onto the current integration tip. One droid's problem is in its
/// entry, not an error; errors are for a bad selection or an unreadable integration branch.
pub fn sync(ws: &Workspace, opts: &SyncOptions) -> Result<SyncReport> {
    let droids = opts.selected(ws)?;
    let onto = ws.integration_tip()?;
    let mut report = SyncReport {
        version: SYNC_REPORT_VERSION,
        integration: ws.integration.clone(),
        onto: onto.to_string(),
        droids: Vec::with_capacity(droids.len()),
        explicit: opts.explicit(),
    };
    for name in &droids {
        let entry = match sync_droid(ws, name, onto) {
            Ok(entry) => entry,
            Err(e) => DroidSync::new(name, &ws.branch_of(name), ws.worktree_path(name), onto)
                .with(SyncStatus::Failed, e.full_message()),
        };
        report.droids.push(entry);
    }
    Ok(report)
}

/// `merge --sync`: every droid of the manifest that the merge `report` did not merge, onto the
/// integration tip as it is now (after the merge landed). A droid the merge rejected for a
/// conflict is then mid-rebase, ready for its agent; droids left alone are reported only.
pub fn sync_unmerged(
    ws: &Workspace,
    report: &crate::ops::merge::MergeReport,
) -> Result<SyncReport> {
    let droids: Vec<String> = ws
        .forge
        .droids()
        .iter()
        .map(|d| d.name.clone())
        .filter(|name| {
            !report.droids.iter().any(|r| {
                r.droid.as_ref() == Some(name) && r.status == crate::ops::merge::DroidStatus::Merged
            })
        })
        .collect();
    if droids.is_empty() {
        return Ok(SyncReport {
            version: SYNC_REPORT_VERSION,
            integration: ws.integration.clone(),
            onto: ws.integration_tip()?.to_string(),
            droids: Vec::new(),
            explicit: false,
        });
    }
    let mut out = sync(
        ws,
        &SyncOptions {
            droids,
            ..SyncOptions::default()
        },
    )?;
    out.explicit = false;
    Ok(out)
}

/// What `droid`'s worktree is in the middle of (a rebase, a merge, unmerged paths), if
/// anything; `None` also when it has no worktree.
pub fn in_progress(ws: &Workspace, droid: &str) -> Result<Option<Unfinished>> {
    let wt = ws.worktree_path(droid);
    if !wt.join(".git").is_file() {
        return Ok(None);
    }
    Repo::unfinished_operation(&wt)
}

/// Sync one droid onto `onto` (normally [`Workspace::integration_tip`]). Left-alone cases
/// (dirty, agent running, mid-operation, no worktree, no branch) are statuses; an error is
/// hostile input ([`SyncError::NoMergeBase`]) or a git/IO failure, with nothing changed.
pub fn sync_droid(ws: &Workspace, droid: &str, onto: Oid) -> Result<DroidSync> {
    let name = ws.forge.require_droid(droid)?.name.clone();
    let branch = ws.branch_of(&name);
    let wt = ws.worktree_path(&name);
    let mut out = DroidSync::new(&name, &branch, wt.clone(), onto);
    let Some(head) = ws.repo.branch_tip(&branch)? else {
        return Ok(out.with(
            SyncStatus::NotSpawned,
            format!("there is no branch `{branch}`; spawn the droid first"),
        ));
    };
    out.from = Some(head.to_string());
    if let Some(problem) = ws.repo.not_a_commit(head)? {
        return Ok(out.with(SyncStatus::Failed, format!("branch `{branch}` {problem}")));
    }
    if !wt.join(".git").is_file() {
        return Ok(out.with(
            SyncStatus::NoWorktree,
            format!(
                "its worktree `{}` is missing; spawn the droid again to recreate it",
                wt.display()
            ),
        ));
    }
    ws.state.ensure()?;
    // One sync (or abort) of a droid at a time; different droids sync in parallel.
    let _lock = FileLock::acquire(&ws.state.lock_path(&format!("sync-{name}")))?;
    if let Some(busy) = Repo::unfinished_operation(&wt)? {
        out.paths = busy.unmerged.clone();
        return Ok(out.with(
            SyncStatus::InProgress,
            format!(
                "its worktree is {}: finish it (`git add` the resolved files, then `git {} --continue`) or undo it (`droidforge sync --abort`)",
                busy.describe(),
                busy.operation.unwrap_or("rebase")
            ),
        ));
    }
    if let Some(pid) = crate::state::running_agent(&ws.state, &name)
        && crate::state::own_process_group() != Some(pid)
    {
        return Ok(out.with(
            SyncStatus::AgentRunning,
            format!("its agent is running (process group {pid}); sync it after the agent exits"),
        ));
    }
    let checked_out = Repo::open(&wt)?.head_branch();
    if checked_out.as_deref() != Some(branch.as_str()) {
        return Ok(out.with(
            SyncStatus::Failed,
            format!(
                "its worktree `{}` has {} checked out, not `{branch}`",
                wt.display(),
                checked_out
                    .map(|b| format!("`{b}`"))
                    .unwrap_or_else(|| "a detached HEAD".to_owned())
            ),
        ));
    }
    if ws.repo.merge_base(head, onto)?.is_none() {
        return Err(SyncError::NoMergeBase {
            droid: name,
            branch,
            integration: ws.integration.clone(),
        }
        .into());
    }
    if ws.repo.is_ancestor(onto, head)? {
        return Ok(out);
    }

    // The commits `git rebase` would replay, minus those the merger would not land again.
    let commits = ws
        .repo
        .commits_between(Some(onto), head)?
        .into_iter()
        .map(|c| ws.repo.commit_info(c))
        .collect::<Result<Vec<_>>>()?;
    let total = commits.len();
    let landed: Option<BTreeMap<Oid, Oid>> = ws
        .state
        .store()
        .read()
        .ok()
        .and_then(|s| s.droids.get(&name).map(|d| d.landed.clone()));
    let (commits, _) =
        crate::ops::merge::step::drop_landed(&ws.repo, landed.as_ref(), onto, commits)?;
    let (commits, _) = crate::ops::merge::step::drop_upstream(
        &ws.repo,
        onto,
        head,
        commits,
        &mut Default::default(),
    )?;
    out.dropped = total - commits.len();
    let committer = ws.repo.committer();
    let linear = commits.iter().all(|c| c.parents.len() == 1);
    let replayed = if linear {
        let ids: Vec<Oid> = commits.iter().map(|c| c.id).collect();
        Some(ws.repo.replay(onto, &ids, &committer)?)
    } else {
        // Merge commits inside the range: only `git rebase` linearizes them.
        None
    };
    let conflicts = match replayed {
        Some(ReplayOutcome::Clean { tip, commits }) => {
            out.commits = commits.len();
            return move_clean(ws, out, head, tip);
        }
        Some(ReplayOutcome::Conflict { at, conflicts }) => Some((at, conflicts)),
        None => None,
    };

    // A conflict: leave git's own resumable state. git refuses to rebase over uncommitted
    // changes, and an agent resolving conflicts must not find its unrelated edits mixed in.
    let dirt = Repo::worktree_dirty_paths(&wt, 20)?;
    if dirt.counts.changed > 0 {
        out.paths = dirt.changed;
        return Ok(out.with(
            SyncStatus::Dirty,
            format!(
                "the sync stops on a conflict, and the worktree has uncommitted changes ({}): commit or stash them first",
                crate::util::text::count(dirt.counts.changed, "changed file")
            ),
        ));
    }
    record_sync(ws, &name, head, onto, None)?;
    match Repo::rebase_worktree(&wt, onto, &committer) {
        Ok(RebaseOutcome::Stopped { commit, unmerged }) => {
            let stopped = commit.or(conflicts.as_ref().map(|(at, _)| *at));
            if let Some(id) = stopped {
                out.stopped_at = Some(StoppedAt {
                    commit: id.to_string(),
                    summary: ws
                        .repo
                        .commit_info(id)
                        .map(|c| c.summary)
                        .unwrap_or_default(),
                });
            }
            out.conflicts = match conflicts {
                // What the in-memory replay found, when git stopped on the same commit.
                Some((at, found)) if commit.is_none() || commit == Some(at) => found,
                _ => unmerged
                    .iter()
                    .map(|p| ConflictEntry {
                        path: p.clone(),
                        kind: "content".to_owned(),
                    })
                    .collect(),
            };
            out.paths = unmerged;
            out.status = SyncStatus::Conflict;
            ws.event_with(
                Event::new(
                    EventKind::SyncConflict,
                    Some(&name),
                    format!(
                        "rebase onto `{}` stopped on {}: {}",
                        ws.integration,
                        stopped
                            .map(|c| crate::git::short(c).to_string())
                            .unwrap_or_else(|| "a commit".to_owned()),
                        out.conflicts
                            .iter()
                            .map(|c| c.path.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .with_data(serde_json::json!({
                    "from": head.to_string(),
                    "onto": onto.to_string(),
                    "commit": stopped.map(|c| c.to_string()),
                    "paths": out.conflicts.iter().map(|c| &c.path).collect::<Vec<_>>(),
                })),
            );
            Ok(out)
        }
        Ok(RebaseOutcome::Done { tip }) => {
            // git resolved it (a commit its patch-id check skipped, merge commits linearized).
            record_sync(ws, &name, head, onto, Some(tip))?;
            out.to = Some(tip.to_string());
            out.commits = ws.repo.commits_between(Some(onto), tip)?.len();
            out.status = SyncStatus::Synced;
            synced_event(ws, &name, head, tip, onto);
            Ok(out)
        }
        Err(e) => {
            clear_sync(ws, &name)?;
            Err(e)
        }
    }
}

/// A clean in-memory replay: move the worktree's files and the branch, or touch nothing when
/// uncommitted edits sit on paths that change.
fn move_clean(ws: &Workspace, mut out: DroidSync, head: Oid, tip: Oid) -> Result<DroidSync> {
    let plan = Repo::plan_checkout_update(&out.worktree, head, tip)?;
    if !plan.blocked.is_empty() {
        out.paths = plan.blocked.clone();
        let n = out.paths.len();
        return Ok(out.with(
            SyncStatus::Dirty,
            format!(
                "uncommitted changes to {} the sync changes: commit or stash them first",
                crate::util::text::count(n, "file")
            ),
        ));
    }
    let name = out.droid.clone();
    ws.repo.set_ref(
        &format!("refs/heads/{}", out.branch),
        tip,
        Expect::MustMatch(head),
        &format!("droidforge: sync `{name}` onto `{}`", ws.integration),
    )?;
    let onto = crate::git::parse_oid(&out.onto).unwrap_or(tip);
    record_sync(ws, &name, head, onto, Some(tip))?;
    if let Err(e) = plan.apply() {
        out.reason = Some(format!(
            "the branch moved, but its worktree could not be updated ({}); `droidforge sync --abort {name}` puts the branch back",
            e.message
        ));
    }
    out.to = Some(tip.to_string());
    out.status = SyncStatus::Synced;
    synced_event(ws, &name, head, tip, onto);
    Ok(out)
}

fn synced_event(ws: &Workspace, droid: &str, from: Oid, to: Oid, onto: Oid) {
    ws.event_with(
        Event::new(
            EventKind::Synced,
            Some(droid),
            format!(
                "onto `{}` ({} → {})",
                ws.integration,
                crate::git::short(from),
                crate::git::short(to)
            ),
        )
        .with_data(serde_json::json!({
            "from": from.to_string(),
            "to": to.to_string(),
            "onto": onto.to_string(),
        })),
    );
}

pub(super) fn record_sync(
    ws: &Workspace,
    droid: &str,
    from: Oid,
    onto: Oid,
    to: Option<Oid>,
) -> Result<()> {
    ws.state.store().update_droid(droid, |d| {
        d.sync = Some(SyncRecord {
            from: from.to_string(),
            onto: onto.to_string(),
            to: to.map(|t| t.to_string()),
            at: crate::util::time::now(),
        });
    })
}

pub(super) fn clear_sync(ws: &Workspace, droid: &str) -> Result<()> {
    ws.state.store().update_droid(droid, |d| d.sync = None)
}
