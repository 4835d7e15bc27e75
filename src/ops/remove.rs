//! Removing droid worktrees (and branches) without losing work, and pruning stale or orphaned
//! worktrees.
//!
//! Work is "lost" when a worktree has uncommitted or untracked files, or — when the branch is
//! deleted — when the branch has commits that did not land on the integration branch. The
//! merger rebases, so a landed commit is recognised by the landed mapping the merger records
//! (original → rewritten, still on the integration branch), by its identity (author, author
//! time, summary) among the integration commits since the merge base, or by being the recorded
//! merged commit.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::git::{DirtyPaths, Expect, Oid, Repo};
use crate::ops::spawn::same_path;
use crate::state::{AgentStatus, DroidState, Event, EventKind, pid_alive};
use crate::workspace::Workspace;

/// How many paths a refusal names.
const SHOW_PATHS: usize = 5;

#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    pub delete_branch: bool,
    pub force: bool,
}

/// What `remove` will do (or did) for one droid.
#[derive(Debug, Clone, Serialize)]
pub struct RemoveOutcome {
    pub droid: String,
    pub worktree: PathBuf,
    /// Was a worktree registered for the droid?
    pub had_worktree: bool,
    pub worktree_removed: bool,
    pub branch: String,
    pub branch_deleted: bool,
    /// Uncommitted work that `--force` discarded.
    pub discarded: Option<DirtyPaths>,
    /// Commits not on the integration branch that `--force --delete-branch` dropped.
    pub discarded_commits: usize,
}

/// A checked removal, ready to execute.
pub struct RemovalPlan {
    outcome: RemoveOutcome,
    registered: bool,
    branch_tip: Option<Oid>,
    opts: RemoveOptions,
}

impl RemovalPlan {
    pub fn outcome(&self) -> &RemoveOutcome {
        &self.outcome
    }
}

