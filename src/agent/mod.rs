//! Running coding agents: command presets ([`presets`]), the concurrent runner with logs,
//! stall detection and signal handling ([`runner`]), and small helpers (durations, clocks).

pub mod job;
pub mod presets;
pub mod runner;

pub use job::{AgentJob, BRIEF_PATH, Prepared, prepare};
pub use presets::{AgentCommand, PRESETS, Preset, resolve_command};
pub use runner::{AgentReport, Outcome, RunOptions, RunView, SilentView, ViewRow, run_agents};

use std::time::Duration;

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
