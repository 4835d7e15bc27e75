//! The sync report types: options, one droid's outcome, the report and its exit code, and
//! the typed errors of a sync or its abort.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::Result;

use crate::error::{ExitKind, Typed};
use crate::git::{ConflictEntry, Oid};

/// Version of the JSON shape of [`SyncReport`].
pub const SYNC_REPORT_VERSION: u32 = 1;

/// Which droids to sync.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Droid names; empty with no phase and `all` false = every droid.
    pub droids: Vec<String>,
    pub phase: Option<u32>,
    pub all: bool,
}

impl SyncOptions {
    /// Were droids named one by one? Then a droid left untouched (dirty, agent running, no
    /// worktree, ...) is an error (exit 1); for `--all` and `--phase` it is only reported.
    pub fn explicit(&self) -> bool {
        !self.all && self.phase.is_none() && !self.droids.is_empty()
    }

    /// The selected droids' names, in manifest order.
    pub fn selected(&self, ws: &crate::workspace::Workspace) -> Result<Vec<String>> {
        Ok(ws
            .forge
            .select(&self.droids, self.phase, self.all)?
            .into_iter()
            .map(|d| d.name.clone())
            .collect())
    }
}

/// What a sync did to one droid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncStatus {
    /// The branch (and worktree) moved onto the integration tip.
    Synced,
    /// The branch already contains the integration tip.
    UpToDate,
    /// Stopped on a conflict: the worktree is mid-rebase with conflict markers.
    Conflict,
    /// Not touched: uncommitted changes in the way (`paths`).
    Dirty,
    /// Not touched: its agent is running.
    AgentRunning,
    /// Not touched: the worktree is mid-rebase/merge or has unmerged paths.
    InProgress,
    /// Not touched: the branch exists but its worktree does not.
    NoWorktree,
    /// Not touched: the droid has no branch (never spawned, or removed).
    NotSpawned,
    /// Something failed (the reason says what); nothing was changed.
    Failed,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "synced",
            SyncStatus::UpToDate => "up-to-date",
            SyncStatus::Conflict => "conflict",
            SyncStatus::Dirty => "dirty",
            SyncStatus::AgentRunning => "agent-running",
            SyncStatus::InProgress => "in-progress",
            SyncStatus::NoWorktree => "no-worktree",
            SyncStatus::NotSpawned => "not-spawned",
            SyncStatus::Failed => "failed",
        }
    }

    /// Left alone on purpose (reported; an error only for droids named explicitly).
    pub fn untouched(self) -> bool {
        matches!(
            self,
            SyncStatus::Dirty
                | SyncStatus::AgentRunning
                | SyncStatus::InProgress
                | SyncStatus::NoWorktree
                | SyncStatus::NotSpawned
        )
    }
}

/// The commit a sync stopped on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoppedAt {
    pub commit: String,
    pub summary: String,
}

/// One droid's sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroidSync {
    pub droid: String,
    pub branch: String,
    pub status: SyncStatus,
    /// The droid's worktree.
    pub worktree: PathBuf,
    /// Branch tip before the sync.
    pub from: Option<String>,
    /// Branch tip after a clean sync.
    pub to: Option<String>,
    /// The integration tip it was synced onto.
    pub onto: String,
    /// How many commits were replayed (clean sync).
    pub commits: usize,
    /// Commits left out because they already landed or their change is upstream.
    pub dropped: usize,
    /// The droid commit the rebase stopped on (`conflict`).
    pub stopped_at: Option<StoppedAt>,
    /// Conflicting paths (`conflict`).
    pub conflicts: Vec<ConflictEntry>,
    /// The paths in the way (`dirty`), or unmerged paths (`in-progress`).
    pub paths: Vec<String>,
    /// Why the droid was left alone or failed, or a note about a sync that happened.
    pub reason: Option<String>,
}

impl DroidSync {
    pub(super) fn new(droid: &str, branch: &str, worktree: PathBuf, onto: Oid) -> DroidSync {
        DroidSync {
            droid: droid.to_owned(),
            branch: branch.to_owned(),
            status: SyncStatus::UpToDate,
            worktree,
            from: None,
            to: None,
            onto: onto.to_string(),
            commits: 0,
            dropped: 0,
            stopped_at: None,
            conflicts: Vec::new(),
            paths: Vec::new(),
            reason: None,
        }
    }

    pub(super) fn with(mut self, status: SyncStatus, reason: impl Into<String>) -> DroidSync {
        self.status = status;
        self.reason = Some(reason.into());
        self
    }
}

/// The result of `droidforge sync` (JSON: `sync --json`).
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub version: u32,
    /// Short name of the integration branch.
    pub integration: String,
    /// The integration tip every droid was synced onto.
    pub onto: String,
    pub droids: Vec<DroidSync>,
    /// Were the droids named one by one (see [`SyncOptions::explicit`])?
    #[serde(skip)]
    pub explicit: bool,
}

impl SyncReport {
    /// 3 when any droid stopped on a conflict; else 1 when any failed, or a droid named
    /// explicitly was left untouched; else 0.
    pub fn exit_code(&self) -> i32 {
        if self.count(SyncStatus::Conflict) > 0 {
            return ExitKind::Conflict.code();
        }
        let failed = self
            .droids
            .iter()
            .any(|d| d.status == SyncStatus::Failed || (self.explicit && d.status.untouched()));
        if failed { 1 } else { 0 }
    }

    pub fn count(&self, status: SyncStatus) -> usize {
        self.droids.iter().filter(|d| d.status == status).count()
    }
}

/// Hostile or impossible input for a sync or its abort.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The droid branch shares no history with the integration branch.
    #[error(
        "branch `{branch}` of `{droid}` shares no history with `{integration}` (no merge base); it cannot be rebased onto it"
    )]
    NoMergeBase {
        droid: String,
        branch: String,
        integration: String,
    },
    /// `sync --abort` without a sync to undo.
    #[error("`{droid}` has no sync to abort (no rebase in progress, no sync recorded)")]
    NothingToAbort { droid: String },
    /// The branch moved on after the sync (new commits): aborting would drop them.
    #[error(
        "branch `{branch}` of `{droid}` moved on since its sync (now {head}, synced to {synced}); aborting would drop the commits made since"
    )]
    MovedOn {
        droid: String,
        branch: String,
        head: String,
        synced: String,
        /// The tip before the sync.
        from: String,
        worktree: PathBuf,
    },
    /// Uncommitted changes sit on paths the abort would change.
    #[error(
        "`{droid}`'s worktree has uncommitted changes to files the abort would change: {}",
        paths.join(", ")
    )]
    AbortBlocked { droid: String, paths: Vec<String> },
    /// The worktree is in the middle of something that is not a rebase.
    #[error("`{droid}`'s worktree is in the middle of a {operation}, not of a sync's rebase")]
    OtherOperation { droid: String, operation: String },
}

impl Typed for SyncError {
    fn exit_kind(&self) -> ExitKind {
        ExitKind::Failure
    }
}
