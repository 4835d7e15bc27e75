//! Marking a droid's work ready to merge: `refs/droidforge/ready/<droid>`.
//!
//! One [`mark`] serves both `droidforge done` and the agent runner (an agent that exits 0 with
//! new commits). It is a compare-and-swap: the caller says what it believes the mark holds
//! (`expected`), and a mark that moved meanwhile (another `done`, a merge that consumed it) is
//! left alone and reported as [`ReadyError::Moved`]. Setting the mark to where it already
//! points is not a move, so an agent that ran `droidforge done` on its own head agrees with
//! the runner. [`mark`] also keeps the "finished, nothing to merge" record in step with the
//! mark: it is set exactly when the marked commit has nothing ahead of the integration branch.

use std::fmt;

use crate::error::{ExitKind, Result, Typed};
use crate::git::{DirtyPaths, Expect, Oid, RefMoved, Repo, short};
use crate::state::{Event, EventKind, StateDir};
use crate::workspace::{READY_PREFIX, Workspace};

/// The ready ref of a droid.
pub fn ready_ref(droid: &str) -> String {
    format!("{READY_PREFIX}{droid}")
}

/// What can stop a droid from being marked ready.
#[derive(Debug, thiserror::Error)]
pub enum ReadyError {
    /// The ready mark is not where the caller last saw it: someone else set or cleared it.
    #[error(
        "the ready mark of `{droid}` moved while it was being set: expected {}, found {}",
        OidOrNone(expected),
        OidOrNone(found)
    )]
    Moved {
        droid: String,
        expected: Option<Oid>,
        found: Option<Oid>,
    },
    /// `done` without `--rev` for a droid that has no branch yet.
    #[error("droid `{droid}` has no branch `{branch}`")]
    NoBranch { droid: String, branch: String },
    /// The commit has no history in common with the integration branch: it cannot be replayed.
    #[error("{} ({}) shares no history with `{integration}`; it cannot be merged", Described(rev.as_deref(), branch), short(commit))]
    Unrelated {
        droid: String,
        /// The `--rev` the user gave, if any (else the branch head was meant).
        rev: Option<String>,
        branch: String,
        commit: Oid,
        integration: String,
    },
    /// `done --strict` with uncommitted or untracked files in the droid's worktree.
    #[error("the worktree of `{droid}` has {} that the ready mark does not include: {}", crate::ops::remove::describe_counts(dirt.counts.changed, dirt.counts.untracked), crate::ops::remove::sample(dirt))]
    Uncommitted {
        droid: String,
        branch: String,
        dirt: DirtyPaths,
    },
}

impl Typed for ReadyError {
    fn exit_kind(&self) -> ExitKind {
        match self {
            ReadyError::Moved { .. } | ReadyError::Uncommitted { .. } => ExitKind::Failure,
            ReadyError::NoBranch { .. } => ExitKind::Usage,
            // A `--rev` the user chose is a usage error; the droid's own branch is not.
            ReadyError::Unrelated { rev, .. } => match rev {
                Some(_) => ExitKind::Usage,
                None => ExitKind::Failure,
            },
        }
    }
}

struct OidOrNone<'a>(&'a Option<Oid>);

impl fmt::Display for OidOrNone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "{}", short(id)),
            None => f.write_str("no mark"),
        }
    }
}

struct Described<'a>(Option<&'a str>, &'a str);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(rev) => write!(f, "`{rev}`"),
            None => write!(f, "branch `{}`", self.1),
        }
    }
}

/// What [`mark`] did.
#[derive(Debug, Clone)]
pub struct Marked {
    /// Where the mark pointed before (equal to `expected`).
    pub previous: Option<Oid>,
    /// Commits of the marked commit not yet on the integration branch.
    pub ahead: usize,
}

impl Marked {
    /// Recorded as "finished, nothing to merge": the commit is already on the integration
    /// branch.
    pub fn nothing_to_merge(&self) -> bool {
        self.ahead == 0
    }
}

