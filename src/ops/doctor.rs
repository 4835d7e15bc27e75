//! `doctor`: find stale runtime state, explain each finding, and fix what is safe.
//!
//! Never deletes unmerged work: a ready mark is deleted only when its commit is already on the
//! integration branch, a worktree is pruned only when its directory is already gone, and a
//! corrupt state file is moved aside, not deleted.

use serde::Serialize;

use crate::error::Result;
use crate::git::Expect;
use crate::state::locks::LockStore;
use crate::state::{AgentStatus, pid_alive};
use crate::util::safe_fs::write_atomic;
use crate::util::time::now;
use crate::workspace::{READY_PREFIX, Workspace};

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One thing `doctor` noticed.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable identifier: missing-worktree, branch-without-worktree, unregistered-worktree,
    /// stale-ready-mark, unmerged-ready-mark, dead-agent, stale-lock, interrupted-merge,
    /// corrupt-state, corrupt-locks, broken-pool-worktree, leftover-trash.
    pub code: &'static str,
    pub severity: Severity,
    /// The droid, path or ref concerned.
    pub subject: String,
    pub message: String,
    /// Why it matters and how it probably happened.
    pub explanation: String,
    /// What `--fix` does (None: nothing automatic; `action` says what to do).
    pub fix: Option<String>,
    /// What the user can do by hand.
    pub action: Option<String>,
    /// Was it fixed in this run?
    pub fixed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub findings: Vec<Finding>,
    /// Findings of warning or error severity that are still there.
    pub remaining: usize,
    pub fixed: usize,
}

impl Finding {
    fn new(code: &'static str, severity: Severity, subject: impl Into<String>) -> Finding {
        Finding {
            code,
            severity,
            subject: subject.into(),
            message: String::new(),
            explanation: String::new(),
            fix: None,
            action: None,
            fixed: false,
        }
    }
    fn msg(mut self, m: impl Into<String>) -> Self {
        self.message = m.into();
        self
    }
    fn why(mut self, e: impl Into<String>) -> Self {
        self.explanation = e.into();
        self
    }
    fn fix(mut self, f: impl Into<String>) -> Self {
        self.fix = Some(f.into());
        self
    }
    fn action(mut self, a: impl Into<String>) -> Self {
        self.action = Some(a.into());
        self
    }
}

/// Run every check; with `fix`, repair what is safe.
pub fn diagnose(ws: &Workspace, fix: bool) -> Result<DoctorReport> {
    let mut findings = Vec::new();
    check_state_files(ws, fix, &mut findings);
    check_worktrees(ws, fix, &mut findings)?;
    check_pool(ws, fix, &mut findings)?;
    check_ready_marks(ws, fix, &mut findings)?;
    check_agents(ws, fix, &mut findings);
    check_locks(ws, fix, &mut findings);
    check_ref_locks(ws, fix, &mut findings);
    check_trash(ws, fix, &mut findings);
    let journal_path = ws.state.merge_journal_path();
    if std::fs::symlink_metadata(&journal_path).is_ok()
        && let Err(e) = crate::ops::merge::read_journal(&ws.state)
    {
        // Unreadable: `merge --continue` cannot finish it and saying "run --continue" would
        // send the user in a circle. Moving it aside is the way out; the backup refs still
        // say where the integration branch was before each merge.
        let mut f = Finding::new("corrupt-merge-journal", Severity::Error, "merge-journal.json")
            .msg(format!("the merge journal cannot be read: {}", e.message))
            .why(format!(
                "`{}` records a merge that is landing so `merge --continue` can finish it; it no longer parses, so the interrupted merge cannot be finished or rolled back automatically",
                journal_path.display()
            ))
            .fix(format!("move it aside as `merge-journal.json.corrupt-<time>`; {}", crate::ops::merge::CHECK_BY_HAND));
        if fix && let Ok(aside) = crate::state::move_aside(&journal_path) {
            f.fixed = true;
            f.message = format!(
                "the merge journal could not be read; moved it to `{}`. {}",
                aside.display(),
                crate::ops::merge::CHECK_BY_HAND
            );
        }
        findings.push(f);
    } else if journal_path.exists() {
        findings.push(
            Finding::new("interrupted-merge", Severity::Error, "merge-journal.json")
                .msg("a merge was interrupted before it finished")
                .why(format!(
                    "`{}` is written while a merge lands and removed when it is done; it is still there, so a merge crashed or was killed mid-way (the integration branch is at its old or its new tip, never in between)",
                    ws.state.merge_journal_path().display()
                ))
                .action("run `droidforge merge --continue` to finish it, or `droidforge merge --abort` to roll it back"),
        );
    }
    let remaining = findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning && !f.fixed)
        .count();
    let fixed = findings.iter().filter(|f| f.fixed).count();
    Ok(DoctorReport {
        findings,
        remaining,
        fixed,
    })
}

