//! The summary after a run: a table of outcomes, then a line per droid that needs attention.

use std::time::Duration;

use crate::cli::ui::Ui;
use droidforge::agent::{AgentReport, Outcome, human_duration};

/// The final summary: a table, then a line per droid that needs attention.
pub fn render(ui: &Ui, reports: &[AgentReport]) {
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.droid.clone(),
                r.outcome.label().to_owned(),
                r.exit_code
                    .map(|c| c.to_string())
                    .or(r.signal.map(|s| format!("sig {s}")))
                    .unwrap_or_else(|| "-".to_owned()),
                human_duration(Duration::from_millis(r.elapsed_ms)),
                r.new_commits.to_string(),
                r.ready_commit
                    .as_deref()
                    .map(|c| droidforge::git::short_hex(c).to_owned())
                    .unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    ui.data(&crate::cli::ui::table(
        &["DROID", "OUTCOME", "EXIT", "TIME", "COMMITS", "READY"],
        &rows,
    ));
    for r in reports {
        if r.outcome != Outcome::Ready {
            ui.data(&format!(
                "{}: {} (log: {})",
                r.droid,
                r.message,
                r.log.display()
            ));
        }
    }
}
