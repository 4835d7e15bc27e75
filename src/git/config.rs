//! Git configuration reads and writes for the pre-commit guard and sparse worktrees:
//! worktree-scoped `core.hooksPath` (`extensions.worktreeConfig` + a worktree's own
//! `config.worktree`). Done with gix, in process: these ran `git config` five times per
//! spawned droid before, the larger part of `spawn`'s fixed cost. Writes take git's own
//! `<file>.lock`, so they never race a `git config` running at the same time.

use std::path::{Path, PathBuf};

use super::{Repo, git_in, run_git};
use crate::error::{Error, Result};

impl Repo {
    /// `git config --get KEY` as seen from this repository's worktree (every scope git reads:
    /// system, global, local, worktree), as read when the repository was opened.
    pub fn config_value(&self, key: &str) -> Option<String> {
        self.git
            .config_snapshot()
            .string(key)
            .map(|v| v.to_string())
    }

    /// `git config --local --get KEY`, read from the shared config file now (not from the
    /// snapshot taken at open: another command may have changed it since).
    pub fn local_config_value(&self, key: &str) -> Result<Option<String>> {
        read_key(&self.common_dir().join("config"), key)
    }

    /// Set a key in the shared repository config (`<common-dir>/config`).
    pub fn config_set_local(&self, key: &str, value: &str) -> Result<()> {
        self.edit_config(&self.common_dir().join("config"), key, Some(value))
    }

    /// Remove a key from the shared repository config; absent is fine.
    pub fn config_unset_local(&self, key: &str) -> Result<()> {
        self.edit_config(&self.common_dir().join("config"), key, None)
    }

    /// `git config --worktree --get KEY` in the worktree at `dir`, if set there.
    pub fn worktree_config_get(dir: &Path, key: &str) -> Result<Option<String>> {
        read_key(&worktree_config_path(dir)?, key)
    }

    /// Set a key in the worktree-scoped config of the worktree at `dir` (a worktree of this
    /// repository).
    pub fn config_set_worktree(&self, dir: &Path, key: &str, value: &str) -> Result<()> {
        self.edit_config(&worktree_config_path(dir)?, key, Some(value))
    }

    /// Remove a key from the worktree-scoped config of the worktree at `dir`; absent is fine.
    pub fn config_unset_worktree(&self, dir: &Path, key: &str) -> Result<()> {
        self.edit_config(&worktree_config_path(dir)?, key, None)
    }

    /// Set (`Some`) or remove (`None`) `key` in the config file at `path`, under git's lock.
    fn edit_config(&self, path: &Path, key: &str, value: Option<&str>) -> Result<()> {
        let fail = |e: gix::Error| {
            Error::failure(format!("cannot write `{key}` into `{}`", path.display())).with_source(e)
        };
        let mut config = self.git.config_file_mut(path).map_err(fail)?;
        match value {
            Some(v) => {
                config.set_raw_value(key, v).map_err(|e| {
                    Error::failure(format!("cannot set `{key}` in `{}`", path.display()))
                        .with_source(e)
                })?;
            }
            None => {
                if config.string(key).is_none() {
                    return Ok(()); // nothing to remove: leave the file untouched
                }
                if let Ok(mut values) = config.raw_values_mut(key) {
                    values.delete_all();
                }
            }
        }
        config.commit().map_err(fail)
    }
}

/// The `config.worktree` of the worktree at `dir`: in its private git dir (named by its `.git`
/// file), or `.git/config.worktree` for the main worktree.
fn worktree_config_path(dir: &Path) -> Result<PathBuf> {
    let dot_git = dir.join(".git");
    if dot_git.is_dir() {
        return Ok(dot_git.join("config.worktree"));
    }
    let text = std::fs::read_to_string(&dot_git).map_err(|e| {
        Error::failure(format!("`{}` is not a git worktree", dir.display())).with_source(e)
    })?;
    let git_dir = text
        .strip_prefix("gitdir:")
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            Error::failure(format!(
                "`{}` does not name a git directory",
                dot_git.display()
            ))
        })?;
    Ok(dir.join(git_dir).join("config.worktree"))
}

/// The value of `key` in the config file at `path` alone (no includes); `None` when the file
/// or the key is missing.
fn read_key(path: &Path, key: &str) -> Result<Option<String>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::failure(format!("cannot read `{}`", path.display())).with_source(e));
        }
    };
    let file = gix::config::File::from_bytes_no_includes(
        &bytes,
        gix::config::file::Metadata::from(gix::config::Source::Local),
        Default::default(),
    )
    .map_err(|e| Error::failure(format!("cannot parse `{}`", path.display())).with_source(e))?;
    Ok(file.string(key).map(|v| v.to_string()))
}

impl Repo {
    /// Run the `git` binary in `dir` like [`git_cli`](Self::git_cli), but exit status 1 (or
    /// 5) is `None` instead of an error (`git diff --quiet`: differences; `git config`: key
    /// not found).
    pub(super) fn git_cli_status(dir: &Path, args: &[&str]) -> Result<Option<String>> {
        let out = run_git(git_in(dir).args(args))?;
        match out.status.code() {
            Some(0) => Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned())),
            Some(1) | Some(5) => Ok(None),
            _ => Err(Error::failure(format!(
                "`git {}` failed in `{}`: {}",
                args.join(" "),
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }
}
