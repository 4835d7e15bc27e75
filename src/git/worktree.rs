//! Linked worktrees: list, add, remove (or retire: moved aside in constant time), and how dirty
//! a worktree is.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::{Oid, Repo};
use crate::error::{Context, Error, Result};

/// A registered linked worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeInfo {
    /// Where the worktree's files are (may no longer exist).
    pub path: PathBuf,
    /// The short branch name checked out there, if attached.
    pub branch: Option<String>,
    /// `<common-dir>/worktrees/<id>`.
    pub git_dir: PathBuf,
    /// Does the directory still exist?
    pub present: bool,
}

/// Uncommitted state of a worktree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DirtyCounts {
    /// Tracked paths with staged or unstaged changes.
    pub changed: usize,
    /// Untracked, not ignored files.
    pub untracked: usize,
}

impl DirtyCounts {
    pub fn is_clean(&self) -> bool {
        self.changed == 0 && self.untracked == 0
    }
}

impl Repo {
    /// All linked worktrees (not the main one). Reads the registration files directly so that
    /// listing 100 worktrees costs 100 small file reads.
    pub fn worktrees(&self) -> Result<Vec<WorktreeInfo>> {
        let mut out = Vec::new();
        for proxy in self.git.worktrees().context("cannot list worktrees")? {
            let git_dir = proxy.git_dir().to_owned();
            let Ok(path) = proxy.base() else { continue };
            let branch = std::fs::read_to_string(git_dir.join("HEAD"))
                .ok()
                .and_then(|head| {
                    head.trim()
                        .strip_prefix("ref: refs/heads/")
                        .map(str::to_owned)
                });
            let present = path.join(".git").exists();
            out.push(WorktreeInfo {
                path,
                branch,
                git_dir,
                present,
            });
        }
        Ok(out)
    }

    /// Create a linked worktree at `dest` with `branch` (which must exist) checked out.
    pub fn add_worktree(&self, dest: &Path, branch: &str) -> Result<()> {
        let name: gix::refs::FullName = format!("refs/heads/{branch}").try_into().map_err(|e| {
            Error::failure(format!("`{branch}` is not a valid branch name")).with_source(e)
        })?;
        let interrupt = AtomicBool::new(false);
        self.git
            .add_worktree(
                dest,
                gix::worktree::add::Head::Attached(name),
                gix::progress::Discard,
                &interrupt,
            )
            .map_err(|e| {
                Error::failure(format!("cannot create the worktree `{}`", dest.display()))
                    .with_source(e)
            })?;
        Ok(())
    }

    /// Remove a linked worktree; `force` discards changes.
    pub fn remove_worktree(&self, path: &Path, force: bool) -> Result<()> {
        let mode = if force {
            gix::worktree::remove::Force::DiscardChanges
        } else {
            gix::worktree::remove::Force::Never
        };
        self.git
            .remove_worktree(path, mode, gix::progress::Discard)
            .map_err(|e| {
                Error::failure(format!("cannot remove the worktree `{}`", path.display()))
                    .with_source(e)
            })
    }

    /// Take the linked worktree at `path` out of the repository in constant time: its
    /// directory is renamed to `dest` (on the same file system; whoever owns `dest` deletes it
    /// later) and its registration is dropped, as `git worktree remove` would, without
    /// deleting a single checked-out file. Only this worktree's registration is touched (not
    /// `git worktree prune`, which would also drop other worktrees whose directory is merely
    /// unreachable now). A directory git does not know as a worktree is only renamed. On an
    /// error the worktree is where it was, still registered.
    pub fn retire_worktree(&self, path: &Path, dest: &Path) -> Result<()> {
        // Resolved before the rename: the registration is found by the path it records.
        let target = self.git.prepare_remove_worktree(path).ok();
        std::fs::rename(path, dest).with_context(|| {
            format!(
                "cannot move the worktree `{}` to `{}`",
                path.display(),
                dest.display()
            )
        })?;
        if let Some(target) = target {
            // The checkout is gone from `path`, so gix checks nothing there and deletes only
            // the registration (`<git-dir>/worktrees/<id>`: HEAD, index, a few small files).
            let unregistered = target.remove(
                gix::worktree::remove::Force::DiscardChanges,
                gix::progress::Discard,
            );
            if unregistered.is_err() {
                // Whatever stopped gix (a lock file): git drops a registration whose
                // directory is gone.
                self.prune_worktrees()?;
            }
        }
        Ok(())
    }

    /// Drop registrations of worktrees whose directory is gone (gix has no prune).
    pub fn prune_worktrees(&self) -> Result<String> {
        let dir = self.main_workdir()?;
        Repo::git_cli(&dir, &["worktree", "prune", "--verbose"])
    }

    /// Count changed and untracked files in the worktree at `path`.
    pub fn worktree_dirt(path: &Path) -> Result<DirtyCounts> {
        Ok(Repo::worktree_dirty_paths(path, 0)?.counts)
    }

    /// The commit checked out in the worktree at `path`.
    pub fn worktree_head(path: &Path) -> Result<Option<Oid>> {
        let repo = gix::open(path)
            .with_context(|| format!("cannot open the worktree `{}`", path.display()))?;
        Ok(repo.head_id().ok().map(|id| id.detach()))
    }
}
