//! Creating the worktrees of the droids that need one: branch, worktree (full or sparse) and
//! brief, several droids at once on up to all cores.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::files::write_brief;
use super::{Progress, SpawnOutcome, SpawnStatus};
use crate::forge::manifest::Droid;
use crate::forge::sparse::{self, PathKind, SparseSet};
use crate::git::{Expect, Oid, Repo, SparsePatterns};
use crate::workspace::Workspace;

/// One droid that needs a worktree.
pub(super) struct Job {
    pub(super) index: usize,
    pub(super) droid: String,
    pub(super) branch: String,
    pub(super) path: PathBuf,
    /// The branch's tip when it exists already.
    pub(super) existing_tip: Option<Oid>,
    pub(super) brief: String,
    /// Check out only these paths (git sparse-checkout for this worktree only).
    pub(super) sparse: Option<SparseSet>,
}

/// Create worktrees for `jobs` on up to all cores; returns (index, outcome) per job.
pub(super) fn run_jobs(
    repo: &Repo,
    jobs: &[Job],
    tip: Oid,
    progress: Progress<'_>,
) -> Vec<(usize, SpawnOutcome)> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let threads = cores.min(jobs.len());
    // Checkout threads per worktree: the cores the droids running at once leave over.
    let budget = (cores / threads).max(1);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(jobs.len()));
    let registration = Mutex::new(());
    if threads <= 1 {
        for job in jobs {
            let outcome = create_one(repo, job, tip, &registration, budget);
            progress(1);
            results
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((job.index, outcome));
        }
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                // `Repository` is Send but not Sync: every thread gets its own handle.
                let repo = repo.clone();
                let (next, results, registration) = (&next, &results, &registration);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let outcome = create_one(&repo, job, tip, registration, budget);
                        progress(1);
                        results
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((job.index, outcome));
                    }
                });
            }
        });
    }
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

fn create_one(
    repo: &Repo,
    job: &Job,
    tip: Oid,
    registration: &Mutex<()>,
    threads: usize,
) -> SpawnOutcome {
    let mut outcome = SpawnOutcome::new(&job.droid, &job.branch, &job.path, SpawnStatus::Created);
    let base = match job.existing_tip {
        Some(existing) => existing,
        None => {
            if let Err(e) = repo.create_branch(&job.branch, tip) {
                return outcome.failed(e);
            }
            outcome.branch_created = true;
            tip
        }
    };
    outcome.base = Some(base.to_string());
    let added = match &job.sparse {
        Some(set) => {
            let text = set.file_text();
            let patterns = SparsePatterns {
                cone: set.cone,
                text: &text,
            };
            repo.add_worktree_sparse(&job.path, &job.branch, registration, &patterns, threads)
        }
        None => repo.add_worktree_shared(&job.path, &job.branch, registration, threads),
    };
    if let Err(e) = added {
        if outcome.branch_created {
            // Leave no trace of a failed spawn: the branch is ours and still at `tip`.
            let _ = repo.delete_ref(
                &format!("refs/heads/{}", job.branch),
                Expect::MustMatch(tip),
            );
            outcome.branch_created = false;
        }
        return outcome.failed(e);
    }
    match write_brief(&job.path, &job.brief) {
        Ok(()) => outcome.brief_written = true,
        Err(e) => return outcome.failed(e),
    }
    outcome.sparse = job.sparse.as_ref().map(|s| s.list.clone());
    outcome
}

/// The sparse-checkout definition of `droid`'s worktree made from commit `base`.
pub(super) fn sparse_set(ws: &Workspace, droid: &Droid, base: Oid) -> SparseSet {
    let kind = |path: &str| {
        if ws.repo.is_dir_at(base, path).unwrap_or(false) {
            PathKind::Dir
        } else if ws.repo.file_id_at(base, path).ok().flatten().is_some() {
            PathKind::File
        } else {
            PathKind::Missing
        }
    };
    sparse::select(droid, &ws.forge.manifest.paths.shared, kind)
}
