//! The agent runner: one child process per droid, at most `jobs` at once, with a stagger
//! between starts, a per-droid timeout, stall detection, logs, and clean shutdown on signals.
//!
//! Each agent runs as `sh -c <command>` in its own process group (so signals reach everything
//! it started), cwd = its worktree, stdin = /dev/null, stdout and stderr appended to
//! `<state>/logs/<droid>.log`. The first SIGINT/SIGTERM sends SIGTERM to every agent's process
//! group and waits `grace`, then SIGKILLs; a second signal SIGKILLs at once. When an agent
//! exits 0 its leftover changes are committed and the branch head is marked ready.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::process::Child;
use tokio::sync::{Semaphore, watch};

use super::human_duration;
use crate::error::{Context, Error, Result};
use crate::forge::brief::BRIEF_PATH;
use crate::git::{Oid, Repo};
use crate::ops::ready::{self, ReadyError};
use crate::state::{AgentState, AgentStatus, Event, EventKind, StateDir};
use crate::util::time::{now_ms, utc_parts};
use crate::workspace::Workspace;

/// One agent to run.
#[derive(Debug, Clone)]
pub struct AgentJob {
    pub droid: String,
    pub worktree: PathBuf,
    pub branch: String,
    pub brief: PathBuf,
    /// The shell command line (placeholders already substituted).
    pub command: String,
    /// The droid's TODO file inside its worktree, for the live TODO %.
    pub todo: Option<PathBuf>,
    pub log: PathBuf,
}

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

    fn agent_status(self) -> AgentStatus {
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
    fn for_job(
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
        let event = Event::new(kind, Some(droid), message).with_data(data);
        let _ = self.state.journal().append(&event);
        let label = serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let text = if message.is_empty() {
            label
        } else {
            format!("{label}: {message}")
        };
        let _ = self.state.store().update_droid(droid, |d| {
            d.last_event = Some(text);
            d.last_event_at = Some(crate::util::time::now());
        });
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

/// Why we stopped an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Waiting for the process failed: stop it and report an error.
    Lost,
    Timeout,
    Stalled,
    Interrupt,
}

async fn run_one(
    shared: &Shared,
    idx: usize,
    job: &AgentJob,
    mut level: watch::Receiver<u8>,
    started: tokio::sync::oneshot::Sender<Instant>,
) -> AgentReport {
    let opts = &shared.opts;
    let started_ms = now_ms();
    let start = Instant::now();
    let mut report = AgentReport::for_job(job, Outcome::Error, Some(started_ms), String::new());

    // Where the branch and its ready mark stood before the agent ran: new commits are counted
    // from the one, and the other is only moved if nobody else moved it meanwhile.
    let root = shared.repo_root.clone();
    let (branch, droid) = (job.branch.clone(), job.droid.clone());
    let (tip_before, ready_before) =
        tokio::task::spawn_blocking(move || before_run(&root, &branch, &droid))
            .await
            .unwrap_or_default();

    let child = open_log(job, started_ms).and_then(|log| spawn_agent(job, &log));
    let spawned_ms = now_ms();
    let _ = started.send(Instant::now());
    let (mut child, pid) = match child {
        Ok(c) => c,
        Err(e) => {
            report.message = format!("could not start: {}", error_text(&e));
            return finish(shared, idx, job, report);
        }
    };
    report.pid = Some(pid);
    shared.recorder.agent(&job.droid, |a| {
        a.status = AgentStatus::Running;
        a.pid = Some(pid);
        a.exit_code = None;
        a.started_at = Some(started_ms / 1000);
        a.ended_at = None;
        a.command = Some(job.command.clone());
    });
    shared.recorder.event(
        EventKind::Started,
        &job.droid,
        &format!("pid {pid}"),
        serde_json::json!({
            "pid": pid,
            "spawned_at_ms": spawned_ms,
            "command": job.command,
            "log": job.log,
        }),
    );
    shared.change(idx, &format!("pid {pid}"), |r| {
        r.status = AgentStatus::Running;
        r.pid = Some(pid);
        r.started = Some(start);
    });

    // Watch the agent until it exits or we stop it.
    let poll = (opts.stall / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let walk_every = (opts.stall / 4).clamp(Duration::from_millis(50), Duration::from_secs(15));
    let deadline = opts.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut log_len = file_len(&job.log);
    let mut last_activity = Instant::now();
    let mut fs_sig = walk_signature(job.worktree.clone()).await;
    let mut last_walk = Instant::now();
    let mut last_todo = Instant::now();
    let mut stalled = false;
    let stop: Result<ExitStatus, Stop> = loop {
        tokio::select! {
            status = child.wait() => match status {
                Ok(s) => break Ok(s),
                Err(_) => break Err(Stop::Lost),
            },
            _ = sleep_until_opt(deadline) => break Err(Stop::Timeout),
            _ = wait_level(&mut level, 1) => break Err(Stop::Interrupt),
            _ = tokio::time::sleep(poll) => {
                let len = file_len(&job.log);
                if len != log_len {
                    log_len = len;
                    last_activity = Instant::now();
                    let line = last_line(&job.log);
                    shared.row(idx, |r| r.last_line = line);
                } else if last_walk.elapsed() >= walk_every {
                    last_walk = Instant::now();
                    let sig = walk_signature(job.worktree.clone()).await;
                    if sig != fs_sig {
                        fs_sig = sig;
                        last_activity = Instant::now();
                    }
                }
                if last_todo.elapsed() >= Duration::from_millis(500) {
                    last_todo = Instant::now();
                    if let Some(todo) = &job.todo {
                        let pct = todo_percent(todo);
                        shared.row(idx, |r| r.todo_percent = pct);
                    }
                }
                let quiet = last_activity.elapsed();
                if stalled && quiet < opts.stall {
                    stalled = false;
                    shared.recorder.agent(&job.droid, |a| a.status = AgentStatus::Running);
                    shared.recorder.event(EventKind::Output, &job.droid, "active again after a stall", serde_json::Value::Null);
                    shared.change(idx, "active again", |r| r.status = AgentStatus::Running);
                } else if !stalled && quiet >= opts.stall {
                    stalled = true;
                    report.stalled = true;
                    // The limit it crossed, not the poll's overshoot; the measured quiet is in the data.
                    let msg = format!("no output and no file change for {}", human_duration(opts.stall));
                    shared.recorder.agent(&job.droid, |a| a.status = AgentStatus::Stalled);
                    shared.recorder.event(EventKind::Stalled, &job.droid, &msg, serde_json::json!({ "quiet_ms": quiet.as_millis() as u64 }));
                    shared.change(idx, &format!("stalled: {msg}"), |r| r.status = AgentStatus::Stalled);
                    if opts.kill_stalled {
                        break Err(Stop::Stalled);
                    }
                }
            }
        }
    };

    let (status, stopped) = match stop {
        Ok(s) => (Some(s), None),
        Err(why) => (
            terminate(&mut child, pid, opts.grace, &mut level).await,
            Some(why),
        ),
    };
    // Whatever the agent left running in its group goes too: no orphans.
    reap_group(pid, opts.grace, &mut level).await;
    let elapsed = start.elapsed();
    report.elapsed_ms = elapsed.as_millis() as u64;
    report.ended_at_ms = Some(now_ms());
    if let Some(s) = status {
        use std::os::unix::process::ExitStatusExt;
        report.exit_code = s.code();
        report.signal = s.signal();
    }
    let took = human_duration(elapsed);
    match stopped {
        Some(Stop::Lost) => {
            report.outcome = Outcome::Error;
            report.message = format!("could not wait for the agent after {took}; it was stopped");
        }
        Some(Stop::Timeout) => {
            report.outcome = Outcome::TimedOut;
            // The limit it enforced: `took` also counts the grace period of stopping it.
            report.message = format!(
                "timed out after {} (--timeout) and was stopped",
                human_duration(opts.timeout.unwrap_or_default())
            );
        }
        Some(Stop::Stalled) => {
            report.outcome = Outcome::Stalled;
            report.message = format!("stalled and was stopped after {took}");
        }
        Some(Stop::Interrupt) => {
            report.outcome = Outcome::Interrupted;
            report.message = format!("interrupted after {took}");
        }
        None => match (report.exit_code, report.signal) {
            (Some(0), _) => {
                let before = Before {
                    root: shared.repo_root.clone(),
                    integration: shared.integration.clone(),
                    state: shared.recorder.state.clone(),
                    tip: tip_before,
                    ready: ready_before,
                };
                let job2 = job.clone();
                let commit = opts.commit;
                let done =
                    tokio::task::spawn_blocking(move || settle_success(&before, &job2, commit))
                        .await;
                match done {
                    Ok(Ok(s)) => {
                        report.new_commits = s.new_commits;
                        report.committed_leftovers = s.leftover_commit.is_some();
                        report.ready_commit = s.ready.map(|o| o.to_string());
                        report.outcome = s.outcome;
                        report.message = s.message(&took);
                        if let Some(c) = s.leftover_commit {
                            shared.recorder.event(
                                EventKind::Committed,
                                &job.droid,
                                &format!("leftover changes as {}", crate::git::short(c)),
                                serde_json::json!({ "commit": c.to_string() }),
                            );
                        }
                    }
                    Ok(Err(e)) => {
                        report.message = format!(
                            "exited 0 after {took}, but its work could not be recorded: {}",
                            error_text(&e)
                        );
                    }
                    Err(e) => {
                        report.message = format!("exited 0 after {took}; recording failed: {e}");
                    }
                }
            }
            (Some(code), _) => {
                report.outcome = Outcome::Failed;
                report.message = format!("exited with code {code} after {took}");
            }
            (None, Some(sig)) => {
                report.outcome = Outcome::Failed;
                report.message = format!("was killed by signal {sig} after {took}");
            }
            (None, None) => {
                report.outcome = Outcome::Failed;
                report.message = format!("ended without an exit status after {took}");
            }
        },
    }
    finish(shared, idx, job, report)
}

/// Record the final state, events and log footer.
fn finish(shared: &Shared, idx: usize, job: &AgentJob, report: AgentReport) -> AgentReport {
    let ended = crate::util::time::now();
    shared.recorder.agent(&job.droid, |a| {
        a.status = report.outcome.agent_status();
        a.exit_code = report.exit_code;
        a.ended_at = Some(ended);
    });
    let data = serde_json::json!({
        "outcome": report.outcome,
        "exit_code": report.exit_code,
        "signal": report.signal,
        "elapsed_ms": report.elapsed_ms,
        "log": report.log,
    });
    let kind = if report.outcome == Outcome::Interrupted {
        EventKind::Interrupted
    } else {
        EventKind::Exited
    };
    shared
        .recorder
        .event(kind, &job.droid, &report.message, data.clone());
    if let (Outcome::Ready, Some(commit)) = (report.outcome, &report.ready_commit) {
        shared.recorder.event(
            EventKind::Ready,
            &job.droid,
            &format!("{} marked ready", crate::git::short_hex(commit)),
            serde_json::json!({ "commit": commit }),
        );
    }
    if let Ok(mut log) = std::fs::OpenOptions::new().append(true).open(&job.log) {
        let _ = writeln!(
            log,
            "===== droidforge: {} {} =====",
            job.droid, report.message
        );
    }
    shared.change(idx, &report.message, |r| {
        r.outcome = Some(report.outcome);
        r.ended = Some(Instant::now());
        if let Some(pct) = job.todo.as_deref().and_then(todo_percent) {
            r.todo_percent = Some(pct);
        }
    });
    report
}

fn error_text(e: &Error) -> String {
    e.full_message()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn open_log(job: &AgentJob, started_ms: i64) -> Result<std::fs::File> {
    if let Some(dir) = job.log.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&job.log)
        .with_context(|| format!("cannot open the log `{}`", job.log.display()))?;
    let (date, time) = utc_parts(started_ms);
    writeln!(
        log,
        "===== droidforge run: {} at {date} {time} UTC =====\n$ {}\ncwd: {}",
        job.droid,
        job.command,
        job.worktree.display()
    )
    .with_context(|| format!("cannot write the log `{}`", job.log.display()))?;
    Ok(log)
}

fn spawn_agent(job: &AgentJob, log: &std::fs::File) -> Result<(Child, u32)> {
    let out = log.try_clone().context("cannot share the log file")?;
    let err = log.try_clone().context("cannot share the log file")?;
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(&job.command)
        .current_dir(&job.worktree)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .env("DROIDFORGE_DROID", &job.droid)
        .env("DROIDFORGE_BRIEF", &job.brief)
        .env("DROIDFORGE_WORKTREE", &job.worktree)
        .env("DROIDFORGE_BRANCH", &job.branch)
        .process_group(0)
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| {
        Error::failure(format!("cannot start the agent for `{}`", job.droid))
            .with_source(e)
            .hint("check that `sh` and the agent's program are on PATH")
    })?;
    let pid = child
        .id()
        .ok_or_else(|| Error::failure("the agent exited before it got a pid"))?;
    Ok((child, pid))
}

/// Resolve once the interrupt level reaches `n` (never, if the signal watcher is gone).
async fn wait_level(rx: &mut watch::Receiver<u8>, n: u8) {
    if rx.wait_for(|l| *l >= n).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Send a signal to a whole process group (through kill(1): the crate forbids `unsafe`).
fn signal_group(pgid: u32, signal: &str) -> bool {
    std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn group_alive(pgid: u32) -> bool {
    signal_group(pgid, "0")
}

/// SIGTERM the agent's group, wait up to `grace` (or a second Ctrl-C), then SIGKILL.
async fn terminate(
    child: &mut Child,
    pgid: u32,
    grace: Duration,
    level: &mut watch::Receiver<u8>,
) -> Option<ExitStatus> {
    signal_group(pgid, "TERM");
    tokio::select! {
        s = child.wait() => return s.ok(),
        _ = tokio::time::sleep(grace) => {}
        _ = wait_level(level, 2) => {}
    }
    signal_group(pgid, "KILL");
    let _ = child.start_kill();
    child.wait().await.ok()
}

/// After the leader exited: stop whatever is still in its process group.
async fn reap_group(pgid: u32, grace: Duration, level: &mut watch::Receiver<u8>) {
    if !group_alive(pgid) {
        return;
    }
    signal_group(pgid, "TERM");
    let give_up = Instant::now() + grace;
    while Instant::now() < give_up && *level.borrow() < 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if !group_alive(pgid) {
            return;
        }
    }
    signal_group(pgid, "KILL");
    // Wait (briefly) until the kernel has really removed them, so that nothing of the
    // agent outlives this process.
    let give_up = Instant::now() + Duration::from_secs(2);
    while group_alive(pgid) && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The last non-empty line of the log (from its last 4 KiB), cleaned for one terminal line.
fn last_line(path: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(4096)));
    let mut buf = Vec::new();
    let _ = file.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let clean: String = line.chars().filter(|c| !c.is_control()).take(80).collect();
    clean
}

fn todo_percent(path: &Path) -> Option<u8> {
    let text = std::fs::read_to_string(path).ok()?;
    crate::forge::progress::parse_todo(&text).percent()
}

/// A cheap fingerprint of a worktree's files: newest mtime and entry count (`.git` skipped).
async fn walk_signature(root: PathBuf) -> (u128, u64) {
    tokio::task::spawn_blocking(move || tree_signature(&root, 200_000))
        .await
        .unwrap_or((0, 0))
}

fn tree_signature(root: &Path, limit: u64) -> (u128, u64) {
    let mut newest = 0u128;
    let mut count = 0u64;
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name() == ".git" {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            count += 1;
            if let Ok(m) = meta.modified()
                && let Ok(d) = m.duration_since(std::time::UNIX_EPOCH)
            {
                newest = newest.max(d.as_nanos());
            }
            if meta.is_dir() {
                stack.push(entry.path());
            }
            if count >= limit {
                return (newest, count);
            }
        }
    }
    (newest, count)
}

