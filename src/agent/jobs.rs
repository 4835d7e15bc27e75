//! Turn selected droids into runnable [`AgentJob`]s: make sure each has a worktree and a
//! brief (spawning what is missing), and resolve its agent command.

use super::presets::{Placeholders, resolve_command};
use super::runner::AgentJob;
use crate::error::{Error, Result};
use crate::manifest::Droid;
use crate::spawn::SpawnStatus;
use crate::workspace::Workspace;

pub use crate::brief::BRIEF_PATH;

/// Jobs for `droids` plus the names of droids whose worktree had to be created first.
pub struct Prepared {
    pub jobs: Vec<AgentJob>,
    pub spawned: Vec<String>,
}

/// Resolve commands and spawn missing worktrees. Commands are resolved first so that a bad
/// `--agent` changes nothing.
pub fn prepare(
    ws: &Workspace,
    droids: &[&Droid],
    cli_agent: Option<&str>,
    cli_cmd: Option<&str>,
) -> Result<Prepared> {
    let mut jobs = Vec::new();
    for droid in droids {
        let worktree = ws.worktree_path(&droid.name);
        let brief = worktree.join(BRIEF_PATH);
        let branch = ws.branch_of(&droid.name);
        let command = resolve_command(
            &ws.forge,
            droid,
            cli_agent,
            cli_cmd,
            &Placeholders {
                brief: &brief,
                droid: &droid.name,
                worktree: &worktree,
                branch: &branch,
            },
        )?;
        jobs.push(AgentJob {
            droid: droid.name.clone(),
            todo: droid.todo.as_ref().map(|t| worktree.join(t)),
            log: ws.state.log_path(&droid.name),
            worktree,
            branch,
            brief,
            command: command.command,
        });
    }
    // Create what is missing (and refresh briefs); existing worktrees are left alone.
    let outcomes = crate::spawn::spawn(ws, droids, None, &indicatif::ProgressBar::hidden())?;
    let mut spawned = Vec::new();
    for o in outcomes {
        match o.status {
            SpawnStatus::Created => spawned.push(o.droid),
            SpawnStatus::Exists => {}
            SpawnStatus::Error => {
                let mut err = Error::failure(format!(
                    "cannot prepare the worktree of `{}`: {}",
                    o.droid,
                    o.error.unwrap_or_default()
                ));
                for h in o.hints {
                    err = err.hint(h);
                }
                return Err(err);
            }
        }
    }
    Ok(Prepared { jobs, spawned })
}
