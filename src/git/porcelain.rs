//! Committing what an agent left uncommitted in its worktree. Reading the worktree (its branch,
//! whether anything changed) goes through gix; staging the worktree and committing the index
//! go through the `git` binary, because gix has no API that stages a worktree the way
//! `git add -A` does (honouring .gitignore, modes, deletions, renames, submodules).

use std::path::Path;

use super::{FALLBACK_EMAIL, FALLBACK_NAME, Oid, Repo};
use crate::error::{Context, Error, Result};

impl Repo {
    /// The short name of the branch checked out in the worktree at `path` (`None`: detached).
    pub fn worktree_branch(path: &Path) -> Result<Option<String>> {
        let repo = gix::open(path)
            .with_context(|| format!("cannot open the worktree `{}`", path.display()))?;
        let head = repo
            .head_name()
            .with_context(|| format!("cannot read HEAD in `{}`", path.display()))?;
        Ok(head.map(|h| h.shorten().to_string()))
    }

    /// Does the worktree at `path` have changed or untracked files other than `except`
    /// (paths relative to the worktree root)? Ignored files do not count.
    pub fn worktree_changed_except(path: &Path, except: &[&str]) -> Result<bool> {
        let dirt = Repo::worktree_dirty_paths(path, usize::MAX)?;
        Ok(dirt
            .changed
            .iter()
            .chain(&dirt.untracked)
            .any(|p| !except.contains(&p.as_str())))
    }

    /// Stage everything in the worktree at `path` except `except` and commit it on the
    /// checked-out branch with `message` (hooks skipped: the agent's work is recorded as it
    /// is). Without a configured identity the commit is made as droidforge's fallback one,
    /// the same that [`Repo::committer`] uses. `None` when nothing was left to commit.
    pub fn commit_worktree_changes(
        path: &Path,
        message: &str,
        except: &[&str],
    ) -> Result<Option<Oid>> {
        Repo::git_cli(path, &["add", "-A"])?;
        if !except.is_empty() {
            // Unstage them in case nothing ignores them (a no-op when they are ignored).
            let mut reset = vec!["reset", "--quiet", "--"];
            reset.extend(except);
            Repo::git_cli(path, &reset)?;
        }
        // `git diff --cached --quiet` exits 1 when something is staged.
        if Repo::git_cli_status(path, &["diff", "--cached", "--quiet"])?.is_some() {
            return Ok(None);
        }
        let commit = ["commit", "--quiet", "--no-verify", "-m", message];
        if Repo::git_cli(path, &commit).is_err() {
            // Most often: no user.name/user.email configured. Commit as droidforge instead.
            let name = format!("user.name={FALLBACK_NAME}");
            let email = format!("user.email={FALLBACK_EMAIL}");
            let mut with_identity = vec!["-c", name.as_str(), "-c", email.as_str()];
            with_identity.extend(commit);
            Repo::git_cli(path, &with_identity)?;
        }
        Repo::worktree_head(path)?
            .map(Some)
            .ok_or_else(|| Error::failure(format!("no commit in `{}`", path.display())))
    }
}
