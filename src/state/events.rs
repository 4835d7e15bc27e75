//! The append-only event journal: one JSON object per line in `events.jsonl`, rotated into
//! numbered segments (`events.000001.jsonl`, ...) once it passes a size (see
//! [`RotatePolicy`]). Appends take an exclusive lock on the current segment and check that it
//! is still the current one after locking, so a rotation by another process never loses or
//! duplicates an event, and nothing is ever written into a rotated segment. Reading across
//! segments is in `events_read`.

use std::io::Write;
use std::path::{Path, PathBuf};

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

/// When the journal rotates and how many rotated segments it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotatePolicy {
    /// The current segment is rotated before an append would take it past this size.
    pub segment_bytes: u64,
    /// Rotated segments kept (the oldest beyond this are deleted); 0 keeps every segment.
    pub keep_segments: usize,
}

impl RotatePolicy {
    /// 16 MiB segments (about 80,000 events), the newest 16 rotated ones kept: a quarter GiB
    /// of history at most, and no reader ever holds more than one line in memory.
    pub const DEFAULT: RotatePolicy = RotatePolicy {
        segment_bytes: 16 * 1024 * 1024,
        keep_segments: 16,
    };

    /// The default, overridden by `DROIDFORGE_EVENTS_SEGMENT_BYTES` and
    /// `DROIDFORGE_EVENTS_KEEP_SEGMENTS` (0 = keep all) where they hold a number.
    pub fn from_env() -> RotatePolicy {
        let num = |name: &str| std::env::var(name).ok()?.trim().parse::<u64>().ok();
        let mut policy = RotatePolicy::DEFAULT;
        if let Some(n) = num("DROIDFORGE_EVENTS_SEGMENT_BYTES") {
            policy.segment_bytes = n.max(1);
        }
        if let Some(n) = num("DROIDFORGE_EVENTS_KEEP_SEGMENTS") {
            policy.keep_segments = usize::try_from(n).unwrap_or(usize::MAX);
        }
        policy
    }
}

/// Problems with the journal's files.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot {action} the event journal `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the event journal segment `{}` is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error("the event journal `{}` kept being rotated under this append", path.display())]
    Contended { path: PathBuf },
}

impl crate::error::Typed for JournalError {
    fn exit_kind(&self) -> crate::error::ExitKind {
        crate::error::ExitKind::Failure
    }
}

pub(super) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_owned();
    move |source| JournalError::Io {
        action,
        path,
        source,
    }
}

#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    policy: RotatePolicy,
}

impl Journal {
    pub fn new(path: PathBuf) -> Journal {
        Journal::with_policy(path, RotatePolicy::DEFAULT)
    }

    pub fn with_policy(path: PathBuf, policy: RotatePolicy) -> Journal {
        Journal { path, policy }
    }

    /// The current segment (`events.jsonl`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of rotated segment number `seq`: `events.000042.jsonl`.
    pub(super) fn segment_path(&self, seq: u64) -> PathBuf {
        let stem = self.stem();
        self.path.with_file_name(format!("{stem}.{seq:06}.jsonl"))
    }

    fn stem(&self) -> &str {
        self.path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("events")
    }

    /// Rotated segments, oldest first: `(number, path)`. Names that are not `<stem>.<digits>.jsonl`
    /// are not segments.
    pub(super) fn rotated(&self) -> Result<Vec<(u64, PathBuf)>, JournalError> {
        let Some(dir) = self.path.parent() else {
            return Ok(Vec::new());
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("list the segments of", &self.path)(e)),
        };
        let prefix = format!("{}.", self.stem());
        let mut out: Vec<(u64, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                let digits = name
                    .to_str()?
                    .strip_prefix(&prefix)?
                    .strip_suffix(".jsonl")?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                Some((digits.parse().ok()?, e.path()))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Append one event: a single `write` of a whole line under an exclusive lock, so
    /// concurrent writers never interleave; the segment is rotated first when the line would
    /// take it past [`RotatePolicy::segment_bytes`].
    pub fn append(&self, event: &Event) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
        }
        let mut line = serde_json::to_vec(event).context("cannot serialize event")?;
        line.push(b'\n');
        // Each retry means another process rotated in between: it made progress.
        for _ in 0..1000 {
            let mut file = open_append(&self.path).map_err(io_err("open", &self.path))?;
            file.lock().map_err(io_err("lock", &self.path))?;
            // Between our open and our lock another appender may have rotated the file we
            // hold: writing to it would put the event into a rotated segment.
            if !is_current(&file, &self.path) {
                continue;
            }
            let len = file.metadata().map_err(io_err("read", &self.path))?.len();
            if len > 0 && len + line.len() as u64 > self.policy.segment_bytes {
                self.rotate_locked()?;
                continue;
            }
            let res = file.write_all(&line);
            let _ = file.unlock();
            return Ok(res.map_err(io_err("append to", &self.path))?);
        }
        Err(JournalError::Contended {
            path: self.path.clone(),
        }
        .into())
    }

    /// Rename the current segment (whose lock the caller holds) to the next number, then drop
    /// the oldest rotated segments beyond the policy's count.
    fn rotate_locked(&self) -> Result<(), JournalError> {
        let rotated = self.rotated()?;
        let next = rotated.last().map_or(1, |(n, _)| n + 1);
        let target = self.segment_path(next);
        std::fs::rename(&self.path, &target).map_err(io_err("rotate", &self.path))?;
        let keep = self.policy.keep_segments;
        if keep > 0 {
            let total = rotated.len() + 1;
            for (_, old) in rotated.iter().take(total.saturating_sub(keep)) {
                // Best effort: a reader that still has it open keeps reading it.
                let _ = std::fs::remove_file(old);
            }
        }
        Ok(())
    }
}

/// Open for appending without following a symbolic link in the journal's place.
fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW);
    }
    opts.open(path)
}

/// Is `file` the file at `path` now (not renamed away or replaced since it was opened)?
pub(super) fn is_current(file: &std::fs::File, path: &Path) -> bool {
    same_file(file, path).unwrap_or(false)
}

fn same_file(file: &std::fs::File, path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (file.metadata()?, std::fs::symlink_metadata(path)?);
    Ok(a.dev() == b.dev() && a.ino() == b.ino())
}
