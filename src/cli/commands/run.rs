//! `droidforge run`: spawn missing worktrees, run one agent per droid, show them live, report.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::Ctx;
use crate::cli::args::*;
use crate::cli::ui::Ui;
use droidforge::agent::{
    self, AgentReport, Outcome, RunOptions, RunView, ViewRow, human_duration, parse_duration,
};
use droidforge::error::{Error, Result};
use droidforge::forge::manifest::Droid;
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    let s = &args.select;
    let droids = if s.droids.is_empty() && s.phase.is_none() && !s.all {
        // Starting every agent is too big a step to take by accident: a bare `run` means this
        // droid inside its worktree, and nothing in the main worktree.
        match ws.current_droid() {
            Some(name) => vec![ws.forge.require_droid(&name)?],
            None => {
                return Err(Error::usage("say which droids to run").hint(
                    "name them (`droidforge run core-droid`), pick a phase (`--phase 1`), or run every droid with `--all`",
                ));
            }
        }
    } else {
        ws.forge.select(&s.droids, s.phase, s.all)?
    };
    run_droids(ctx, &ws, &droids, args)
}

/// Run agents for these droids (also used by `spawn --run`); returns the exit code:
/// 0 when every droid ended ready, 130 when interrupted, 1 otherwise.
pub fn run_droids(ctx: &Ctx, ws: &Workspace, droids: &[&Droid], args: &RunArgs) -> Result<i32> {
    let opts = options(args, droids.len())?;
    refuse_running(ws, droids)?;
    let prepared = agent::prepare(ws, droids, args.agent.as_deref(), args.cmd.as_deref())?;
    for note in &prepared.notes {
        ctx.ui.warn(note);
    }
    for name in &prepared.spawned {
        ctx.ui.status(
            "Spawned",
            &format!("{name} at {}", ws.worktree_path(name).display()),
        );
    }
    let names: Vec<String> = prepared.jobs.iter().map(|j| j.droid.clone()).collect();
    let view = Arc::new(LiveView::new(&ctx.ui, &names));
    let reports = agent::run_agents(ws, prepared.jobs, &opts, view.clone() as Arc<dyn RunView>)?;
    view.finish();
    if args.json {
        ctx.ui.json(&serde_json::json!({ "agents": reports }));
    } else {
        render(&ctx.ui, &reports);
    }
    Ok(exit_code(&reports))
}

/// Two agents in one worktree would trample each other: refuse droids whose agent is alive.
fn refuse_running(ws: &Workspace, droids: &[&Droid]) -> Result<()> {
    // A corrupt state file is an error here, not "no agent running".
    ws.state.store().read()?;
    for d in droids {
        if let Some(pid) = droidforge::state::running_agent(&ws.state, &d.name) {
            return Err(Error::usage(format!(
                "droid `{}` already has an agent running (pid {pid})",
                d.name
            ))
            .hint(format!(
                "wait for it, or stop it with `kill -TERM -- -{pid}` (its process group)"
            )));
        }
    }
    Ok(())
}

fn options(args: &RunArgs, count: usize) -> Result<RunOptions> {
    let dur = |v: &Option<String>| v.as_deref().map(parse_duration).transpose();
    let jobs = match args.jobs {
        Some(0) => {
            return Err(Error::usage("`--jobs` must be at least 1")
                .hint("leave it out to run every selected droid at once"));
        }
        Some(k) => k,
        None => count.max(1),
    };
    let defaults = RunOptions::default();
    let stall = dur(&args.stall)?.unwrap_or(defaults.stall);
    if stall.is_zero() {
        return Err(
            Error::usage("`--stall` must be longer than 0").hint("for example `--stall 10m`")
        );
    }
    Ok(RunOptions {
        jobs,
        stagger: dur(&args.stagger)?.unwrap_or_default(),
        timeout: dur(&args.timeout)?.filter(|d| !d.is_zero()),
        stall,
        kill_stalled: args.kill_stalled,
        commit: !args.no_commit,
        grace: dur(&args.grace)?.unwrap_or(defaults.grace),
    })
}

pub fn exit_code(reports: &[AgentReport]) -> i32 {
    if reports.iter().any(|r| r.outcome == Outcome::Interrupted) {
        130
    } else if reports.iter().all(|r| r.outcome == Outcome::Ready) {
        0
    } else {
        1
    }
}

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
