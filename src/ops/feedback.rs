//! The merger's feedback in a rejected droid's brief: after a real merge run, every droid it
//! rejected (conflict, ownership violation, failed verification) gets a "What the merger said
//! (attempt N)" section in `<worktree>/.droidforge/BRIEF.md`, and a droid that landed loses its
//! old sections. The sections are kept in the state (`droids.<name>.feedback`) and rendered by
//! the pure `forge::feedback`, so every later rewrite of the brief shows them too.
//! Journal: `feedback-written` (data: attempt, merge_id, kind).
//!
//! API: [`after_merge`] (called by the merger after a real run), [`feedback_for`] (the plain
//! data for one rejected droid), [`write`] (store one section and rewrite the brief), and
//! [`Fixer`] (sync and feedback for `run --land`).

use std::collections::HashMap;

use crate::error::Result;
use crate::forge::feedback::{
    CommitRef, ConflictPath, Feedback, LandedChange, Said, VERIFY_TAIL_LINES, ViolationPath,
    tail_lines,
};
use crate::git::{Oid, short};
use crate::ops::merge::{DroidReport, DroidStatus, MergeReport};
use crate::state::{Event, EventKind};
use crate::workspace::Workspace;

/// After a real merge run: write feedback for each rejected droid, clear it for each merged
/// one. Never fails the merge (it already happened): problems come back as notes.
pub fn after_merge(ws: &Workspace, report: &MergeReport) -> Vec<String> {
    let mut notes = Vec::new();
    for dr in &report.droids {
        let Some(droid) = dr.droid.as_deref() else {
            continue;
        };
        if ws.forge.droid(droid).is_none() {
            continue;
        }
        let outcome = if dr.status.is_rejection() {
            let attempt = ws
                .state
                .store()
                .read()
                .map(|s| s.feedback_of(droid).len() as u32 + 1)
                .unwrap_or(1);
            feedback_for(ws, report, dr, attempt).and_then(|f| write(ws, droid, f).map(|_| ()))
        } else if dr.status == DroidStatus::Merged {
            clear(ws, droid)
        } else {
            Ok(())
        };
        if let Err(e) = outcome {
            notes.push(format!(
                "could not write the merger's feedback into `{droid}`'s brief: {}",
                e.full_message()
            ));
        }
    }
    notes
}

/// The merger's verdict on one rejected droid of `report`, as plain data.
pub fn feedback_for(
    ws: &Workspace,
    report: &MergeReport,
    dr: &DroidReport,
    attempt: u32,
) -> Result<Feedback> {
    let said = match dr.status {
        DroidStatus::Violation => Said::Violation {
            paths: dr
                .violations
                .iter()
                .map(|v| ViolationPath {
                    path: v.path.clone(),
                    kind: v.kind.clone(),
                    commit: crate::git::short_hex(&v.commit).to_owned(),
                    owner: v.owner.clone(),
                    owner_droid: v
                        .owner
                        .strip_prefix("owned by `")
                        .and_then(|r| r.strip_suffix('`'))
                        .map(str::to_owned),
                })
                .collect(),
        },
        DroidStatus::VerifyFailed => {
            let command = verify_command(ws, dr.reason.as_deref().unwrap_or(""));
            Said::VerifyFailed {
                command,
                detail: dr.reason.clone().unwrap_or_default(),
                output: tail_lines(dr.verify_output.as_deref().unwrap_or(""), VERIFY_TAIL_LINES),
            }
        }
        _ => conflict(ws, report, dr)?,
    };
    Ok(Feedback {
        attempt,
        merge_id: report.merge_id.clone(),
        integration: report.integration.clone(),
        ready: dr.ready.map(|r| r.to_string()),
        said,
    })
}

/// The verification command the merger ran: the failed run's detail names it first, in
/// backticks (`` `cmd` failed (exit code N): ... ``); else the manifest's `verify`.
fn verify_command(ws: &Workspace, detail: &str) -> String {
    detail
        .strip_prefix('`')
        .and_then(|rest| rest.rfind("` failed (").map(|end| rest[..end].to_owned()))
        .or_else(|| ws.forge.manifest.forge.verify.clone())
        .unwrap_or_default()
}