/// The branch tip and the ready mark of a droid, as they were before its agent started.
fn before_run(root: &Path, branch: &str, droid: &str) -> (Option<Oid>, Option<Oid>) {
    let Ok(repo) = Repo::open(root) else {
        return (None, None);
    };
    let tip = repo.branch_tip(branch).ok().flatten();
    let ready = repo.ref_target(&ready::ready_ref(droid)).ok().flatten();
    (tip, ready)
}

/// What settling an agent's success needs to know from before the run.
struct Before {
    root: PathBuf,
    integration: String,
    state: StateDir,
    tip: Option<Oid>,
    ready: Option<Oid>,
}

/// What happened after an agent exited 0.
struct Settled {
    outcome: Outcome,
    new_commits: usize,
    leftover_commit: Option<Oid>,
    ready: Option<Oid>,
    note: Option<String>,
}

impl Settled {
    fn message(&self, took: &str) -> String {
        let mut msg = match self.outcome {
            Outcome::Ready => {
                let commits = if self.new_commits == 1 {
                    "1 new commit".to_owned()
                } else {
                    format!("{} new commits", self.new_commits)
                };
                let leftovers = if self.leftover_commit.is_some() {
                    " (leftover changes committed)"
                } else {
                    ""
                };
                format!(
                    "exited 0 after {took} with {commits}{leftovers}; {} marked ready",
                    self.ready
                        .map(|r| crate::git::short(r).to_string())
                        .unwrap_or_default()
                )
            }
            Outcome::NoWork => {
                format!("exited 0 after {took} but did nothing (no new commits, no changes)")
            }
            Outcome::Uncommitted => format!(
                "exited 0 after {took} with uncommitted changes only (not committed: --no-commit)"
            ),
            Outcome::Error => format!(
                "exited 0 after {took} with {} but was not marked ready",
                crate::util::text::count(self.new_commits, "new commit")
            ),
            _ => format!("exited 0 after {took}"),
        };
        if let Some(note) = &self.note {
            msg.push_str("; ");
            msg.push_str(note);
        }
        msg
    }
}

