//! `land.json`: where `droidforge run --land` keeps its loop — per droid, how many agent
//! attempts it made, where the droid stands (waiting, running, ready, retrying, landed, needs
//! a human), why, and the exact next command. Written atomically after every step, so a
//! Ctrl-C (or a crash) leaves a loop the next `run --land` continues; read by `status` and
//! PROGRESS.md for the attempts and the "needs a human" reasons.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::StateDir;
use crate::error::{Context, Result};
use crate::util::safe_fs::write_atomic;

/// Version of the `land.json` format.
pub const LAND_VERSION: u32 = 1;

const LAND_FIX: &str = "move it aside (`mv` it) or delete it: the next `droidforge run --land` starts a fresh loop (ready marks and landed work are kept in git)";

/// The loop's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LandState {
    #[serde(default)]
    pub version: u32,
    /// The process running the loop (while it runs).
    #[serde(default)]
    pub pid: Option<u32>,
    /// Epoch seconds of the last update.
    #[serde(default)]
    pub updated_at: Option<i64>,
    /// Re-runs allowed after a droid's first attempt (`--retries`).
    #[serde(default)]
    pub retries: u32,
    #[serde(default)]
    pub droids: BTreeMap<String, LandDroid>,
}

/// Where one droid stands in the loop.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LandStatus {
    /// Not started: its prerequisites are not merged yet, or its turn has not come.
    #[default]
    Waiting,
    /// Its agent is running.
    Running,
    /// Its agent finished and marked work ready; the merge comes next.
    Ready,
    /// The merger rejected it (or its agent failed); it was synced and briefed, and its
    /// agent runs again.
    Retrying,
    /// Its work is on the integration branch.
    Landed,
    /// The loop stopped for it: see `reason` and `next`.
    NeedsHuman,
    /// It waits on a droid that needs a human (or on one outside the selection).
    Blocked,
    /// Ctrl-C stopped its agent; the next `run --land` runs it again.
    Interrupted,
}

impl LandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LandStatus::Waiting => "waiting",
            LandStatus::Running => "running",
            LandStatus::Ready => "ready",
            LandStatus::Retrying => "retrying",
            LandStatus::Landed => "landed",
            LandStatus::NeedsHuman => "needs-human",
            LandStatus::Blocked => "blocked",
            LandStatus::Interrupted => "interrupted",
        }
    }
}

/// What the merger rejected last time (to tell a repeated violation from a new one).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rejection {
    /// `conflict`, `violation` or `verify-failed`.
    pub kind: String,
    /// The paths involved, sorted.
    pub paths: Vec<String>,
    /// The ready commit that was rejected: the loop does not merge it again.
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LandDroid {
    pub status: LandStatus,
    /// Agent runs the loop started for this droid (interrupted ones not counted).
    #[serde(default)]
    pub attempts: u32,
    /// Why it is retrying, needs a human, or is blocked.
    #[serde(default)]
    pub reason: Option<String>,
    /// The exact next command for a human (needs a human, blocked).
    #[serde(default)]
    pub next: Option<String>,
    /// Droids it waits for (blocked).
    #[serde(default)]
    pub waits_for: Vec<String>,
    #[serde(default)]
    pub last_rejection: Option<Rejection>,
}

impl StateDir {
    pub fn land_path(&self) -> PathBuf {
        self.root.join("land.json")
    }

    /// The loop's state (empty when no `run --land` ran yet).
    pub fn land_state(&self) -> Result<LandState> {
        Ok(
            super::read_state_json(&self.land_path(), "loop state file", LAND_FIX)?
                .unwrap_or_default(),
        )
    }

    /// Replace the loop's state atomically (only the loop, holding `land.lock`, writes it).
    pub fn save_land_state(&self, state: &LandState) -> Result<()> {
        let mut state = state.clone();
        state.version = LAND_VERSION;
        state.updated_at = Some(crate::util::time::now());
        let bytes = serde_json::to_vec_pretty(&state).context("cannot serialize the loop state")?;
        write_atomic(&self.land_path(), &bytes)
    }
}
