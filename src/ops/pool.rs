//! The warm pool (`[forge] pool = N`): N linked worktrees with a detached HEAD at the
//! integration tip, kept under `<worktree_dir>/.pool/`, so that `spawn` can hand one to a droid
//! (branch at the tip, HEAD attached, directory moved to the droid's path) instead of checking
//! out the whole tree. See docs/pool.md.
//!
//! Rules that keep a claim safe:
//! - A claim takes the entry's lock, re-reads its HEAD, moves it to the current tip by the
//!   changed paths only when it is behind, and checks that its status is clean; anything else
//!   and the entry is skipped (`spawn` then checks out as usual).
//! - [`refresh`] (run by `droidforge pool refresh`, which `spawn` starts in the background after
//!   it used or found the pool short) holds the pool lock, brings every entry to the tip, drops
//!   what cannot be brought there cleanly (pool worktrees are disposable: nobody works in them),
//!   removes entries beyond N and adds missing ones.
//! - Entry names are never reused, so a lock file always means one entry.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Context, Result};
use crate::git::{Expect, Oid, Repo, WorktreeInfo};
use crate::state::FileLock;
use crate::workspace::Workspace;

/// The pool's directory inside the worktree directory (droid names cannot start with a dot).
pub const POOL_DIR: &str = ".pool";

/// Set to `0` to keep `spawn` from starting `pool refresh` in the background.
pub const BACKGROUND_ENV: &str = "DROIDFORGE_POOL_BACKGROUND";

/// Where the pool's worktrees live.
pub fn pool_dir(ws: &Workspace) -> PathBuf {
    ws.root
        .join(&ws.forge.manifest.forge.worktree_dir)
        .join(POOL_DIR)
}

/// The registered worktrees that are pool entries (directly inside [`pool_dir`]).
pub fn entries<'a>(ws: &Workspace, registered: &'a [WorktreeInfo]) -> Vec<&'a WorktreeInfo> {
    let dir = crate::ops::spawn::comparable_path(&pool_dir(ws));
    registered
        .iter()
        .filter(|w| {
            w.path
                .parent()
                .is_some_and(|p| crate::ops::spawn::comparable_path(p) == dir)
        })
        .collect()
}

fn entry_lock(ws: &Workspace, entry: &Path) -> PathBuf {
    let name = entry
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    ws.state.root().join("pool").join(format!("{name}.lock"))
}

/// Bring the pool entry at `path` (detached HEAD) to `tip` by the changed paths only and check
/// it is clean. `Err` says why it cannot be handed out.
fn ready_at(path: &Path, tip: Oid) -> std::result::Result<bool, String> {
    let wt = Repo::open(path).map_err(|e| e.full_message())?;
    if let Some(branch) = wt.head_branch() {
        return Err(format!("has branch `{branch}` checked out"));
    }
    let head = wt.head_commit().ok_or("has no HEAD commit")?;
    let mut moved = false;
    if head != tip {
        let plan = Repo::plan_checkout_update(path, head, tip).map_err(|e| e.full_message())?;
        if !plan.blocked.is_empty() {
            return Err(format!("has local changes: {}", plan.blocked.join(", ")));
        }
        plan.apply().map_err(|e| e.full_message())?;
        wt.detach_head(head, tip).map_err(|e| e.full_message())?;
        moved = true;
    }
    // After a move its files and index changed under `wt`: look with a fresh handle.
    let dirt = if moved {
        Repo::worktree_dirt(path)
    } else {
        wt.dirt()
    }
    .map_err(|e| e.full_message())?;
    if !dirt.is_clean() {
        return Err(format!(
            "is not clean ({} changed, {} untracked)",
            dirt.changed, dirt.untracked
        ));
    }
    Ok(moved)
}

