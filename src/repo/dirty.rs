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
        let iter = repo
            .status(gix::progress::Discard)
            .context("cannot compute status")?
            .untracked_files(gix::status::UntrackedFiles::Files)
            .into_iter(None)
            .with_context(|| format!("cannot compute the status of `{}`", path.display()))?;
        let mut changed = std::collections::BTreeSet::new();
        let mut untracked = std::collections::BTreeSet::new();
        for item in iter {
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
