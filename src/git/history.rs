//! Shallow clones: CI checkouts often lack the history between base and head, which would make
//! a merge base (and so every answer) wrong. Detect that and deepen where a remote exists.

use super::{Oid, Repo};
use crate::error::{Context, Error, Result};

impl Repo {
    /// Is this a shallow clone?
    pub fn is_shallow(&self) -> bool {
        self.git.is_shallow().unwrap_or(false)
    }

    /// Commits at the shallow boundary (their parents are missing).
    pub fn shallow_boundary(&self) -> Vec<Oid> {
        match self.git.shallow_commits() {
            Ok(Some(commits)) => commits.iter().copied().collect(),
            _ => Vec::new(),
        }
    }

    /// Names of configured remotes.
    pub fn remote_names(&self) -> Vec<String> {
        self.git
            .remote_names()
            .into_iter()
            .map(|n| n.to_string())
            .collect()
    }

    /// Fetch the full history from `remote` (`git fetch --unshallow`); gix cannot deepen.
    pub fn unshallow(&self, remote: &str) -> Result<()> {
        let dir = self
            .workdir()
            .ok_or_else(|| Error::failure("the repository has no working tree"))?;
        Repo::git_cli(&dir, &["fetch", "--quiet", "--unshallow", remote])
            .map(|_| ())
            .context("cannot deepen the shallow clone")
    }

    /// Can history between `a` and `b` be trusted? False when the walk from either reaches a
    /// shallow boundary before finding a merge base.
    pub fn history_complete_between(&self, a: Oid, b: Oid) -> Result<bool> {
        if !self.is_shallow() {
            return Ok(true);
        }
        let boundary = self.shallow_boundary();
        let Some(base) = self.merge_base(a, b)? else {
            return Ok(false);
        };
        // If a boundary commit lies strictly between the base and a tip, the base we found may
        // be an artifact of the cut history.
        for tip in [a, b] {
            for c in self.commits_between(Some(base), tip)? {
                if boundary.contains(&c) {
                    return Ok(false);
                }
            }
        }
        Ok(!boundary.contains(&base) || a == base || b == base)
    }
}