/// Hand a pool entry to a new branch `branch` at `tip`, moved to `dest`. `Ok(None)`: no entry
/// could be used (the pool is off, empty, busy, or its entries are not clean at the tip); the
/// caller then creates the worktree as usual. `Ok(Some(entry))`: the branch exists at `tip`
/// and `dest` is its worktree.
pub fn claim(
    ws: &Workspace,
    registered: &[WorktreeInfo],
    tip: Oid,
    branch: &str,
    dest: &Path,
) -> Result<Option<PathBuf>> {
    if ws.forge.manifest.forge.pool == 0 {
        return Ok(None);
    }
    for entry in entries(ws, registered) {
        // A worktree locked with `git worktree lock` is someone's: not ours to move.
        if !entry.present || entry.branch.is_some() || entry.git_dir.join("locked").exists() {
            continue;
        }
        let Some(_lock) = FileLock::try_acquire(&entry_lock(ws, &entry.path))? else {
            continue; // being refreshed
        };
        if ready_at(&entry.path, tip).is_err() {
            continue; // `pool refresh` drops it
        }
        ws.repo.create_branch(branch, tip)?;
        let undo = |entry: &Path| {
            // The entry is in an unknown state now: drop it, and the branch made for it.
            discard(ws, entry);
            crate::state::trash::sweep_later(&ws.state);
            let _ = ws
                .repo
                .delete_ref(&format!("refs/heads/{branch}"), Expect::MustMatch(tip));
        };
        let attached = Repo::open(&entry.path).and_then(|wt| wt.attach_head(branch, tip));
        if let Err(e) = attached.and_then(|()| ws.repo.move_worktree(&entry.path, dest)) {
            undo(&entry.path);
            return Err(e);
        }
        return Ok(Some(entry.path.clone()));
    }
    Ok(None)
}

/// One pool entry that was dropped or left alone, and why.
#[derive(Debug, Clone, Serialize)]
pub struct PoolIssue {
    pub path: PathBuf,
    pub reason: String,
}

/// What [`refresh`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PoolReport {
    /// `[forge] pool`.
    pub size: usize,
    /// The integration tip the entries are at.
    pub tip: Option<String>,
    /// Entries ready to be claimed after the refresh.
    pub ready: Vec<PathBuf>,
    /// Entries moved to the tip by their changed paths.
    pub updated: Vec<PathBuf>,
    /// Entries added.
    pub created: Vec<PathBuf>,
    /// Entries removed: beyond the pool size, or not clean at the tip.
    pub dropped: Vec<PoolIssue>,
    /// Entries left alone: busy (being claimed), or with a missing directory (`doctor --fix`).
    pub skipped: Vec<PoolIssue>,
}

