//! The live view of a run: a spinner line per droid on a terminal (state, elapsed time, TODO %,
//! the agent's last log line), plain status lines otherwise. The runner drives it through
//! [`RunView`].

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::Ui;
use droidforge::agent::{RunView, ViewRow, human_duration};

/// Live bars on a terminal; plain status lines otherwise.
pub(crate) struct LiveView {
    ui: Ui,
    live: Option<(MultiProgress, Vec<ProgressBar>)>,
    width: usize,
    finished: Mutex<Vec<bool>>,
}

impl LiveView {
    /// `droids` in the order the runner gets its jobs.
    pub(crate) fn new(ui: &Ui, droids: &[String]) -> LiveView {
        let width = droids.iter().map(|d| d.len()).max().unwrap_or(0);
        let live = (ui.is_terminal() && !ui.quiet).then(|| {
            let multi = ui.multi();
            let style = ProgressStyle::with_template("{spinner} {prefix} {msg}")
                .expect("the template is valid");
            let bars = droids
                .iter()
                .map(|d| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.set_prefix(format!("{d:<width$}"));
                    bar.set_message("queued");
                    bar
                })
                .collect();
            (multi, bars)
        });
        LiveView {
            ui: ui.clone(),
            live,
            width,
            finished: Mutex::new(vec![false; droids.len()]),
        }
    }

    /// Status lines only, never live bars (`run --land` runs agents one runner call at a
    /// time, so no fixed set of bars fits).
    pub(crate) fn lines(ui: &Ui, droids: &[String]) -> LiveView {
        LiveView {
            ui: ui.clone(),
            live: None,
            width: droids.iter().map(|d| d.len()).max().unwrap_or(0),
            finished: Mutex::new(vec![false; droids.len()]),
        }
    }

    fn line(row: &ViewRow) -> String {
        let elapsed = row
            .elapsed()
            .map(|d| {
                let s = d.as_secs();
                if s < 60 {
                    format!("{s}s")
                } else {
                    human_duration(Duration::from_secs(s))
                }
            })
            .unwrap_or_else(|| "-".to_owned());
        let todo = row
            .todo_percent
            .map(|p| format!("{p:>3}%"))
            .unwrap_or_else(|| "   -".to_owned());
        format!(
            "{:<11} {:>7} {} {}",
            row.label(),
            elapsed,
            todo,
            row.last_line
        )
    }

    pub(crate) fn finish(&self) {
        if let Some((multi, bars)) = &self.live {
            for bar in bars {
                if !bar.is_finished() {
                    bar.finish();
                }
            }
            let _ = multi.clear();
        }
    }
}

impl droidforge::ops::land_loop::LandView for LiveView {
    fn step(&self, verb: &str, droid: &str, message: &str) {
        self.ui
            .status(verb, &format!("{droid:<w$} {message}", w = self.width));
    }

    fn merge_progress(&self, event: &droidforge::ops::merge::MergeEvent) {
        if let Some((verb, text)) = crate::cli::render::merge::event_line(event) {
            self.ui.status(verb, &text);
        }
    }
}

impl RunView for LiveView {
    fn changed(&self, row: &ViewRow, message: &str) {
        match &self.live {
            Some(_) => {}
            None => {
                let verb = match row.label() {
                    "running" if message.starts_with("active") => "Running",
                    "running" => "Started",
                    "queued" => "Queued",
                    "stalled" => "Stalled",
                    "ready" => "Ready",
                    "no work" => "No work",
                    "failed" => "Failed",
                    "timed out" => "Timed out",
                    "interrupted" => "Stopped",
                    "uncommitted" => "Uncommitted",
                    _ => "Error",
                };
                self.ui.status(
                    verb,
                    &format!("{:<w$} {message}", row.droid, w = self.width),
                );
            }
        }
    }

    fn notice(&self, text: &str) {
        match &self.live {
            Some((multi, _)) => {
                let _ = multi.println(format!("warning: {text}"));
            }
            None => self.ui.warn(text),
        }
    }

    fn tick(&self, rows: &[ViewRow]) {
        let Some((_, bars)) = &self.live else { return };
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        for (i, (row, bar)) in rows.iter().zip(bars).enumerate() {
            if finished[i] {
                continue;
            }
            bar.set_message(Self::line(row));
            if row.outcome.is_some() {
                bar.finish();
                finished[i] = true;
            } else {
                bar.tick();
            }
        }
    }
}