/// Move a corrupt file aside (`<name>.corrupt-<epoch>`) and write `empty` in its place.
fn move_aside(path: &std::path::Path, empty: &[u8]) -> Result<std::path::PathBuf> {
    let aside = crate::state::move_aside(path)?;
    write_atomic(path, empty)?;
    Ok(aside)
}

fn check_state_files(ws: &Workspace, fix: bool, out: &mut Vec<Finding>) {
    let state_path = ws.state.state_file_path();
    if std::fs::symlink_metadata(&state_path).is_ok() && ws.state.store().read().is_err() {
        let mut f = Finding::new("corrupt-state", Severity::Error, state_path.display().to_string())
            .msg("the state file does not parse")
            .why("runtime facts (agent pids, merge results) cannot be read; every command that needs them fails. Writes are atomic, so this means an outside edit or a disk problem")
            .fix("move it aside as `state.json.corrupt-<time>` and start from a fresh state whose merge history is rebuilt from the backup refs `refs/droidforge/backup/*` (refs, branches and worktrees are untouched)");
        if fix {
            // The merge history is what `undo` needs; the backup refs (and the per-merge
            // reports) survive a lost state file, so rebuild it from them.
            let fresh = crate::state::State {
                version: crate::state::STATE_VERSION,
                merges: crate::ops::merge::rebuild_merge_history(ws).unwrap_or_default(),
                ..Default::default()
            };
            let rebuilt = fresh.merges.len();
            if let Ok(bytes) = serde_json::to_vec_pretty(&fresh)
                && let Ok(aside) = move_aside(&state_path, &bytes)
            {
                f.fixed = true;
                f.message = format!(
                    "the state file could not be used; moved it to `{}` and rebuilt the history of {rebuilt} merge(s) from the backup refs",
                    aside.display()
                );
            }
        }
        out.push(f);
    }
    let locks = LockStore::new(&ws.state);
    if std::fs::symlink_metadata(locks.path()).is_ok() && locks.read().is_err() {
        let mut f = Finding::new(
            "corrupt-locks",
            Severity::Error,
            locks.path().display().to_string(),
        )
        .msg("the lock file does not parse")
        .why("nobody can take or release advisory locks until it is repaired")
        .fix("move it aside as `locks.json.corrupt-<time>` and start with no locks held");
        if fix && move_aside(&locks.path(), b"{\"version\":1}").is_ok() {
            f.fixed = true;
        }
        out.push(f);
    }
}

fn same_dir(a: &std::path::Path, b: &std::path::Path) -> bool {
    let ca = a.canonicalize().unwrap_or_else(|_| a.to_owned());
    let cb = b.canonicalize().unwrap_or_else(|_| b.to_owned());
    ca == cb
}

fn check_worktrees(ws: &Workspace, fix: bool, out: &mut Vec<Finding>) -> Result<()> {
    let worktrees = ws.repo.worktrees()?;
    let missing: Vec<_> = worktrees.iter().filter(|w| !w.present).collect();
    let mut pruned = false;
    if fix && !missing.is_empty() {
        pruned = ws.repo.prune_worktrees().is_ok();
    }
    for w in &missing {
        let mut f = Finding::new("missing-worktree", Severity::Warning, w.path.display().to_string())
            .msg(format!(
                "the worktree `{}`{} is registered but its directory is gone",
                w.path.display(),
                w.branch.as_deref().map(|b| format!(" (branch `{b}`)")).unwrap_or_default()
            ))
            .why("the directory was deleted by hand instead of with `droidforge remove`; git still thinks the branch is checked out there. The branch and its commits are intact")
            .fix("forget the registration (`git worktree prune`); the branch stays");
        f.fixed = pruned;
        out.push(f);
    }
    // Droid branches with no worktree.
    let present: Vec<_> = worktrees.iter().filter(|w| w.present).collect();
    for d in ws.forge.droids() {
        let branch = ws.branch_of(&d.name);
        if ws.repo.branch_tip(&branch)?.is_none() {
            continue;
        }
        let checked_out = present
            .iter()
            .any(|w| w.branch.as_deref() == Some(branch.as_str()))
            || ws.repo.head_branch().as_deref() == Some(branch.as_str());
        if !checked_out {
            out.push(
                Finding::new("branch-without-worktree", Severity::Info, d.name.clone())
                    .msg(format!("droid `{}` has a branch `{branch}` but no worktree", d.name))
                    .why("fine when the droid is finished; to work on it again, recreate the worktree")
                    .action(format!("`droidforge spawn {}`", d.name)),
            );
        }
    }
    // Directories in the worktree dir that git does not know.
    let wt_root = ws.root.join(&ws.forge.manifest.forge.worktree_dir);
    if let Ok(entries) = std::fs::read_dir(&wt_root) {
        for entry in entries.flatten() {
            let path = entry.path();
            let pool = entry.file_name() == crate::ops::pool::POOL_DIR;
            if pool || !path.is_dir() || worktrees.iter().any(|w| same_dir(&w.path, &path)) {
                continue;
            }
            out.push(
                Finding::new("unregistered-worktree", Severity::Warning, path.display().to_string())
                    .msg(format!("`{}` is in the worktree directory but is not a registered worktree", path.display()))
                    .why("left over from a worktree whose registration was pruned, or created by hand; `spawn` refuses to reuse it. It may hold uncommitted work, so doctor never deletes it")
                    .action(format!("look inside, save what you need, then delete `{}`", path.display())),
            );
        }
    }
    Ok(())
}

