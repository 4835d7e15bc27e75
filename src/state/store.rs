//! `state.json`: read freely, update under a lock with atomic replacement.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::FileLock;
use crate::error::{Context, Result};
use crate::util::safe_fs::{write_atomic, write_atomic_unsynced};

pub const STATE_VERSION: u32 = 1;

/// How to get past an unusable `state.json`.
const STATE_FIX: &str = "run `droidforge doctor --fix`: it moves the file aside as `state.json.corrupt-<time>` and rebuilds the merge history from the backup refs";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub droids: BTreeMap<String, DroidState>,
    #[serde(default)]
    pub merges: Vec<MergeRecord>,
    /// Merge attempts that landed nothing (every droid rejected or skipped): they make no commit
    /// on the integration branch, so their merge-log rows wait here until the next PROGRESS.md
    /// write (a landing merge's record commit or `progress --write`) renders them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unrecorded_log: Vec<crate::forge::progress::LogRow>,
    /// Named counters (operation tallies; the lock stress test counts its updates here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, u64>,
    /// Open requests between droids (`droidforge ask`); closed ones leave the list (the
    /// journal keeps their history).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<Request>,
}

impl State {
    /// What the merger said about `droid`'s rejected attempts (oldest first).
    pub fn feedback_of(&self, droid: &str) -> &[crate::forge::feedback::Feedback] {
        self.droids.get(droid).map_or(&[], |d| &d.feedback)
    }
}

/// One open request: `from` asks the owner `to` for something (`droidforge ask`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Request {
    /// Unique within the repository, never reused.
    pub id: u64,
    /// The droid asked (the owner of the files in question).
    pub to: String,
    /// The asking droid, or `human`.
    pub from: String,
    pub message: String,
    /// Epoch seconds.
    pub at: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DroidState {
    /// When the worktree was created (epoch seconds).
    #[serde(default)]
    pub spawned_at: Option<i64>,
    /// The commit the branch was created from.
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default)]
    pub agent: Option<AgentState>,
    /// Result of the last merge attempt: merged, conflict, violation, verify-failed, skipped.
    #[serde(default)]
    pub last_merge: Option<String>,
    /// `done` marked this commit, which was already on the integration branch: the droid is
    /// finished with nothing to merge (it counts as merged for its dependents and phases).
    #[serde(default)]
    pub finished_empty: Option<String>,
    /// The rebased commit that landed, when merged.
    #[serde(default)]
    pub merged_commit: Option<String>,
    /// Every commit of this droid that landed: original id → the commit it became on the
    /// integration branch (the same id for a fast-forward or `--strategy merge`). The merger
    /// skips these when a stale or repeated ready mark brings them again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub landed: BTreeMap<String, String>,
    /// The last `droidforge sync` that moved the branch or stopped on a conflict: what
    /// `sync --abort` restores.
    #[serde(default)]
    pub sync: Option<SyncRecord>,
    /// What the merger said about each rejected attempt since the droid last landed, oldest
    /// first; rendered into its brief newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feedback: Vec<crate::forge::feedback::Feedback>,
    /// Short description of the last event.
    #[serde(default)]
    pub last_event: Option<String>,
    #[serde(default)]
    pub last_event_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AgentStatus {
    Queued,
    Running,
    Stalled,
    Exited,
    Failed,
    TimedOut,
    Interrupted,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Queued => "queued",
            AgentStatus::Running => "running",
            AgentStatus::Stalled => "stalled",
            AgentStatus::Exited => "exited",
            AgentStatus::Failed => "failed",
            AgentStatus::TimedOut => "timed-out",
            AgentStatus::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AgentState {
    pub status: AgentStatus,
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub started_at: Option<i64>,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub command: Option<String>,
}

/// A `droidforge sync` of one droid: the branch tip before it, and what it did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncRecord {
    /// The branch tip before the sync (what `sync --abort` puts back).
    pub from: String,
    /// The integration tip it synced onto.
    pub onto: String,
    /// The new branch tip of a clean sync; `None` when the sync stopped on a conflict (the
    /// worktree is mid-rebase).
    #[serde(default)]
    pub to: Option<String>,
    /// Epoch seconds.
    pub at: i64,
}

/// One landed (or attempted) merge run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MergeRecord {
    pub id: String,
    pub at: i64,
    pub integration: String,
    pub old_tip: String,
    pub new_tip: String,
    pub droids: Vec<String>,
    #[serde(default)]
    pub undone: bool,
}

/// The state file's name in the state directory.
pub(super) const STATE_FILE: &str = "state.json";

/// Access to `state.json`.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(root: PathBuf) -> Store {
        Store { root }
    }

    fn path(&self) -> PathBuf {
        self.root.join(STATE_FILE)
    }

    /// Read the current state (empty when none was written yet).
    pub fn read(&self) -> Result<State> {
        let path = self.path();
        Ok(
            super::read_state_json(&path, "state file", STATE_FIX)?.unwrap_or_else(|| State {
                version: STATE_VERSION,
                ..State::default()
            }),
        )
    }

    /// Read-modify-write under the state lock. Concurrent updaters serialize; none is lost.
    pub fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T> {
        self.update_with(f, true)
    }

    /// [`update`](Self::update) without fsyncing the new file (see
    /// [`write_atomic_unsynced`]): for records that only repeat what git holds, unsynced too.
    pub fn update_unsynced<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T> {
        self.update_with(f, false)
    }

    fn update_with<T>(&self, f: impl FnOnce(&mut State) -> T, sync: bool) -> Result<T> {
        let _guard = FileLock::acquire(&self.root.join("state.lock"))?;
        let mut state = self.read()?;
        state.version = STATE_VERSION;
        let out = f(&mut state);
        let bytes = serde_json::to_vec_pretty(&state).context("cannot serialize state")?;
        if sync {
            write_atomic(&self.path(), &bytes)?;
        } else {
            write_atomic_unsynced(&self.path(), &bytes)?;
        }
        Ok(out)
    }

    /// Update one droid's entry.
    pub fn update_droid(&self, droid: &str, f: impl FnOnce(&mut DroidState)) -> Result<()> {
        self.update(|s| f(s.droids.entry(droid.to_owned()).or_default()))
    }
}
