//! Sparse linked worktrees: git's own sparse-checkout, set up for one worktree only.
//!
//! The worktree gets `core.sparseCheckout` (and `core.sparseCheckoutCone`) in its own
//! `config.worktree` (with `extensions.worktreeConfig` on in the shared config) and the
//! patterns in its private `info/sparse-checkout`, exactly the files `git sparse-checkout set`
//! writes. gix then checks out a full index whose entries outside the patterns carry the
//! skip-worktree bit, writing only the files inside: `git status`, `git add` and
//! `git sparse-checkout list/add/disable` then behave as in a worktree git made sparse, and
//! the main worktree and every other worktree stay full.

use std::path::Path;
use std::sync::Mutex;

use super::Repo;
use crate::error::Result;

/// Why a sparse worktree could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SparseError {
    #[error("cannot turn on `extensions.worktreeConfig` in `{path}`: {reason}")]
    WorktreeConfig {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot write the sparse-checkout settings of the worktree `{path}`: {reason}")]
    Settings {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot create the worktree `{path}`: {reason}")]
    Create {
        path: std::path::PathBuf,
        reason: String,
    },
}

impl crate::error::Typed for SparseError {
    fn exit_kind(&self) -> crate::error::ExitKind {
        crate::error::ExitKind::Failure
    }
}

/// The sparse-checkout definition to write: cone mode or not, and the file's contents.
pub struct SparsePatterns<'a> {
    pub cone: bool,
    /// The contents of `info/sparse-checkout`.
    pub text: &'a str,
}

impl Repo {
    /// Turn on `extensions.worktreeConfig` in the shared config unless it is on, so that a
    /// worktree can have settings of its own. Returns whether it changed anything.
    pub fn ensure_worktree_config(&self) -> Result<bool> {
        let key = "extensions.worktreeConfig";
        let fail = |reason: String| SparseError::WorktreeConfig {
            path: self.common_dir().join("config"),
            reason,
        };
        // The snapshot was read when the repository was opened; re-read the file itself, as
        // another command (the guard) may have turned it on since.
        let mut config = self
            .git
            .config_file_mut(self.common_dir().join("config"))
            .map_err(|e| fail(e.to_string()))?;
        if matches!(config.boolean(key), Ok(Some(true))) {
            return Ok(false);
        }
        config
            .set_raw_value(key, "true")
            .map_err(|e| fail(e.to_string()))?;
        config.commit().map_err(|e| fail(e.to_string()))?;
        Ok(true)
    }

    /// Create a linked worktree at `dest` with `branch` checked out sparsely: only the paths
    /// `patterns` selects are written; the rest are in the index with the skip-worktree bit.
    /// Call [`ensure_worktree_config`](Self::ensure_worktree_config) first. On failure, nothing
    /// is left behind (registration and files are removed).
    pub fn add_worktree_sparse(
        &self,
        dest: &Path,
        branch: &str,
        registration: &Mutex<()>,
        patterns: &SparsePatterns<'_>,
        threads: usize,
    ) -> Result<()> {
        let create = |reason: String| SparseError::Create {
            path: dest.to_owned(),
            reason,
        };
        let prepared = self
            .prepare_worktree(dest, super::add::branch_name(branch)?, registration, false)
            .map_err(|e| create(e.to_string()))?;
        // Dropping `prepared` on an error below rolls the registration back.
        // Opened (not stood in for by this handle: see `prepare_worktree`), so its settings
        // are its own.
        let repo = prepared.repo().ok_or_else(|| SparseError::Settings {
            path: dest.to_owned(),
            reason: "the new worktree was not opened".to_owned(),
        })?;
        write_settings(repo, patterns).map_err(|reason| SparseError::Settings {
            path: dest.to_owned(),
            reason,
        })?;
        super::add::checkout_prepared(prepared, Some(patterns), threads)
            .map_err(|e| create(e.full_message()))?;
        Ok(())
    }
}

/// Write `core.sparseCheckout`/`core.sparseCheckoutCone` into the worktree's `config.worktree`
/// and the patterns into its `info/sparse-checkout`.
fn write_settings(
    repo: &gix::Repository,
    patterns: &SparsePatterns<'_>,
) -> std::result::Result<(), String> {
    let git_dir = repo.git_dir();
    let info = git_dir.join("info");
    std::fs::create_dir_all(&info).map_err(|e| format!("{}: {e}", info.display()))?;
    let file = info.join("sparse-checkout");
    std::fs::write(&file, patterns.text).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut config = repo
        .config_file_mut(git_dir.join("config.worktree"))
        .map_err(|e| e.to_string())?;
    config
        .set_raw_value("core.sparseCheckout", "true")
        .map_err(|e| e.to_string())?;
    config
        .set_raw_value(
            "core.sparseCheckoutCone",
            if patterns.cone { "true" } else { "false" },
        )
        .map_err(|e| e.to_string())?;
    config.commit().map_err(|e| e.to_string())
}