/// Pool entries that cannot be handed out (see [`crate::ops::pool::inspect`]).
fn check_pool(ws: &Workspace, fix: bool, out: &mut Vec<Finding>) -> Result<()> {
    let issues = crate::ops::pool::inspect(ws)?;
    if issues.is_empty() {
        return Ok(());
    }
    let removed = if fix {
        crate::ops::pool::repair(ws)?
    } else {
        Vec::new()
    };
    for issue in issues {
        let attached = issue.reason.starts_with("has branch");
        let mut f = Finding::new("broken-pool-worktree", Severity::Warning, issue.path.display().to_string())
            .msg(format!("the pool worktree `{}` {}", issue.path.display(), issue.reason))
            .why("pool worktrees are disposable checkouts of the integration tip that `spawn` hands to new droids; nobody should work in them, and this one cannot be handed out");
        f = if attached {
            f.action(format!("save what you need, then `git worktree remove --force {}` (the branch keeps its commits)", issue.path.display()))
        } else {
            f.fix("drop it (`droidforge pool refresh` or the next `spawn` refills the pool)")
        };
        f.fixed = removed.contains(&issue.path);
        out.push(f);
    }
    Ok(())
}

fn check_ready_marks(ws: &Workspace, fix: bool, out: &mut Vec<Finding>) -> Result<()> {
    let integration_tip = ws.repo.branch_tip(&ws.integration)?;
    for (name, ready) in ws.repo.refs_with_prefix(READY_PREFIX)? {
        let droid = name.strip_prefix(READY_PREFIX).unwrap_or(&name).to_owned();
        let branch = ws.branch_of(&droid);
        let tip = ws.repo.branch_tip(&branch)?;
        let on_branch = match tip {
            Some(tip) => ws.repo.is_ancestor(ready, tip).unwrap_or(false),
            None => false,
        };
        if on_branch {
            continue;
        }
        let merged = integration_tip
            .map(|t| ws.repo.is_ancestor(ready, t).unwrap_or(false))
            .unwrap_or(false);
        let short = crate::git::short(ready);
        let where_ = if tip.is_some() {
            format!("is not on `{branch}` any more (the branch was reset or rewritten)")
        } else {
            format!("has no branch `{branch}` any more")
        };
        if merged {
            let mut f = Finding::new("stale-ready-mark", Severity::Warning, name.clone())
                .msg(format!("the ready mark of `{droid}` ({short}) {where_}"))
                .why(format!(
                    "its commit is already on `{}`, so the mark is stale",
                    ws.integration
                ))
                .fix(format!("delete `{name}`"));
            if fix && ws.repo.delete_ref(&name, Expect::MustMatch(ready)).is_ok() {
                f.fixed = true;
            }
            out.push(f);
        } else {
            out.push(
                Finding::new("unmerged-ready-mark", Severity::Warning, name.clone())
                    .msg(format!("the ready mark of `{droid}` ({short}) {where_}"))
                    .why(format!("the marked commit is not on `{}` either: it is unmerged work that only this ref keeps alive, so doctor leaves it", ws.integration))
                    .action(format!("merge it (`droidforge merge {droid}`), save it (`git branch keep-{droid} {short}`), or drop it (`git update-ref -d {name}`)")),
            );
        }
    }
    Ok(())
}

