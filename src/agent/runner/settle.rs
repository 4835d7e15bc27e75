//! After an agent exited 0: commit what it left uncommitted (inside its worktree only, never the
//! brief), count its new commits, and mark the branch head ready through [`ops::ready::mark`]
//! — a compare-and-swap against where the mark stood before the agent started.
//!
//! [`ops::ready::mark`]: crate::ops::ready::mark

use std::path::{Path, PathBuf};

use super::Outcome;
use crate::agent::job::AgentJob;
use crate::error::Result;
use crate::forge::brief::BRIEF_PATH;
use crate::git::{Oid, Repo};
use crate::ops::ready::{self, ReadyError};
use crate::state::StateDir;

/// The branch tip and the ready mark of a droid, as they were before its agent started.
pub(super) fn before_run(root: &Path, branch: &str, droid: &str) -> (Option<Oid>, Option<Oid>) {
    let Ok(repo) = Repo::open(root) else {
        return (None, None);
    };
    let tip = repo.branch_tip(branch).ok().flatten();
    let ready = repo.ref_target(&ready::ready_ref(droid)).ok().flatten();
    (tip, ready)
}

/// What settling an agent's success needs to know from before the run.
pub(super) struct Before {
    pub(super) root: PathBuf,
    pub(super) integration: String,
    pub(super) state: StateDir,
    pub(super) tip: Option<Oid>,
    pub(super) ready: Option<Oid>,
}

/// What happened after an agent exited 0.
pub(super) struct Settled {
    pub(super) outcome: Outcome,
    pub(super) new_commits: usize,
    pub(super) leftover_commit: Option<Oid>,
    pub(super) ready: Option<Oid>,
    pub(super) note: Option<String>,
}

impl Settled {
    pub(super) fn message(&self, took: &str) -> String {
        let mut msg = match self.outcome {
            Outcome::Ready => {
                let commits = if self.new_commits == 1 {
                    "1 new commit".to_owned()
                } else {
                    format!("{} new commits", self.new_commits)
                };
                let leftovers = if self.leftover_commit.is_some() {
                    " (leftover changes committed)"
                } else {
                    ""
                };
                format!(
                    "exited 0 after {took} with {commits}{leftovers}; {} marked ready",
                    self.ready
                        .map(|r| crate::git::short(r).to_string())
                        .unwrap_or_default()
                )
            }
            Outcome::NoWork => {
                format!("exited 0 after {took} but did nothing (no new commits, no changes)")
            }
            Outcome::Uncommitted => format!(
                "exited 0 after {took} with uncommitted changes only (not committed: --no-commit)"
            ),
            Outcome::Error => format!(
                "exited 0 after {took} with {} but was not marked ready",
                crate::util::text::count(self.new_commits, "new commit")
            ),
            _ => format!("exited 0 after {took}"),
        };
        if let Some(note) = &self.note {
            msg.push_str("; ");
            msg.push_str(note);
        }
        msg
    }
}

/// Commit leftovers (only inside the worktree), count new commits, set the ready mark.
pub(super) fn settle_success(before: &Before, job: &AgentJob, commit: bool) -> Result<Settled> {
    let (root, tip_before) = (&before.root, before.tip);
    let wt = &job.worktree;
    // Exit 0 in the middle of a rebase (or with unmerged paths) resolved nothing: committing
    // the leftovers would record conflict markers. Nothing is committed or marked ready.
    if let Some(unfinished) = Repo::unfinished_operation(wt)? {
        return Ok(Settled {
            outcome: Outcome::Failed,
            new_commits: 0,
            leftover_commit: None,
            ready: None,
            note: Some(format!(
                "the worktree is still {}: nothing committed, not ready",
                unfinished.describe()
            )),
        });
    }
    let on_branch = Repo::worktree_branch(wt)
        .ok()
        .flatten()
        .is_some_and(|b| b == job.branch);
    let mut note = None;
    let mut leftover_commit = None;
    // The brief is droidforge's file, never part of a droid's commit.
    let dirty = Repo::worktree_changed_except(wt, &[BRIEF_PATH])?;
    if dirty && commit {
        if on_branch {
            let message = format!("droidforge: {} leftover changes from agent run", job.droid);
            leftover_commit = Repo::commit_worktree_changes(wt, &message, &[BRIEF_PATH])?;
        } else {
            note = Some(format!(
                "leftover changes not committed: the worktree is not on `{}`",
                job.branch
            ));
        }
    }
    let repo = Repo::open(root)?;
    let tip_after = repo.branch_tip(&job.branch)?;
    let new_commits = match (tip_before, tip_after) {
        (_, None) => 0,
        (Some(b), Some(a)) if a == b => 0,
        (before, Some(a)) => repo.commits_between(before, a)?.len(),
    };
    let still_dirty = dirty && leftover_commit.is_none();
    let (outcome, ready) = match tip_after {
        Some(tip) if new_commits > 0 => {
            match ready::mark(
                &repo,
                &before.state,
                &before.integration,
                &job.droid,
                tip,
                before.ready,
            ) {
                Ok(_) => {
                    if still_dirty && note.is_none() {
                        note = Some("uncommitted changes left in the worktree".to_owned());
                    }
                    (Outcome::Ready, Some(tip))
                }
                Err(e) => match e.find::<ReadyError>() {
                    // Someone set (or cleared) the mark while the agent ran: theirs stands.
                    Some(moved @ ReadyError::Moved { .. }) => {
                        note = Some(moved.to_string());
                        (Outcome::Error, None)
                    }
                    _ => return Err(e),
                },
            }
        }
        _ if still_dirty => (Outcome::Uncommitted, None),
        _ => (Outcome::NoWork, None),
    };
    Ok(Settled {
        outcome,
        new_commits,
        leftover_commit,
        ready,
        note,
    })
}
