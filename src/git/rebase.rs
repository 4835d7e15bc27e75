//! A real `git rebase` in a worktree, for the one case gix cannot do: leaving the worktree in
//! git's own resumable conflict state (a rebase stopped on a commit, conflict markers in the
//! files, unmerged index entries), so an agent or a human finishes it with ordinary git
//! (`git add` + `git rebase --continue`, or `git rebase --abort`). What a worktree is in the
//! middle of is [`Repo::unfinished_operation`] (`dirty.rs`).

use std::path::Path;

use super::{Oid, Repo, git_in, run_git};
use crate::error::{Context, Error, Result};

/// How a `git rebase` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebaseOutcome {
    /// Every commit applied; the branch points at the new tip.
    Done { tip: Oid },
    /// Stopped on a commit that conflicts; the worktree is mid-rebase.
    Stopped {
        /// The droid commit being applied when it stopped (git's `rebase-merge/stopped-sha`).
        commit: Option<Oid>,
        /// Unmerged paths, sorted.
        unmerged: Vec<String>,
    },
}

impl Repo {
    /// `git rebase <onto>` of the branch checked out at `dir`, committing as `committer`.
    /// Autostash, `update-refs` and hooks are off so the result depends on the commits only. A
    /// stop on a conflict is an outcome, not an error; any other failure (git refusing to
    /// start because of local changes, a missing git) is an error carrying git's message.
    pub fn rebase_worktree(
        dir: &Path,
        onto: Oid,
        committer: &gix::actor::Signature,
    ) -> Result<RebaseOutcome> {
        let onto_hex = onto.to_string();
        let out = run_git(
            git_in(dir)
                .args([
                    "-c",
                    "rebase.autoStash=false",
                    "-c",
                    "rebase.updateRefs=false",
                    "-c",
                    "rebase.autoSquash=false",
                    "-c",
                    "advice.mergeConflict=false",
                    "rebase",
                    "--no-verify",
                    &onto_hex,
                ])
                // Rewritten commits get the same committer as droidforge's in-memory replay.
                .env("GIT_COMMITTER_NAME", committer.name.to_string())
                .env("GIT_COMMITTER_EMAIL", committer.email.to_string())
                .env("GIT_EDITOR", "true")
                .stdin(std::process::Stdio::null()),
        )?;
        let state = Repo::unfinished_operation(dir)?;
        match state {
            Some(s) if s.operation == Some("rebase") => {
                let git_dir = gix::open(dir)
                    .with_context(|| format!("cannot open the worktree `{}`", dir.display()))?
                    .git_dir()
                    .to_owned();
                let commit = ["rebase-merge/stopped-sha", "rebase-apply/original-commit"]
                    .iter()
                    .find_map(|f| std::fs::read_to_string(git_dir.join(f)).ok())
                    .and_then(|hex| super::parse_oid(&hex));
                Ok(RebaseOutcome::Stopped {
                    commit,
                    unmerged: s.unmerged,
                })
            }
            _ if out.status.success() => {
                let tip = Repo::worktree_head(dir)?.ok_or_else(|| {
                    Error::failure(format!(
                        "`git rebase` in `{}` left no HEAD commit",
                        dir.display()
                    ))
                })?;
                Ok(RebaseOutcome::Done { tip })
            }
            _ => Err(Error::failure(format!(
                "`git rebase {}` failed in `{}`: {}",
                super::short(onto),
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }

    /// `git rebase --abort` in `dir`: git puts the branch, index and files back as they were
    /// before the rebase started.
    pub fn abort_rebase(dir: &Path) -> Result<()> {
        Repo::git_cli(dir, &["rebase", "--abort"]).map(|_| ())
    }
}
