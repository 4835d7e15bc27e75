//! Moving an existing checkout (index and files) from one commit to another while keeping the
//! user's unrelated local edits: the equivalent of `git read-tree -m -u FROM TO`, done with gix.
//!
//! Only the paths that differ between the two trees are touched. When a local edit (staged or
//! not) or an untracked file sits on one of those paths, nothing is changed and the paths are
//! reported, so the caller can say exactly what is in the way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use gix::bstr::{BString, ByteSlice};
use gix::index::entry::{Flags, Mode, Stage, Stat};
use gix::objs::tree::{EntryKind, EntryMode};

use super::{Oid, Repo};
use crate::error::{Context, Error, Result};

/// One side of a changed path: its index mode and blob (or submodule commit) id.
type Side = Option<(Mode, Oid)>;

/// The planned update of one checkout from `from` to `to`.
pub struct CheckoutUpdate {
    repo: gix::Repository,
    workdir: PathBuf,
    /// Changed paths (never directories) with their old and new side.
    changes: BTreeMap<BString, (Side, Side)>,
    /// Paths a local change or an untracked file blocks, sorted; empty when the update can go.
    pub blocked: Vec<String>,
    /// The checkout's sparse-checkout patterns and cone mode, when it is sparse: new and
    /// changed paths outside them get the skip-worktree bit instead of a file, as git does.
    sparse: Option<(Vec<u8>, bool)>,
}

fn index_mode(mode: EntryMode) -> Option<Mode> {
    match mode.kind() {
        EntryKind::Tree => None,
        EntryKind::Blob => Some(Mode::FILE),
        EntryKind::BlobExecutable => Some(Mode::FILE_EXECUTABLE),
        EntryKind::Link => Some(Mode::SYMLINK),
        EntryKind::Commit => Some(Mode::COMMIT),
    }
}

/// A repository path as a relative path on disk.
fn rel_path(p: &gix::bstr::BStr) -> Result<PathBuf> {
    gix::path::from_bstr(p)
        .map(|c| c.into_owned())
        .map_err(|e| Error::failure(format!("`{p}` is not a valid path here")).with_source(e))
}

fn side(mode: EntryMode, id: &gix::ObjectId) -> Side {
    index_mode(mode).map(|m| (m, *id))
}

impl Repo {
    /// Plan moving the checkout at `dir` from commit `from` to commit `to` (its HEAD may already
    /// point at either). Nothing is written; see [`CheckoutUpdate::apply`] and
    /// [`CheckoutUpdate::blocked`].
    pub fn plan_checkout_update(dir: &Path, from: Oid, to: Oid) -> Result<CheckoutUpdate> {
        let repo = gix::open(dir)
            .with_context(|| format!("cannot open the checkout `{}`", dir.display()))?;
        let workdir = repo
            .workdir()
            .map(super::absolute)
            .ok_or_else(|| Error::failure(format!("`{}` has no working tree", dir.display())))?;
        let changes = tree_changes(&repo, from, to)?;
        let sparse = sparse_patterns(&repo)?;
        let mut plan = CheckoutUpdate {
            repo,
            workdir,
            changes,
            blocked: Vec::new(),
            sparse,
        };
        if !plan.changes.is_empty() {
            plan.blocked = plan.find_blockers()?;
        }
        Ok(plan)
    }
}

impl Repo {
    /// [`Repo::plan_checkout_update`] for several checkouts at once (`(dir, from, to)` each),
    /// on a few threads; the plans come back in the order of `moves`.
    pub fn plan_checkout_updates(moves: Vec<(PathBuf, Oid, Oid)>) -> Vec<Result<CheckoutUpdate>> {
        crate::util::par::map_in_order(moves, |(dir, from, to)| {
            Repo::plan_checkout_update(&dir, from, to)
        })
    }
}

/// The sparse-checkout patterns of a checkout (its own `info/sparse-checkout`) and whether
/// they are in cone mode, when `core.sparseCheckout` is on there.
pub(super) fn sparse_patterns(repo: &gix::Repository) -> Result<Option<(Vec<u8>, bool)>> {
    let config = repo.config_snapshot();
    if config.boolean("core.sparseCheckout") != Some(true) {
        return Ok(None);
    }
    let cone = config.boolean("core.sparseCheckoutCone").unwrap_or(false);
    let patterns = gix::worktree::sparse::read_patterns(repo.git_dir())
        .context("cannot read the sparse-checkout patterns")?;
    Ok(patterns.map(|p| (p, cone)))
}

