//! `undo [MERGE-ID]`: move the integration branch back to its tip from before a merge (from
//! the backup ref), seeing through droidforge's own record commits, and give merged droids
//! their ready marks and branches back.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::git::Expect;
use crate::git::short;
use crate::state::{Event, EventKind};
use crate::workspace::{BACKUP_PREFIX, Workspace};

use super::error::MergeError;
use super::follow::{CheckoutMove, checkout_of, follow, shell_path};
use super::journal::read_journal;
use super::recover::{lock_merges, restore_droids};
use super::report::MergeReport;

/// What `undo` did or why it did nothing.
#[derive(Debug, Clone, Serialize)]
pub struct UndoReport {
    pub merge_id: String,
    pub integration: String,
    pub undone: bool,
    pub restored_tip: Option<String>,
    /// Commits that landed on top of the merge (when it could not be undone).
    pub landed_since: Vec<LandedCommit>,
    /// When it could not be undone: the command that moves the integration branch back to
    /// its tip from before the merge (dropping the later commits too), for a user who means it.
    pub move_back_command: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LandedCommit {
    pub id: String,
    pub summary: String,
}

/// A git command that moves `branch` to `to`: `git branch -f` refuses a branch checked out in
/// a worktree, so there it is `git -C <checkout> reset --keep` (which also refuses to
/// overwrite local changes).
fn move_back_command(ws: &Workspace, branch: &str, to: &str) -> Result<String> {
    Ok(match checkout_of(ws, branch)? {
        Some(dir) => format!("git -C {} reset --keep {to}", shell_path(&dir)),
        None => format!("git branch -f {branch} {to}"),
    })
}

/// `undo [MERGE-ID]`: restore the integration branch from the backup ref when nothing landed on
/// top of the merge since; otherwise report what landed and change nothing.
pub fn undo(ws: &Workspace, merge_id: Option<&str>) -> Result<UndoReport> {
    let _lock = lock_merges(ws)?;
    if let Some(j) = read_journal(&ws.state)? {
        return Err(MergeError::UndoWhileInterrupted {
            merge_id: j.merge_id,
        }
        .into());
    }
    let state = ws.state.store().read()?;
    let record = match merge_id {
        Some(id) => state.merges.iter().find(|m| m.id == id).ok_or_else(|| {
            let known: Vec<&str> = state
                .merges
                .iter()
                .rev()
                .take(5)
                .map(|m| m.id.as_str())
                .collect();
            let mut e = Error::usage(format!("no merge `{id}` in this forge's history"));
            if !known.is_empty() {
                e = e.hint(format!("recent merges: {}", known.join(", ")));
            }
            e
        })?,
        None => state
            .merges
            .iter()
            .rev()
            .find(|m| !m.undone)
            .ok_or_else(|| {
                Error::usage("there is no merge to undo")
                    .hint("`droidforge undo` restores the integration branch from before a merge")
            })?,
    }
    .clone();
    if record.undone {
        return Err(Error::failure(format!(
            "merge `{}` was already undone",
            record.id
        )));
    }
    let backup_ref = format!("{BACKUP_PREFIX}{}", record.id);
    let Some(backup) = ws.repo.ref_target(&backup_ref)? else {
        return Err(
            Error::failure(format!("the backup ref `{backup_ref}` is missing")).hint(format!(
                "the old tip was {}; restore it by hand with `{}`",
                record.old_tip,
                move_back_command(ws, &record.integration, &record.old_tip)?
            )),
        );
    };
    if record.new_tip.is_empty() {
        return Err(Error::failure(format!(
            "merge `{}` was rebuilt from its backup ref by `droidforge doctor --fix`; the tip it made is not known",
            record.id
        ))
        .hint(format!(
            "the tip before it is {} (`{backup_ref}`); check `git log {}` and move the branch back by hand with `{}`",
            record.old_tip,
            record.integration,
            move_back_command(ws, &record.integration, &record.old_tip)?
        )));
    }
    let new = crate::git::parse_oid(&record.new_tip)
        .ok_or_else(|| Error::failure(format!("`{}` is not an object id", record.new_tip)))?;
    let mut current = ws.repo.branch_tip(&record.integration)?;
    // The tip undo moves from: the merge's new tip, or a record commit on top of it.
    let mut expected = new;
    // droidforge's own record commits on top of the merge (`progress --write`) hold no one's
    // work: undo drops them with the merge.
    if let Some(cur) = current
        && cur != new
        && ws.repo.is_ancestor(new, cur)?
    {
        let since = ws.repo.commits_between(Some(new), cur)?;
        let mut all_records = true;
        for c in &since {
            if !super::record::is_record_commit(&ws.repo, *c)? {
                all_records = false;
                break;
            }
        }
        if all_records {
            current = Some(new);
            expected = cur;
        }
    }
    let mut out = UndoReport {
        merge_id: record.id.clone(),
        integration: record.integration.clone(),
        undone: false,
        restored_tip: None,
        landed_since: Vec::new(),
        move_back_command: None,
        notes: Vec::new(),
    };
    if current != Some(new) {
        out.move_back_command = Some(move_back_command(
            ws,
            &record.integration,
            &backup.to_string(),
        )?);
        if let Some(cur) = current {
            let base = if ws.repo.is_ancestor(new, cur)? {
                Some(new)
            } else {
                ws.repo.merge_base(new, cur)?
            };
            for c in ws.repo.commits_between(base, cur)?.into_iter().rev() {
                let info = ws.repo.commit_info(c)?;
                out.landed_since.push(LandedCommit {
                    id: c.to_string(),
                    summary: info.summary,
                });
            }
        }
        return Ok(out);
    }
    let checkout = checkout_of(ws, &record.integration)?;
    ws.repo.set_ref(
        &format!("refs/heads/{}", record.integration),
        backup,
        Expect::MustMatch(expected),
        &format!("droidforge: undo merge {}", record.id),
    )?;
    out.undone = true;
    out.restored_tip = Some(backup.to_string());
    let integration = checkout.as_deref().map(|dir| CheckoutMove {
        dir,
        branch: &record.integration,
        from: expected,
        to: backup,
    });
    // Give merged droids their ready marks and original branches back, with the checkout.
    let saved = ws.state.merge_report_path(&record.id);
    match crate::state::peek_state_json::<MergeReport>(&saved, "merge report") {
        Some(report) => out.notes.extend(restore_droids(ws, &report, integration)?),
        None => out.notes.extend(follow(ws, &[], integration)?),
    }
    ws.state.store().update(|s| {
        if let Some(m) = s.merges.iter_mut().find(|m| m.id == record.id) {
            m.undone = true;
        }
    })?;
    ws.event_with(
        Event::new(
            EventKind::Undone,
            None,
            format!(
                "merge {} undone: `{}` back at {}",
                record.id,
                record.integration,
                short(backup)
            ),
        )
        .with_data(serde_json::json!({"merge_id": record.id})),
    );
    Ok(out)
}
