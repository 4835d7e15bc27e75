//! Scratch checkouts for verification and refreshing existing checkouts after a ref moved.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use super::{Oid, Repo};
use crate::error::{Error, Result};

impl Repo {
    /// Create a linked worktree at `dest` with `commit` checked out on a detached HEAD.
    /// Works on an in-memory handle too (the files come from the handle's objects).
    pub fn add_detached_worktree(&self, dest: &Path, commit: Oid) -> Result<()> {
        let interrupt = AtomicBool::new(false);
        self.git
            .add_worktree(
                dest,
                gix::worktree::add::Head::Detached(commit),
                gix::progress::Discard,
                &interrupt,
            )
            .map_err(|e| {
                Error::failure(format!(
                    "cannot create the scratch worktree `{}`",
                    dest.display()
                ))
                .with_source(e)
            })?;
        Ok(())
    }

    /// Move the index and files of the checkout at `dir` from tree-ish `from` to `to`
    /// (`git read-tree -m -u`): a two-way merge that refuses to overwrite local changes.
    pub fn refresh_checkout(dir: &Path, from: Oid, to: Oid) -> Result<()> {
        Repo::git_cli(
            dir,
            &["read-tree", "-m", "-u", &from.to_string(), &to.to_string()],
        )?;
        Ok(())
    }

    /// Point the branch checked out at `dir` to `to`, updating its files, keeping local
    /// changes that do not collide (`git reset --keep`).
    pub fn reset_checkout_keep(dir: &Path, to: Oid) -> Result<()> {
        Repo::git_cli(dir, &["reset", "-q", "--keep", &to.to_string()])?;
        Ok(())
    }
}
