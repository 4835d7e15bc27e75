//! Scratch checkouts for verification (dry runs write the tree into a plain directory), and
//! the [`ScratchPool`] a merge run reuses across candidates: a scratch checkout moves from one
//! candidate to the next by the paths that differ, after everything the last verification left
//! in it (changed tracked files, untracked and ignored files) is undone, so each verification
//! sees exactly its candidate's tree, as in a fresh checkout.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::scratch_move::index_checksum;
use super::{Oid, Repo};
use crate::error::{Context, Error, Result};

impl Repo {
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

/// Where one scratch checkout of a pool stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Being made afresh by a [`ScratchMaker`], for no job in particular.
    Making,
    /// Ready for the next job.
    Free,
    /// Leased to a job (being moved to its candidate, or running its verification).
    Busy,
}

/// One scratch checkout of a pool.
struct Slot {
    dir: PathBuf,
    /// The commit checked out there; `None` when it must be made afresh (never made, or a
    /// preparation failed).
    at: Option<Oid>,
    state: SlotState,
    /// Made afresh, or moved (prepared) and no command ran in it since: it shows its commit
    /// exactly, nothing to undo before moving it (no full-tree scan for leftovers).
    clean: bool,
    /// Someone else's checkout lent to the run (see [`ScratchPool::adopt`]): never removed by
    /// the pool, handed back by [`ScratchPool::take_borrowed`].
    borrowed: bool,
    /// Leased at least once.
    used: bool,
    /// The checksum of the index this run last left in the checkout (see [`IndexRecord`]).
    index: IndexRecord,
}

/// The trailing checksum of the index file a scratch checkout had when this process last
/// made or moved it; `None` when unknown. Shared by the slot and its lease or maker (which
/// run on worker threads). While the index is byte-identical to it, the index still matches
/// the checkout's HEAD, so the next move skips comparing the whole tree of HEAD with the index.
type IndexRecord = Arc<Mutex<Option<Oid>>>;

fn recorded(record: &IndexRecord) -> Option<Oid> {
    *record.lock().unwrap_or_else(|e| e.into_inner())
}

fn record(record: &IndexRecord, checksum: Option<Oid>) {
    *record.lock().unwrap_or_else(|e| e.into_inner()) = checksum;
}

/// Up to `max` scratch checkouts for one merge run's verifications, removed when the pool is
/// dropped (except borrowed ones): moved into the trash, if it has one, and deleted later.
///
/// Jobs only ever get a checkout that is ready ([`ScratchPool::acquire`]); a new one is made
/// ([`ScratchPool::open`]) only when every existing one is leased and none is being made, and
/// it is bound to no job: whichever job is first in line when a checkout becomes free (the new
/// one or a leased one given back sooner) takes it. So a cheap verification on a large tree is
/// never held up behind a full checkout while a reusable one frees up, and checkouts are made
/// one at a time (two at once on the same disk each take twice as long).
///
/// On disk each is a detached linked worktree, moved between candidates by the changed paths
/// only; in memory (a dry run, whose commits git cannot see) each is a plain directory the
/// candidate's tree is exported into afresh. The slow parts, [`ScratchLease::prepare`] and
/// [`ScratchMaker::make`], run on the caller's worker threads.
pub struct ScratchPool {
    repo: Repo,
    /// `name(i)` is the directory of checkout `i`.
    name: Box<dyn Fn(usize) -> PathBuf>,
    max: usize,
    in_memory: bool,
    slots: Vec<Slot>,
    /// Worktrees are added one at a time (registering one reads the others').
    registration: Arc<Mutex<()>>,
    /// Set by [`ScratchPool::stop_making`]: checkouts being made stop half-way.
    cancel: Arc<AtomicBool>,
    /// Where checkouts are moved when the pool is done with them (see [`ScratchPool::trash`]).
    trash: Option<PathBuf>,
}

/// What every lease and maker of one pool shares.
#[derive(Clone)]
struct Shared {
    in_memory: bool,
    repo: Repo,
    registration: Arc<Mutex<()>>,
    cancel: Arc<AtomicBool>,
    trash: Option<PathBuf>,
}

