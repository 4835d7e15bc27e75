//! The loop itself: its state, the wait for agents and signals, and the end (what is blocked,
//! the report).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Fixer, LandOptions, LandReport, LandView, LandedDroid, prerequisites};
use crate::agent::{AgentJob, AgentReport, RunView};
use crate::error::{Context, Result};
use crate::state::{Event, EventKind, LandDroid, LandState, LandStatus};
use crate::workspace::Workspace;

/// One finished agent run, from its thread.
pub(super) struct Finished {
    pub(super) droid: String,
    pub(super) report: std::result::Result<AgentReport, String>,
}

pub(super) struct Loop<'a> {
    pub(super) ws: &'a Workspace,
    pub(super) opts: &'a LandOptions,
    /// The runner's options for every attempt (from `opts.run`).
    pub(super) runner: crate::agent::RunOptions,
    pub(super) fixer: &'a dyn Fixer,
    pub(super) view: Arc<dyn LandView>,
    pub(super) agents_view: Arc<dyn RunView>,
    pub(super) state: LandState,
    /// Selected droids in merge order.
    pub(super) order: Vec<String>,
    pub(super) prereqs: HashMap<String, Vec<String>>,
    /// Agent jobs made by the first start of each droid in this loop (re-runs reuse them:
    /// same command; the brief keeps its feedback).
    pub(super) jobs: HashMap<String, AgentJob>,
    pub(super) running: usize,
    pub(super) last_start: Option<Instant>,
    pub(super) interrupted: bool,
    pub(super) merges: Vec<String>,
    pub(super) tx: tokio::sync::mpsc::UnboundedSender<Finished>,
    pub(super) rx: tokio::sync::mpsc::UnboundedReceiver<Finished>,
}

impl<'a> Loop<'a> {
    pub(super) fn new(
        ws: &'a Workspace,
        opts: &'a LandOptions,
        fixer: &'a dyn Fixer,
        view: Arc<dyn LandView>,
        agents_view: Arc<dyn RunView>,
    ) -> Result<Loop<'a>> {
        let mut state = ws.state.land_state()?;
        state.pid = Some(std::process::id());
        state.retries = opts.retries;
        let order: Vec<String> = ws
            .forge
            .order()
            .into_iter()
            .filter(|d| opts.droids.contains(&d.name))
            .map(|d| d.name.clone())
            .collect();
        let tip = ws.integration_tip()?;
        for name in &order {
            let entry = state.droids.entry(name.clone()).or_default();
            let merged = crate::ops::merge::plan::is_merged(ws, &ws.repo, name, tip)?;
            match entry.status {
                _ if merged => {
                    entry.status = LandStatus::Landed;
                    entry.reason = None;
                    entry.next = None;
                    entry.waits_for.clear();
                }
                // A human was asked to step in; running the loop again is their answer: a
                // fresh budget of attempts.
                LandStatus::NeedsHuman => {
                    *entry = LandDroid {
                        last_rejection: entry.last_rejection.take(),
                        ..LandDroid::default()
                    };
                }
                // Left over by a loop that was stopped or died: start them again.
                LandStatus::Running
                | LandStatus::Interrupted
                | LandStatus::Blocked
                | LandStatus::Landed => {
                    entry.status = LandStatus::Waiting;
                    entry.reason = None;
                    entry.next = None;
                    entry.waits_for.clear();
                }
                LandStatus::Waiting | LandStatus::Ready | LandStatus::Retrying => {}
            }
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        Ok(Loop {
            ws,
            opts,
            runner: opts.run.runner(opts.droids.len()),
            fixer,
            view,
            agents_view,
            state,
            order,
            prereqs: prerequisites(&ws.forge),
            jobs: HashMap::new(),
            running: 0,
            last_start: None,
            interrupted: false,
            merges: Vec::new(),
            tx,
            rx,
        })
    }

    pub(super) fn entry(&mut self, droid: &str) -> &mut LandDroid {
        self.state.droids.entry(droid.to_owned()).or_default()
    }

    pub(super) fn status(&self, droid: &str) -> LandStatus {
        self.state
            .droids
            .get(droid)
            .map(|d| d.status)
            .unwrap_or_default()
    }

    pub(super) fn save(&self) {
        // A state file that cannot be written loses only the resume point; the loop goes on
        // (git holds the work) and the final save reports the error.
        let _ = self.ws.state.save_land_state(&self.state);
    }

    pub(super) fn event(
        &self,
        kind: EventKind,
        droid: &str,
        message: &str,
        data: serde_json::Value,
    ) {
        self.ws
            .event_with(Event::new(kind, Some(droid), message).with_data(data));
    }

    /// Is this prerequisite merged? Selected droids answer from the loop; others from git.
    pub(super) fn prerequisite_merged(&self, dep: &str, tip: crate::git::Oid) -> Result<bool> {
        if self.order.iter().any(|d| d == dep) {
            return Ok(self.status(dep) == LandStatus::Landed);
        }
        crate::ops::merge::plan::is_merged(self.ws, &self.ws.repo, dep, tip)
    }

