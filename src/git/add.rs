//! Adding many linked worktrees at once: registration under a lock, checkout in parallel.
//!
//! gix's `add_worktree` reads every other registration (to refuse a branch checked out
//! elsewhere or a taken destination) while it writes its own. Two threads adding at the same
//! moment can read each other's half-written `gitdir`/`HEAD` files and fail ("Refusing to read
//! an empty path"). Registration is cheap, the checkout is what costs, so only the former is
//! serialized.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use super::Repo;
use crate::error::{Error, Result};

impl Repo {
    /// Like [`Repo::add_worktree`], holding `registration` while the worktree is registered.
    /// Share one mutex between all threads that add worktrees to the same repository.
    pub fn add_worktree_shared(
        &self,
        dest: &Path,
        branch: &str,
        registration: &Mutex<()>,
    ) -> Result<()> {
        let name: gix::refs::FullName = format!("refs/heads/{branch}").try_into().map_err(|e| {
            Error::failure(format!("`{branch}` is not a valid branch name")).with_source(e)
        })?;
        let fail = |e: gix::Error| {
            Error::failure(format!("cannot create the worktree `{}`", dest.display()))
                .with_source(e)
        };
        let interrupt = AtomicBool::new(false);
        let prepared = {
            let _guard = registration.lock().unwrap_or_else(|e| e.into_inner());
            self.git
                .prepare_add_worktree(dest, gix::worktree::add::Head::Attached(name), &interrupt)
                .map_err(fail)?
        };
        prepared
            .checkout(gix::progress::Discard, &interrupt)
            .map_err(fail)?;
        Ok(())
    }
}
