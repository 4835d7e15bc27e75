//! Starting agents (waves, `--jobs`, `--stagger`) and what their end means for the loop.

use std::io::Write;
use std::time::{Duration, Instant};

use super::looping::{Finished, Loop};
use crate::agent::{Outcome, RunOptions};
use crate::error::Result;
use crate::state::{EventKind, LandStatus, StateDir};
use crate::workspace::Workspace;

impl Loop<'_> {
    /// Start agents for droids whose turn has come, up to `jobs` alive. Returns whether a
    /// droid waits only for `--stagger`.
    pub(super) fn start_agents(&mut self) -> Result<bool> {
        let tip = self.ws.integration_tip()?;
        for name in self.order.clone() {
            if self.running >= self.runner.jobs {
                break;
            }
            let status = self.status(&name);
            let first = match status {
                LandStatus::Retrying => false,
                LandStatus::Waiting => true,
                _ => continue,
            };
            if first {
                // Unmerged ready work is merged first, not redone.
                if let Some(ready) = self.ws.repo.ref_target(&self.ws.ready_ref(&name))? {
                    let rejected = self
                        .state
                        .droids
                        .get(&name)
                        .and_then(|d| d.last_rejection.as_ref().and_then(|r| r.commit.clone()));
                    if rejected.as_deref() != Some(ready.to_string().as_str()) {
                        continue;
                    }
                }
            }
            let mut ready = true;
            for dep in &self.prereqs[&name] {
                if !self.prerequisite_merged(dep, tip)? {
                    ready = false;
                    break;
                }
            }
            if !ready {
                continue;
            }
            if self.stagger_wait().is_some() {
                return Ok(true);
            }
            self.start(&name)?;
        }
        Ok(false)
    }

    fn start(&mut self, name: &str) -> Result<()> {
        if let Some(pid) = crate::state::running_agent(&self.ws.state, name) {
            return self.give_up(
                name,
                format!("an agent is already running for it (pid {pid})"),
                format!("wait for it or stop it (`kill -TERM -- -{pid}`), then `droidforge run --land {name}`"),
            );
        }
        let job = match self.jobs.get(name) {
            Some(job) => job.clone(),
            None => {
                let droid = self.ws.forge.require_droid(name)?;
                let prepared = match crate::agent::prepare(
                    self.ws,
                    &[droid],
                    self.opts.run.agent.as_deref(),
                    self.opts.run.cmd.as_deref(),
                ) {
                    Ok(p) => p,
                    Err(e) => {
                        return self.give_up(
                            name,
                            format!("its agent could not be prepared: {}", e.full_message()),
                            format!("fix that, then `droidforge run --land {name}`"),
                        );
                    }
                };
                for note in &prepared.notes {
                    self.view.step("Warning", name, note);
                }
                for spawned in &prepared.spawned {
                    self.view.step("Spawned", spawned, "worktree and brief");
                }
                let Some(job) = prepared.jobs.into_iter().next() else {
                    return Ok(());
                };
                self.jobs.insert(name.to_owned(), job.clone());
                job
            }
        };
        let of = self.opts.retries + 1;
        let e = self.entry(name);
        e.attempts += 1;
        e.status = LandStatus::Running;
        let attempt = e.attempts;
        let after = e.reason.clone();
        self.event(
            EventKind::AttemptStarted,
            name,
            &format!("attempt {attempt} of {of}"),
            serde_json::json!({ "attempt": attempt, "of": of, "after": after }),
        );
        write_attempt_header(&self.ws.state, name, attempt, of, after.as_deref());
        self.view.step(
            "Attempt",
            name,
            &match &after {
                Some(why) => format!("{attempt} of {of} (after {why})"),
                None => format!("{attempt} of {of}"),
            },
        );
        self.save();
        let tx = self.tx.clone();
        let root = self.ws.root.clone();
        let run = RunOptions {
            jobs: 1,
            stagger: Duration::ZERO,
            ..self.runner.clone()
        };
        let view = self.agents_view.clone();
        let droid = name.to_owned();
        self.running += 1;
        self.last_start = Some(Instant::now());
        std::thread::spawn(move || {
            // A workspace handle of its own: git handles are not shared between threads.
            let report =
                Workspace::load(&root, crate::workspace::ManifestSource::Integration, false)
                    .and_then(|ws| crate::agent::run_agents(&ws, vec![job], &run, view))
                    .map_err(|e| e.full_message())
                    .and_then(|mut r| r.pop().ok_or_else(|| "the runner reported nothing".into()));
            let _ = tx.send(Finished { droid, report });
        });
        Ok(())
    }

    /// An agent run ended.
    pub(super) fn finished(&mut self, done: Finished) -> Result<()> {
        let name = done.droid;
        let retries = self.opts.retries;
        let worktree = self.ws.worktree_path(&name);
        let log = self.ws.state.log_path(&name);
        let report = match done.report {
            Ok(r) => r,
            Err(message) => {
                return self.give_up(
                    &name,
                    format!("its agent could not be run: {message}"),
                    format!("fix that, then `droidforge run --land {name}`"),
                );
            }
        };
        if report.outcome == Outcome::Interrupted {
            let e = self.entry(&name);
            e.attempts = e.attempts.saturating_sub(1);
            e.status = LandStatus::Interrupted;
            return Ok(());
        }
        if report.outcome == Outcome::Ready {
            let e = self.entry(&name);
            e.status = LandStatus::Ready;
            return Ok(());
        }
        // A failed attempt: run it again while retries last.
        let attempts = self.state.droids.get(&name).map_or(0, |d| d.attempts);
        let unfinished = crate::git::Repo::unfinished_operation(&worktree)
            .ok()
            .flatten();
        if attempts <= retries {
            let e = self.entry(&name);
            e.status = LandStatus::Retrying;
            e.reason = Some(format!("its agent {}", report.message));
            return Ok(());
        }
        match unfinished {
            Some(u) => self.give_up(
                &name,
                format!(
                    "its agent did not resolve the conflict: the worktree is still {} after {}",
                    u.describe(),
                    crate::util::text::count(attempts as usize, "attempt")
                ),
                format!(
                    "resolve it in {} (`git status`; fix the files, `git add`, `git rebase --continue`), then `droidforge run --land {name}`; or drop the sync with `droidforge sync --abort {name}`",
                    worktree.display()
                ),
            ),
            None => self.give_up(
                &name,
                format!(
                    "its agent {} (attempt {attempts}, no retries left)",
                    report.message
                ),
                format!(
                    "read {}, fix what stops the agent, then `droidforge run --land {name}`",
                    log.display()
                ),
            ),
        }
    }
}

/// `===== droidforge run --land: <droid> attempt N of M … =====` before the runner's own
/// header, so the log shows which attempt each run was.
fn write_attempt_header(state: &StateDir, droid: &str, attempt: u32, of: u32, after: Option<&str>) {
    let path = state.log_path(droid);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut log) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let after = after.map(|a| format!(" after {a}")).unwrap_or_default();
        let _ = writeln!(
            log,
            "===== droidforge run --land: {droid} attempt {attempt} of {of}{after} ====="
        );
    }
}
