//! Git configuration writes for the pre-commit guard: worktree-scoped `core.hooksPath`
//! (`extensions.worktreeConfig`). gix reads configuration but has no API to persist it, so
//! these go through the `git` binary.

use std::path::Path;

use super::Repo;
use crate::error::Result;

impl Repo {
    /// `git config --get KEY` as seen from `dir` (every scope git reads there), if set.
    pub fn config_get(dir: &Path, key: &str) -> Result<Option<String>> {
        Ok(Self::git_cli_status(dir, &["config", "--get", key])?.map(|s| s.trim().to_owned()))
    }

    /// `git config --worktree --get KEY` in the worktree at `dir`, if set there.
    pub fn worktree_config_get(dir: &Path, key: &str) -> Result<Option<String>> {
        Ok(
            Self::git_cli_status(dir, &["config", "--worktree", "--get", key])?
                .map(|s| s.trim().to_owned()),
        )
    }

    /// Set a key in the shared repository config (`.git/config`).
    pub fn config_set_local(dir: &Path, key: &str, value: &str) -> Result<()> {
        Self::git_cli(dir, &["config", "--local", key, value]).map(drop)
    }

    /// Remove a key from the shared repository config; absent is fine.
    pub fn config_unset_local(dir: &Path, key: &str) -> Result<()> {
        Self::git_cli_status(dir, &["config", "--local", "--unset", key]).map(drop)
    }

    /// Set a key in the worktree-scoped config of the worktree at `dir`.
    pub fn config_set_worktree(dir: &Path, key: &str, value: &str) -> Result<()> {
        Self::git_cli(dir, &["config", "--worktree", key, value]).map(drop)
    }

    /// Remove a key from the worktree-scoped config of the worktree at `dir`; absent is fine.
    pub fn config_unset_worktree(dir: &Path, key: &str) -> Result<()> {
        Self::git_cli_status(dir, &["config", "--worktree", "--unset", key]).map(drop)
    }

    /// Like [`git_cli`](Self::git_cli), but exit status 1 (`git config`: key not found)
    /// is `None` instead of an error.
    pub(super) fn git_cli_status(dir: &Path, args: &[&str]) -> Result<Option<String>> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .map_err(|e| {
                crate::error::Error::failure("cannot run `git`")
                    .with_source(e)
                    .hint("install git and put it on PATH")
            })?;
        match out.status.code() {
            Some(0) => Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned())),
            Some(1) | Some(5) => Ok(None),
            _ => Err(crate::error::Error::failure(format!(
                "`git {}` failed in `{}`: {}",
                args.join(" "),
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }
}
