//! The append-only event journal (`events.jsonl`): one JSON object per line.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Context, Result};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Spawned,
    Removed,
    Started,
    Output,
    Stalled,
    Exited,
    Committed,
    Ready,
    Merged,
    Conflict,
    Violation,
    VerifyFailed,
    Skipped,
    Landed,
    Undone,
    LockAcquired,
    LockReleased,
    LockWait,
    Deadlock,
    Interrupted,
    /// `droidforge guard` refused an edit or a commit (data: path, owner, source).
    GuardRefused,
    /// A droid (or the human) asked another droid for something (`droidforge ask`).
    Asked,
    /// A request was closed (`droidforge ask --done`).
    Answered,
    /// `run --land` started an agent attempt (data: attempt, of).
    AttemptStarted,
    /// A droid's branch was brought up to date with the integration branch (`droidforge sync`;
    /// data: from, to, onto).
    Synced,
    /// `droidforge sync` stopped on a conflict: the droid's worktree is mid-rebase (data:
    /// from, onto, commit, paths).
    SyncConflict,
    /// `droidforge sync --abort` put a droid's branch back (data: to, how).
    SyncAborted,
    /// The merger's verdict was written into a droid's brief (data: attempt, merge_id, kind).
    FeedbackWritten,
    /// `run --land` stopped retrying a droid: it needs a human (data: reason, next).
    GaveUp,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// Epoch milliseconds.
    pub at_ms: i64,
    pub kind: EventKind,
    #[serde(default)]
    pub droid: Option<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub data: serde_json::Value,
    pub pid: u32,
}

impl Event {
    pub fn new(kind: EventKind, droid: Option<&str>, message: impl Into<String>) -> Event {
        Event {
            at_ms: crate::util::time::now_ms(),
            kind,
            droid: droid.map(str::to_owned),
            message: message.into(),
            data: serde_json::Value::Null,
            pid: std::process::id(),
        }
    }

    pub fn with_data(mut self, data: serde_json::Value) -> Event {
        self.data = data;
        self
    }
}

#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    pub fn new(path: PathBuf) -> Journal {
        Journal { path }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Append one event: a single `write` of a whole line under an exclusive lock, so
    /// concurrent writers never interleave.
    pub fn append(&self, event: &Event) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
        }
        let mut line = serde_json::to_vec(event).context("cannot serialize event")?;
        line.push(b'\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open `{}`", self.path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock `{}`", self.path.display()))?;
        let res = file.write_all(&line);
        let _ = file.unlock();
        res.with_context(|| format!("cannot append to `{}`", self.path.display()))
    }

    /// Read all events; lines that do not parse (a torn write after a crash) are skipped.
    pub fn read_all(&self) -> Result<Vec<Event>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(crate::error::Error::failure(format!(
                "cannot read `{}`",
                self.path.display()
            ))
            .with_source(e)),
        }
    }
}