/// Bring the pool to `[forge] pool` clean entries at the integration tip: update, drop, and
/// (with `fill`) add entries. Waits for another refresh to finish first.
pub fn refresh(ws: &Workspace, fill: bool) -> Result<PoolReport> {
    ws.state.ensure()?;
    let _lock = FileLock::acquire(&ws.state.lock_path("pool"))?;
    let size = ws.forge.manifest.forge.pool;
    let tip = ws.integration_tip()?;
    let mut report = PoolReport {
        size,
        tip: Some(tip.to_string()),
        ..PoolReport::default()
    };
    let registered = ws.repo.worktrees()?;
    let issue = |path: &Path, reason: String| PoolIssue {
        path: path.to_owned(),
        reason,
    };
    for entry in entries(ws, &registered) {
        if !entry.present {
            let reason = "its directory is missing (`droidforge doctor --fix` prunes it)";
            report.skipped.push(issue(&entry.path, reason.to_owned()));
            continue;
        }
        let Some(_lock) = FileLock::try_acquire(&entry_lock(ws, &entry.path))? else {
            report.skipped.push(issue(&entry.path, "busy".to_owned()));
            continue;
        };
        if entry.git_dir.join("locked").exists() {
            let reason = "locked (`git worktree unlock` it to let the pool use it)";
            report.skipped.push(issue(&entry.path, reason.to_owned()));
            continue;
        }
        if entry.branch.is_some() {
            // Half-claimed (a crash between attaching and moving): the branch keeps the commit.
            report.skipped.push(issue(
                &entry.path,
                "has a branch checked out (remove it with `git worktree remove`)".to_owned(),
            ));
            continue;
        }
        if report.ready.len() >= size {
            drop_entry(ws, &entry.path, "beyond the pool size", &mut report);
            continue;
        }
        match ready_at(&entry.path, tip) {
            Ok(moved) => {
                if moved {
                    report.updated.push(entry.path.clone());
                }
                report.ready.push(entry.path.clone());
            }
            Err(reason) => drop_entry(ws, &entry.path, &reason, &mut report),
        }
    }
    if fill && report.ready.len() < size {
        // Like droid worktrees, pool worktrees must never show up in the main worktree.
        crate::ops::spawn::ensure_excludes(ws)?;
        let dir = pool_dir(ws);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
        let stamp = crate::util::time::now_ms();
        let mut k = 0;
        while report.ready.len() < size {
            k += 1;
            let path = dir.join(format!("{stamp}-{k}"));
            if std::fs::symlink_metadata(&path).is_ok() {
                continue;
            }
            let _lock = FileLock::acquire(&entry_lock(ws, &path))?;
            ws.repo.add_detached_worktree(&path, tip)?;
            report.created.push(path.clone());
            report.ready.push(path);
        }
        if !report.created.is_empty() {
            // So that a claim's status check is stat calls only (see `Repo::rewrite_index`),
            // rewrite the new indexes once their files are a second old.
            std::thread::sleep(std::time::Duration::from_millis(1100));
            for path in &report.created {
                let _lock = FileLock::acquire(&entry_lock(ws, path))?;
                let _ = Repo::rewrite_index(path);
            }
        }
    }
    // Lock files of entries that are gone (names are never reused).
    let locks = ws.state.root().join("pool");
    let live: Vec<PathBuf> = entries(ws, &ws.repo.worktrees()?)
        .into_iter()
        .map(|e| entry_lock(ws, &e.path))
        .collect();
    if let Ok(dir) = std::fs::read_dir(&locks) {
        for file in dir.flatten().map(|f| f.path()) {
            if !live.contains(&file) {
                let _ = std::fs::remove_file(file);
            }
        }
    }
    if !report.dropped.is_empty() {
        crate::state::trash::sweep_later(&ws.state);
    }
    Ok(report)
}

fn drop_entry(ws: &Workspace, path: &Path, reason: &str, report: &mut PoolReport) {
    let reason = match discard(ws, path) {
        true => reason.to_owned(),
        false => format!("{reason}; could not remove it"),
    };
    report.dropped.push(PoolIssue {
        path: path.to_owned(),
        reason,
    });
}

/// What is wrong with the pool, without changing it (for `doctor`): entries that cannot be
/// handed out (a branch checked out, local changes), and directories in the pool directory
/// that are not registered worktrees (left by a crash). An entry behind the tip is fine: a
/// claim or a refresh moves it; so is a busy one (see [`borrow`]), whatever it shows.
pub fn inspect(ws: &Workspace) -> Result<Vec<PoolIssue>> {
    let registered = ws.repo.worktrees()?;
    let pool = entries(ws, &registered);
    let mut out = Vec::new();
    for entry in &pool {
        if !entry.present {
            continue; // doctor's missing-worktree check covers it
        }
        // A busy entry (its lock held: borrowed by a merge for its verifications, being
        // claimed or refreshed) is in use: what it shows meanwhile is its user's to clean up.
        // (A held lock has its file: doctor creates none.)
        let busy = || {
            let lock = entry_lock(ws, &entry.path);
            lock.exists() && matches!(FileLock::try_acquire(&lock), Ok(None))
        };
        let reason = match &entry.branch {
            Some(b) => Some(format!("has branch `{b}` checked out")),
            None if busy() => None,
            None => match Repo::worktree_dirt(&entry.path) {
                Ok(d) if d.is_clean() => None,
                Ok(d) => Some(format!(
                    "has local changes ({} changed, {} untracked)",
                    d.changed, d.untracked
                )),
                Err(e) => Some(e.full_message()),
            },
        };
        if let Some(reason) = reason {
            out.push(PoolIssue {
                path: entry.path.clone(),
                reason,
            });
        }
    }
    for path in unregistered(ws, &pool) {
        out.push(PoolIssue {
            path,
            reason: "is not a registered worktree".to_owned(),
        });
    }
    Ok(out)
}

