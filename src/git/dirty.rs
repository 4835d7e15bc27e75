//! Which files of a worktree are uncommitted (for `remove`'s "what would be lost" message),
//! and worktree registrations whose directory is gone (for `prune --dry-run`).

use std::path::Path;

use super::{DirtyCounts, Repo};
use crate::error::{Context, Result};

/// Uncommitted state of a worktree with the first few paths, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DirtyPaths {
    pub counts: DirtyCounts,
    /// Changed tracked paths (up to the limit asked for), sorted.
    pub changed: Vec<String>,
    /// Untracked paths (up to the limit asked for), sorted.
    pub untracked: Vec<String>,
}

impl Repo {
    /// Like [`Repo::worktree_dirt`], but also names up to `limit` changed and untracked paths.
    pub fn worktree_dirty_paths(path: &Path, limit: usize) -> Result<DirtyPaths> {
        let repo = gix::open(path)
            .with_context(|| format!("cannot open the worktree `{}`", path.display()))?;
        let mut iter = repo
            .status(gix::progress::Discard)
            .context("cannot compute status")?
            .untracked_files(gix::status::UntrackedFiles::Files)
            // Callers already check many worktrees in parallel; nested thread pools per
            // worktree only add thread churn.
            .index_worktree_options_mut(|o| o.thread_limit = Some(1))
            .into_iter(None)
            .with_context(|| format!("cannot compute the status of `{}`", path.display()))?;
        let mut changed = std::collections::BTreeSet::new();
        let mut untracked = std::collections::BTreeSet::new();
        for item in iter.by_ref() {
            let item =
                item.with_context(|| format!("cannot compute the status of `{}`", path.display()))?;
            match item {
                gix::status::Item::IndexWorktree(
                    gix::status::index_worktree::Item::DirectoryContents { entry, .. },
                ) => {
                    if matches!(entry.status, gix::dir::entry::Status::Untracked) {
                        untracked.insert(entry.rela_path.to_string());
                    }
                }
                gix::status::Item::IndexWorktree(item) => {
                    changed.insert(item.rela_path().to_string());
                }
                gix::status::Item::TreeIndex(change) => {
                    changed.insert(change.location().to_string());
                }
            }
        }
        // Like `git status`, refresh the index's stat data when it went stale (e.g. files
        // checked out in the same second as the index was written, which would otherwise be
        // re-hashed on every call). Best effort: a concurrent git in that worktree wins.
        // Only when there is something to refresh: gix hands back an empty change list after
        // a parallel run, and writing it would rewrite (and lock) every worktree's index on
        // every call, racing the agent's own `git add`.
        if let Some(outcome) = iter.outcome_mut()
            && outcome.has_changes()
        {
            let _ = outcome.write_changes();
        }
        Ok(DirtyPaths {
            counts: DirtyCounts {
                changed: changed.len(),
                untracked: untracked.len(),
            },
            changed: changed.into_iter().take(limit).collect(),
            untracked: untracked.into_iter().take(limit).collect(),
        })
    }
}

/// A git operation a worktree is in the middle of: a rebase, merge, cherry-pick, revert or
/// `git am` that stopped (usually on a conflict) and was neither continued nor aborted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unfinished {
    /// `rebase`, `merge`, `cherry-pick`, `revert` or `am`; `None` when only the index holds
    /// unmerged entries.
    pub operation: Option<&'static str>,
    /// Paths with unmerged (conflict) entries in the index, sorted.
    pub unmerged: Vec<String>,
}

impl Unfinished {
    /// "mid-rebase with 2 unmerged paths (a.rs, b.rs)".
    pub fn describe(&self) -> String {
        let what = match self.operation {
            Some(op) => format!("mid-{op}"),
            None => "in a conflicted state".to_owned(),
        };
        if self.unmerged.is_empty() {
            return what;
        }
        let shown: Vec<&str> = self.unmerged.iter().take(5).map(String::as_str).collect();
        let more = if self.unmerged.len() > shown.len() {
            format!(", +{} more", self.unmerged.len() - shown.len())
        } else {
            String::new()
        };
        format!(
            "{what} with {} ({}{more})",
            crate::util::text::count(self.unmerged.len(), "unmerged path"),
            shown.join(", ")
        )
    }
}

impl Repo {
    /// Is the worktree at `path` in the middle of a git operation, or does its index hold
    /// unmerged entries? Such a worktree holds nobody's finished work: committing what is in
    /// it would record conflict markers or half a rebase.
    pub fn unfinished_operation(path: &Path) -> Result<Option<Unfinished>> {
        let repo = gix::open(path)
            .with_context(|| format!("cannot open the worktree `{}`", path.display()))?;
        let git_dir = repo.git_dir();
        let operation = [
            ("rebase-merge", "rebase"),
            ("rebase-apply/applying", "am"),
            ("rebase-apply", "rebase"),
            ("MERGE_HEAD", "merge"),
            ("CHERRY_PICK_HEAD", "cherry-pick"),
            ("REVERT_HEAD", "revert"),
        ]
        .into_iter()
        .find(|(file, _)| git_dir.join(file).exists())
        .map(|(_, op)| op);
        let index = repo
            .index_or_empty()
            .with_context(|| format!("cannot read the index of `{}`", path.display()))?;
        let mut unmerged: Vec<String> = index
            .entries()
            .iter()
            .filter(|e| e.stage_raw() != 0)
            .map(|e| e.path(&index).to_string())
            .collect();
        unmerged.dedup();
        if operation.is_none() && unmerged.is_empty() {
            return Ok(None);
        }
        Ok(Some(Unfinished {
            operation,
            unmerged,
        }))
    }
}
