//! `sync --abort`: put a droid's branch and worktree back to where its last sync found them.

use serde::Serialize;

use super::{SyncError, clear_sync};
use crate::error::Result;
use crate::git::{Expect, Oid, Repo};
use crate::state::{Event, EventKind, FileLock};
use crate::workspace::Workspace;

/// How `sync --abort` put a droid back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AbortHow {
    /// `git rebase --abort` ended the rebase the sync had stopped.
    RebaseAborted,
    /// The branch and worktree moved back from the synced tip.
    MovedBack,
    /// The branch was already at its pre-sync tip (the rebase was aborted by hand).
    AlreadyThere,
}

/// The result of `sync --abort` for one droid.
#[derive(Debug, Clone, Serialize)]
pub struct SyncAbort {
    pub droid: String,
    pub branch: String,
    pub how: AbortHow,
    /// The branch tip now.
    pub tip: String,
}

/// Undo the last sync of `droid`: abort the rebase it stopped (git restores branch, index and
/// files), or move a cleanly synced branch and its worktree back to the recorded tip. Refuses
/// when the branch moved on since (that would drop commits) or when uncommitted edits sit on
/// paths the move back changes.
pub fn abort(ws: &Workspace, droid: &str) -> Result<SyncAbort> {
    let name = ws.forge.require_droid(droid)?.name.clone();
    let branch = ws.branch_of(&name);
    let wt = ws.worktree_path(&name);
    ws.state.ensure()?;
    let _lock = FileLock::acquire(&ws.state.lock_path(&format!("sync-{name}")))?;
    let record = ws
        .state
        .store()
        .read()?
        .droids
        .get(&name)
        .and_then(|d| d.sync.clone());
    let present = wt.join(".git").is_file();
    if present && let Some(busy) = Repo::unfinished_operation(&wt)? {
        if busy.operation != Some("rebase") {
            return Err(SyncError::OtherOperation {
                droid: name,
                operation: busy.operation.unwrap_or("conflicted index").to_owned(),
            }
            .into());
        }
        Repo::abort_rebase(&wt)?;
        clear_sync(ws, &name)?;
        let tip = ws.repo.branch_tip(&branch)?.map(|t| t.to_string());
        aborted_event(
            ws,
            &name,
            tip.as_deref().unwrap_or(""),
            AbortHow::RebaseAborted,
        );
        return Ok(SyncAbort {
            droid: name,
            branch,
            how: AbortHow::RebaseAborted,
            tip: tip.unwrap_or_default(),
        });
    }
    let Some(record) = record else {
        return Err(SyncError::NothingToAbort { droid: name }.into());
    };
    let from = parse(&record.from)?;
    let head = ws.repo.branch_tip(&branch)?;
    if head == Some(from) {
        clear_sync(ws, &name)?;
        aborted_event(ws, &name, &record.from, AbortHow::AlreadyThere);
        return Ok(SyncAbort {
            droid: name,
            branch,
            how: AbortHow::AlreadyThere,
            tip: record.from,
        });
    }
    let synced = record.to.as_deref().map(parse).transpose()?;
    let Some(head) = head.filter(|h| Some(*h) == synced) else {
        return Err(SyncError::MovedOn {
            droid: name,
            head: head
                .map(|h| crate::git::short(h).to_string())
                .unwrap_or_else(|| "deleted".to_owned()),
            synced: record
                .to
                .as_deref()
                .map(|t| crate::git::short_hex(t).to_owned())
                .unwrap_or_else(|| "a conflict".to_owned()),
            branch,
            from: record.from,
            worktree: wt,
        }
        .into());
    };
    let plan = if present {
        let plan = Repo::plan_checkout_update(&wt, head, from)?;
        if !plan.blocked.is_empty() {
            return Err(SyncError::AbortBlocked {
                droid: name,
                paths: plan.blocked,
            }
            .into());
        }
        Some(plan)
    } else {
        None
    };
    ws.repo.set_ref(
        &format!("refs/heads/{branch}"),
        from,
        Expect::MustMatch(head),
        &format!("droidforge: abort the sync of `{name}`"),
    )?;
    if let Some(plan) = plan {
        plan.apply()?;
    }
    clear_sync(ws, &name)?;
    aborted_event(ws, &name, &record.from, AbortHow::MovedBack);
    Ok(SyncAbort {
        droid: name,
        branch,
        how: AbortHow::MovedBack,
        tip: record.from,
    })
}

fn parse(hex: &str) -> Result<Oid> {
    crate::git::parse_oid(hex).ok_or_else(|| {
        crate::error::Error::failure(format!(
            "the state records `{hex}`, which is not an object id"
        ))
    })
}

fn aborted_event(ws: &Workspace, droid: &str, tip: &str, how: AbortHow) {
    ws.event_with(
        Event::new(
            EventKind::SyncAborted,
            Some(droid),
            format!("branch back at {}", crate::git::short_hex(tip)),
        )
        .with_data(serde_json::json!({ "to": tip, "how": how })),
    );
}

/// What `sync --abort` did over a selection: the syncs it undid and the droids it could not.
#[derive(Debug, Default)]
pub struct AbortReport {
    pub aborted: Vec<SyncAbort>,
    pub errors: Vec<crate::error::Error>,
}

/// [`abort`] for each selected droid. With `--all`/`--phase`, a droid with no sync to abort is
/// simply not involved; named droids must have one.
pub fn abort_selection(ws: &Workspace, opts: &super::SyncOptions) -> Result<AbortReport> {
    let explicit = opts.explicit();
    let mut report = AbortReport::default();
    for droid in opts.selected(ws)? {
        match abort(ws, &droid) {
            Ok(a) => report.aborted.push(a),
            Err(e) if !explicit && matches!(e.find(), Some(SyncError::NothingToAbort { .. })) => {}
            Err(e) => report.errors.push(e),
        }
    }
    Ok(report)
}