/// The non-directory paths that differ between the trees of two commits.
fn tree_changes(
    repo: &gix::Repository,
    from: Oid,
    to: Oid,
) -> Result<BTreeMap<BString, (Side, Side)>> {
    let tree = |id: Oid| -> Result<gix::Tree<'_>> {
        repo.find_object(id)
            .with_context(|| format!("commit {id} is missing"))?
            .peel_to_tree()
            .with_context(|| format!("{id} has no tree"))
    };
    let (old, new) = (tree(from)?, tree(to)?);
    let diff = repo
        .diff_tree_to_tree(
            Some(&old),
            Some(&new),
            Some(gix::diff::Options::default().with_rewrites(None)),
        )
        .with_context(|| format!("cannot compare {from} with {to}"))?;
    let mut changes: BTreeMap<BString, (Side, Side)> = BTreeMap::new();
    for change in diff {
        let Some((location, before, after)) = super::diff::change_sides(change) else {
            continue; // rewrites are off
        };
        let before = before.and_then(|(mode, id)| side(mode, &id));
        let after = after.and_then(|(mode, id)| side(mode, &id));
        if before.is_none() && after.is_none() {
            continue; // a directory: only what sits in it matters
        }
        let slot = changes.entry(location).or_insert((None, None));
        if before.is_some() {
            slot.0 = before;
        }
        if after.is_some() {
            slot.1 = after;
        }
    }
    Ok(changes)
}

impl CheckoutUpdate {
    /// How many paths the update changes.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Changed paths whose index entry or file differs from both sides, or where an untracked
    /// file, a symlinked directory or a non-directory stands in the way. Only the changed paths
    /// are looked at on disk, never the whole checkout.
    fn find_blockers(&self) -> Result<Vec<String>> {
        let index = self
            .repo
            .index_or_empty()
            .context("cannot read the index")?;
        let edited = self.edited(&index)?;
        // Changed paths that are not tracked here but are a directory on disk: an untracked
        // file inside one is someone's work.
        let mut dirs = Vec::new();
        for path in self.changes.keys() {
            let p = path.as_bstr();
            if index.entry_by_path(p).is_none()
                && std::fs::symlink_metadata(self.workdir.join(rel_path(p)?))
                    .is_ok_and(|md| md.is_dir())
            {
                dirs.push(path.clone());
            }
        }
        let untracked = self.untracked_in(dirs)?;
        let mut blocked = BTreeSet::new();
        for (path, (before, after)) in &self.changes {
            let p = path.as_bstr();
            let unmerged = [Stage::Base, Stage::Ours, Stage::Theirs]
                .into_iter()
                .any(|s| index.entry_by_path_and_stage(p, s).is_some());
            let entry = index.entry_by_path_and_stage(p, Stage::Unconflicted);
            let staged: Side = entry.map(|e| (e.mode, e.id));
            let skipped = entry.is_some_and(|e| e.flags.contains(Flags::SKIP_WORKTREE));
            let disk = self.workdir.join(rel_path(p)?);
            let on_disk = std::fs::symlink_metadata(&disk).ok();
            let in_the_way = match (&staged, &on_disk) {
                // Outside a sparse checkout: no file by design.
                (Some(_), None) if skipped => false,
                // Not tracked here: anything on disk is someone's file (or a directory with
                // untracked files), unless it is already what the update writes.
                (None, Some(md)) if md.is_dir() => {
                    let prefix = format!("{p}/");
                    untracked
                        .iter()
                        .any(|u| u.to_str_lossy().starts_with(&prefix))
                }
                (None, Some(_)) => after.is_some() || before.is_some(),
                // Tracked: the file must be what the index says (a deletion the update also
                // makes is fine).
                (Some(_), None) => after.is_some(),
                (Some(_), Some(_)) => edited.contains(path),
                (None, None) => false,
            };
            if unmerged || (staged != *before && staged != *after) || in_the_way {
                blocked.insert(p.to_string());
                continue;
            }
            // The directories leading to a new file must be real directories inside the
            // checkout (never a symlink that would send the write elsewhere), or files this
            // update deletes.
            if after.is_some() {
                for (i, _) in p.iter().enumerate().filter(|(_, b)| **b == b'/') {
                    let parent = p[..i].as_bstr();
                    let Ok(md) = std::fs::symlink_metadata(self.workdir.join(rel_path(parent)?))
                    else {
                        break;
                    };
                    if md.is_dir() {
                        continue;
                    }
                    let deleted = self
                        .changes
                        .get(parent)
                        .is_some_and(|(_, after)| after.is_none());
                    if md.file_type().is_symlink() || !deleted {
                        blocked.insert(p.to_string());
                    }
                    break;
                }
            }
        }
        Ok(blocked.into_iter().collect())
    }

