//! Talking to remotes: gix 0.90 has no push and its fetch cannot refuse a branch checked out in
//! a worktree the way git does, so both go through the `git` binary.

use std::path::Path;

use super::{Oid, Repo};
use crate::error::Result;

/// `git fetch --quiet REMOTE 'refs/heads/<prefix>*:refs/heads/<prefix>*'` in `dir`: the
/// remote's branches under `prefix` become (or move) the local ones. git refuses to update a
/// branch checked out in a worktree.
pub fn fetch_branches(dir: &Path, remote: &str, prefix: &str) -> Result<()> {
    let spec = format!("refs/heads/{prefix}*:refs/heads/{prefix}*");
    Repo::git_cli(dir, &["fetch", "--quiet", remote, &spec]).map(drop)
}

/// `git push --quiet --force-with-lease=<branch>:<expected> REMOTE <branch>` in `dir`: the
/// remote branch moves only if it is still at `expected`.
pub fn push_with_lease(dir: &Path, remote: &str, branch: &str, expected: Oid) -> Result<()> {
    let lease = format!("--force-with-lease={branch}:{expected}");
    Repo::git_cli(dir, &["push", "--quiet", &lease, remote, branch]).map(drop)
}
