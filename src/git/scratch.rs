//! Scratch checkouts for verification (dry runs write the tree into a plain directory), and
//! the [`ScratchPool`] a merge run reuses across candidates: a scratch checkout moves from one
//! candidate to the next by the paths that differ, after everything the last verification left
//! in it (changed tracked files, untracked and ignored files) is undone, so each verification
//! sees exactly its candidate's tree, as in a fresh checkout.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use gix::bstr::BString;

use super::{CheckoutUpdate, Oid, Repo};
use crate::error::{Context, Error, Result};

impl Repo {
    /// Create a linked worktree at `dest` with `commit` checked out on a detached HEAD.
    /// Works on an in-memory handle too (the files come from the handle's objects).
    pub fn add_detached_worktree(&self, dest: &Path, commit: Oid) -> Result<()> {
        let interrupt = AtomicBool::new(false);
        self.git
            .add_worktree(
                dest,
                gix::worktree::add::Head::Detached(commit),
                gix::progress::Discard,
                &interrupt,
            )
            .map_err(|e| {
                Error::failure(format!(
                    "cannot create the scratch worktree `{}`",
                    dest.display()
                ))
                .with_source(e)
            })?;
        Ok(())
    }

    /// Is `id` in the object database on disk (not only in this handle's memory)?
    pub fn on_disk_has(&self, id: Oid) -> bool {
        gix::open(self.git.git_dir())
            .map(|r| r.has_object(id))
            .unwrap_or(false)
    }