    /// Changed tracked paths whose file differs from its index entry: a status of a small
    /// index holding only those entries (with the real index's timestamp, so racily clean
    /// entries are still compared by content), without a directory walk. Its cost is in the
    /// changed paths, not in the size of the checkout.
    fn edited(&self, index: &gix::index::State) -> Result<BTreeSet<BString>> {
        let mut small = gix::index::State::new(self.repo.object_hash());
        for path in self.changes.keys() {
            if let Some(e) = index.entry_by_path_and_stage(path.as_bstr(), Stage::Unconflicted) {
                small.dangerously_push_entry(e.stat, e.id, e.flags, e.mode, path.as_bstr());
            }
        }
        let mut edited = BTreeSet::new();
        if small.entries().is_empty() {
            return Ok(edited);
        }
        small.sort_entries();
        small.set_timestamp(index.timestamp());
        let small = gix::index::File::from_state(small, self.repo.index_path());
        let iter = self
            .repo
            .status(gix::progress::Discard)
            .context("cannot compute status")?
            .index(gix::worktree::IndexPersistedOrInMemory::InMemory(small))
            .untracked_files(gix::status::UntrackedFiles::None)
            // Several checkouts are checked at once already; one thread each.
            .index_worktree_options_mut(|o| o.thread_limit = Some(1))
            .into_index_worktree_iter(Vec::new())
            .context("cannot compute the status of the checkout")?;
        for item in iter {
            let item = item.context("cannot compute the status of the checkout")?;
            edited.insert(item.rela_path().to_owned());
        }
        Ok(edited)
    }

    /// Untracked (not ignored) files inside the directories `dirs`, walking only those.
    fn untracked_in(&self, dirs: Vec<BString>) -> Result<BTreeSet<BString>> {
        let mut untracked = BTreeSet::new();
        if dirs.is_empty() {
            return Ok(untracked);
        }
        let patterns = dirs.into_iter().map(|d| {
            let mut p = BString::from(":(literal)");
            p.extend_from_slice(&d);
            p
        });
        let iter = self
            .repo
            .status(gix::progress::Discard)
            .context("cannot compute status")?
            .untracked_files(gix::status::UntrackedFiles::Files)
            .index_worktree_options_mut(|o| o.thread_limit = Some(1))
            .into_index_worktree_iter(patterns)
            .context("cannot compute the status of the checkout")?;
        for item in iter {
            use gix::status::index_worktree::Item;
            if let Item::DirectoryContents { entry, .. } =
                item.context("cannot compute the status of the checkout")?
                && matches!(entry.status, gix::dir::entry::Status::Untracked)
            {
                untracked.insert(entry.rela_path);
            }
        }
        Ok(untracked)
    }

    /// [`apply`](Self::apply) several updates (of different checkouts) at once, on a few
    /// threads; the results come back in the order of `plans`.
    pub fn apply_all(plans: Vec<CheckoutUpdate>) -> Vec<Result<usize>> {
        crate::util::par::map_in_order(plans, CheckoutUpdate::apply)
    }

    /// Write the update: delete and write the changed files, then the index. Refuses when
    /// [`blocked`](Self::blocked) is not empty. Returns how many paths changed.
    pub fn apply(self) -> Result<usize> {
        if !self.blocked.is_empty() {
            return Err(Error::failure(format!(
                "local changes touch files the update changes: {}",
                self.blocked.join(", ")
            )));
        }
        if self.changes.is_empty() {
            return Ok(0);
        }
        let mut index = self.repo.open_index().context("cannot read the index")?;
        // Deletions first, so a file can make way for a directory and back.
        for (path, (before, after)) in &self.changes {
            if after.is_some() || before.is_none() {
                continue;
            }
            let rel = rel_path(path.as_bstr())?;
            let disk = self.workdir.join(&rel);
            match std::fs::remove_file(&disk) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(
                        Error::failure(format!("cannot remove `{}`", disk.display()))
                            .with_source(e),
                    );
                }
            }
            // Like git, drop directories the deletion left empty.
            let mut dir = rel.parent();
            while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
                if std::fs::remove_dir(self.workdir.join(d)).is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
        // The new sides, written by gix's checkout (filters, symlinks, executable bits) into a
        // small index of their own whose stat data then goes into the real one.
        let mut fresh = gix::index::State::new(self.repo.object_hash());
        for (path, (_, after)) in &self.changes {
            let Some((mode, id)) = after else { continue };
            let disk = self.workdir.join(rel_path(path.as_bstr())?);
            if std::fs::symlink_metadata(&disk).is_ok_and(|m| m.is_dir()) {
                // A directory that became a file: emptied by the deletions above.
                let _ = std::fs::remove_dir(&disk);
            }
            fresh.dangerously_push_entry(
                Stat::default(),
                *id,
                Flags::empty(),
                *mode,
                path.as_bstr(),
            );
        }
        fresh.sort_entries();
        if let Some((patterns, cone)) = &self.sparse {
            // Paths outside the sparse patterns get the skip-worktree bit, and checkout skips them.
            let source = self.repo.git_dir().join("info/sparse-checkout");
            let case = if self.repo.config_snapshot().boolean("core.ignoreCase") == Some(true) {
                gix::glob::pattern::Case::Fold
            } else {
                gix::glob::pattern::Case::Sensitive
            };
            gix::worktree::sparse::apply_patterns(&mut fresh, patterns, &source, *cone, case)
                .context("cannot apply the sparse-checkout patterns")?;
        }
        if !fresh.entries().is_empty() {
            let mut opts = self
                .repo
                .checkout_options(
                    gix::worktree::stack::state::attributes::Source::WorktreeThenIdMapping,
                )
                .context("cannot read the checkout settings")?;
            opts.destination_is_initially_empty = false;
            opts.overwrite_existing = true;
            let objects = self
                .repo
                .objects
                .clone()
                .into_arc()
                .context("cannot share the object database")?;
            let outcome = gix::worktree::state::checkout(
                &mut fresh,
                self.workdir.clone(),
                objects,
                &gix::progress::Discard,
                &gix::progress::Discard,
                &AtomicBool::new(false),
                opts,
            )
            .context("cannot write the updated files")?;
            if let Some(e) = outcome.errors.first() {
                return Err(Error::failure(format!(
                    "cannot write `{}`: {}",
                    e.path, e.error
                )));
            }
            if let Some(c) = outcome.collisions.first() {
                return Err(Error::failure(format!(
                    "cannot write `{}`: another file is in the way ({:?})",
                    c.path, c.error_kind
                )));
            }
        }
        // The index: drop the changed paths, add the new sides with their fresh stat data.
        // The cached tree is stale now; git rebuilds it when it needs it.
        index.remove_entries(|_, path, _| self.changes.contains_key(path));
        for entry in fresh.entries() {
            index.dangerously_push_entry(
                entry.stat,
                entry.id,
                entry.flags,
                entry.mode,
                entry.path(&fresh),
            );
        }
        index.sort_entries();
        index.remove_tree();
        index.remove_resolve_undo();
        write_index(&index)?;
        Ok(self.changes.len())
    }
}