impl Shared {
    /// Make the checkout at `dir` afresh at `to` (whatever was there is removed first), and
    /// note the checksum of the index it was made with in `index`.
    fn make(&self, dir: &Path, to: Oid, index: &IndexRecord) -> Result<()> {
        record(index, None);
        let _one_at_a_time = match self.in_memory {
            true => None,
            false => Some(self.registration.lock().unwrap_or_else(|e| e.into_inner())),
        };
        discard(&self.repo, dir, self.in_memory, self.trash.as_deref());
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        let made = if self.in_memory {
            self.repo.export_tree(to, dir)
        } else {
            // Once more after a failure: another process (a `spawn`) adding a worktree at the
            // same moment can make gix read its half-written registration.
            self.repo
                .add_detached_worktree_until(dir, to, &self.cancel)
                .or_else(|e| {
                    if self.cancel.load(Ordering::Relaxed) {
                        return Err(e);
                    }
                    discard(&self.repo, dir, false, self.trash.as_deref());
                    self.repo.add_detached_worktree_until(dir, to, &self.cancel)
                })
        };
        match made {
            Ok(()) if !self.in_memory => record(index, index_checksum(dir)),
            Ok(()) => {}
            Err(_) => discard(&self.repo, dir, self.in_memory, self.trash.as_deref()),
        }
        made
    }
}

/// A booked scratch checkout: [`prepare`](Self::prepare) it (on any thread), run the
/// verification in [`dir`](Self::dir), then give the slot back with [`ScratchPool::release`].
pub struct ScratchLease {
    pub slot: usize,
    dir: PathBuf,
    from: Option<Oid>,
    to: Oid,
    clean: bool,
    index: IndexRecord,
    shared: Shared,
}

impl ScratchLease {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Make the checkout show exactly the commit it was booked for: nothing to do when it was
    /// just made there; otherwise move it by the changed paths (after undoing what the last
    /// verification left), or (a dry run, or when the move fails) make it afresh.
    pub fn prepare(&self) -> Result<()> {
        if self.clean && self.from == Some(self.to) {
            return Ok(());
        }
        let known = recorded(&self.index);
        record(&self.index, None);
        if !self.shared.in_memory
            && let Some(from) = self.from
            && let Ok(left) = Repo::move_scratch(&self.dir, from, self.to, !self.clean, known)
        {
            record(&self.index, left);
            return Ok(());
        }
        self.shared.make(&self.dir, self.to, &self.index)
    }
}

/// A new scratch checkout being made: [`make`](Self::make) it (on any thread), then report
/// with [`ScratchPool::made`].
pub struct ScratchMaker {
    pub slot: usize,
    dir: PathBuf,
    to: Oid,
    index: IndexRecord,
    shared: Shared,
}