/// A conflict: each path with the last integration commit that changed it since the droid's
/// base, and whose work that commit is.
fn conflict(ws: &Workspace, report: &MergeReport, dr: &DroidReport) -> Result<Said> {
    let repo = &ws.repo;
    let stopped = dr
        .conflicts
        .first()
        .and_then(|c| crate::git::parse_oid(&c.commit));
    let commit = match stopped {
        Some(id) => Some(CommitRef {
            id: short(id).to_string(),
            subject: repo.commit_info(id)?.summary,
        }),
        None => None,
    };
    // Integration commits since the droid's base, newest first.
    let tip = report.new_tip;
    let base = match dr.ready {
        Some(ready) => repo.merge_base(ready, tip)?,
        None => None,
    };
    let mut upstream = repo.commits_between(base, tip)?;
    upstream.reverse();
    let owners = landed_by(ws, report);
    let mut paths = Vec::new();
    for c in &dr.conflicts {
        let mut landed = None;
        for &id in upstream.iter().take(500) {
            let info = repo.commit_info(id)?;
            let before = match info.parents.first() {
                Some(p) => repo.file_id_at(*p, &c.path)?,
                None => None,
            };
            if repo.file_id_at(id, &c.path)? != before {
                landed = Some(LandedChange {
                    commit: CommitRef {
                        id: short(id).to_string(),
                        subject: info.summary,
                    },
                    droid: owners.get(&id).cloned(),
                });
                break;
            }
        }
        paths.push(ConflictPath {
            path: c.path.clone(),
            kind: c.kind.clone(),
            landed,
        });
    }
    Ok(Said::Conflict {
        commit,
        paths,
        reason: dr.reason.clone(),
    })
}

/// Integration commits → the droid whose work they are: what the state records as landed, and
/// what this run merged.
fn landed_by(ws: &Workspace, report: &MergeReport) -> HashMap<Oid, String> {
    let mut out = HashMap::new();
    if let Ok(state) = ws.state.store().read() {
        for (droid, d) in &state.droids {
            for rewritten in d.landed.values() {
                out.insert(*rewritten, droid.clone());
            }
        }
    }
    for dr in &report.droids {
        if let Some(droid) = &dr.droid {
            for c in &dr.commits {
                if let Some(id) = c.rewritten {
                    out.insert(id, droid.clone());
                }
            }
        }
    }
    out
}

/// Store one section for `droid`, rewrite its brief, journal `feedback-written`. Returns the
/// attempt number stored.
pub fn write(ws: &Workspace, droid: &str, feedback: Feedback) -> Result<u32> {
    let attempt = feedback.attempt;
    let kind = feedback.said.kind();
    let merge_id = feedback.merge_id.clone();
    ws.state.ensure()?;
    ws.state.store().update_droid(droid, |d| {
        d.feedback.retain(|f| f.attempt != attempt);
        d.feedback.push(feedback);
    })?;
    crate::ops::spawn::rewrite_brief(ws, droid)?;
    ws.state.record(
        Event::new(
            EventKind::FeedbackWritten,
            Some(droid),
            format!("attempt {attempt}: {kind} (merge {merge_id})"),
        )
        .with_data(serde_json::json!({
            "attempt": attempt,
            "merge_id": merge_id,
            "kind": kind,
        })),
    );
    Ok(attempt)
}

/// Forget `droid`'s feedback (it landed) and rewrite its brief when there was any.
pub fn clear(ws: &Workspace, droid: &str) -> Result<()> {
    let had = ws.state.store().read()?.feedback_of(droid).len();
    if had == 0 {
        return Ok(());
    }
    ws.state
        .store()
        .update_droid(droid, |d| d.feedback.clear())?;
    crate::ops::spawn::rewrite_brief(ws, droid).map(|_| ())
}

/// Sync and feedback for `run --land`: [`crate::ops::sync::sync_droid`] onto the integration
/// tip, and the brief (the merger already stored its verdict; the brief is rewritten).
pub struct Fixer;

impl crate::ops::land_loop::Fixer for Fixer {
    fn sync(&self, ws: &Workspace, droid: &str) -> Result<crate::ops::land_loop::SyncResult> {
        use crate::ops::land_loop::SyncResult;
        use crate::ops::sync::SyncStatus;
        let onto = ws.integration_tip()?;
        let d = crate::ops::sync::sync_droid(ws, droid, onto)?;
        Ok(match d.status {
            SyncStatus::Synced => SyncResult::Synced,
            SyncStatus::UpToDate => SyncResult::UpToDate,
            SyncStatus::Conflict => {
                SyncResult::Conflict(d.conflicts.iter().map(|c| c.path.clone()).collect())
            }
            _ => SyncResult::Refused(d.reason.unwrap_or_else(|| d.status.as_str().to_owned())),
        })
    }

    fn feedback(&self, ws: &Workspace, droid: &str, _attempt: u32, _: &DroidReport) -> Result<()> {
        crate::ops::spawn::rewrite_brief(ws, droid).map(|_| ())
    }
}