/// Write `index` to its file, byte for byte as `gix::index::File::write` does, but hashing the
/// serialized index in one go: gix feeds its hasher each field of each entry separately (a
/// dozen small writes per entry), which made writing a 20,000-entry index the largest part of
/// moving a checkout by one changed path.
fn write_index(index: &gix::index::File) -> Result<()> {
    use std::io::Write;
    let kind = index.object_hash();
    let mut data = Vec::new();
    // Everything but the trailing checksum, which is left null.
    let options = gix::index::write::Options {
        skip_hash: true,
        ..Default::default()
    };
    index
        .write_to(&mut data, options)
        .context("cannot write the index")?;
    let body = data.len() - kind.len_in_bytes();
    let mut hasher = gix::hash::hasher(kind);
    hasher.update(&data[..body]);
    let checksum = hasher.try_finalize().context("cannot hash the index")?;
    data[body..].copy_from_slice(checksum.as_slice());
    let mut lock = gix::lock::File::acquire_to_update_resource(
        index.path(),
        gix::lock::acquire::Fail::Immediately,
        None,
        0,
    )
    .context("cannot lock the index")?;
    lock.write_all(&data).context("cannot write the index")?;
    lock.commit()
        .map_err(|e| Error::failure("cannot write the index").with_source(e.error))?;
    Ok(())
}

impl CheckoutUpdate {
    /// Plan moving a scratch checkout (opened as `repo`, at `from`) to `to`, also rewriting the
    /// `rewrite` paths from `to` (tracked files something changed on disk; the caller removed
    /// them). No blocker check: the caller cleaned the checkout first, and nobody's work lives
    /// in a scratch checkout.
    pub(super) fn for_scratch(
        repo: gix::Repository,
        from: Oid,
        to: Oid,
        rewrite: &BTreeSet<BString>,
    ) -> Result<CheckoutUpdate> {
        let workdir = repo
            .workdir()
            .map(super::absolute)
            .ok_or_else(|| Error::failure("the scratch checkout has no working tree"))?;
        let mut changes = tree_changes(&repo, from, to)?;
        if !rewrite.is_empty() {
            let tree = repo
                .find_object(to)
                .with_context(|| format!("commit {to} is missing"))?
                .peel_to_tree()
                .with_context(|| format!("{to} has no tree"))?;
            for path in rewrite {
                if changes.contains_key(path) {
                    continue;
                }
                let entry = tree
                    .lookup_entry_by_path(rel_path(path.as_bstr())?)
                    .with_context(|| format!("cannot look up `{path}` in {to}"))?;
                let after = entry.and_then(|e| side(e.mode(), &e.object_id()));
                changes.insert(path.clone(), (after, after));
            }
        }
        Ok(CheckoutUpdate {
            repo,
            workdir,
            changes,
            blocked: Vec::new(),
            sparse: None,
        })
    }
}