impl ScratchMaker {
    pub fn make(&self) -> Result<()> {
        self.shared.make(&self.dir, self.to, &self.index)
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
            cancel: Default::default(),
            trash: None,
        }
    }

    /// Move checkouts the pool is done with into the directory `trash` (which must be on the
    /// same file system: a rename, whatever their size) instead of deleting their files; the
    /// caller has the trash emptied later. Without it (or when the move fails) they are deleted.
    pub fn trash(mut self, trash: PathBuf) -> ScratchPool {
        self.trash = Some(trash);
        self
    }

    fn shared(&self, repo: &Repo) -> Shared {
        Shared {
            in_memory: self.in_memory,
            repo: repo.clone(),
            registration: self.registration.clone(),
            cancel: self.cancel.clone(),
            trash: self.trash.clone(),
        }
    }

    /// Lend the pool an existing detached worktree at `dir`, checked out at `head`, that
    /// someone else owns: it counts as one of the `max` checkouts, is cleaned up and moved like
    /// the others, and is never removed; [`take_borrowed`](Self::take_borrowed) hands it back.
    pub fn adopt(&mut self, dir: PathBuf, head: Oid) {
        if self.slots.len() < self.max && !self.in_memory {
            self.slots.push(Slot {
                dir,
                at: Some(head),
                state: SlotState::Free,
                clean: false,
                borrowed: true,
                used: false,
                index: IndexRecord::default(),
            });
        }
    }

    /// Lease a ready, free checkout for `commit`; `None` when there is none (see
    /// [`wants_more`](Self::wants_more)). `repo` holds `commit` (in memory for a dry run: the
    /// pool's own handle only knows what existed when the pool was made).
    pub fn acquire(&mut self, repo: &Repo, commit: Oid) -> Option<ScratchLease> {
        let shared = self.shared(repo);
        // One already at `commit` first (a checkout made for this very job), then any.
        let slot = self
            .slots
            .iter()
            .position(|s| s.state == SlotState::Free && s.at == Some(commit))
            .or_else(|| self.slots.iter().position(|s| s.state == SlotState::Free))?;
        let s = &mut self.slots[slot];
        let lease = ScratchLease {
            slot,
            dir: s.dir.clone(),
            from: s.at,
            to: commit,
            clean: s.clean,
            index: s.index.clone(),
            shared,
        };
        (s.at, s.state, s.clean, s.used) = (Some(commit), SlotState::Busy, false, true);
        Some(lease)
    }

    /// How many checkouts there are (made, being made, borrowed).
    pub fn checkouts(&self) -> usize {
        self.slots.len()
    }

    /// Should a job that found no free checkout have a new one made? Only when every checkout
    /// is leased, none is being made, and there are fewer than `max`.
    pub fn wants_more(&self) -> bool {
        self.slots.len() < self.max && self.slots.iter().all(|s| s.state == SlotState::Busy)
    }

    /// Start a new checkout, made at `commit` (the candidate of the job first in line).
    pub fn open(&mut self, repo: &Repo, commit: Oid) -> ScratchMaker {
        let dir = (self.name)(self.slots.len());
        self.slots.push(Slot {
            dir: dir.clone(),
            at: Some(commit),
            state: SlotState::Making,
            clean: false,
            borrowed: false,
            used: false,
            index: IndexRecord::default(),
        });
        ScratchMaker {
            slot: self.slots.len() - 1,
            dir,
            to: commit,
            index: self.slots[self.slots.len() - 1].index.clone(),
            shared: self.shared(repo),
        }
    }

    /// Checkout `slot` was made (`ok`) or not: either way it is free now (one that failed is
    /// made afresh by the next lease).
    pub fn made(&mut self, slot: usize, ok: bool) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.state = SlotState::Free;
            s.clean = ok;
            if !ok {
                s.at = None;
            }
        }
    }

    /// The verification in checkout `slot` is over; `prepared` says whether the checkout was
    /// made (otherwise the next lease makes it afresh), `ran` whether the command was started
    /// there (a job stopped between preparing and starting leaves the checkout as prepared:
    /// clean, so the next move or the give-back does not scan it for leftovers).
    pub fn release(&mut self, slot: usize, prepared: bool, ran: bool) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.state = SlotState::Free;
            s.clean = prepared && !ran;
            if !prepared {
                s.at = None;
            }
        }
    }

    /// Make checkouts being made stop as soon as they can (the run is over).
    pub fn stop_making(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The borrowed checkouts that were used, out of the pool: their directories, the commit
    /// each shows (`None`: its state is unknown, a preparation failed there) and whether it is
    /// known clean (prepared, no command ran since: nothing to undo). Unused ones are as they
    /// were lent.
    pub fn take_borrowed(&mut self) -> Vec<(PathBuf, Option<Oid>, bool)> {
        let mut out = Vec::new();
        for s in &mut self.slots {
            if s.borrowed {
                s.borrowed = false;
                let dir = std::mem::take(&mut s.dir);
                if s.used {
                    out.push((dir, s.at, s.clean));
                }
            }
        }
        self.slots.retain(|s| !s.dir.as_os_str().is_empty());
        out
    }
}

impl Repo {
    /// Remove the scratch checkout at `dir` and its registration, whatever state a
    /// verification left it in: moved into `trash` when there is one (its files are deleted
    /// later, by whoever empties the trash), else deleted here. `in_memory`: a plain directory
    /// (a dry run's export), not a worktree. Best effort.
    pub fn discard_scratch(&self, dir: &Path, in_memory: bool, trash: Option<&Path>) {
        discard(self, dir, in_memory, trash)
    }
}

/// Remove a checkout and its registration, whatever state a verification left it in: moved
/// into `trash` when there is one (its files are deleted later), else deleted here.
fn discard(repo: &Repo, dir: &Path, in_memory: bool, trash: Option<&Path>) {
    if std::fs::symlink_metadata(dir).is_err() {
        return;
    }
    if let Some(trash) = trash {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        let dest = crate::util::safe_fs::unique_entry(trash, &name);
        let moved = match in_memory {
            true => std::fs::rename(dir, &dest).map_err(Error::from),
            false => repo.retire_worktree(dir, &dest),
        };
        if moved.is_ok() {
            return;
        }
    }
    if !in_memory {
        let _ = repo.remove_worktree(dir, true);
    }
    if std::fs::symlink_metadata(dir).is_ok() {
        let _ = crate::util::safe_fs::remove_all(dir);
        if !in_memory {
            // The directory went first (gix refused it): drop the stale registration.
            let _ = repo.prune_worktrees();
        }
    }
}

impl Drop for ScratchPool {
    /// Remove every checkout (not the borrowed ones), in parallel (each is a whole tree of files).
    fn drop(&mut self) {
        let mut slots = std::mem::take(&mut self.slots);
        slots.retain(|s| !s.borrowed);
        let in_memory = self.in_memory;
        let trash = self.trash.as_deref();
        std::thread::scope(|scope| {
            for slot in &slots {
                // `Repository` is Send but not Sync: every thread gets its own handle.
                let repo = self.repo.clone();
                scope.spawn(move || discard(&repo, &slot.dir, in_memory, trash));
            }
        });
    }
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
