//! One agent's run, start to report: note where its branch and ready mark stand, start it,
//! watch it, stop it when it must, and turn how it ended into an [`AgentReport`].

use std::io::Write;
use std::time::{Duration, Instant};

use tokio::process::Child;
use tokio::sync::watch;

use super::process::{open_log, reap_group, spawn_agent, terminate};
use super::settle::{Before, before_run, settle_success};
use super::stall::{todo_percent, watch};
use super::{AgentReport, Outcome, Shared};
use crate::agent::human_duration;
use crate::agent::job::AgentJob;
use crate::error::{Error, Result};
use crate::state::{AgentStatus, EventKind};
use crate::util::time::now_ms;

/// Why we stopped an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// Waiting for the process failed: stop it and report an error.
    Lost,
    Timeout,
    Stalled,
    Interrupt,
}

pub(super) async fn run_one(
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
    let before = {
        let root = shared.repo_root.clone();
        let (branch, droid) = (job.branch.clone(), job.droid.clone());
        let (tip, ready) = tokio::task::spawn_blocking(move || before_run(&root, &branch, &droid))
            .await
            .unwrap_or_default();
        Before {
            root: shared.repo_root.clone(),
            integration: shared.integration.clone(),
            state: shared.recorder.state.clone(),
            tip,
            ready,
        }
    };

    let launched = launch(shared, idx, job, started_ms, start);
    let _ = started.send(Instant::now());
    let (mut child, pid) = match launched {
        Ok(c) => c,
        Err(e) => {
            report.message = format!("could not start: {}", error_text(&e));
            return finish(shared, idx, job, report);
        }
    };
    report.pid = Some(pid);

    let stop = watch(shared, idx, job, &mut child, &mut level, &mut report).await;
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
    conclude(shared, job, &mut report, stopped, before, elapsed).await;
    finish(shared, idx, job, report)
}

/// Open the log, start the agent, and record that it runs (state, event, view).
fn launch(
    shared: &Shared,
    idx: usize,
    job: &AgentJob,
    started_ms: i64,
    start: Instant,
) -> Result<(Child, u32)> {
    let (child, pid) = open_log(job, started_ms).and_then(|log| spawn_agent(job, &log))?;
    let spawned_ms = now_ms();
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
    Ok((child, pid))
}

/// The outcome and message for how the agent ended; after exit 0, settle its work.
async fn conclude(
    shared: &Shared,
    job: &AgentJob,
    report: &mut AgentReport,
    stopped: Option<Stop>,
    before: Before,
    elapsed: Duration,
) {
    let opts = &shared.opts;
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
}

/// Record the final state, events and log footer.
pub(super) fn finish(
    shared: &Shared,
    idx: usize,
    job: &AgentJob,
    report: AgentReport,
) -> AgentReport {
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
