//! Recovering from an interrupted merge: `merge --continue` finishes it (the ref update, then
//! the idempotent follow-up work), `merge --abort` rolls it back to the tip before it.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::git::Expect;
use crate::git::short;
use crate::state::{EventKind, FileLock};
use crate::workspace::Workspace;

use super::error::MergeError;
use super::follow::{CheckoutMove, DroidMove, follow};
use super::journal::{CHECK_BY_HAND, MergeJournal, read_journal, remove_journal};
use super::land::{finish, merged_droids, moved_but_unfinished};
use super::report::MergeReport;

/// Remove stale ref lock files left by a killed merge (only when its process is gone).
fn clear_stale_locks(ws: &Workspace, journal: &MergeJournal) {
    if crate::state::pid_alive(journal.pid) && journal.pid != std::process::id() {
        return;
    }
    let common = ws.repo.common_dir();
    let mut candidates = vec![
        common.join(format!("refs/heads/{}.lock", journal.integration)),
        common.join(format!("{}.lock", journal.backup_ref)),
        common.join("packed-refs.lock"),
    ];
    // The follow-up work deletes ready marks and moves droid branches: a kill there leaves
    // their locks, and a ready mark that cannot be cleared would be merged again.
    for (name, d, _, _) in merged_droids(&journal.report) {
        candidates.push(common.join(format!("{}.lock", ws.ready_ref(name))));
        candidates.push(common.join(format!("refs/heads/{}.lock", d.branch)));
    }
    for p in candidates {
        let _ = std::fs::remove_file(p);
    }
}

pub(super) fn lock_merges(ws: &Workspace) -> Result<FileLock> {
    ws.state.ensure()?;
    FileLock::try_acquire(&ws.state.lock_path(super::MERGE_LOCK))?
        .ok_or_else(|| Error::from(MergeError::Busy).hint("wait for it to finish"))
}

fn no_journal() -> Error {
    MergeError::NothingToResolve.into()
}

/// `merge --continue`: finish an interrupted merge.
pub fn continue_merge(ws: &Workspace, progress: &dyn Fn(super::MergeEvent)) -> Result<MergeReport> {
    let _lock = lock_merges(ws)?;
    let mut journal = read_journal(&ws.state)?.ok_or_else(no_journal)?;
    clear_stale_locks(ws, &journal);
    let old = journal.old_tip;
    let new = journal.new_tip;
    let current = ws.repo.branch_tip(&journal.integration)?;
    let mut report = journal.report.clone();
    if current == Some(old) {
        if !ws.repo.has_commit(new) {
            return Err(MergeError::MergedCommitMissing { commit: new }.into());
        }
        progress(super::MergeEvent::Landing {
            integration: &journal.integration,
        });
        ws.repo.edit_refs(
            &[
                (journal.backup_ref.clone(), Some(old), Expect::Any),
                (
                    format!("refs/heads/{}", journal.integration),
                    Some(new),
                    Expect::MustMatch(old),
                ),
            ],
            &format!("droidforge: merge {} (continued)", journal.merge_id),
        )?;
    } else if current == Some(new) {
        if ws.repo.ref_target(&journal.backup_ref)?.is_none() {
            ws.repo
                .set_ref(&journal.backup_ref, old, Expect::Any, "droidforge: backup")?;
        }
    } else {
        return Err(MergeError::Diverged {
            merge_id: journal.merge_id.clone(),
            integration: journal.integration.clone(),
            old,
            new,
        }
        .into());
    }
    let notes = finish(ws, &mut journal).map_err(|e| moved_but_unfinished(&journal, e))?;
    report.notes.extend(notes);
    report.landed = true;
    report.backup_ref = Some(journal.backup_ref.clone());
    Ok(report)
}

/// What `merge --abort` did.
#[derive(Debug, Clone, Serialize)]
pub struct AbortReport {
    pub merge_id: String,
    pub integration: String,
    /// Was the integration branch moved back to the old tip?
    pub restored: bool,
    pub tip: String,
    pub notes: Vec<String>,
}

