//! Commits of a droid that need not land again: those that already landed (recorded in the
//! state) and those whose exact change is already upstream (cherry-picked onto the integration
//! branch, or landed earlier in the same run), as `git rebase` skips them.

use std::collections::{BTreeMap, HashMap};

use crate::error::Result;
use crate::git::{ChangeSet, CommitInfo, Oid, Repo};

use super::plan;
/// (original, the commit it became on the integration branch).
pub(crate) type Landed = (Oid, Oid);

/// Split `commits` into those still to land and those that already landed: recorded in state as
/// landed, with the commit they became still on the integration branch (`tip`). An undone merge
/// no longer counts. Returns (to land, [(original, rewritten)]).
pub(crate) fn drop_landed(
    repo: &Repo,
    landed: Option<&BTreeMap<String, String>>,
    tip: Oid,
    commits: Vec<CommitInfo>,
) -> Result<(Vec<CommitInfo>, Vec<Landed>)> {
    let Some(landed) = landed else {
        return Ok((commits, Vec::new()));
    };
    let mut keep = Vec::with_capacity(commits.len());
    let mut already = Vec::new();
    for info in commits {
        match plan::landed_on(repo, Some(landed), info.id, tip)? {
            Some(new) => already.push((info.id, new)),
            None => keep.push(info),
        }
    }
    Ok((keep, already))
}

/// Split `commits` into those still to land and those whose exact change (see
/// [`crate::git::ChangeSet`]) a commit of the integration branch since its merge base with
/// `candidate` already made. Returns (to land, [(original, the upstream commit)]).
pub(crate) fn drop_upstream(
    repo: &Repo,
    tip: Oid,
    candidate: Oid,
    commits: Vec<CommitInfo>,
    memo: &mut ChangeSets,
) -> Result<(Vec<CommitInfo>, Vec<Landed>)> {
    let Some(base) = repo.merge_base(tip, candidate)? else {
        return Ok((commits, Vec::new()));
    };
    let upstream = repo.commits_between(Some(base), tip)?;
    drop_matching(repo, upstream, commits, memo)
}

/// [`drop_upstream`] against the listed `upstream` commits.
pub(super) fn drop_matching(
    repo: &Repo,
    upstream: Vec<Oid>,
    commits: Vec<CommitInfo>,
    memo: &mut ChangeSets,
) -> Result<(Vec<CommitInfo>, Vec<Landed>)> {
    if upstream.is_empty() {
        return Ok((commits, Vec::new()));
    }
    let mut change_set = |id: Oid| -> Result<Option<ChangeSet>> {
        if let Some(known) = memo.get(&id) {
            return Ok(known.clone());
        }
        let change = repo.change_set(id)?;
        memo.insert(id, change.clone());
        Ok(change)
    };
    let mut upstream_changes: HashMap<ChangeSet, Oid> = HashMap::new();
    for id in upstream {
        if let Some(change) = change_set(id)? {
            upstream_changes.entry(change).or_insert(id);
        }
    }
    let mut keep = Vec::with_capacity(commits.len());
    let mut skipped = Vec::new();
    for info in commits {
        match change_set(info.id)? {
            Some(change) if upstream_changes.contains_key(&change) => {
                skipped.push((info.id, upstream_changes[&change]));
            }
            _ => keep.push(info),
        }
    }
    Ok((keep, skipped))
}

/// Change sets by commit id (`None`: the commit has none, see [`Repo::change_set`]).
pub(crate) type ChangeSets = HashMap<Oid, Option<ChangeSet>>;
