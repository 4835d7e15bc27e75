//! `run` (and `spawn --run`): which droids to start, the rules that refuse a run before anything
//! starts, and the run itself through the agent runner.
//!
//! Rules: starting every agent is too big a step to take by accident, so no selection means
//! the droid whose worktree we are in, and is refused elsewhere ([`RunError::NoSelection`]);
//! a droid whose agent is alive is not started twice ([`RunError::AlreadyRunning`]); the agent
//! program is checked and missing worktrees are spawned before any agent starts
//! ([`crate::agent::prepare`]).

use std::sync::Arc;
use std::time::Duration;

use crate::agent::{self, AgentReport, Prepared, RunView};
use crate::error::{ExitKind, Result, Typed};
use crate::forge::manifest::Droid;
use crate::workspace::Workspace;

/// Why a run does not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No droid named, no phase, no `--all`, outside any droid's worktree.
    #[error("say which droids to run")]
    NoSelection,
    /// Two agents in one worktree would trample each other.
    #[error("droid `{droid}` already has an agent running (pid {pid})")]
    AlreadyRunning { droid: String, pid: u32 },
}

impl Typed for RunError {
    fn exit_kind(&self) -> ExitKind {
        ExitKind::Usage
    }
}

/// Which droids a run acts on, as the user selected them.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub droids: Vec<String>,
    pub phase: Option<u32>,
    pub all: bool,
}

/// The droids to run: the selection, or (with none) the droid whose worktree we are in.
pub fn select<'w>(ws: &'w Workspace, s: &Selection) -> Result<Vec<&'w Droid>> {
    if s.droids.is_empty() && s.phase.is_none() && !s.all {
        return match ws.current_droid() {
            Some(name) => Ok(vec![ws.forge.require_droid(&name)?]),
            None => Err(RunError::NoSelection.into()),
        };
    }
    ws.forge.select(&s.droids, s.phase, s.all)
}

/// How to run the agents (what `run`'s flags say).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Agent preset name (`--agent`).
    pub agent: Option<String>,
    /// Command template (`--cmd`).
    pub cmd: Option<String>,
    /// At most this many agents at once (default: every selected droid).
    pub jobs: Option<usize>,
    pub stagger: Option<Duration>,
    /// `None` or zero: no timeout.
    pub timeout: Option<Duration>,
    pub stall: Option<Duration>,
    pub kill_stalled: bool,
    pub no_commit: bool,
    pub grace: Option<Duration>,
}

impl RunOptions {
    /// The runner's options for `count` selected droids (`--jobs` defaults to all of them).
    pub fn runner(&self, count: usize) -> agent::RunOptions {
        let defaults = agent::RunOptions::default();
        agent::RunOptions {
            jobs: self.jobs.unwrap_or(count).max(1),
            stagger: self.stagger.unwrap_or_default(),
            timeout: self.timeout.filter(|d| !d.is_zero()),
            stall: self.stall.unwrap_or(defaults.stall),
            kill_stalled: self.kill_stalled,
            commit: !self.no_commit,
            grace: self.grace.unwrap_or(defaults.grace),
        }
    }
}

/// Check that `droids` may run, resolve their agent commands and spawn missing worktrees.
/// Nothing has started when this returns; the caller shows [`Prepared::notes`] and
/// [`Prepared::spawned`], then calls [`start`].
pub fn prepare(ws: &Workspace, droids: &[&Droid], opts: &RunOptions) -> Result<Prepared> {
    refuse_running(ws, droids)?;
    agent::prepare(ws, droids, opts.agent.as_deref(), opts.cmd.as_deref())
}

/// Run the prepared agents to the end; one report per droid, in order.
pub fn start(
    ws: &Workspace,
    prepared: Prepared,
    opts: &RunOptions,
    view: Arc<dyn RunView>,
) -> Result<Vec<AgentReport>> {
    let runner = opts.runner(prepared.jobs.len());
    agent::run_agents(ws, prepared.jobs, &runner, view)
}

/// Refuse droids whose agent is alive.
fn refuse_running(ws: &Workspace, droids: &[&Droid]) -> Result<()> {
    // A corrupt state file is an error here, not "no agent running".
    ws.state.store().read()?;
    for d in droids {
        if let Some(pid) = crate::state::running_agent(&ws.state, &d.name) {
            return Err(RunError::AlreadyRunning {
                droid: d.name.clone(),
                pid,
            }
            .into());
        }
    }
    Ok(())
}
