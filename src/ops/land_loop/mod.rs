//! `droidforge run --land`: carry the selected droids from their agents' first run to merged.
//!
//! The loop runs each droid's agent as soon as its prerequisites are merged — the droids in
//! its `after` list and every droid of the phases its first phase comes `after` (waves) —
//! with at most `jobs` agents alive. Whenever agents have marked work ready, the ready droids
//! whose prerequisites are merged (or land in the same run) are merged together. A rejected
//! droid (conflict, ownership violation, failed verification) is synced with the integration
//! branch, its brief gets the merger's verdict, and its agent runs again with the same
//! command; an agent that fails is run again too. A droid stops when it lands, when its
//! retries are used up, or when it needs a human: it repeated an ownership violation, its
//! worktree could not be synced, or its agent left a conflict unresolved on its last attempt.
//! Its dependents are then blocked; independent droids go on.
//!
//! Everything the loop knows is in `<state>/land.json` ([`crate::state::land`]), saved after
//! every step; ready marks and landed work are in git. A Ctrl-C stops the running agents
//! (the runner's rules), records them as interrupted (their attempt does not count) and
//! returns; the next `run --land` continues: landed droids are not run again, droids with
//! unmerged ready work are merged without running their agent.
//!
//! Syncing and writing the feedback brief are behind [`Fixer`], so the loop does not depend
//! on how they are done.
//!
//! - [`looping`]: the loop's state, the wait for agents and signals, the end;
//! - [`merging`]: merging what is ready; a rejection's retry or stop for a human;
//! - [`agents`]: starting agents (waves, `--jobs`, `--stagger`) and what their end means.

mod agents;
mod looping;
mod merging;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::agent::RunView;
use crate::error::{Context, Result};
use crate::ops::merge::{DroidReport, Strategy};
use crate::state::{FileLock, LandDroid, LandStatus};
use crate::workspace::Workspace;

/// Name of the lock file held while a loop runs (one loop per repository).
pub const LAND_LOCK: &str = "land";

/// What stops the loop before it starts.
#[derive(Debug, thiserror::Error)]
pub enum LandError {
    /// Another process holds `land.lock`.
    #[error("another `droidforge run --land` is running in this repository")]
    AlreadyRunning,
}

impl crate::error::Typed for LandError {
    fn exit_kind(&self) -> crate::error::ExitKind {
        match self {
            LandError::AlreadyRunning => crate::error::ExitKind::Failure,
        }
    }
}

/// What `run --land` does.
#[derive(Debug, Clone)]
pub struct LandOptions {
    /// The selected droids (any order; the loop follows the manifest's merge order).
    pub droids: Vec<String>,
    /// Re-runs allowed after a droid's first attempt.
    pub retries: u32,
    /// How agents run (`run`'s flags): `jobs` is the global limit, `stagger` spaces every
    /// start, the rest applies to every attempt.
    pub run: crate::ops::run::RunOptions,
    /// Verification command for merges (default: the manifest's `verify`).
    pub verify: Option<String>,
    /// Candidates verified at once per merge (default: the manifest's `verify_jobs`, else 1).
    pub verify_jobs: Option<usize>,
    pub strategy: Strategy,
}

/// How syncing a droid went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResult {
    /// Already on top of the integration branch.
    UpToDate,
    /// The branch (and its worktree) moved onto the integration branch.
    Synced,
    /// The worktree is left in a resolvable conflict state on these paths.
    Conflict(Vec<String>),
    /// Not touched, and why (a dirty worktree, a running agent): a human has to look.
    Refused(String),
}

/// Sync and feedback, as the loop needs them.
pub trait Fixer {
    /// Bring `droid`'s branch up to date with the integration branch.
    fn sync(&self, ws: &Workspace, droid: &str) -> Result<SyncResult>;
    /// Write the merger's verdict on `attempt` into `droid`'s brief.
    fn feedback(
        &self,
        ws: &Workspace,
        droid: &str,
        attempt: u32,
        rejected: &DroidReport,
    ) -> Result<()>;
}

/// Receives the loop's steps (the command prints them).
pub trait LandView: Send + Sync {
    /// `verb` is one word for a status line (`Merged`, `Rejected`, `Retrying`, …).
    fn step(&self, verb: &str, droid: &str, message: &str);
    /// What the merger reports while it works.
    fn merge_progress(&self, _event: &crate::ops::merge::MergeEvent) {}
}

/// The loop's result.
#[derive(Debug, Clone, Serialize)]
pub struct LandReport {
    /// Droids in merge order with where they ended.
    pub droids: Vec<LandedDroid>,
    /// Merge runs made by this loop.
    pub merges: Vec<String>,
    /// Ctrl-C / SIGTERM stopped the loop; `run --land` again continues.
    pub interrupted: bool,
    pub retries: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct LandedDroid {
    pub droid: String,
    #[serde(flatten)]
    pub state: LandDroid,
}

impl LandReport {
    pub fn all_landed(&self) -> bool {
        self.droids
            .iter()
            .all(|d| d.state.status == LandStatus::Landed)
    }

    /// The rejection kinds of droids that need a human (`conflict`, `violation`, …).
    pub fn rejections(&self) -> impl Iterator<Item = &str> {
        self.droids
            .iter()
            .filter(|d| d.state.status == LandStatus::NeedsHuman)
            .filter_map(|d| d.state.last_rejection.as_ref().map(|r| r.kind.as_str()))
    }
}

/// Run the loop.
pub fn land(
    ws: &Workspace,
    opts: &LandOptions,
    fixer: &dyn Fixer,
    view: Arc<dyn LandView>,
    agents_view: Arc<dyn RunView>,
) -> Result<LandReport> {
    ws.state.ensure()?;
    let _lock =
        FileLock::try_acquire(&ws.state.lock_path(LAND_LOCK))?.ok_or(LandError::AlreadyRunning)?;
    // Every command resolves before anything starts: a bad `--agent` changes nothing.
    for name in &opts.droids {
        let droid = ws.forge.require_droid(name)?;
        let worktree = ws.worktree_path(name);
        crate::agent::resolve_command(
            &ws.forge,
            droid,
            opts.run.agent.as_deref(),
            opts.run.cmd.as_deref(),
            &crate::agent::presets::Placeholders {
                brief: &worktree.join(crate::agent::BRIEF_PATH),
                droid: name,
                worktree: &worktree,
                branch: &ws.branch_of(name),
            },
        )?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut lp = looping::Loop::new(ws, opts, fixer, view, agents_view)?;
    let result = runtime.block_on(lp.run());
    lp.state.pid = None;
    // The loop's state is what the next run continues from: save it even after an error.
    let saved = ws.state.save_land_state(&lp.state);
    result?;
    saved?;
    Ok(lp.report())
}

/// The prerequisites of each droid: its `after` droids and every droid of the phases its
/// first phase comes after (itself excluded). The first phase only: a droid working in
/// phases 1 and 2 starts with phase 1.
pub fn prerequisites(forge: &crate::forge::manifest::Forge) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    for d in forge.droids() {
        let mut pre: Vec<String> = Vec::new();
        for a in &d.after {
            if forge.droid(a).is_some() && !pre.contains(a) {
                pre.push(a.clone());
            }
        }
        if let Some(phase) = d.phases.iter().min().and_then(|&first| forge.phase(first)) {
            for &before in &phase.after {
                for other in forge.droids_in_phase(before) {
                    if other.name != d.name && !pre.contains(&other.name) {
                        pre.push(other.name.clone());
                    }
                }
            }
        }
        out.insert(d.name.clone(), pre);
    }
    out
}
