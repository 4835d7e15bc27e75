//! Adding many linked worktrees at once: registration under a lock, checkout in parallel.
//!
//! gix's `add_worktree` reads every other registration (to refuse a branch checked out
//! elsewhere or a taken destination) while it writes its own. Two threads adding at the same
//! moment can read each other's half-written `gitdir`/`HEAD` files and fail ("Refusing to read
//! an empty path"). Registration is cheap, the checkout is what costs, so only the former is
//! serialized.
//!
//! The checkout itself is done here rather than by gix's `PrepareCheckout::checkout`, only to
//! choose its number of threads: gix starts one per core even for ten files, and for a small
//! tree starting and joining them costs more than the files (see [`checkout_threads`]).

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use super::Repo;
use super::sparse::SparsePatterns;
use crate::error::{Context, Error, Result};

/// Below this many files a checkout runs on one thread: gix's worker threads (started, fed in
/// chunks and joined per checkout) cost more than they save on a small tree. Measured on a
/// 2-core machine (`spawn` of one droid with `checkout.workers` 1 vs 2, alternating, medians
/// of 11): one thread ahead at 10 and 100 files, even at 300, two threads ahead by 11% at
/// 1,000 files.
const PARALLEL_CHECKOUT_MIN_FILES: usize = 500;

/// How many threads check out `files` files when the caller can spare `budget` of them.
fn checkout_threads(files: usize, budget: usize) -> usize {
    if files < PARALLEL_CHECKOUT_MIN_FILES {
        1
    } else {
        budget.max(1)
    }
}

impl Repo {
    /// Create a linked worktree at `dest` with `branch` (which must exist) checked out, holding
    /// `registration` while the worktree is registered (share one mutex between all threads that
    /// add worktrees to the same repository). The checkout uses at most `threads` threads.
    /// On failure, nothing is left behind.
    pub fn add_worktree_shared(
        &self,
        dest: &Path,
        branch: &str,
        registration: &Mutex<()>,
        threads: usize,
    ) -> Result<()> {
        let fail = |e: Error| {
            Error::failure(format!("cannot create the worktree `{}`", dest.display()))
                .with_source(e)
        };
        let prepared = self
            .prepare_worktree(dest, branch_name(branch)?, registration)
            .map_err(|e| {
                Error::failure(format!("cannot create the worktree `{}`", dest.display()))
                    .with_source(e)
            })?;
        checkout_prepared(prepared, None, threads).map_err(fail)
    }

    /// Register a linked worktree for `branch` at `dest` under `registration`, without files.
    /// Dropping the result rolls the registration back.
    pub(super) fn prepare_worktree(
        &self,
        dest: &Path,
        branch: gix::refs::FullName,
        registration: &Mutex<()>,
    ) -> std::result::Result<gix::worktree::add::PrepareCheckout, gix::Error> {
        let interrupt = AtomicBool::new(false);
        let _guard = registration.lock().unwrap_or_else(|e| e.into_inner());
        self.git
            .prepare_add_worktree(dest, gix::worktree::add::Head::Attached(branch), &interrupt)
    }
}

/// `refs/heads/<branch>`, or an error naming the bad branch name.
pub(super) fn branch_name(branch: &str) -> Result<gix::refs::FullName> {
    format!("refs/heads/{branch}").try_into().map_err(|e| {
        Error::failure(format!("`{branch}` is not a valid branch name")).with_source(e)
    })
}

/// Check out the HEAD tree of a registered, still empty worktree and finish its registration,
/// as gix's own initial checkout does (full index; with `sparse`, the paths outside the
/// patterns get the skip-worktree bit and no file), on at most `threads` threads. On failure
/// the registration and the files written so far are removed.
pub(super) fn checkout_prepared(
    prepared: gix::worktree::add::PrepareCheckout,
    sparse: Option<&SparsePatterns<'_>>,
    threads: usize,
) -> Result<()> {
    match check_out(prepared.repo(), sparse, threads) {
        Ok(()) => {
            prepared
                .persist()
                .context("cannot finish registering the worktree")?;
            Ok(())
        }
        Err(e) => {
            // Best effort: the error that matters is the checkout's.
            let _ = prepared.rollback();
            Err(e)
        }
    }
}

fn check_out(
    repo: &gix::Repository,
    sparse: Option<&SparsePatterns<'_>>,
    threads: usize,
) -> Result<()> {
    let workdir = repo
        .workdir()
        .ok_or_else(|| Error::failure("the new worktree has no working tree"))?
        .to_owned();
    let tree = repo
        .head_tree_id()
        .context("cannot read the new worktree's HEAD")?;
    let mut index = repo
        .index_from_tree(&tree)
        .context("cannot build the index of the new worktree")?;
    let mut opts = repo
        .checkout_options(gix::worktree::stack::state::attributes::Source::IdMapping)
        .context("cannot read the checkout settings")?;
    opts.destination_is_initially_empty = true;
    // Patterns given, or those gix copied from the source worktree when sparse checkout is on
    // in the shared config (as gix's own initial checkout would apply them).
    let patterns = match sparse {
        Some(p) => Some((p.text.as_bytes().to_vec(), p.cone)),
        None => super::checkout::sparse_patterns(repo)?,
    };
    if let Some((patterns, cone)) = patterns {
        let case = if opts.fs.ignore_case {
            gix::glob::pattern::Case::Fold
        } else {
            gix::glob::pattern::Case::Sensitive
        };
        gix::worktree::sparse::apply_patterns(
            &mut index,
            &patterns,
            &repo.git_dir().join("info/sparse-checkout"),
            cone,
            case,
        )
        .context("cannot apply the sparse-checkout patterns")?;
    }
    // `checkout.workers` set by the user wins, as in git.
    if opts.thread_limit.is_none() {
        opts.thread_limit = Some(checkout_threads(index.entries().len(), threads));
    }
    let objects = repo
        .objects
        .clone()
        .into_arc()
        .context("cannot share the object database")?;
    gix::worktree::state::checkout(
        &mut index,
        workdir,
        objects,
        &gix::progress::Discard,
        &gix::progress::Discard,
        &AtomicBool::new(false),
        opts,
    )
    .context("cannot write the files of the new worktree")?;
    index
        .write(Default::default())
        .context("cannot write the index of the new worktree")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_checkouts_start_no_worker_threads() {
        assert_eq!(checkout_threads(10, 2), 1);
        assert_eq!(checkout_threads(PARALLEL_CHECKOUT_MIN_FILES - 1, 8), 1);
        assert_eq!(checkout_threads(PARALLEL_CHECKOUT_MIN_FILES, 2), 2);
        assert_eq!(checkout_threads(20_000, 0), 1);
    }
}
