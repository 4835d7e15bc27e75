//! The gates a droid passes before it lands: ownership of every changed path, a clean
//! in-memory replay, and an optional verification command in a scratch worktree.

use std::path::Path;

use crate::error::{Context, Result};
use crate::forge::ownership::Rules;
use crate::git::{CommitInfo, Oid, PathChange, ReplayOutcome, Repo, short};

use super::report::{Conflict, Violation};

/// Paths a commit is responsible for. For an ordinary commit: its diff to its parent. For a
/// merge commit: only paths whose result differs from *every* parent (conflict resolutions and
/// "evil" edits) — what it brings in from a parent was already checked where it was made, or
/// is integration work. `parent_tree` may supply a known tree of a parent (saves a lookup).
pub fn commit_changes(repo: &Repo, commit: Oid) -> Result<Vec<PathChange>> {
    commit_changes_of(repo, &repo.commit_info(commit)?, None)
}

/// [`commit_changes`] of an already decoded commit.
pub fn commit_changes_of(
    repo: &Repo,
    info: &CommitInfo,
    parent_tree: Option<Oid>,
) -> Result<Vec<PathChange>> {
    if info.parents.len() <= 1 {
        let old = match (info.parents.first(), parent_tree) {
            (None, _) => None,
            (Some(_), Some(t)) => Some(t),
            (Some(p), None) => Some(repo.tree_id(*p)?),
        };
        return repo.changed_paths_between(old, info.tree, info.id);
    }
    let mut common: Option<Vec<PathChange>> = None;
    for parent in &info.parents {
        let parent_tree = repo.tree_id(*parent)?;
        let changes = repo.changed_paths_between(Some(parent_tree), info.tree, info.id)?;
        common = Some(match common {
            None => changes,
            Some(prev) => prev
                .into_iter()
                .filter(|c| changes.iter().any(|o| o.path == c.path))
                .collect(),
        });
    }
    Ok(common.unwrap_or_default())
}

/// What the ownership gate found in a droid's commits.
pub struct OwnershipCheck {
    /// Paths the droid may not change.
    pub violations: Vec<Violation>,
    /// Shared paths it changed (for the advisory lock warning), each once.
    pub shared_paths: Vec<String>,
}

/// Classifies changed paths for one droid and collects each forbidden (path, kind) once, with
/// the first commit that made it.
pub struct Judge<'a> {
    rules: &'a Rules,
    idx: Option<usize>,
    scratch: Vec<usize>,
    check: OwnershipCheck,
}

