//! The agent's process: its log file, spawning it as the leader of its own process group, and
//! stopping that group (SIGTERM, grace, SIGKILL) so that nothing it started outlives it.

use std::io::Write;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::process::Child;
use tokio::sync::watch;

use crate::agent::AgentError;
use crate::agent::job::AgentJob;
use crate::error::{Context, Result};
use crate::util::time::utc_parts;

pub(super) fn open_log(job: &AgentJob, started_ms: i64) -> Result<std::fs::File> {
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

pub(super) fn spawn_agent(job: &AgentJob, log: &std::fs::File) -> Result<(Child, u32)> {
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
    let child = cmd.spawn().map_err(|cause| AgentError::Start {
        droid: job.droid.clone(),
        cause,
    })?;
    let pid = child.id().ok_or(AgentError::NoPid)?;
    Ok((child, pid))
}

/// Resolve once the interrupt level reaches `n` (never, if the signal watcher is gone).
pub(super) async fn wait_level(rx: &mut watch::Receiver<u8>, n: u8) {
    if rx.wait_for(|l| *l >= n).await.is_err() {
        std::future::pending::<()>().await;
    }
}

pub(super) async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

use crate::util::process::signal_group;

fn group_alive(pgid: u32) -> bool {
    signal_group(pgid, "0")
}

/// SIGTERM the agent's group, wait up to `grace` (or a second Ctrl-C), then SIGKILL.
pub(super) async fn terminate(
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
pub(super) async fn reap_group(pgid: u32, grace: Duration, level: &mut watch::Receiver<u8>) {
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