/// Set `droid`'s ready mark to `commit` if it still holds `expected` (or already holds
/// `commit`), and record "finished, nothing to merge" when nothing is ahead of `integration`
/// (clearing an older such record otherwise). Writes no event: callers say why they marked.
pub fn mark(
    repo: &Repo,
    state: &StateDir,
    integration: &str,
    droid: &str,
    commit: Oid,
    expected: Option<Oid>,
) -> Result<Marked> {
    let name = ready_ref(droid);
    let moved = |found| ReadyError::Moved {
        droid: droid.to_owned(),
        expected,
        found,
    };
    let found = repo.ref_target(&name)?;
    if found != expected && found != Some(commit) {
        return Err(moved(found).into());
    }
    let expect = match found {
        Some(p) => Expect::MustMatch(p),
        None => Expect::MustNotExist,
    };
    if let Err(e) = repo.set_ref(
        &name,
        commit,
        expect,
        &format!("droidforge: `{droid}` ready"),
    ) {
        // The compare-and-swap lost a race: say who won (from under the ref's lock), not how
        // the ref store refused. Someone who set the same commit agrees with us.
        match e.find::<RefMoved>() {
            Some(lost) if lost.found == Some(commit) => {}
            Some(lost) => return Err(moved(lost.found).into()),
            None => return Err(e),
        }
    }
    let ahead = match repo.branch_tip(integration)? {
        // Only "ahead" matters: counting "behind" too would walk the droid's history twice.
        Some(tip) => repo.commits_between(Some(tip), commit)?.len(),
        None => repo.commits_between(None, commit)?.len(),
    };
    // A droid recorded as finished with nothing to merge counts as merged for its dependents;
    // a new mark with work ahead must end that.
    let finished_empty = (ahead == 0).then(|| commit.to_string());
    // Most marks change nothing here (work ahead, no record to clear): skip the locked,
    // fsynced rewrite of the state file then — it was half the cost of a `done`.
    let recorded = state
        .store()
        .read()
        .ok()
        .and_then(|s| s.droids.get(droid).map(|d| d.finished_empty.clone()));
    if recorded.as_ref() != Some(&finished_empty) {
        state.ensure()?;
        state
            .store()
            .update_droid(droid, |d| d.finished_empty = finished_empty.clone())?;
    }
    Ok(Marked {
        previous: found,
        ahead,
    })
}

/// What `done` should do.
#[derive(Debug, Clone, Default)]
pub struct DoneOptions {
    /// The droid (default: inferred from the current worktree).
    pub droid: Option<String>,
    /// Mark this revision instead of the branch head.
    pub rev: Option<String>,
    /// Refuse when the droid's worktree has uncommitted files.
    pub strict: bool,
}

/// The result of `done`.
#[derive(Debug, Clone)]
pub struct DoneReport {
    pub droid: String,
    pub ready_ref: String,
    pub commit: Oid,
    pub summary: String,
    pub previous: Option<Oid>,
    /// Commits not yet on the integration branch.
    pub ahead: usize,
    pub integration: String,
    /// Uncommitted or untracked files in the droid's worktree (not part of the mark).
    pub uncommitted: Option<DirtyPaths>,
}

impl DoneReport {
    /// Recorded as "finished, nothing to merge" (the commit is already on the integration
    /// branch).
    pub fn nothing_to_merge(&self) -> bool {
        self.ahead == 0
    }
}