    /// Write the files of `commit`'s tree into the new directory `dest` (no `.git`): the
    /// scratch checkout for dry runs, whose objects exist only in this handle's memory.
    pub fn export_tree(&self, commit: Oid, dest: &Path) -> Result<()> {
        let tree = self.tree_of(commit)?;
        let mut recorder = gix::traverse::tree::Recorder::default();
        tree.traverse()
            .breadthfirst(&mut recorder)
            .context("cannot walk the tree")?;
        std::fs::create_dir_all(dest)
            .with_context(|| format!("cannot create `{}`", dest.display()))?;
        for entry in recorder.records {
            let rel = entry.filepath.to_string();
            if rel
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == ".." || c == ".git")
            {
                continue; // never write outside `dest` or a nested `.git`
            }
            let path = dest.join(&rel);
            let kind = entry.mode.kind();
            use gix::objs::tree::EntryKind;
            // Directories and files go through `safe_fs`: a link the tree put earlier on the
            // way is refused, never written through.
            match kind {
                EntryKind::Tree | EntryKind::Commit => {
                    crate::util::safe_fs::create_dirs_under(dest, Path::new(&rel))?;
                }
                EntryKind::Blob | EntryKind::BlobExecutable | EntryKind::Link => {
                    let data = self
                        .git
                        .find_object(entry.oid)
                        .with_context(|| format!("cannot read `{rel}`"))?
                        .detach()
                        .data;
                    if let Some(parent) = Path::new(&rel).parent() {
                        crate::util::safe_fs::create_dirs_under(dest, parent)?;
                    }
                    if kind == EntryKind::Link {
                        #[cfg(unix)]
                        {
                            let target = String::from_utf8_lossy(&data).into_owned();
                            std::os::unix::fs::symlink(target, &path)
                                .with_context(|| format!("cannot create `{}`", path.display()))?;
                        }
                        #[cfg(not(unix))]
                        std::fs::write(&path, &data)
                            .with_context(|| format!("cannot write `{}`", path.display()))?;
                    } else {
                        crate::util::safe_fs::write_under(dest, &rel, &data)?;
                        #[cfg(unix)]
                        if kind == EntryKind::BlobExecutable {
                            use std::os::unix::fs::PermissionsExt;
                            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                                .with_context(|| format!("cannot chmod `{}`", path.display()))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// One scratch checkout of a pool.
struct Slot {
    dir: PathBuf,
    /// The commit checked out there; `None` when it must be made afresh (never made, or a
    /// preparation failed).
    at: Option<Oid>,
    busy: bool,
}

/// Up to `max` scratch checkouts for one merge run's verifications, made on demand (a new one
/// only when every existing one is busy) and removed when the pool is dropped.
///
/// On disk each is a detached linked worktree, moved between candidates by the changed paths
/// only; in memory (a dry run, whose commits git cannot see) each is a plain directory the
/// candidate's tree is exported into afresh. [`ScratchPool::acquire`] only books a checkout;
/// the slow part, [`ScratchLease::prepare`], runs on the caller's worker thread.
pub struct ScratchPool {
    repo: Repo,
    /// `name(i)` is the directory of checkout `i`.
    name: Box<dyn Fn(usize) -> PathBuf>,
    max: usize,
    in_memory: bool,
    slots: Vec<Slot>,
    /// Worktrees are added one at a time (registering one reads the others').
    registration: std::sync::Arc<std::sync::Mutex<()>>,
}

/// A booked scratch checkout: [`prepare`](Self::prepare) it (on any thread), run the
/// verification in [`dir`](Self::dir), then give the slot back with [`ScratchPool::release`].
pub struct ScratchLease {
    pub slot: usize,
    dir: PathBuf,
    from: Option<Oid>,
    to: Oid,
    in_memory: bool,
    repo: Repo,
    registration: std::sync::Arc<std::sync::Mutex<()>>,
}

impl ScratchLease {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Make the checkout show exactly the commit it was booked for: move it there by the
    /// changed paths, or (a new slot, a dry run, or when the move fails) make it afresh.
    pub fn prepare(&self) -> Result<()> {
        if !self.in_memory
            && let Some(from) = self.from
            && Repo::move_scratch(&self.dir, from, self.to).is_ok()
        {
            return Ok(());
        }
        let _one_at_a_time = match self.in_memory {
            true => None,
            false => Some(self.registration.lock().unwrap_or_else(|e| e.into_inner())),
        };
        discard(&self.repo, &self.dir, self.in_memory);
        if let Some(parent) = self.dir.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        let made = if self.in_memory {
            self.repo.export_tree(self.to, &self.dir)
        } else {
            // Once more after a failure: another process (a `spawn`) adding a worktree at the
            // same moment can make gix read its half-written registration.
            self.repo
                .add_detached_worktree(&self.dir, self.to)
                .or_else(|_| {
                    discard(&self.repo, &self.dir, false);
                    self.repo.add_detached_worktree(&self.dir, self.to)
                })
        };
        if made.is_err() {
            discard(&self.repo, &self.dir, self.in_memory);
        }
        made
    }
}

impl ScratchPool {
    /// A pool of at most `max` (≥ 1) checkouts of `repo`'s commits at the directories `dir(i)`.
    /// `in_memory`: export trees instead of adding worktrees (the objects are only in `repo`).
    pub fn new(
        repo: &Repo,
        max: usize,
        in_memory: bool,
        dir: impl Fn(usize) -> PathBuf + 'static,
    ) -> ScratchPool {
        ScratchPool {
            repo: repo.clone(),
            name: Box::new(dir),
            max: max.max(1),
            in_memory,
            slots: Vec::new(),
            registration: Default::default(),
        }
    }

    /// Book a free checkout for `commit` (preferring one that exists); `None` when all `max`
    /// are busy. `repo` holds `commit` (in memory for a dry run: the pool's own handle only
    /// knows what existed when the pool was made).
    pub fn acquire(&mut self, repo: &Repo, commit: Oid) -> Option<ScratchLease> {
        let slot = match self.slots.iter().position(|s| !s.busy) {
            Some(i) => i,
            None if self.slots.len() < self.max => {
                let dir = (self.name)(self.slots.len());
                self.slots.push(Slot {
                    dir,
                    at: None,
                    busy: false,
                });
                self.slots.len() - 1
            }
            None => return None,
        };
        let s = &mut self.slots[slot];
        let lease = ScratchLease {
            slot,
            dir: s.dir.clone(),
            from: s.at,
            to: commit,
            in_memory: self.in_memory,
            repo: repo.clone(),
            registration: self.registration.clone(),
        };
        (s.at, s.busy) = (Some(commit), true);
        Some(lease)
    }

    /// The verification in checkout `slot` is over; `prepared` says whether the checkout was
    /// made (otherwise the next lease makes it afresh).
    pub fn release(&mut self, slot: usize, prepared: bool) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.busy = false;
            if !prepared {
                s.at = None;
            }
        }
    }
}

/// Remove a checkout and its registration, whatever state a verification left it in.
fn discard(repo: &Repo, dir: &Path, in_memory: bool) {
    if std::fs::symlink_metadata(dir).is_err() {
        return;
    }
    if !in_memory {
        let _ = repo.remove_worktree(dir, true);
    }
    if std::fs::symlink_metadata(dir).is_ok() {
        make_removable(dir);
        let _ = std::fs::remove_dir_all(dir);
        if !in_memory {
            // The directory went first (gix refused it): drop the stale registration.
            let _ = repo.prune_worktrees();
        }
    }
}

impl Drop for ScratchPool {
    /// Remove every checkout, in parallel (each is a whole tree of files).
    fn drop(&mut self) {
        let slots = std::mem::take(&mut self.slots);
        let in_memory = self.in_memory;
        std::thread::scope(|scope| {
            for slot in &slots {
                // `Repository` is Send but not Sync: every thread gets its own handle.
                let repo = self.repo.clone();
                scope.spawn(move || discard(&repo, &slot.dir, in_memory));
            }
        });
    }
}

/// Give the owner write access to every directory under `dir` (a verification may leave
/// read-only directories behind, which `remove_dir_all` cannot empty). Links are not followed.
fn make_removable(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(md) = std::fs::symlink_metadata(dir) else {
            return;
        };
        if !md.is_dir() {
            return;
        }
        let mode = md.permissions().mode();
        if mode & 0o700 != 0o700 {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700));
        }
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                make_removable(&e.path());
            }
        }
    }
}