fn check_agents(ws: &Workspace, fix: bool, out: &mut Vec<Finding>) {
    let store = ws.state.store();
    let Ok(state) = store.read() else { return };
    let dead: Vec<(String, u32, AgentStatus)> = state
        .droids
        .iter()
        .filter_map(|(name, d)| {
            let a = d.agent.as_ref()?;
            let pid = a.pid?;
            (matches!(a.status, AgentStatus::Running | AgentStatus::Stalled) && !pid_alive(pid))
                .then(|| (name.clone(), pid, a.status))
        })
        .collect();
    let mut fixed = false;
    if fix && !dead.is_empty() {
        fixed = store
            .update(|s| {
                for (name, pid, _) in &dead {
                    if let Some(a) = s.droids.get_mut(name).and_then(|d| d.agent.as_mut())
                        && a.pid == Some(*pid)
                        && matches!(a.status, AgentStatus::Running | AgentStatus::Stalled)
                    {
                        a.status = AgentStatus::Exited;
                        a.exit_code = None;
                        a.ended_at = Some(now());
                    }
                }
            })
            .is_ok();
    }
    for (name, pid, status) in dead {
        let mut f = Finding::new("dead-agent", Severity::Warning, name.clone())
            .msg(format!("the agent of `{name}` is recorded as {} (pid {pid}) but that process is gone", status.as_str()))
            .why("the `droidforge run` that watched it was killed (or the machine restarted) before it could record the exit")
            .fix("mark the agent exited with an unknown exit code");
        f.fixed = fixed;
        out.push(f);
    }
}

/// Lock files of droidforge's own refs (`refs/droidforge/**.lock`) left by a process killed
/// inside a ref transaction: while one exists git refuses to update that ref, so a merged
/// droid's ready mark could not be cleared. Only looked at while no merge runs (the merge lock
/// is free) and none is interrupted (`merge --continue` clears the locks of its own refs).
fn check_ref_locks(ws: &Workspace, fix: bool, out: &mut Vec<Finding>) {
    if ws.state.merge_journal_path().exists() {
        return;
    }
    let Ok(Some(_merging)) =
        crate::state::FileLock::try_acquire(&ws.state.lock_path(crate::ops::merge::MERGE_LOCK))
    else {
        return;
    };
    let root = ws.repo.common_dir().join("refs").join("droidforge");
    let mut stack = vec![root];
    let mut locks = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            let path = e.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|x| x == "lock") {
                locks.push(path);
            }
        }
    }
    locks.sort();
    for path in locks {
        let fixed = fix && std::fs::remove_file(&path).is_ok();
        let mut f = Finding::new("stale-ref-lock", Severity::Warning, path.display().to_string())
            .msg("a lock file of a droidforge ref is left over")
            .why("a process was killed inside a ref transaction; git refuses to update the ref while the lock exists, so a merged droid's ready mark cannot be cleared")
            .fix("remove the lock file (no merge is running)");
        f.fixed = fixed;
        out.push(f);
    }
}

/// Checkouts moved into the trash whose detached sweep was stopped before it deleted them (a
/// kill, a crash, a reboot). Only disk space: `info`. Not looked at while a sweep runs (it
/// holds the trash lock and is deleting them).
fn check_trash(ws: &Workspace, fix: bool, out: &mut Vec<Finding>) {
    let entries = ws.state.trash_entries();
    if entries.is_empty() || ws.state.sweeping() {
        return;
    }
    let trash = ws.state.root().join("trash");
    let mut f = Finding::new("leftover-trash", Severity::Info, trash.display().to_string())
        .msg(format!(
            "{} in the trash {} not deleted yet",
            crate::util::text::count(entries.len(), "moved-aside checkout"),
            if entries.len() == 1 { "was" } else { "were" }
        ))
        .why("a merge run moves the scratch checkouts it is done with into the trash and deletes them in a detached process, which was stopped before it finished (killed, a crash, a reboot); they only take disk space, and the next merge run with `--verify` deletes them too")
        .fix("delete them (nothing outside the trash is touched)");
    if fix && let Ok(swept) = crate::state::trash::sweep(&ws.state) {
        f.fixed = swept.failed.is_empty();
    }
    out.push(f);
}

fn check_locks(ws: &Workspace, fix: bool, out: &mut Vec<Finding>) {
    let store = LockStore::new(&ws.state);
    let Ok(table) = store.read() else { return };
    let at = now();
    let stale: Vec<_> = table
        .leases
        .iter()
        .filter_map(|l| l.stale_reason(at).map(|why| (l.clone(), why)))
        .collect();
    let broken: Vec<String> = if fix && !stale.is_empty() {
        let ids: Vec<String> = stale.iter().map(|(l, _)| l.id.clone()).collect();
        store
            .release(None, &ids, false, true)
            .map(|r| r.into_iter().map(|r| r.lease.id).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    for (lease, why) in stale {
        let mut f = Finding::new("stale-lock", Severity::Warning, lease.id.clone())
            .msg(format!(
                "`{}` holds a stale {} lock on {} ({why})",
                lease.droid,
                lease.mode.as_str(),
                lease.globs.join(" ")
            ))
            .why("the holder ended without `droidforge unlock`; other droids asking for these paths are refused or wait")
            .fix("break the lease (like `droidforge unlock --force`)");
        f.fixed = broken.contains(&lease.id);
        out.push(f);
    }
}
