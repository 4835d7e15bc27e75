//! The agent runner: one child process per droid, at most `jobs` at once, with a stagger
//! between starts, a per-droid timeout, stall detection, logs, and clean shutdown on signals.
//!
//! Each agent runs as `sh -c <command>` in its own process group (so signals reach everything
//! it started), cwd = its worktree, stdin = /dev/null, stdout and stderr appended to
//! `<state>/logs/<droid>.log`. The first SIGINT/SIGTERM sends SIGTERM to every agent's process
//! group and waits `grace`, then SIGKILLs; a second signal SIGKILLs at once. When an agent
//! exits 0 its leftover changes are committed and the branch head is marked ready.
//!
//! This module schedules the agents and records what happens; the parts of one agent's run
//! live beside it: [`one`] (its life from start to report), [`process`] (the child process,
//! its log and signals), [`stall`] (watching for activity), [`settle`] (commit leftovers and
//! mark ready after exit 0), [`report`] (the outcome types).

mod one;
mod process;
mod report;
mod settle;
mod stall;

pub use report::{AgentReport, Outcome};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use super::human_duration;
use super::job::AgentJob;
use crate::error::{Context, Result};
use crate::state::{AgentState, AgentStatus, Event, EventKind, StateDir};
use crate::util::time::now_ms;
use crate::workspace::Workspace;
use one::run_one;
use process::wait_level;
use stall::todo_percent;

/// How to run the agents.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// At most this many agents alive at once (at least 1).
    pub jobs: usize,
    /// Minimum time between two agent starts.
    pub stagger: Duration,
    pub timeout: Option<Duration>,
    /// No log output and no file change for this long marks an agent stalled.
    pub stall: Duration,
    pub kill_stalled: bool,
    /// Commit leftover changes when an agent exits 0.
    pub commit: bool,
    /// Time between SIGTERM and SIGKILL when stopping an agent.
    pub grace: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: usize::MAX,
            stagger: Duration::ZERO,
            timeout: None,
            stall: Duration::from_secs(300),
            kill_stalled: false,
            commit: true,
            grace: Duration::from_secs(5),
        }
    }
}

/// What the live view shows for one droid.
#[derive(Debug, Clone)]
pub struct ViewRow {
    pub droid: String,
    pub status: AgentStatus,
    pub outcome: Option<Outcome>,
    pub pid: Option<u32>,
    pub started: Option<Instant>,
    pub ended: Option<Instant>,
    pub todo_percent: Option<u8>,
    pub last_line: String,
}

impl ViewRow {
    /// `queued`, `running`, `stalled`, or the outcome's label.
    pub fn label(&self) -> &'static str {
        match self.outcome {
            Some(o) => o.label(),
            None => match self.status {
                AgentStatus::Queued => "queued",
                AgentStatus::Stalled => "stalled",
                _ => "running",
            },
        }
    }

    pub fn elapsed(&self) -> Option<Duration> {
        let start = self.started?;
        Some(
            self.ended
                .unwrap_or_else(Instant::now)
                .duration_since(start),
        )
    }
}

/// Receives the runner's progress; the command renders it (live bars or plain lines).
pub trait RunView: Send + Sync {
    /// A droid changed state; `message` says what happened ("started (pid 42)").
    fn changed(&self, row: &ViewRow, message: &str);
    /// Something about the whole run (signals).
    fn notice(&self, _text: &str) {}
    /// Called a few times a second with every row, for live redraws.
    fn tick(&self, _rows: &[ViewRow]) {}
}

/// A view that shows nothing.
pub struct SilentView;

impl RunView for SilentView {
    fn changed(&self, _row: &ViewRow, _message: &str) {}
}

/// Run every job; returns one report per job, in job order. Errors only when the runtime
/// cannot start; each agent's problems end up in its report.
pub fn run_agents(
    ws: &Workspace,
    jobs: Vec<AgentJob>,
    opts: &RunOptions,
    view: Arc<dyn RunView>,
) -> Result<Vec<AgentReport>> {
    let state = &ws.state;
    state.ensure()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let shared = Arc::new(Shared {
        recorder: Recorder {
            state: state.clone(),
        },
        repo_root: ws.root.clone(),
        integration: ws.integration.clone(),
        opts: opts.clone(),
        view,
        rows: Mutex::new(
            jobs.iter()
                .map(|j| ViewRow {
                    droid: j.droid.clone(),
                    status: AgentStatus::Queued,
                    outcome: None,
                    pid: None,
                    started: None,
                    ended: None,
                    todo_percent: j.todo.as_deref().and_then(todo_percent),
                    last_line: String::new(),
                })
                .collect(),
        ),
    });
    let reports = runtime.block_on(run_all(shared, jobs));
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(reports)
}

struct Shared {
    recorder: Recorder,
    repo_root: PathBuf,
    /// The integration branch, for the ready mark's "nothing to merge" record.
    integration: String,
    opts: RunOptions,
    view: Arc<dyn RunView>,
    rows: Mutex<Vec<ViewRow>>,
}