/// Check the removal of every droid in `droids` before anything is removed: one refusal
/// refuses all (nothing is removed). Names are resolved against the manifest and
/// de-duplicated; the plans come in the order given, each to [`execute`].
pub fn plan_all(
    ws: &Workspace,
    droids: &[String],
    opts: RemoveOptions,
) -> Result<Vec<RemovalPlan>> {
    let mut names: Vec<String> = Vec::new();
    for n in droids {
        let name = ws.forge.require_droid(n)?.name.clone();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.iter().map(|name| plan(ws, name, opts)).collect()
}

/// Check whether `droid` can be removed; an error says what would be lost and how to proceed.
pub fn plan(ws: &Workspace, droid: &str, opts: RemoveOptions) -> Result<RemovalPlan> {
    let path = ws.worktree_path(droid);
    let branch = ws.branch_of(droid);
    let worktrees = ws.repo.worktrees()?;
    let registered = worktrees.iter().find(|w| same_path(&w.path, &path));
    let stored = ws.state.store().read()?.droids.get(droid).cloned();
    // A droid branch named like the integration branch (an empty `branch_prefix` and a droid
    // `main`) must never take the integration branch with it.
    if opts.delete_branch && branch == ws.integration {
        return Err(Error::usage(format!(
            "branch `{branch}` is the integration branch; droidforge never deletes it"
        ))
        .hint("drop `--delete-branch`, and set `branch_prefix` (e.g. `droidforge/`) in .droidforge/forge.toml"));
    }
    if opts.delete_branch
        && let Some(other) = worktrees
            .iter()
            .find(|w| w.branch.as_deref() == Some(branch.as_str()) && !same_path(&w.path, &path))
    {
        return Err(Error::failure(format!(
            "branch `{branch}` is checked out in the worktree `{}`",
            other.path.display()
        ))
        .hint("switch that worktree to another branch first, or drop `--delete-branch`"));
    }
    let force_hint = |what: &str, them: &str| {
        format!(
            "{what}, or run `droidforge remove {droid}{} --force` to discard {them}",
            if opts.delete_branch {
                " --delete-branch"
            } else {
                ""
            }
        )
    };

    if let Some(w) = registered
        && w.branch.as_deref() != Some(branch.as_str())
    {
        return Err(Error::failure(format!(
            "`{}` is a worktree of {}, not of `{branch}`; not touching it",
            path.display(),
            w.branch
                .as_deref()
                .map(|b| format!("`{b}`"))
                .unwrap_or_else(|| "a detached HEAD".to_owned())
        ))
        .hint("remove it with `git worktree remove` if you no longer need it"));
    }
    if registered.is_none() && path.exists() {
        return Err(Error::failure(format!(
            "`{}` is not a registered worktree of `{droid}`; not touching it",
            path.display()
        ))
        .hint("move or delete that directory yourself"));
    }
    let branch_tip = ws.repo.branch_tip(&branch)?;
    if registered.is_none() && !(opts.delete_branch && branch_tip.is_some()) {
        return Err(
            Error::usage(format!("droid `{droid}` has no worktree")).hint(
                if branch_tip.is_some() {
                    format!("add `--delete-branch` to delete its branch `{branch}`")
                } else {
                    format!("spawn it with `droidforge spawn {droid}`")
                },
            ),
        );
    }

    let mut outcome = RemoveOutcome {
        droid: droid.to_owned(),
        worktree: path.clone(),
        had_worktree: registered.is_some(),
        worktree_removed: false,
        branch: branch.clone(),
        branch_deleted: false,
        discarded: None,
        discarded_commits: 0,
    };

    if let Some(agent) = stored.as_ref().and_then(|s| s.agent.as_ref())
        && matches!(agent.status, AgentStatus::Running | AgentStatus::Stalled)
        && let Some(pid) = agent.pid
        && pid_alive(pid)
        && !opts.force
        && registered.is_some()
    {
        return Err(Error::failure(format!(
            "an agent (pid {pid}) is still running in the worktree of `{droid}`"
        ))
        .hint(force_hint("stop it first", "its work")));
    }

    if let Some(w) = registered
        && w.present
    {
        let dirt = Repo::worktree_dirty_paths(&path, SHOW_PATHS)?;
        if !dirt.counts.is_clean() {
            if !opts.force {
                return Err(Error::failure(format!(
                    "the worktree of `{droid}` has {}: {}",
                    describe_counts(dirt.counts.changed, dirt.counts.untracked),
                    sample(&dirt)
                ))
                .hint(force_hint("commit them on the droid branch", "them")));
            }
            outcome.discarded = Some(dirt);
        }
    }

    if opts.delete_branch
        && let Some(tip) = branch_tip
    {
        let main_branch = Repo::open(&ws.root).ok().and_then(|m| m.head_branch());
        if main_branch.as_deref() == Some(branch.as_str()) {
            return Err(Error::failure(format!(
                "branch `{branch}` is checked out in the main worktree"
            ))
            .hint(format!(
                "switch the main worktree to `{}` first",
                ws.integration
            )));
        }
        let unmerged = unmerged_commits(ws, tip, stored.as_ref())?;
        if !unmerged.is_empty() {
            if !opts.force {
                return Err(Error::failure(format!(
                    "branch `{branch}` has {} not on `{}`",
                    plural(unmerged.len(), "commit"),
                    ws.integration
                ))
                .hint(force_hint(
                    &format!(
                        "merge it first (`droidforge done {droid}` then `droidforge merge {droid}`), or keep the branch by dropping `--delete-branch`"
                    ),
                    "the commits",
                )));
            }
            outcome.discarded_commits = unmerged.len();
        }
    }

    Ok(RemovalPlan {
        outcome,
        registered: registered.is_some(),
        branch_tip,
        opts,
    })
}

/// Carry out a checked removal and record a `removed` event.
pub fn execute(ws: &Workspace, plan: RemovalPlan) -> Result<RemoveOutcome> {
    let RemovalPlan {
        mut outcome,
        registered,
        branch_tip,
        opts,
    } = plan;
    let droid = outcome.droid.clone();
    if registered {
        // The brief is ours (and excluded); take it away so it never counts as a change.
        let _ = std::fs::remove_file(outcome.worktree.join(crate::forge::brief::BRIEF_PATH));
        ws.repo.remove_worktree(&outcome.worktree, opts.force)?;
        outcome.worktree_removed = true;
    }
    if opts.delete_branch
        && let Some(tip) = branch_tip
    {
        let mut edits = vec![(
            format!("refs/heads/{}", outcome.branch),
            None,
            Expect::MustMatch(tip),
        )];
        let ready = ws.ready_ref(&droid);
        if ws.repo.ref_target(&ready)?.is_some() {
            edits.push((ready, None, Expect::Any));
        }
        ws.repo
            .edit_refs(&edits, "droidforge: remove droid branch")
            .map_err(|e| e.hint("the branch moved while removing; run the command again"))?;
        outcome.branch_deleted = true;
    }
    let mut msg = Vec::new();
    if outcome.worktree_removed {
        msg.push("worktree removed".to_owned());
    }
    if outcome.branch_deleted {
        msg.push(format!("branch {} deleted", outcome.branch));
    }
    let journal = ws.state.journal();
    let _ = ws.state.ensure();
    let _ = journal.append(
        &Event::new(EventKind::Removed, Some(&droid), msg.join(", "))
            .with_data(serde_json::to_value(&outcome).unwrap_or_default()),
    );
    let _ = ws.state.store().update_droid(&droid, |d| {
        d.spawned_at = None;
        d.agent = None;
        if outcome.branch_deleted {
            d.base = None;
        }
        d.last_event = Some(format!("removed: {}", msg.join(", ")));
        d.last_event_at = Some(crate::util::time::now());
    });
    Ok(outcome)
}

/// Commits on the branch at `tip` that did not land on the integration branch.
pub fn unmerged_commits(ws: &Workspace, tip: Oid, stored: Option<&DroidState>) -> Result<Vec<Oid>> {
    if stored.and_then(|s| s.merged_commit.as_deref()) == Some(tip.to_string().as_str()) {
        return Ok(Vec::new());
    }
    let Some(int_tip) = ws.repo.branch_tip(&ws.integration)? else {
        return ws.repo.commits_between(None, tip);
    };
    let candidates = ws.repo.commits_between(Some(int_tip), tip)?;
    if candidates.is_empty() {
        return Ok(candidates);
    }
    // Rebased copies keep author, author date and message: look for them on the integration
    // branch since the fork point.
    let base = ws.repo.merge_base(tip, int_tip)?;
    let landed: HashSet<(String, String, i64, String)> = ws
        .repo
        .commits_between(base, int_tip)?
        .into_iter()
        .filter_map(|c| ws.repo.commit_info(c).ok())
        .map(|c| (c.author.name, c.author.email, c.author.time, c.summary))
        .collect();
    // The recorded landed mapping (original → rewritten) is the exact answer; the identity
    // match covers commits that landed before the state recorded it.
    let recorded = stored.map(|s| &s.landed);
    let mut unmerged = Vec::with_capacity(candidates.len());
    for c in candidates {
        if crate::ops::merge::plan::landed_on(&ws.repo, recorded, c, int_tip)?.is_none() {
            unmerged.push(c);
        }
    }
    Ok(unmerged
        .into_iter()
        .filter(|c| match ws.repo.commit_info(*c) {
            Ok(i) => !landed.contains(&(i.author.name, i.author.email, i.author.time, i.summary)),
            Err(_) => true,
        })
        .collect())
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub fn describe_counts(changed: usize, untracked: usize) -> String {
    let mut parts = Vec::new();
    if changed > 0 {
        parts.push(format!(
            "{} with uncommitted changes",
            plural(changed, "file")
        ));
    }
    if untracked > 0 {
        parts.push(if untracked == 1 {
            "1 untracked file".to_owned()
        } else {
            format!("{untracked} untracked files")
        });
    }
    parts.join(" and ")
}

pub fn sample(d: &DirtyPaths) -> String {
    let total = d.counts.changed + d.counts.untracked;
    let mut shown: Vec<String> = d
        .changed
        .iter()
        .chain(d.untracked.iter())
        .take(SHOW_PATHS)
        .map(|p| format!("`{p}`"))
        .collect();
    if total > shown.len() {
        shown.push(format!("and {} more", total - shown.len()));
    }
    shown.join(", ")
}

/// One worktree `prune` looked at.
#[derive(Debug, Clone, Serialize)]
pub struct PruneItem {
    pub path: PathBuf,
    pub branch: Option<String>,
    /// `pruned` / `would-prune` (registration of a missing directory), `removed` /
    /// `would-remove` (orphan worktree), or `kept` (orphan with work that would be lost).
    pub action: &'static str,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    pub items: Vec<PruneItem>,
}

/// Forget registrations of missing worktrees (`git worktree prune`) and remove worktrees of
/// droids that left the manifest when they are clean and fully merged.
pub fn prune(ws: &Workspace, dry_run: bool) -> Result<PruneReport> {
    let worktrees = ws.repo.worktrees()?;
    let mut items: Vec<PruneItem> = worktrees
        .iter()
        .filter(|w| !w.present)
        .map(|w| PruneItem {
            path: w.path.clone(),
            branch: w.branch.clone(),
            action: if dry_run { "would-prune" } else { "pruned" },
            reason: Some("the directory is gone".to_owned()),
        })
        .collect();
    if !dry_run && !items.is_empty() {
        ws.repo.prune_worktrees()?;
    }
    let state = ws.state.store().read()?;
    for orphan in crate::ops::status::orphans(ws, &worktrees)
        .into_iter()
        .filter(|o| o.present)
    {
        let name = orphan
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut reasons = Vec::new();
        let dirt = Repo::worktree_dirty_paths(&orphan.path, SHOW_PATHS)?;
        if !dirt.counts.is_clean() {
            reasons.push(format!(
                "{}: {}",
                describe_counts(dirt.counts.changed, dirt.counts.untracked),
                sample(&dirt)
            ));
        }
        if let Some(branch) = &orphan.branch
            && let Some(tip) = ws.repo.branch_tip(branch)?
        {
            let unmerged = unmerged_commits(ws, tip, state.droids.get(&name))?;
            if !unmerged.is_empty() {
                reasons.push(format!(
                    "branch `{branch}` has {} not on `{}`",
                    plural(unmerged.len(), "commit"),
                    ws.integration
                ));
            }
        }
        let action = if !reasons.is_empty() {
            "kept"
        } else if dry_run {
            "would-remove"
        } else {
            let _ = std::fs::remove_file(orphan.path.join(crate::forge::brief::BRIEF_PATH));
            ws.repo.remove_worktree(&orphan.path, false)?;
            let _ = ws.state.journal().append(&Event::new(
                EventKind::Removed,
                Some(&name),
                "orphan worktree pruned (droid no longer in the manifest)",
            ));
            "removed"
        };
        items.push(PruneItem {
            path: orphan.path.clone(),
            branch: orphan.branch.clone(),
            action,
            reason: Some(if reasons.is_empty() {
                "no droid of that name in the manifest; clean and fully merged".to_owned()
            } else {
                format!(
                    "no droid of that name in the manifest, but {}",
                    reasons.join("; ")
                )
            }),
        });
    }
    Ok(PruneReport { dry_run, items })
}
