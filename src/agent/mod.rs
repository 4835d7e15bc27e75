//! Running coding agents: command presets ([`presets`]), the concurrent runner with logs,
//! stall detection and signal handling ([`runner`]), and small helpers (durations, clocks).

pub mod job;
pub mod presets;
pub mod runner;

pub use job::{AgentJob, BRIEF_PATH, Prepared, prepare};
pub use presets::{AgentCommand, PRESETS, Preset, resolve_command};
pub use runner::{AgentReport, Outcome, RunOptions, RunView, SilentView, ViewRow, run_agents};

use std::time::Duration;

use crate::error::{ExitKind, Typed};

/// Why agents cannot be prepared or started, in the agent module's terms.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// `--agent custom` without `--cmd`.
    #[error("the `custom` agent needs a command template")]
    CustomNeedsTemplate,
    /// A preset name nobody knows (`--agent`, or an `agent` value in the manifest).
    #[error("unknown agent preset `{name}` (from {from})")]
    UnknownPreset {
        name: String,
        /// Where the name came from: `--agent`, `[forge] agent`, `droid `x` agent`.
        from: String,
        /// A known preset with a similar name.
        similar: Option<&'static str>,
    },
    /// A template that is empty or only spaces.
    #[error("the agent command from {from} is empty")]
    EmptyCommand { from: String },
    /// The first word of the command line is not an executable on PATH.
    #[error("the agent program `{program}` (from {from}) is not on PATH")]
    ProgramNotFound { program: String, from: String },
    /// `sh` itself could not be started for this droid.
    #[error("cannot start the agent for `{droid}`")]
    Start {
        droid: String,
        #[source]
        cause: std::io::Error,
    },
    /// The process exited before its pid was known.
    #[error("the agent exited before it got a pid")]
    NoPid,
}

impl Typed for AgentError {
    fn exit_kind(&self) -> ExitKind {
        match self {
            AgentError::CustomNeedsTemplate
            | AgentError::UnknownPreset { .. }
            | AgentError::EmptyCommand { .. } => ExitKind::Usage,
            AgentError::ProgramNotFound { .. } | AgentError::Start { .. } | AgentError::NoPid => {
                ExitKind::Failure
            }
        }
    }
}

/// Render a duration for people: `850ms`, `12.3s`, `4m05s`, `1h02m`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(human_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(human_duration(Duration::from_secs(245)), "4m05s");
    }
}