    pub(super) async fn run(&mut self) -> Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered before any agent starts; the runner of each agent has its own handlers
        // (they stop the agents), these stop the loop.
        let mut int = signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?;
        let mut term = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
        self.save();
        // An error stops the loop, but never before the agents it started have ended: none is
        // left running without the runner that watches it.
        let mut failed: Option<crate::error::Error> = None;
        loop {
            let mut deferred = false;
            if !self.interrupted && failed.is_none() {
                let step = self.merge_ready().and_then(|()| self.start_agents());
                match step {
                    Ok(d) => deferred = d,
                    Err(e) => {
                        if self.running > 0 {
                            self.view.step(
                                "Error",
                                "-",
                                &format!(
                                    "{}; waiting for {} running",
                                    e.full_message(),
                                    crate::util::text::count(self.running, "agent")
                                ),
                            );
                        }
                        failed = Some(e);
                    }
                }
            }
            self.save();
            if self.running == 0 && !deferred {
                break;
            }
            let stagger_wait = next_wake(deferred, self.stagger_wait());
            tokio::select! {
                done = self.rx.recv() => {
                    if let Some(done) = done {
                        self.running -= 1;
                        if let Err(e) = self.finished(done) {
                            failed.get_or_insert(e);
                        }
                    }
                }
                _ = int.recv() => self.interrupted = true,
                _ = term.recv() => self.interrupted = true,
                _ = sleep_opt(stagger_wait) => {}
            }
        }
        if let Some(e) = failed {
            self.save();
            return Err(e);
        }
        if !self.interrupted {
            self.mark_blocked()?;
        }
        self.save();
        Ok(())
    }

    /// How long until the next start is allowed by `--stagger`, when a droid waits to start.
    pub(super) fn stagger_wait(&self) -> Option<Duration> {
        let stagger = self.runner.stagger;
        let last = self.last_start?;
        if stagger.is_zero() || self.interrupted || self.running >= self.runner.jobs {
            return None;
        }
        let left = stagger.saturating_sub(last.elapsed());
        (!left.is_zero()).then_some(left)
    }

    /// After the loop: droids still waiting are blocked by a droid that needs a human, or
    /// by a prerequisite outside the selection.
    pub(super) fn mark_blocked(&mut self) -> Result<()> {
        let tip = self.ws.integration_tip()?;
        for name in self.order.clone() {
            if !matches!(
                self.status(&name),
                LandStatus::Waiting | LandStatus::Ready | LandStatus::Retrying
            ) {
                continue;
            }
            let mut waits = Vec::new();
            for dep in &self.prereqs[&name] {
                if !self.prerequisite_merged(dep, tip)? {
                    waits.push(dep.clone());
                }
            }
            let (reason, next) = match waits.first() {
                Some(first) => {
                    let selected = self.order.contains(first);
                    let blocker = self.state.droids.get(first);
                    let why = match blocker.map(|b| b.status) {
                        Some(LandStatus::NeedsHuman) if selected => "needs a human".to_owned(),
                        Some(LandStatus::Blocked) if selected => "is blocked".to_owned(),
                        _ if !selected => "is not merged and not selected".to_owned(),
                        _ => "is not merged".to_owned(),
                    };
                    let next = match blocker.and_then(|b| b.next.clone()) {
                        Some(n) if selected => format!("first `{first}`: {n}"),
                        _ => format!("droidforge run --land {first}"),
                    };
                    (
                        format!(
                            "waits for {} (`{first}` {why})",
                            waits
                                .iter()
                                .map(|w| format!("`{w}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        next,
                    )
                }
                None => (
                    "was not merged (its ready work waits for the next run)".to_owned(),
                    format!("droidforge run --land {name}"),
                ),
            };
            let e = self.entry(&name);
            e.status = LandStatus::Blocked;
            e.reason = Some(reason);
            e.next = Some(next);
            e.waits_for = waits;
        }
        Ok(())
    }

    pub(super) fn report(&self) -> LandReport {
        LandReport {
            droids: self
                .order
                .iter()
                .map(|n| LandedDroid {
                    droid: n.clone(),
                    state: self.state.droids.get(n).cloned().unwrap_or_default(),
                })
                .collect(),
            merges: self.merges.clone(),
            interrupted: self.interrupted,
            retries: self.opts.retries,
        }
    }
}

/// How long the loop may sleep waiting for a stagger (`None`: until an agent ends or a
/// signal). A start deferred for the stagger whose wait ran out since it was measured (a
/// loaded machine) goes round at once: `None` there would sleep forever with no agent left
/// to wake the loop.
fn next_wake(deferred: bool, stagger_wait: Option<Duration>) -> Option<Duration> {
    match stagger_wait {
        None if deferred => Some(Duration::ZERO),
        wait => wait,
    }
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deferred_start_whose_stagger_ran_out_never_sleeps_forever() {
        assert_eq!(next_wake(true, None), Some(Duration::ZERO));
        let left = Duration::from_millis(300);
        assert_eq!(next_wake(true, Some(left)), Some(left));
        // Nothing waits to start: sleep until an agent ends.
        assert_eq!(next_wake(false, None), None);
    }
}