/// Remove a file, link or directory (without following links).
fn remove_path(path: &Path) -> Result<()> {
    let md = match std::fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::failure(format!("cannot read `{}`", path.display())).with_source(e));
        }
    };
    let removed = if md.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    removed.with_context(|| format!("cannot remove `{}`", path.display()))
}

/// While alive, SIGINT, SIGTERM and SIGHUP set a flag ([`interrupted`]) instead of ending the
/// process at once (a second one does), so that scratch checkouts can be removed first.
pub struct InterruptGuard {
    deregister: Option<gix::interrupt::Deregister>,
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        if let Some(d) = self.deregister.take() {
            let _ = d.deregister();
        }
    }
}

/// Catch termination signals until the guard is dropped (see [`InterruptGuard`]). When no
/// handler can be installed, signals keep their default action.
pub fn catch_interrupts() -> InterruptGuard {
    InterruptGuard {
        deregister: gix::interrupt::init_handler_default(1)
            .ok()
            .map(|d| d.with_reset(true)),
    }
}

/// Did a termination signal arrive while an [`InterruptGuard`] was alive?
pub fn interrupted() -> bool {
    gix::interrupt::is_triggered()
}

impl Repo {
    /// Move the scratch checkout at `dir` from commit `from` to `to`: undo what the last
    /// verification did (tracked files it changed or deleted are rewritten, untracked and
    /// ignored files are removed), then write only the paths that differ between the two
    /// trees and point its HEAD at `to`. An error leaves the checkout unusable (the pool
    /// replaces it); so does anything a plain cleanup cannot undo (a moved HEAD, a changed index).
    pub fn move_scratch(dir: &Path, from: Oid, to: Oid) -> Result<()> {
        let repo = gix::open(dir)
            .with_context(|| format!("cannot open the scratch checkout `{}`", dir.display()))?;
        let head = repo.head_id().ok().map(|id| id.detach());
        if head != Some(from) {
            return Err(Error::failure(format!(
                "the HEAD of the scratch checkout `{}` moved",
                dir.display()
            )));
        }
        let iter = repo
            .status(gix::progress::Discard)
            .context("cannot compute status")?
            .untracked_files(gix::status::UntrackedFiles::Collapsed)
            .dirwalk_options(|o| {
                o.emit_ignored(Some(gix::dir::walk::EmissionMode::CollapseDirectory))
            })
            .into_iter(None)
            .context("cannot compute the status of the scratch checkout")?;
        let mut rewrite: BTreeSet<BString> = BTreeSet::new();
        let mut junk: Vec<BString> = Vec::new();
        for item in iter {
            use gix::status::index_worktree::Item as Wt;
            match item.context("cannot compute the status of the scratch checkout")? {
                gix::status::Item::IndexWorktree(Wt::DirectoryContents { entry, .. }) => {
                    if matches!(
                        entry.status,
                        gix::dir::entry::Status::Untracked | gix::dir::entry::Status::Ignored(_)
                    ) {
                        junk.push(entry.rela_path);
                    }
                }
                gix::status::Item::IndexWorktree(item) => {
                    rewrite.insert(item.rela_path().to_owned());
                }
                gix::status::Item::TreeIndex(_) => {
                    return Err(Error::failure("the index of the scratch checkout changed"));
                }
            }
        }
        let workdir = super::absolute(dir);
        for path in junk.iter().chain(&rewrite) {
            let rel = gix::path::from_bstr(gix::bstr::ByteSlice::as_bstr(path.as_slice()))
                .map_err(|e| {
                    Error::failure(format!("`{path}` is not a valid path")).with_source(e)
                })?;
            if rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(Error::failure(format!("`{path}` is not a plain path")));
            }
            remove_path(&workdir.join(rel))?;
        }
        CheckoutUpdate::for_scratch(repo, from, to, &rewrite)?.apply()?;
        Repo::open(&workdir)?.set_ref("HEAD", to, super::Expect::Any, "droidforge: verify")
    }
}
