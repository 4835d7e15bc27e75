//! Spawning from the warm pool (`[forge] pool = N`, see [`crate::ops::pool`]): a droid that
//! gets a new branch at the integration tip and a full checkout takes a pool entry instead of
//! checking out the tree; the others, or when no entry is ready, are created as usual.

use super::files::write_brief;
use super::{Job, Progress, SpawnOutcome, SpawnStatus};
use crate::git::Oid;
use crate::ops::pool;
use crate::workspace::Workspace;

/// What taking pool entries for `jobs` gave: the outcomes of the droids that got one, the jobs
/// still to create, and a note per droid for which the pool failed (it is then created as usual).
pub(super) struct Claims {
    pub(super) done: Vec<(usize, SpawnOutcome)>,
    pub(super) left: Vec<Job>,
    pub(super) notes: Vec<(usize, String)>,
}

/// Hand pool entries to the jobs that can take one: new branch, full checkout, made from the
/// integration tip (`tip`).
pub(super) fn claim(ws: &Workspace, jobs: Vec<Job>, tip: Oid, progress: Progress<'_>) -> Claims {
    let mut claims = Claims {
        done: Vec::new(),
        left: Vec::new(),
        notes: Vec::new(),
    };
    // No pool: not even a ref read. The pool's worktrees are at the integration tip only.
    let usable = ws.forge.manifest.forge.pool > 0 && ws.integration_tip().ok() == Some(tip);
    if !usable {
        claims.left = jobs;
        return claims;
    }
    let mut registered = ws.repo.worktrees().unwrap_or_default();
    for job in jobs {
        if job.existing_tip.is_some() || job.sparse.is_some() {
            claims.left.push(job);
            continue;
        }
        match pool::claim(ws, &registered, tip, &job.branch, &job.path) {
            Ok(Some(_entry)) => {
                let mut outcome =
                    SpawnOutcome::new(&job.droid, &job.branch, &job.path, SpawnStatus::Created);
                outcome.branch_created = true;
                outcome.base = Some(tip.to_string());
                outcome.pooled = true;
                match write_brief(&job.path, &job.brief) {
                    Ok(()) => outcome.brief_written = true,
                    Err(e) => outcome = outcome.failed(e),
                }
                progress(1);
                claims.done.push((job.index, outcome));
                // The entry moved: list again for the next droid.
                registered = ws.repo.worktrees().unwrap_or_default();
            }
            Ok(None) => claims.left.push(job),
            Err(e) => {
                claims.notes.push((
                    job.index,
                    format!("the warm pool could not be used: {}", e.full_message()),
                ));
                claims.left.push(job);
            }
        }
    }
    claims
}

/// After a spawn: refill or refresh the pool in the background when it was used or is short.
pub(super) fn refill(ws: &Workspace, used: bool) {
    let size = ws.forge.manifest.forge.pool;
    if size == 0 {
        return;
    }
    let short = ws
        .repo
        .worktrees()
        .map(|r| pool::entries(ws, &r).len() < size)
        .unwrap_or(false);
    if used || short {
        pool::refresh_in_background(ws);
    }
}
