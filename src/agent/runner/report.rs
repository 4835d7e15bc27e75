//! What one agent's run came to: its [`Outcome`] and the [`AgentReport`] the command renders.

use std::path::PathBuf;

use serde::Serialize;

use crate::agent::job::AgentJob;
use crate::state::AgentStatus;

/// How one agent run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Exited 0 with work; the branch head is marked ready.
    Ready,
    /// Exited 0 with no new commit and no change: not ready.
    NoWork,
    /// Exited 0 with uncommitted changes and `--no-commit`: not ready.
    Uncommitted,
    /// Exited non-zero or was killed by a signal we did not send.
    Failed,
    TimedOut,
    /// Killed because it stalled (`--kill-stalled`).
    Stalled,
    /// Stopped by Ctrl-C / SIGTERM (or never started because of it).
    Interrupted,
    /// Could not be started, or its result could not be recorded.
    Error,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ready => "ready",
            Outcome::NoWork => "no work",
            Outcome::Uncommitted => "uncommitted",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed out",
            Outcome::Stalled => "stalled",
            Outcome::Interrupted => "interrupted",
            Outcome::Error => "error",
        }
    }

    pub(super) fn agent_status(self) -> AgentStatus {
        match self {
            Outcome::Ready | Outcome::NoWork | Outcome::Uncommitted => AgentStatus::Exited,
            Outcome::Failed | Outcome::Error => AgentStatus::Failed,
            Outcome::TimedOut => AgentStatus::TimedOut,
            Outcome::Stalled => AgentStatus::Stalled,
            Outcome::Interrupted => AgentStatus::Interrupted,
        }
    }
}

/// The result of one agent run.
#[derive(Debug, Clone, Serialize)]
pub struct AgentReport {
    pub droid: String,
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    /// The signal that ended the agent, when it did not exit by itself.
    pub signal: Option<i32>,
    pub pid: Option<u32>,
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub elapsed_ms: u64,
    pub command: String,
    pub log: PathBuf,
    /// Commits the agent added to its branch during this run (including the leftover commit).
    pub new_commits: usize,
    /// droidforge committed changes the agent left uncommitted.
    pub committed_leftovers: bool,
    /// The commit marked ready.
    pub ready_commit: Option<String>,
    /// The agent was stalled at some point.
    pub stalled: bool,
    /// One sentence for people.
    pub message: String,
}

impl AgentReport {
    /// A report for `job` before anything is known about how its process went.
    pub(super) fn for_job(
        job: &AgentJob,
        outcome: Outcome,
        started_at_ms: Option<i64>,
        message: String,
    ) -> Self {
        AgentReport {
            droid: job.droid.clone(),
            outcome,
            exit_code: None,
            signal: None,
            pid: None,
            started_at_ms,
            ended_at_ms: None,
            elapsed_ms: 0,
            command: job.command.clone(),
            log: job.log.clone(),
            new_commits: 0,
            committed_leftovers: false,
            ready_commit: None,
            stalled: false,
            message,
        }
    }
}
