//! Reusing a linked worktree for another purpose: attach or detach its HEAD without touching
//! its files, and move it (for the warm pool of
//! `crate::ops::pool`).
//!
//! gix has no API to move a worktree, so [`Repo::move_worktree`] runs `git worktree move`, which
//! renames the directory and rewrites the registration's `gitdir` in one step and refuses a
//! locked worktree or a taken destination.

use std::path::Path;

use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};

use super::{Oid, Repo};
use crate::error::{Error, Result};

impl Repo {
    /// Attach the HEAD of the worktree this repository was opened in to `branch` (which must
    /// point at the commit checked out there), if HEAD is still detached at `at`. Files and
    /// index stay as they are: they already are the branch's.
    pub fn attach_head(&self, branch: &str, at: Oid) -> Result<()> {
        let name = super::add::branch_name(branch)?;
        self.edit_head(
            gix::refs::Target::Symbolic(name),
            at,
            &format!("droidforge: claim pooled worktree for {branch}"),
        )
    }

    /// Move the detached HEAD of the worktree this repository was opened in from `from` to
    /// `to` (after its files and index were moved there).
    pub fn detach_head(&self, from: Oid, to: Oid) -> Result<()> {
        self.edit_head(
            gix::refs::Target::Object(to),
            from,
            "droidforge: refresh pooled worktree",
        )
    }

    fn edit_head(&self, new: gix::refs::Target, expect: Oid, message: &str) -> Result<()> {
        let edit = RefEdit {
            change: Change::Update {
                log: LogChange {
                    mode: RefLog::AndReference,
                    force_create_reflog: false,
                    message: message.into(),
                },
                expected: PreviousValue::MustExistAndMatch(gix::refs::Target::Object(expect)),
                new,
            },
            name: "HEAD".try_into().expect("HEAD is a valid ref name"),
            deref: false,
        };
        let committer = self.committer();
        let mut time_buf = gix::date::parse::TimeBuf::default();
        self.git
            .edit_references_as([edit], Some(committer.to_ref(&mut time_buf)))
            .map_err(|e| Error::failure("cannot update the worktree's HEAD").with_source(e))?;
        Ok(())
    }

    /// Move the linked worktree at `from` to `to` (`git worktree move`).
    pub fn move_worktree(&self, from: &Path, to: &Path) -> Result<()> {
        let dir = self.main_workdir()?;
        let mut cmd = super::git_in(&dir);
        cmd.arg("worktree").arg("move").arg(from).arg(to);
        let out = super::run_git(&mut cmd)?;
        if !out.status.success() {
            return Err(Error::failure(format!(
                "cannot move the worktree `{}` to `{}`: {}",
                from.display(),
                to.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }
}
