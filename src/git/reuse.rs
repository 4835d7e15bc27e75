//! Reusing a linked worktree for another purpose: attach or detach its HEAD without touching
//! its files, and move it (for the warm pool of
//! `crate::ops::pool`).
//!
//! gix has no API to move a worktree. [`Repo::move_worktree`] does what `git worktree move`
//! does for a plain registration (absolute links, not locked: rename the directory, rewrite the
//! registration's `gitdir`), checked against `git worktree list` and `git fsck` in the tests,
//! and runs `git worktree move` for anything else.

use std::path::{Path, PathBuf};

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

    /// Write the index of the checkout at `dir` again, unchanged. A checkout's files are
    /// "racily clean" while they are as new as its index (same second): every status then has
    /// to read their contents to be sure. Rewritten a second later, a status is stat calls only.
    pub fn rewrite_index(dir: &Path) -> Result<()> {
        let repo = Repo::open(dir)?;
        let mut index = repo
            .git
            .open_index()
            .map_err(|e| Error::failure("cannot read the index").with_source(e))?;
        index
            .write(Default::default())
            .map_err(|e| Error::failure("cannot write the index").with_source(e))?;
        Ok(())
    }

    /// Move the linked worktree at `from` to `to`, as `git worktree move` does: rename the
    /// directory and point the registration's `gitdir` file at the new place. Done in process
    /// when both links are absolute paths (git's default) and the worktree is not locked;
    /// otherwise (relative links, a lock, another file system) by `git worktree move`.
    pub fn move_worktree(&self, from: &Path, to: &Path) -> Result<()> {
        if move_in_process(from, to).is_ok() {
            return Ok(());
        }
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

/// The in-process move of [`Repo::move_worktree`]; `Err` (with nothing changed) when it does
/// not apply.
fn move_in_process(from: &Path, to: &Path) -> std::io::Result<()> {
    let unsupported = || std::io::Error::other("not a plain absolute registration");
    let link = std::fs::read_to_string(from.join(".git"))?;
    let admin = PathBuf::from(
        link.trim_end()
            .strip_prefix("gitdir: ")
            .ok_or_else(unsupported)?,
    );
    let gitdir_file = admin.join("gitdir");
    let registered = PathBuf::from(std::fs::read_to_string(&gitdir_file)?.trim_end());
    if !admin.is_absolute() || !registered.is_absolute() || admin.join("locked").exists() {
        return Err(unsupported());
    }
    // git records the real path of the new place.
    let parent = to.parent().ok_or_else(unsupported)?.canonicalize()?;
    let to = parent.join(to.file_name().ok_or_else(unsupported)?);
    if std::fs::symlink_metadata(&to).is_ok() {
        return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
    }
    std::fs::rename(from, &to)?;
    let text = format!("{}\n", to.join(".git").display());
    let tmp = admin.join("gitdir.droidforge-tmp");
    let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &gitdir_file));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        std::fs::rename(&to, from)?;
        return Err(e);
    }
    Ok(())
}