/// `droidforge done`: mark the droid's branch head (or `rev`) ready to merge.
pub fn done(ws: &Workspace, opts: &DoneOptions) -> Result<DoneReport> {
    let droid = ws.droid_arg(opts.droid.as_deref())?;
    let branch = ws.branch_of(&droid);
    let commit = match &opts.rev {
        Some(rev) => ws.repo.rev_parse(rev)?,
        None => ws
            .repo
            .branch_tip(&branch)?
            .ok_or_else(|| ReadyError::NoBranch {
                droid: droid.clone(),
                branch: branch.clone(),
            })?,
    };
    // A commit with no history in common with the integration branch cannot be replayed onto
    // it; refuse it now rather than at merge time.
    let tip = ws.integration_tip()?;
    if ws.repo.merge_base(commit, tip)?.is_none() {
        return Err(ReadyError::Unrelated {
            droid,
            rev: opts.rev.clone(),
            branch,
            commit,
            integration: ws.integration.clone(),
        }
        .into());
    }
    // Uncommitted work is not part of the ready mark: the caller warns (or `--strict` refuses).
    let uncommitted = uncommitted_in(ws, &droid);
    if opts.strict
        && let Some(dirt) = uncommitted
    {
        return Err(ReadyError::Uncommitted {
            droid,
            branch,
            dirt,
        }
        .into());
    }
    let ready_ref = ready_ref(&droid);
    let expected = ws.repo.ref_target(&ready_ref)?;
    let marked = mark(
        &ws.repo,
        &ws.state,
        &ws.integration,
        &droid,
        commit,
        expected,
    )?;
    let info = ws.repo.commit_info(commit)?;
    ws.event_with(
        Event::new(
            EventKind::Ready,
            Some(&droid),
            format!("{} {}", short(commit), info.summary),
        )
        .with_data(serde_json::json!({ "commit": commit.to_string() })),
    );
    Ok(DoneReport {
        droid,
        ready_ref,
        commit,
        summary: info.summary,
        previous: marked.previous,
        ahead: marked.ahead,
        integration: ws.integration.clone(),
        uncommitted,
    })
}

/// The droid's worktree's uncommitted and untracked files, if it has a worktree and any.
fn uncommitted_in(ws: &Workspace, droid: &str) -> Option<DirtyPaths> {
    let path = ws.worktree_path(droid);
    if !path.exists() {
        return None;
    }
    let dirt = Repo::worktree_dirty_paths(&path, 5).ok()?;
    (!dirt.counts.is_clean()).then_some(dirt)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with `main` at a root commit, and a child commit of it.
    fn repo() -> (tempfile::TempDir, Repo, StateDir, Oid, Oid) {
        let dir = tempfile::tempdir().unwrap();
        Repo::git_cli(dir.path(), &["init", "-q", "-b", "main"]).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let base = repo
            .commit_files(None, &[("a.txt", Some(b"a".as_slice()))], "base")
            .unwrap();
        repo.set_ref("refs/heads/main", base, Expect::Any, "test")
            .unwrap();
        let work = repo
            .commit_files(Some(base), &[("b.txt", Some(b"b".as_slice()))], "work")
            .unwrap();
        let state = StateDir::new(&repo.common_dir());
        (dir, repo, state, base, work)
    }

    fn finished_empty(state: &StateDir, droid: &str) -> Option<String> {
        let s = state.store().read().unwrap();
        s.droids.get(droid).and_then(|d| d.finished_empty.clone())
    }

    #[test]
    fn a_mark_that_moved_is_left_alone() {
        let (_dir, repo, state, base, work) = repo();
        mark(&repo, &state, "main", "d", base, None).unwrap();
        let err = mark(&repo, &state, "main", "d", work, None).unwrap_err();
        assert!(
            matches!(
                err.find::<ReadyError>(),
                Some(ReadyError::Moved { found, expected: None, .. }) if *found == Some(base)
            ),
            "{err:?}"
        );
        assert_eq!(repo.ref_target(&ready_ref("d")).unwrap(), Some(base));
        // Already where the caller wants it: not a move.
        mark(&repo, &state, "main", "d", base, None).unwrap();
    }

    #[test]
    fn nothing_to_merge_is_recorded_and_cleared_with_the_mark() {
        let (_dir, repo, state, base, work) = repo();
        let m = mark(&repo, &state, "main", "d", base, None).unwrap();
        assert!(m.nothing_to_merge());
        assert_eq!(finished_empty(&state, "d"), Some(base.to_string()));
        let m = mark(&repo, &state, "main", "d", work, Some(base)).unwrap();
        assert_eq!((m.ahead, m.previous), (1, Some(base)));
        assert_eq!(finished_empty(&state, "d"), None);
    }
}