impl<'a> Judge<'a> {
    pub fn new(rules: &'a Rules, droid: &str) -> Judge<'a> {
        Judge {
            rules,
            idx: rules.droid_index(droid),
            scratch: Vec::new(),
            check: OwnershipCheck {
                violations: Vec::new(),
                shared_paths: Vec::new(),
            },
        }
    }

    /// Judge `changes`; a path already reported with the same kind is not reported again.
    pub fn add(&mut self, changes: Vec<PathChange>) {
        for change in changes {
            let class = self.rules.classify_into(&change.path, &mut self.scratch);
            if class.shared && !self.check.shared_paths.contains(&change.path) {
                self.check.shared_paths.push(change.path.clone());
            }
            let allowed = match self.idx {
                Some(i) => class.allows(i),
                None => !class.protected && class.shared,
            };
            if allowed {
                continue;
            }
            let kind = change.kind.as_str();
            let out = &mut self.check.violations;
            if out.iter().any(|v| v.path == change.path && v.kind == kind) {
                continue;
            }
            out.push(Violation {
                path: change.path,
                kind: kind.to_owned(),
                commit: change.commit,
                owner: self.rules.describe(&class),
            });
        }
    }

    pub fn finish(self) -> OwnershipCheck {
        self.check
    }
}

/// The ownership gate, before replay. What a droid changes is judged two ways, and a path
/// forbidden by either is a violation:
///
/// - every commit of `commits` (= `onto..candidate`, decoded, oldest first) on its own: each of
///   them lands in the integration branch's history (rewritten by rebase, or through the second
///   parent of a merge commit), so a foreign path written by one commit and removed again by a
///   later one still counts;
/// - the net change of the branch: `merge-base(onto, candidate)` → `candidate`. This is what a
///   merge commit inside the range cannot hide: taking an *old* integration commit's version of
///   a path (already on the integration branch, so no commit of the range "changes" it) still
///   reverts that path relative to the integration branch.
///
/// Net-change violations that no single commit explains name the candidate commit.
/// `merge_base` is `merge-base(onto, candidate)` (`None`: none).
pub fn check_ownership_of(
    repo: &Repo,
    rules: &Rules,
    droid: &str,
    merge_base: Option<Oid>,
    candidate: Oid,
    commits: &[CommitInfo],
) -> Result<OwnershipCheck> {
    let mut judge = Judge::new(rules, droid);
    for (i, info) in commits.iter().enumerate() {
        // In a linear range the parent is the previous commit: its tree is known.
        let parent_tree = match (i.checked_sub(1).map(|p| &commits[p]), info.parents.first()) {
            (Some(prev), Some(parent)) if prev.id == *parent => Some(prev.tree),
            _ => None,
        };
        judge.add(commit_changes_of(repo, info, parent_tree)?);
    }
    judge.add(net_changes_from(repo, merge_base, candidate)?);
    Ok(judge.finish())
}

/// What a branch changes relative to where it left `onto`: `merge-base(onto, tip)` → `tip`,
/// labelled with `tip`.
pub fn net_changes(repo: &Repo, onto: Oid, tip: Oid) -> Result<Vec<PathChange>> {
    net_changes_from(repo, repo.merge_base(onto, tip)?, tip)
}

/// [`net_changes`] from a known merge base (`None`: none, so everything in `tip`).
fn net_changes_from(repo: &Repo, merge_base: Option<Oid>, tip: Oid) -> Result<Vec<PathChange>> {
    let base = match merge_base {
        Some(b) => Some(repo.tree_id(b)?),
        None => None,
    };
    repo.changed_paths_between(base, repo.tree_id(tip)?, tip)
}

/// The ownership gate after replay: what landing would do to the integration branch, the
/// paths that differ between `onto` and the replayed `new_tip` (for `--strategy merge` the
/// merge result; changes already on the integration branch cannot show up here). Labelled with
/// `candidate`.
pub fn check_landing(
    repo: &Repo,
    rules: &Rules,
    droid: &str,
    onto: Oid,
    new_tip: Oid,
    candidate: Oid,
) -> Result<Vec<Violation>> {
    let mut judge = Judge::new(rules, droid);
    judge.add(repo.changed_paths_between(
        Some(repo.tree_id(onto)?),
        repo.tree_id(new_tip)?,
        candidate,
    )?);
    Ok(judge.finish().violations)
}

/// Tree entries git would refuse (`.git`, `..`, names with `/`, duplicates, bad modes, a
/// symlinked `.gitmodules`, …) that `commits` (decoded, oldest first) introduce, as violations
/// of kind `invalid-entry` whose `owner` field carries the reason. Each commit's trees are
/// read only where they differ from its parents'; each bad path is reported once.
pub fn check_entries_of(repo: &Repo, commits: &[CommitInfo]) -> Result<Vec<Violation>> {
    let mut clean = std::collections::HashSet::new();
    let mut out: Vec<Violation> = Vec::new();
    for info in commits {
        let parent_trees = info
            .parents
            .iter()
            .map(|&p| repo.tree_id(p))
            .collect::<Result<Vec<_>>>()?;
        for bad in repo.invalid_entries(info.tree, &parent_trees, &mut clean)? {
            if out.iter().any(|v| v.path == bad.path) {
                continue;
            }
            out.push(Violation {
                path: bad.path,
                kind: INVALID_ENTRY.to_owned(),
                commit: info.id.to_string(),
                owner: bad.reason,
            });
        }
    }
    Ok(out)
}

/// The violation kind of a tree entry git would refuse.
pub const INVALID_ENTRY: &str = "invalid-entry";

/// The result of replaying one droid.
pub enum Applied {
    Clean {
        tip: Oid,
        rewritten: Vec<(Oid, Oid)>,
        /// The (original, rewritten) pairs whose rewritten commit changes exactly what the
        /// original changed (see [`crate::git::Replayed::same_change`]).
        same_change: Vec<(Oid, Oid)>,
    },
    Conflict(Vec<Conflict>),
    /// Cannot be replayed at all (e.g. a merge commit with `--strategy rebase`).
    Refused(String),
}

/// Replay `commits` onto `onto` (rebase), or write one `--no-ff` merge commit of `candidate`.
pub fn apply(
    repo: &Repo,
    strategy: super::Strategy,
    onto: Oid,
    candidate: Oid,
    commits: &[Oid],
    message: &str,
    committer: &crate::git::Signature,
) -> Result<Applied> {
    let infos = commits
        .iter()
        .map(|&c| repo.commit_info(c))
        .collect::<Result<Vec<_>>>()?;
    apply_of(repo, strategy, onto, candidate, &infos, message, committer)
}

/// [`apply`] on already decoded commits (oldest first).
pub fn apply_of(
    repo: &Repo,
    strategy: super::Strategy,
    onto: Oid,
    candidate: Oid,
    commits: &[CommitInfo],
    message: &str,
    committer: &crate::git::Signature,
) -> Result<Applied> {
    let outcome = match strategy {
        super::Strategy::Rebase => {
            if let Some(c) = commits.iter().find(|c| c.parents.len() > 1) {
                return Ok(Applied::Refused(format!(
                    "commit {} is a merge commit; rebase replays linear history only: linearize the branch (`git rebase` it onto the integration branch) and mark it ready again",
                    short(c.id)
                )));
            }
            let ids: Vec<Oid> = commits.iter().map(|c| c.id).collect();
            // Already on top of the target: fast-forward, keeping the droid's commits as they
            // are (like `git rebase` does).
            if commits.first().map(|c| c.parents.as_slice()) == Some(&[onto][..]) {
                return Ok(Applied::Clean {
                    tip: candidate,
                    rewritten: commits.iter().map(|c| (c.id, c.id)).collect(),
                    same_change: Vec::new(),
                });
            }
            repo.replay(onto, &ids, committer)?
        }
        super::Strategy::Merge => repo.merge_commit(onto, candidate, message, committer)?,
    };
    Ok(match outcome {
        ReplayOutcome::Clean { tip, commits } => Applied::Clean {
            tip,
            rewritten: commits.iter().map(|r| (r.original, r.rewritten)).collect(),
            same_change: commits
                .iter()
                .filter(|r| r.same_change)
                .map(|r| (r.original, r.rewritten))
                .collect(),
        },
        ReplayOutcome::Conflict { at, conflicts } => Applied::Conflict(
            conflicts
                .into_iter()
                .map(|c| Conflict {
                    path: c.path,
                    kind: c.kind,
                    commit: at.to_string(),
                })
                .collect(),
        ),
    })
}

/// Outcome of a verification command.
pub struct Verified {
    pub ok: bool,
    /// Exit status and the last lines of output, for the report.
    pub detail: String,
    /// Everything it printed (stdout, then stderr), for the droid's feedback.
    pub output: String,
}

/// Run `sh -c cmd` in a scratch detached worktree of `commit` under `scratch_dir`, then remove
/// the worktree: moved into `trash` when given (the caller has it emptied later), else deleted.
///
/// When the candidate exists only in `repo`'s memory (a dry run), its tree is exported into a
/// plain directory instead of a git worktree.
pub fn verify(
    repo: &Repo,
    scratch_dir: &Path,
    trash: Option<&Path>,
    commit: Oid,
    cmd: &str,
) -> Result<Verified> {
    let in_memory = !repo.on_disk_has(commit);
    if let Some(parent) = scratch_dir.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    repo.discard_scratch(scratch_dir, in_memory, trash);
    let made = match in_memory {
        true => repo.export_tree(commit, scratch_dir),
        false => repo.add_detached_worktree(scratch_dir, commit),
    };
    if let Err(e) = made {
        repo.discard_scratch(scratch_dir, in_memory, trash);
        return Err(e);
    }
    let output = run_command(scratch_dir, cmd);
    repo.discard_scratch(scratch_dir, in_memory, trash);
    verdict(cmd, output)
}

/// The verification command `sh -c cmd` in `dir`, stdin closed.
fn command(dir: &Path, cmd: &str) -> std::process::Command {
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    command
}

/// Run the verification command `sh -c cmd` in `dir` (stdin closed) to completion.
pub fn run_command(dir: &Path, cmd: &str) -> std::io::Result<std::process::Output> {
    command(dir, cmd).output()
}

/// Start the verification command `sh -c cmd` in `dir` (stdin closed, output captured) as the
/// leader of its own process group, so that everything it starts can be stopped with it
/// ([`crate::util::process::signal_group`]).
pub fn spawn_command(dir: &Path, cmd: &str) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    command(dir, cmd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
}

/// What a finished verification command means for the droid.
pub fn verdict(cmd: &str, output: std::io::Result<std::process::Output>) -> Result<Verified> {
    let output = output.with_context(|| format!("cannot run `{cmd}`"))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let tail: Vec<&str> = text.lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    let status = match output.status.code() {
        Some(c) => format!("exit code {c}"),
        None => "killed by a signal".to_owned(),
    };
    Ok(Verified {
        output: text.clone(),
        ok: output.status.success(),
        detail: if tail.is_empty() {
            format!("`{cmd}` failed ({status})")
        } else {
            format!("`{cmd}` failed ({status}): {}", tail.join(" / "))
        },
    })
}