/// Commit leftovers (only inside the worktree), count new commits, set the ready mark.
fn settle_success(before: &Before, job: &AgentJob, commit: bool) -> Result<Settled> {
    let (root, tip_before) = (&before.root, before.tip);
    let wt = &job.worktree;
    let on_branch = Repo::worktree_branch(wt)
        .ok()
        .flatten()
        .is_some_and(|b| b == job.branch);
    let mut note = None;
    let mut leftover_commit = None;
    // The brief is droidforge's file, never part of a droid's commit.
    let dirty = Repo::worktree_changed_except(wt, &[BRIEF_PATH])?;
    if dirty && commit {
        if on_branch {
            let message = format!("droidforge: {} leftover changes from agent run", job.droid);
            leftover_commit = Repo::commit_worktree_changes(wt, &message, &[BRIEF_PATH])?;
        } else {
            note = Some(format!(
                "leftover changes not committed: the worktree is not on `{}`",
                job.branch
            ));
        }
    }
    let repo = Repo::open(root)?;
    let tip_after = repo.branch_tip(&job.branch)?;
    let new_commits = match (tip_before, tip_after) {
        (_, None) => 0,
        (Some(b), Some(a)) if a == b => 0,
        (before, Some(a)) => repo.commits_between(before, a)?.len(),
    };
    let still_dirty = dirty && leftover_commit.is_none();
    let (outcome, ready) = match tip_after {
        Some(tip) if new_commits > 0 => {
            match ready::mark(
                &repo,
                &before.state,
                &before.integration,
                &job.droid,
                tip,
                before.ready,
            ) {
                Ok(_) => {
                    if still_dirty && note.is_none() {
                        note = Some("uncommitted changes left in the worktree".to_owned());
                    }
                    (Outcome::Ready, Some(tip))
                }
                Err(e) => match e.find::<ReadyError>() {
                    // Someone set (or cleared) the mark while the agent ran: theirs stands.
                    Some(moved @ ReadyError::Moved { .. }) => {
                        note = Some(moved.to_string());
                        (Outcome::Error, None)
                    }
                    _ => return Err(e),
                },
            }
        }
        _ if still_dirty => (Outcome::Uncommitted, None),
        _ => (Outcome::NoWork, None),
    };
    Ok(Settled {
        outcome,
        new_commits,
        leftover_commit,
        ready,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_signature_sees_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        let before = tree_signature(dir.path(), 1000);
        std::fs::write(dir.path().join("a.txt"), "x").unwrap();
        let after = tree_signature(dir.path(), 1000);
        assert_ne!(before, after);
        // .git is not counted
        assert_eq!(after.1, 1);
    }

    #[test]
    fn last_line_skips_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, "one\ntwo\x1b[0m\n\n").unwrap();
        assert_eq!(last_line(&p), "two[0m");
    }
}
