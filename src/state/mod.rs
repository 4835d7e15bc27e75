//! Runtime state in `<git-common-dir>/droidforge/`: shared by every worktree, never tracked.
//!
//! - `state.json`: per-droid runtime facts (agent pid/state, last merge result), updated
//!   under `state.lock` and replaced atomically (unique temp file + rename);
//! - `events.jsonl` and its rotated segments `events.<n>.jsonl`: the append-only event journal;
//! - `logs/<droid>.log`: agent output;
//! - `locks.json`: advisory leases between droids and the wait-for graph (see [`locks`]);
//! - `merge-journal.json`: present only while a merge is landing (crash recovery);
//! - `merges/<id>.json`: the report of each landed merge (for `undo` and history rebuilds);
//! - `verify/<name>/`: scratch checkouts for `--verify` commands;
//! - `trash/` and `trash.lock`: checkouts moved aside, deleted by a detached sweep (see [`trash`]);
//! - `hooks/`: the pre-commit guard droid worktrees run;
//! - `manifest-cache.json`, `demo-scripts/`;
//! - `land.json` and `land.lock`: the loop of `run --land` (see [`land`]).
//!
//! Only [`StateDir`] knows these names: everything else asks it for a path.

mod events;
mod events_read;
pub mod file;
pub mod land;
pub mod locks;
mod store;
pub mod trash;

pub use events::{Event, EventKind, Journal, JournalError, RotatePolicy};
pub use events_read::{EventFilter, Follower, MAX_LINE};
pub use file::{MAX_STATE_FILE, move_aside, peek_state_json, read_state_bytes, read_state_json};
pub use land::{LandDroid, LandState, LandStatus, Rejection};
pub use store::{
    AgentState, AgentStatus, DroidState, MergeRecord, Request, STATE_VERSION, Seen, State, Store,
    SyncRecord,
};

use std::path::{Path, PathBuf};

use crate::error::{Context, Result};

/// The hooks directory's name inside the state directory (see [`StateDir::hooks_dir`]); for
/// writers that check every component below [`StateDir::root`].
pub const HOOKS_DIR: &str = "hooks";

/// The state directory: the one place that builds paths inside it.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// Keep a droid's event as that droid's last event (`kind: message`) in `state`: what
/// [`StateDir::record`] stores, for callers that record several events in one state update.
pub fn note_last_event(state: &mut State, event: &Event) {
    let Some(droid) = &event.droid else { return };
    let label = serde_json::to_value(event.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let text = if event.message.is_empty() {
        label
    } else {
        format!("{label}: {}", event.message)
    };
    let d = state.droids.entry(droid.clone()).or_default();
    d.last_event = Some(text);
    d.last_event_at = Some(crate::util::time::now());
}

impl StateDir {
    pub fn new(common_dir: &Path) -> StateDir {
        StateDir {
            root: common_dir.join("droidforge"),
        }
    }

    /// Record an event: append it to the journal and, for a droid's event, keep it as that
    /// droid's last event (`kind: message`). Best effort: a journal that cannot be written
    /// never stops the operation that had something to say.
    pub fn record(&self, event: Event) {
        let _ = self.ensure();
        let _ = self.journal().append(&event);
        if event.droid.is_some() {
            let _ = self.store().update(|s| note_last_event(s, &event));
        }
    }

    /// The directory itself: for messages, and for writers that refuse links below it
    /// ([`crate::util::safe_fs::write_under`]). Paths inside it come from the methods below.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn ensure(&self) -> Result<()> {
        std::fs::create_dir_all(self.root.join("logs")).with_context(|| {
            format!(
                "cannot create the state directory `{}`",
                self.root.display()
            )
        })
    }

    pub fn store(&self) -> Store {
        Store::new(self.root.clone())
    }

    pub fn journal(&self) -> Journal {
        Journal::with_policy(self.root.join("events.jsonl"), RotatePolicy::from_env())
    }

    pub fn log_path(&self, droid: &str) -> PathBuf {
        self.root.join("logs").join(format!("{droid}.log"))
    }

    pub fn merge_journal_path(&self) -> PathBuf {
        self.root.join("merge-journal.json")
    }

    pub fn lock_path(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.lock"))
    }

    /// `state.json` (read and written through [`StateDir::store`]).
    pub fn state_file_path(&self) -> PathBuf {
        self.root.join(store::STATE_FILE)
    }

    /// The saved report of merge `merge_id`.
    pub fn merge_report_path(&self, merge_id: &str) -> PathBuf {
        self.root.join("merges").join(format!("{merge_id}.json"))
    }

    /// A scratch directory for one `--verify` run (`name` is unique per run).
    pub fn verify_dir(&self, name: &str) -> PathBuf {
        self.root.join("verify").join(name)
    }

    /// Where droidforge's own git hooks live.
    pub fn hooks_dir(&self) -> PathBuf {
        self.root.join(HOOKS_DIR)
    }

    /// The cache of the parsed manifest ([`crate::workspace::Workspace::load_cached`]).
    pub fn manifest_cache_path(&self) -> PathBuf {
        self.root.join("manifest-cache.json")
    }

    /// The scripts the demo's scripted agents follow.
    pub fn demo_scripts_dir(&self) -> PathBuf {
        self.root.join("demo-scripts")
    }
}

/// Hold an exclusive advisory lock on `path` (created if missing) until the guard drops.
pub struct FileLock {
    file: std::fs::File,
}

impl FileLock {
    pub fn acquire(path: &Path) -> Result<FileLock> {
        let file = Self::open(path)?;
        file.lock()
            .with_context(|| format!("cannot lock `{}`", path.display()))?;
        Ok(FileLock { file })
    }

    fn open(path: &Path) -> Result<std::fs::File> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open the lock file `{}`", path.display()))
    }

    /// Take the lock only if nobody holds it.
    pub fn try_acquire(path: &Path) -> Result<Option<FileLock>> {
        let file = Self::open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(FileLock { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(crate::error::Error::failure(format!(
                "cannot lock `{}`",
                path.display()
            ))
            .with_source(e)),
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Is a process with this pid alive (on this machine)?
pub fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        process_alive_unix(pid)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(unix)]
fn process_alive_unix(pid: u32) -> bool {
    // Avoid `unsafe` by asking /proc (Linux) first, then `kill -0`.
    let proc = Path::new("/proc").join(pid.to_string());
    if Path::new("/proc/self").exists() {
        // A zombie still has a /proc entry; treat it as dead.
        return match std::fs::read_to_string(proc.join("stat")) {
            Ok(stat) => !stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
                .unwrap_or(false),
            Err(_) => false,
        };
    }
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Is `pid` alive and the leader of its own process group? Agents started by `run` lead
/// their group; a recycled pid almost never does.
pub fn group_leader_alive(pid: u32) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2).map(str::to_owned))
            .is_some_and(|pgrp| pgrp == pid.to_string()),
        // No /proc: trust the pid.
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

/// The process group this process belongs to (Linux: from `/proc/self/stat`). A droidforge
/// command that an agent runs inside its own worktree is in the agent's group.
pub fn own_process_group() -> Option<u32> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// The process group of `droid`'s agent, when `run` recorded it as running (or stalled) and
/// it is still alive. An unreadable state file counts as no agent.
pub fn running_agent(state: &StateDir, droid: &str) -> Option<u32> {
    let s = state.store().read().ok()?;
    let agent = s.droids.get(droid)?.agent.as_ref()?;
    let live = matches!(agent.status, AgentStatus::Running | AgentStatus::Stalled);
    agent.pid.filter(|&pid| live && group_leader_alive(pid))
}
