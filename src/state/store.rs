//! `state.json`: read freely, update under a lock with atomic replacement.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::FileLock;
use crate::error::Result;
use crate::git::Oid;
use crate::util::safe_fs::write_json_atomic;

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
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        with = "crate::git::serde_hex::map"
    )]
    pub landed: BTreeMap<Oid, Oid>,
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

/// A state as read, with the bytes it was parsed from (`None`: there was no file).
#[derive(Debug, Default)]
pub struct Seen {
    pub state: State,
    bytes: Option<Vec<u8>>,
}

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

    /// [`read`](Self::read), keeping the bytes it parsed: an update made soon after with
    /// [`update_unsynced_after`](Self::update_unsynced_after) does not parse the file again
    /// when it has not changed since.
    pub fn read_seen(&self) -> Result<Seen> {
        let path = self.path();
        let bytes = super::read_state_bytes(&path, "state file", STATE_FIX)?;
        let state = match &bytes {
            Some(bytes) => super::file::parse_state_json(&path, "state file", STATE_FIX, bytes)?,
            None => State {
                version: STATE_VERSION,
                ..State::default()
            },
        };
        Ok(Seen { state, bytes })
    }

    /// Read-modify-write under the state lock. Concurrent updaters serialize; none is lost.
    pub fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T> {
        self.update_with(f, true)
    }

    /// [`update`](Self::update) without fsyncing the new file (see
    /// [`crate::util::safe_fs::write_atomic_unsynced`]): for records that only repeat what
    /// git holds, unsynced too.
    pub fn update_unsynced<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T> {
        self.update_with(f, false)
    }

    /// [`update_unsynced`](Self::update_unsynced) starting from `seen` (from
    /// [`read_seen`](Self::read_seen)) when the file still holds exactly the bytes it was
    /// parsed from: the same state, without parsing it again (~0.15M instructions for 20
    /// droids, a twentieth of a small `spawn`). Anything else is read afresh under the lock.
    pub fn update_unsynced_after<T>(
        &self,
        seen: Seen,
        f: impl FnOnce(&mut State) -> T,
    ) -> Result<T> {
        self.update_from(Some(seen), f, false)
    }

    fn update_with<T>(&self, f: impl FnOnce(&mut State) -> T, sync: bool) -> Result<T> {
        self.update_from(None, f, sync)
    }

    fn update_from<T>(
        &self,
        seen: Option<Seen>,
        f: impl FnOnce(&mut State) -> T,
        sync: bool,
    ) -> Result<T> {
        let _guard = FileLock::acquire(&self.root.join("state.lock"))?;
        let mut state = match seen {
            Some(seen) => {
                let path = self.path();
                let now = super::read_state_bytes(&path, "state file", STATE_FIX)?;
                match (now, seen.bytes) {
                    (Some(now), Some(then)) if now == then => seen.state,
                    (None, None) => seen.state,
                    (Some(now), _) => {
                        super::file::parse_state_json(&path, "state file", STATE_FIX, &now)?
                    }
                    (None, Some(_)) => self.read()?,
                }
            }
            None => self.read()?,
        };
        state.version = STATE_VERSION;
        let out = f(&mut state);
        // Streamed: a state that maps every landed commit is not copied into one buffer.
        write_json_atomic(&self.path(), &state, sync)?;
        Ok(out)
    }

    /// Update one droid's entry.
    pub fn update_droid(&self, droid: &str, f: impl FnOnce(&mut DroidState)) -> Result<()> {
        self.update(|s| f(s.droids.entry(droid.to_owned()).or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An update that starts from an earlier read skips parsing only when the file still holds
    /// the same bytes: a change another process made in between is kept, not overwritten with
    /// the earlier state.
    #[test]
    fn an_update_after_a_read_keeps_what_changed_in_between() {
        let count = |store: &Store, key: &str| store.read().unwrap().counters.get(key).copied();
        let set = |key: &str, value: u64| {
            let key = key.to_owned();
            move |s: &mut State| {
                s.counters.insert(key, value);
            }
        };
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path().to_owned());
        store.update(set("a", 1)).unwrap();

        // Unchanged in between.
        let seen = store.read_seen().unwrap();
        store.update_unsynced_after(seen, set("b", 2)).unwrap();
        assert_eq!((count(&store, "a"), count(&store, "b")), (Some(1), Some(2)));

        // Changed in between.
        let seen = store.read_seen().unwrap();
        store.update(set("c", 3)).unwrap();
        store.update_unsynced_after(seen, set("d", 4)).unwrap();
        assert_eq!(count(&store, "c"), Some(3), "a change in between was lost");
        assert_eq!(count(&store, "d"), Some(4));

        // No file when read, one written in between.
        let empty = tempfile::tempdir().unwrap();
        let store = Store::new(empty.path().to_owned());
        let seen = store.read_seen().unwrap();
        store.update(set("e", 5)).unwrap();
        store.update_unsynced_after(seen, set("f", 6)).unwrap();
        assert_eq!(
            count(&store, "e"),
            Some(5),
            "a file written in between was lost"
        );
        assert_eq!(count(&store, "f"), Some(6));
    }
}
