//! Commits of a droid that need not land again: those that already landed (recorded in the
//! state) and those whose exact change is already upstream (cherry-picked onto the integration
//! branch, or landed earlier in the same run), as `git rebase` skips them.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;

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
    landed: Option<&BTreeMap<Oid, Oid>>,
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
    let mut print_of = |id: Oid| -> Result<Option<Fingerprint>> {
        if let Some(known) = memo.get(&id) {
            return Ok(*known);
        }
        let print = repo.change_set(id)?.as_ref().map(fingerprint);
        memo.insert(id, print);
        Ok(print)
    };
    // Upstream commits by fingerprint, sorted by (fingerprint, upstream position): the first
    // one with the very same change is the one a skipped commit is reported as. One flat list
    // of (fingerprint, position), not a map of lists: later droids are checked against every
    // commit landed before them in the run, and a list per commit made the run's memory grow
    // by ~140 bytes per landed commit.
    let mut upstream_prints: Vec<(Fingerprint, usize)> = Vec::with_capacity(upstream.len());
    for (at, &id) in upstream.iter().enumerate() {
        if let Some(print) = print_of(id)? {
            upstream_prints.push((print, at));
        }
    }
    upstream_prints.sort_unstable();
    let mut keep = Vec::with_capacity(commits.len());
    let mut skipped = Vec::new();
    for info in commits {
        let candidates = match print_of(info.id)? {
            Some(print) => with_print(&upstream_prints, print),
            None => &[],
        };
        let candidates = candidates.iter().map(|&(_, at)| upstream[at]);
        match same_change_in(repo, info.id, candidates)? {
            Some(upstream) => skipped.push((info.id, upstream)),
            None => keep.push(info),
        }
    }
    Ok((keep, skipped))
}

/// The entries of `sorted` with fingerprint `print`, in upstream order.
fn with_print(sorted: &[(Fingerprint, usize)], print: Fingerprint) -> &[(Fingerprint, usize)] {
    let start = sorted.partition_point(|&(p, _)| p < print);
    let end = start + sorted[start..].partition_point(|&(p, _)| p == print);
    &sorted[start..end]
}

/// The first of `candidates` (commits whose change set has the fingerprint of `commit`'s)
/// that makes exactly `commit`'s change: a fingerprint only says where to look.
fn same_change_in(
    repo: &Repo,
    commit: Oid,
    candidates: impl Iterator<Item = Oid>,
) -> Result<Option<Oid>> {
    let mut candidates = candidates.peekable();
    if candidates.peek().is_none() {
        return Ok(None);
    }
    let Some(mine) = repo.change_set(commit)? else {
        return Ok(None);
    };
    for candidate in candidates {
        if repo.change_set(candidate)?.as_ref() == Some(&mine) {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// A hash of a change set: equal change sets have equal fingerprints, and a match is
/// confirmed on the change sets themselves ([`same_change_in`]). Never zero, so that an
/// `Option` of one takes 8 bytes, not 16: the memo keeps one per commit.
type Fingerprint = NonZeroU64;

fn fingerprint(change: &ChangeSet) -> Fingerprint {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    change.hash(&mut hasher);
    // Equal change sets still get equal fingerprints; a hash of 0 shares one with a hash of 1,
    // which only adds a candidate that `same_change_in` checks.
    NonZeroU64::new(hasher.finish()).unwrap_or(NonZeroU64::MIN)
}

/// Change-set fingerprints by commit id (`None`: the commit has none, see
/// [`Repo::change_set`]). A run remembers one for every commit it looked at (each droid is
/// checked against everything that landed before it): 8 bytes and an id per commit, not the
/// change set itself, so the run's memory does not grow with the paths its commits touch
/// (an entry is 32 bytes: the id, padding, and the fingerprint or none in one word).
pub(crate) type ChangeSets = HashMap<Oid, Option<Fingerprint>>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with a base commit and two children that change `f` differently, and a
    /// third that makes the first one's change again (a cherry-pick).
    fn commits() -> (tempfile::TempDir, Repo, [Oid; 3]) {
        let dir = tempfile::tempdir().unwrap();
        Repo::git_cli(dir.path(), &["init", "-q", "-b", "main"]).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let base = repo
            .commit_files(None, &[("f", Some(b"0\n"))], "base")
            .unwrap();
        let one = repo
            .commit_files(Some(base), &[("f", Some(b"1\n"))], "one")
            .unwrap();
        let two = repo
            .commit_files(Some(base), &[("f", Some(b"2\n"))], "two")
            .unwrap();
        let again = repo
            .commit_files(Some(base), &[("f", Some(b"1\n"))], "one again")
            .unwrap();
        (dir, repo, [one, two, again])
    }

    /// The run remembers fingerprints, not change sets; a fingerprint shared by two different
    /// changes (a hash collision, forced here through the memo) must not drop a commit.
    #[test]
    fn a_fingerprint_match_alone_never_drops_a_commit() {
        let (_dir, repo, [one, two, again]) = commits();
        let info = |c| vec![repo.commit_info(c).unwrap()];
        let mut memo = ChangeSets::new();
        memo.insert(one, NonZeroU64::new(7));
        memo.insert(two, NonZeroU64::new(7));
        let (keep, skipped) = drop_matching(&repo, vec![one], info(two), &mut memo).unwrap();
        assert_eq!((keep.len(), skipped), (1, vec![]));
        // The same change under another id is still found (through the memo's prints).
        let mut memo = ChangeSets::new();
        let (keep, skipped) = drop_matching(&repo, vec![two, one], info(again), &mut memo).unwrap();
        assert_eq!((keep.len(), skipped), (0, vec![(again, one)]));
        assert_eq!(memo.get(&again), memo.get(&one));
    }

    /// When several upstream commits make the same change, a skipped commit is reported as
    /// the first of them in upstream order, wherever they sort among the fingerprints.
    #[test]
    fn a_change_made_upstream_twice_is_reported_as_the_first_one() {
        let (_dir, repo, [one, two, again]) = commits();
        let base = repo.commit_info(one).unwrap().parents[0];
        let third = repo
            .commit_files(Some(base), &[("f", Some(b"1\n"))], "one, a third time")
            .unwrap();
        let info = |c| vec![repo.commit_info(c).unwrap()];
        for (upstream, first) in [(vec![two, again, one], again), (vec![one, two, again], one)] {
            let mut memo = ChangeSets::new();
            let (keep, skipped) = drop_matching(&repo, upstream, info(third), &mut memo).unwrap();
            assert_eq!((keep.len(), skipped), (0, vec![(third, first)]));
        }
        let p = |n| NonZeroU64::new(n).unwrap();
        assert_eq!(
            with_print(&[(p(1), 0), (p(2), 5), (p(2), 1), (p(3), 2)][..], p(4)),
            &[]
        );
        assert_eq!(
            with_print(&[(p(1), 0), (p(2), 1), (p(2), 5), (p(3), 2)][..], p(2)),
            &[(p(2), 1), (p(2), 5)]
        );
    }

    /// The memo keeps an entry for every commit a run looked at (10 x 2,000 commits: 20,000
    /// entries); with an `Option<u64>` each took 40 bytes, its fingerprint 16 of them.
    #[test]
    fn a_change_set_memo_entry_took_sixteen_bytes_for_an_eight_byte_fingerprint() {
        assert_eq!(std::mem::size_of::<Option<Fingerprint>>(), 8);
        assert_eq!(std::mem::size_of::<(Oid, Option<Fingerprint>)>(), 32);
    }
}