impl Shared {
    fn row(&self, idx: usize, f: impl FnOnce(&mut ViewRow)) -> ViewRow {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut rows[idx]);
        rows[idx].clone()
    }

    fn change(&self, idx: usize, message: &str, f: impl FnOnce(&mut ViewRow)) {
        let row = self.row(idx, f);
        self.view.changed(&row, message);
    }

    fn snapshot(&self) -> Vec<ViewRow> {
        self.rows.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Writes events and agent state; failures to record are not fatal to the run.
#[derive(Clone)]
struct Recorder {
    state: StateDir,
}

impl Recorder {
    fn event(&self, kind: EventKind, droid: &str, message: &str, data: serde_json::Value) {
        self.state
            .record(Event::new(kind, Some(droid), message).with_data(data));
    }

    fn agent(&self, droid: &str, f: impl FnOnce(&mut AgentState)) {
        let _ = self.state.store().update_droid(droid, |d| {
            let agent = d.agent.get_or_insert(AgentState {
                status: AgentStatus::Queued,
                pid: None,
                exit_code: None,
                started_at: None,
                ended_at: None,
                command: None,
            });
            f(agent);
        });
    }
}

async fn run_all(shared: Arc<Shared>, jobs: Vec<AgentJob>) -> Vec<AgentReport> {
    let (level_tx, level_rx) = watch::channel(0u8);
    // Register the handlers before any agent starts: a Ctrl-C from then on is ours to handle
    // (an agent runs in its own process group, so the terminal's SIGINT never reaches it).
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(int), Ok(term)) => Some((int, term)),
        _ => None,
    };
    let signals = tokio::spawn(watch_signals(handlers, level_tx, shared.clone()));
    let ticker = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(250));
            loop {
                every.tick().await;
                shared.view.tick(&shared.snapshot());
            }
        })
    };

    for job in &jobs {
        shared.recorder.agent(&job.droid, |a| {
            *a = AgentState {
                status: AgentStatus::Queued,
                pid: None,
                exit_code: None,
                started_at: None,
                ended_at: None,
                command: Some(job.command.clone()),
            };
        });
    }

    let semaphore = Arc::new(Semaphore::new(
        shared.opts.jobs.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let mut reports: Vec<Option<AgentReport>> = vec![None; jobs.len()];
    let mut handles = Vec::new();
    // When the previous agent actually started (its process exists), for the stagger.
    let mut previous: Option<tokio::sync::oneshot::Receiver<Instant>> = None;
    for (idx, job) in jobs.into_iter().enumerate() {
        let mut rx = level_rx.clone();
        let permit = tokio::select! {
            p = semaphore.clone().acquire_owned() => p.ok(),
            _ = wait_level(&mut rx, 1) => None,
        };
        let mut go = permit.is_some();
        if go
            && !shared.opts.stagger.is_zero()
            && let Some(prev) = previous.take()
        {
            tokio::select! {
                started = prev => {
                    if let Ok(at) = started {
                        let wait = shared.opts.stagger.saturating_sub(at.elapsed());
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = wait_level(&mut rx, 1) => go = false,
                        }
                    }
                }
                _ = wait_level(&mut rx, 1) => go = false,
            }
        }
        if *level_rx.borrow() >= 1 {
            go = false;
        }
        if !go {
            reports[idx] = Some(not_started(&shared, idx, &job));
            continue;
        }
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        previous = Some(started_rx);
        let shared = shared.clone();
        let rx = level_rx.clone();
        handles.push((
            idx,
            tokio::spawn(async move {
                let report = run_one(&shared, idx, &job, rx, started_tx).await;
                drop(permit);
                report
            }),
        ));
    }
    for (idx, handle) in handles {
        match handle.await {
            Ok(report) => reports[idx] = Some(report),
            Err(e) => {
                // A panic in one agent's task: report it, keep the others.
                let row = shared.snapshot()[idx].clone();
                reports[idx] = Some(AgentReport {
                    droid: row.droid,
                    outcome: Outcome::Error,
                    exit_code: None,
                    signal: None,
                    pid: row.pid,
                    started_at_ms: None,
                    ended_at_ms: Some(now_ms()),
                    elapsed_ms: 0,
                    command: String::new(),
                    log: PathBuf::new(),
                    new_commits: 0,
                    committed_leftovers: false,
                    ready_commit: None,
                    stalled: false,
                    message: format!("the runner task failed: {e}"),
                });
            }
        }
    }
    ticker.abort();
    signals.abort();
    shared.view.tick(&shared.snapshot());
    reports.into_iter().flatten().collect()
}

/// Count SIGINT/SIGTERM: level 1 = stop gracefully, level 2 = kill now.
async fn watch_signals(
    handlers: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
    level: watch::Sender<u8>,
    shared: Arc<Shared>,
) {
    let Some((mut int, mut term)) = handlers else {
        return;
    };
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let now = {
            let mut out = 0;
            level.send_modify(|l| {
                *l = (*l + 1).min(2);
                out = *l;
            });
            out
        };
        if now == 1 {
            shared.view.notice(&format!(
                "stopping agents: sent SIGTERM, killing in {} (press Ctrl-C again to kill now)",
                human_duration(shared.opts.grace)
            ));
        } else {
            shared.view.notice("killing agents now");
        }
    }
}

fn not_started(shared: &Shared, idx: usize, job: &AgentJob) -> AgentReport {
    let message = "interrupted before it started".to_owned();
    shared.recorder.agent(&job.droid, |a| {
        a.status = AgentStatus::Interrupted;
        a.ended_at = Some(crate::util::time::now());
    });
    shared.recorder.event(
        EventKind::Interrupted,
        &job.droid,
        &message,
        serde_json::Value::Null,
    );
    shared.change(idx, &message, |r| r.outcome = Some(Outcome::Interrupted));
    AgentReport::for_job(job, Outcome::Interrupted, None, message)
}