/// Directories in the pool directory that no registered pool entry is.
fn unregistered(ws: &Workspace, pool: &[&WorktreeInfo]) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(pool_dir(ws)) else {
        return Vec::new();
    };
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && !pool
                    .iter()
                    .any(|w| crate::ops::spawn::same_path(&w.path, p))
        })
        .collect()
}

/// Drop what [`inspect`] finds, except entries with a branch checked out (the branch may have
/// commits only there): returns the paths removed. Does not add entries.
pub fn repair(ws: &Workspace) -> Result<Vec<PathBuf>> {
    let report = refresh(ws, false)?;
    // Asked for a repair: the dropped entries' files are deleted before it returns.
    let _ = crate::state::trash::sweep(&ws.state);
    let mut removed: Vec<PathBuf> = report.dropped.into_iter().map(|d| d.path).collect();
    let registered = ws.repo.worktrees()?;
    for path in unregistered(ws, &entries(ws, &registered)) {
        if std::fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    Ok(removed)
}

/// Start `droidforge pool refresh` as a detached background process (unless
/// `DROIDFORGE_POOL_BACKGROUND=0`). Best effort: without it the pool is refilled later.
pub fn refresh_in_background(ws: &Workspace) {
    if std::env::var_os(BACKGROUND_ENV).is_some_and(|v| v == "0") {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["pool", "refresh", "--quiet"])
        .current_dir(&ws.root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    {
        // Its own process group: a Ctrl-C meant for the command that started it does not stop
        // it half-way (it is safe to stop, but pointless).
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let _ = cmd.spawn();
}

/// A warm pool worktree lent to a merge run as a verification scratch checkout (see
/// docs/merge.md, Verification): its lock is held until the value is dropped, so no `spawn`
/// claims it and no `pool refresh` drops it meanwhile.
pub struct Borrowed {
    pub path: PathBuf,
    /// The commit it showed when borrowed.
    pub head: Oid,
    _lock: FileLock,
}

/// Borrow up to `max` idle pool entries (detached, unlocked, not busy). Best effort: an entry
/// that cannot be read is left alone, and a pool that cannot be listed lends nothing.
pub fn borrow(ws: &Workspace, max: usize) -> Vec<Borrowed> {
    if ws.forge.manifest.forge.pool == 0 {
        return Vec::new();
    }
    let Ok(registered) = ws.repo.worktrees() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries(ws, &registered) {
        if out.len() >= max {
            break;
        }
        if !entry.present || entry.branch.is_some() || entry.git_dir.join("locked").exists() {
            continue;
        }
        let Ok(Some(lock)) = FileLock::try_acquire(&entry_lock(ws, &entry.path)) else {
            continue; // being claimed or refreshed
        };
        let Ok(Some(head)) = Repo::worktree_head(&entry.path) else {
            continue;
        };
        out.push(Borrowed {
            path: entry.path.clone(),
            head,
            _lock: lock,
        });
    }
    out
}

/// Take back a borrowed entry: undo what the verifications left in it and move it to `tip`
/// by the changed paths (`head`: the commit it shows, `None` when unknown; `clean`: no command
/// ran in it since it was last cleaned up and moved, so there is nothing to scan for). An entry
/// that cannot be brought back clean is dropped; `pool refresh` adds a new one.
pub fn give_back(ws: &Workspace, path: &Path, head: Option<Oid>, clean: bool, tip: Oid) {
    let back = head.is_some_and(|head| Repo::move_scratch(path, head, tip, !clean, None).is_ok());
    if !back {
        discard(ws, path);
    }
}

/// Take a pool worktree out of the repository, whatever state it is in: it is moved into the
/// trash in constant time (its files are deleted by the next sweep, off the user's time, as a
/// merge run's scratch checkouts are), else deleted here. The caller has the trash swept.
/// Returns whether the directory is gone.
fn discard(ws: &Workspace, path: &Path) -> bool {
    let trash = ws.state.trash_dir().ok();
    ws.repo.discard_scratch(path, false, trash.as_deref());
    std::fs::symlink_metadata(path).is_err()
}