/// `merge --abort`: roll an interrupted merge back to T0 (if nothing landed on top) and drop
/// its journal.
pub fn abort_merge(ws: &Workspace) -> Result<AbortReport> {
    let _lock = lock_merges(ws)?;
    let journal = match read_journal(&ws.state) {
        Ok(j) => j.ok_or_else(no_journal)?,
        // An unreadable journal cannot be rolled back; set it aside so merging works again
        // and say how to check the branch (the backup refs are untouched).
        Err(e) if std::fs::symlink_metadata(ws.state.merge_journal_path()).is_ok() => {
            let aside = crate::state::move_aside(&ws.state.merge_journal_path())?;
            ws.event(
                EventKind::Interrupted,
                None,
                format!("unreadable merge journal moved to {}", aside.display()),
            );
            return Ok(AbortReport {
                merge_id: "(unreadable journal)".into(),
                integration: ws.integration.clone(),
                restored: false,
                tip: ws
                    .repo
                    .branch_tip(&ws.integration)?
                    .map(|o| o.to_string())
                    .unwrap_or_default(),
                notes: vec![
                    format!("the merge journal could not be read ({})", e.message),
                    format!(
                        "moved it to `{}`; `{}` was left alone",
                        aside.display(),
                        ws.integration
                    ),
                    CHECK_BY_HAND.to_owned(),
                ],
            });
        }
        Err(e) => return Err(e),
    };
    clear_stale_locks(ws, &journal);
    let old = journal.old_tip;
    let new = journal.new_tip;
    let current = ws.repo.branch_tip(&journal.integration)?;
    let mut notes = Vec::new();
    let mut restored = false;
    if current == Some(new) {
        ws.repo.set_ref(
            &format!("refs/heads/{}", journal.integration),
            old,
            Expect::MustMatch(new),
            &format!("droidforge: abort merge {}", journal.merge_id),
        )?;
        restored = true;
        let integration = journal.refresh_checkout.as_deref().map(|dir| CheckoutMove {
            dir,
            branch: &journal.integration,
            from: new,
            to: old,
        });
        notes.extend(restore_droids(ws, &journal.report, integration)?);
    } else if current == Some(old) {
        notes.push(format!(
            "`{}` was still at {}; nothing had landed",
            journal.integration,
            short(journal.old_tip)
        ));
    } else {
        notes.push(format!(
            "`{}` moved on since the interrupted merge; it was left alone",
            journal.integration
        ));
    }
    if ws.repo.ref_target(&journal.backup_ref)? == Some(old) && current != Some(new) {
        let _ = ws
            .repo
            .delete_ref(&journal.backup_ref, Expect::MustMatch(old));
    }
    remove_journal(&ws.state)?;
    ws.event(
        EventKind::Interrupted,
        None,
        format!("merge {} aborted", journal.merge_id),
    );
    Ok(AbortReport {
        merge_id: journal.merge_id,
        integration: journal.integration,
        restored,
        tip: ws
            .repo
            .branch_tip(&ws.integration)?
            .map(|o| o.to_string())
            .unwrap_or_default(),
        notes,
    })
}

/// Put merged droids back as they were before a merge: ready marks on their original commits,
/// branches that still sit on the rebased commits moved back (when clean), together with the
/// integration checkout when there is one to move.
pub(super) fn restore_droids(
    ws: &Workspace,
    report: &MergeReport,
    integration: Option<CheckoutMove>,
) -> Result<Vec<String>> {
    let mut moves = Vec::new();
    for (name, d, ready, tip) in merged_droids(report) {
        let ready_ref = ws.ready_ref(name);
        if ws.repo.ref_target(&ready_ref)?.is_none() {
            ws.repo.set_ref(
                &ready_ref,
                ready,
                Expect::MustNotExist,
                "droidforge: restore ready mark",
            )?;
        }
        moves.push(DroidMove {
            droid: name,
            branch: &d.branch,
            from: tip,
            to: ready,
        });
    }
    let notes = follow(ws, &moves, integration)?;
    let _ = ws.state.store().update(|s| {
        for (name, d, ..) in merged_droids(report) {
            let s = s.droids.entry(name.to_owned()).or_default();
            s.last_merge = None;
            s.merged_commit = None;
            for c in &d.commits {
                s.landed.remove(&c.original);
            }
        }
    });
    Ok(notes)
}
