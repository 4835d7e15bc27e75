//! Adding linked worktrees — a droid's on its branch, or a detached one (a warm-pool worktree,
//! a verification's scratch checkout) — and many at once: registration under a lock,
//! checkout in parallel.
//!
//! A registration (droidforge's own for a branch, see [`super::register`]; gix's for a
//! detached worktree) reads every other registration (to refuse a branch checked out
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
use super::register::{CheckoutTarget, Registration};
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
            .prepare_worktree(dest, branch_name(branch)?, registration, true)
            .map_err(|e| {
                Error::failure(format!("cannot create the worktree `{}`", dest.display()))
                    .with_source(e)
            })?;
        checkout_prepared(prepared, None, threads).map_err(fail)
    }

    /// Create a linked worktree at `dest` with `commit` checked out on a detached HEAD, on as
    /// many threads as there are cores (for a tree large enough to gain from them). Stops with
    /// an error, leaving nothing behind, when `interrupt` is set.
    pub fn add_detached_worktree_until(
        &self,
        dest: &Path,
        commit: super::Oid,
        interrupt: &AtomicBool,
    ) -> Result<()> {
        // Registrations in this process, one at a time (see the module header).
        static REGISTRATION: Mutex<()> = Mutex::new(());
        let fail = |e: Error| {
            Error::failure(format!("cannot create the worktree `{}`", dest.display()))
                .with_source(e)
        };
        let prepared = {
            let _guard = REGISTRATION.lock().unwrap_or_else(|e| e.into_inner());
            self.git
                .prepare_add_worktree(dest, gix::worktree::add::Head::Detached(commit), interrupt)
                .map(Registration::Gix)
                .map_err(|e| fail(Error::failure("cannot register it").with_source(e)))?
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        checkout_prepared_until(prepared, None, cores, interrupt).map_err(fail)
    }

    /// [`add_detached_worktree_until`](Self::add_detached_worktree_until), never interrupted.
    pub fn add_detached_worktree(&self, dest: &Path, commit: super::Oid) -> Result<()> {
        self.add_detached_worktree_until(dest, commit, &AtomicBool::new(false))
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
    prepared: Registration<'_>,
    sparse: Option<&SparsePatterns<'_>>,
    threads: usize,
) -> Result<()> {
    checkout_prepared_until(prepared, sparse, threads, &AtomicBool::new(false))
}

/// [`checkout_prepared`] that stops (an error, rolled back) when `interrupt` is set.
fn checkout_prepared_until(
    prepared: Registration<'_>,
    sparse: Option<&SparsePatterns<'_>>,
    threads: usize,
    interrupt: &AtomicBool,
) -> Result<()> {
    let done = prepared
        .target()
        .and_then(|target| check_out(&target, sparse, threads, interrupt));
    match done {
        Ok(()) => prepared.persist(),
        Err(e) => {
            // Best effort: the error that matters is the checkout's.
            let _ = prepared.rollback();
            Err(e)
        }
    }
}

fn check_out(
    target: &CheckoutTarget<'_>,
    sparse: Option<&SparsePatterns<'_>>,
    threads: usize,
    interrupt: &AtomicBool,
) -> Result<()> {
    let repo = target.repo;
    let mut index = repo
        .index_from_tree(&target.tree)
        .context("cannot build the index of the new worktree")?;
    index.set_path(&target.index);
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
    // Without the decoded-object cache droidforge gives its own handles: every blob is read
    // once, and copying each into the cache would only cost (the worktree's own repository,
    // when it is opened, has none either).
    let mut objects = repo.objects.clone();
    objects.unset_object_cache();
    let objects = objects
        .into_arc()
        .context("cannot share the object database")?;
    gix::worktree::state::checkout(
        &mut index,
        target.workdir.clone(),
        objects,
        &gix::progress::Discard,
        &gix::progress::Discard,
        interrupt,
        opts,
    )
    .context("cannot write the files of the new worktree")?;
    // gix stops early on an interrupt but still says `Ok`: the files are incomplete.
    if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::failure("the checkout was interrupted"));
    }
    index
        .write(Default::default())
        .context("cannot write the index of the new worktree")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::git::tests::git;

    /// gix's checkout stops early on an interrupt yet returns `Ok`: an interrupted detached add
    /// must fail and leave neither a registration nor a half-written directory that git would
    /// take for a complete worktree. Uninterrupted, the same call gives what `git worktree
    /// add --detach` gives (clean status, HEAD at the commit).
    #[test]
    fn an_interrupted_detached_worktree_add_fails_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        git(&dir, &["init", "-q"]);
        for i in 0..600 {
            std::fs::write(dir.join(format!("src/f{i}.txt")), format!("{i}\n")).unwrap();
        }
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-qm", "files"]);
        let head: super::super::Oid = git(&dir, &["rev-parse", "HEAD"]).trim().parse().unwrap();
        let repo = Repo::open(&dir).unwrap();

        // Interrupted during the checkout, after the registration.
        let stopped = tmp.path().join("stopped");
        let prepared = repo
            .git
            .prepare_add_worktree(
                &stopped,
                gix::worktree::add::Head::Detached(head),
                &AtomicBool::new(false),
            )
            .unwrap();
        let err =
            checkout_prepared_until(Registration::Gix(prepared), None, 1, &AtomicBool::new(true));
        assert!(err.is_err(), "an interrupted checkout reported success");
        assert!(!stopped.exists(), "a half-written worktree was left");
        assert_eq!(git(&dir, &["worktree", "list"]).lines().count(), 1);

        let made = tmp.path().join("made");
        repo.add_detached_worktree(&made, head).unwrap();
        assert_eq!(git(&made, &["status", "--porcelain", "--ignored"]), "");
        assert_eq!(git(&made, &["rev-parse", "HEAD"]).trim(), head.to_string());
        assert_eq!(git(&dir, &["worktree", "list"]).lines().count(), 2);
    }

    #[test]
    fn small_checkouts_start_no_worker_threads() {
        assert_eq!(checkout_threads(10, 2), 1);
        assert_eq!(checkout_threads(PARALLEL_CHECKOUT_MIN_FILES - 1, 8), 1);
        assert_eq!(checkout_threads(PARALLEL_CHECKOUT_MIN_FILES, 2), 2);
        assert_eq!(checkout_threads(20_000, 0), 1);
    }
}
