//! Watching a running agent: it is active while its log grows or files in its worktree change
//! (newest mtime and entry count, `.git` skipped); quiet for `--stall` marks it stalled. The
//! watch also keeps the live view's last log line and TODO % fresh.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tokio::process::Child;
use tokio::sync::watch;

use super::one::Stop;
use super::process::{sleep_until_opt, wait_level};
use super::{AgentReport, Shared};
use crate::agent::human_duration;
use crate::agent::job::AgentJob;
use crate::state::{AgentStatus, EventKind};

/// Watch the agent until it exits (`Ok`) or has to be stopped (`Err`, why); stalls are
/// recorded on the way (and in `report`).
pub(super) async fn watch(
    shared: &Shared,
    idx: usize,
    job: &AgentJob,
    child: &mut Child,
    level: &mut watch::Receiver<u8>,
    report: &mut AgentReport,
) -> Result<ExitStatus, Stop> {
    let opts = &shared.opts;
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
    loop {
        tokio::select! {
            status = child.wait() => match status {
                Ok(s) => break Ok(s),
                Err(_) => break Err(Stop::Lost),
            },
            _ = sleep_until_opt(deadline) => break Err(Stop::Timeout),
            _ = wait_level(level, 1) => break Err(Stop::Interrupt),
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

pub(super) fn todo_percent(path: &Path) -> Option<u8> {
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
