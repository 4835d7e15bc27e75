//! Which paths a commit changes, with rename detection, for ownership checks; and the exact
//! change set of a commit, to recognise a change that is already upstream.

use gix::object::tree::diff::ChangeDetached;

use super::{Oid, Repo};
use crate::error::{Context, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
    /// The path is the source of a rename (the file left this path).
    RenamedFrom,
    /// The path is the destination of a rename.
    RenamedTo,
    /// Only the file mode changed (e.g. executable bit, file ↔ symlink).
    ModeChanged,
}

impl ChangeKind {
    /// The name used in reports and JSON (the same as its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Deleted => "deleted",
            ChangeKind::RenamedFrom => "renamed-from",
            ChangeKind::RenamedTo => "renamed-to",
            ChangeKind::ModeChanged => "mode-changed",
        }
    }
}

/// One path touched by a commit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathChange {
    pub path: String,
    pub kind: ChangeKind,
    /// The commit that made the change.
    pub commit: String,
}

/// The blob resource cache of a repository handle's tree diffs. Making one reads the
/// attribute files and maps the index (several ms on a large index): once per handle, not
/// once per diff.
#[derive(Default)]
pub(super) struct DiffCache(std::cell::RefCell<Option<gix::diff::blob::Platform>>);

impl Repo {
    /// What changes from `old` (`None`: the empty tree) to `new`, with rename tracking when
    /// `rewrites` is given: `Repository::diff_tree_to_tree` with this handle's resource cache
    /// instead of a new one per call.
    fn tree_changes(
        &self,
        old: Option<&gix::Tree<'_>>,
        new: &gix::Tree<'_>,
        rewrites: Option<gix::diff::Rewrites>,
    ) -> Result<Vec<ChangeDetached>> {
        let mut slot = self.diff_cache.0.borrow_mut();
        let cache = match &mut *slot {
            Some(cache) => cache,
            None => slot.insert(
                self.git
                    .diff_resource_cache_for_tree_diff()
                    .context("cannot set up a tree diff")?,
            ),
        };
        let empty = self.git.empty_tree();
        let old = old.unwrap_or(&empty);
        fn iter<'a>(t: &'a gix::Tree<'_>) -> gix::objs::TreeRefIter<'a> {
            gix::objs::TreeRefIter::from_bytes(&t.data, t.id.kind())
        }
        let mut out = Vec::new();
        let result = gix::diff::tree_with_rewrites(
            iter(old),
            iter(new),
            cache,
            &mut Default::default(),
            &self.git.objects,
            |change| {
                out.push(change.into_owned());
                Ok(std::ops::ControlFlow::Continue(()))
            },
            gix::diff::Options::default().with_rewrites(rewrites).into(),
        );
        // Blobs read for rename similarity are not needed by the next diff.
        cache.clear_resource_cache_keep_allocation();
        result.context("cannot diff trees")?;
        Ok(out)
    }

    /// Paths changed by `commit` relative to its first parent (or the empty tree for a root).
    /// Directories are listed only when empty: otherwise what sits in them (files, symlinks,
    /// submodules) is listed instead.
    pub fn changed_paths(&self, commit: Oid) -> Result<Vec<PathChange>> {
        let info = self.commit_info(commit)?;
        let old = match info.parents.first() {
            Some(p) => Some(self.tree_id(*p)?),
            None => None,
        };
        self.changed_paths_between(old, info.tree, commit)
    }

    /// Paths that differ between two trees (`None` = empty tree). An empty directory (a tree
    /// entry pointing at the empty tree, which git can store but never checks out) counts as a
    /// change at its own path: otherwise a droid could plant `.droidforge/evil/` unseen.
    pub fn changed_paths_between(
        &self,
        old_tree: Option<Oid>,
        new_tree: Oid,
        label: Oid,
    ) -> Result<Vec<PathChange>> {
        let find = |id: Oid| {
            self.git
                .find_tree(id)
                .with_context(|| format!("tree {id} is missing"))
        };
        let new = find(new_tree)?;
        let old = match old_tree {
            Some(t) => Some(find(t)?),
            None => None,
        };
        let changes = self
            .tree_changes(old.as_ref(), &new, Some(gix::diff::Rewrites::default()))
            .with_context(|| format!("cannot diff commit {label}"))?;
        let commit = label.to_string();
        let mut out = Vec::new();
        let mut push = |path: &gix::bstr::BStr, kind: ChangeKind| {
            out.push(PathChange {
                path: path.to_string(),
                kind,
                commit: commit.clone(),
            })
        };
        for change in changes {
            match change {
                ChangeDetached::Addition {
                    location,
                    entry_mode,
                    id,
                    ..
                } => {
                    if !entry_mode.is_tree() || id.is_empty_tree() {
                        push(location.as_ref(), ChangeKind::Added)
                    }
                }
                ChangeDetached::Deletion {
                    location,
                    entry_mode,
                    id,
                    ..
                } => {
                    if !entry_mode.is_tree() || id.is_empty_tree() {
                        push(location.as_ref(), ChangeKind::Deleted)
                    }
                }
                ChangeDetached::Modification {
                    location,
                    previous_entry_mode,
                    entry_mode,
                    previous_id,
                    id,
                } => {
                    if entry_mode.is_tree() && previous_entry_mode.is_tree() {
                        continue;
                    }
                    let kind = if previous_id == id && previous_entry_mode != entry_mode {
                        ChangeKind::ModeChanged
                    } else {
                        ChangeKind::Modified
                    };
                    push(location.as_ref(), kind)
                }
                ChangeDetached::Rewrite {
                    source_location,
                    location,
                    entry_mode,
                    copy,
                    ..
                } => {
                    if entry_mode.is_tree() {
                        continue;
                    }
                    if copy {
                        push(location.as_ref(), ChangeKind::Added);
                    } else {
                        push(source_location.as_ref(), ChangeKind::RenamedFrom);
                        push(location.as_ref(), ChangeKind::RenamedTo);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// One entry of a [`ChangeSet`]: a path with its (mode, object id) before and after.
/// One side of a changed tree entry: its mode and object id (`None`: absent on that side).
pub(crate) type EntrySide = Option<(gix::objs::tree::EntryMode, Oid)>;

/// A tree change as (path, before, after). `None` for a rewrite, which only a diff with rename
/// tracking reports; callers that turn rewrites off never see one.
pub(crate) fn change_sides(
    change: ChangeDetached,
) -> Option<(gix::bstr::BString, EntrySide, EntrySide)> {
    Some(match change {
        ChangeDetached::Addition {
            location,
            entry_mode,
            id,
            ..
        } => (location, None, Some((entry_mode, id))),
        ChangeDetached::Deletion {
            location,
            entry_mode,
            id,
            ..
        } => (location, Some((entry_mode, id)), None),
        ChangeDetached::Modification {
            location,
            previous_entry_mode,
            previous_id,
            entry_mode,
            id,
        } => (
            location,
            Some((previous_entry_mode, previous_id)),
            Some((entry_mode, id)),
        ),
        ChangeDetached::Rewrite { .. } => return None,
    })
}

type EntryChange = (String, Option<(u16, Oid)>, Option<(u16, Oid)>);

/// What a commit changes relative to its first parent, exactly: every changed path with its
/// mode and object id before and after, sorted, renames not folded. Two commits with equal
/// change sets make the same change (the same as equal `git patch-id`s for those commits,
/// but never equal for different changes: no hashing, no whitespace folding, so a change with
/// the same effect but different context lines — which git's patch id would also treat as
/// different — is not matched).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChangeSet(Vec<EntryChange>);

impl Repo {
    /// The change set of a commit with exactly one parent (`None` for a root or a merge
    /// commit, and for a commit that changes nothing: git keeps commits that start empty, so
    /// they are never "already upstream").
    pub fn change_set(&self, commit: Oid) -> Result<Option<ChangeSet>> {
        let info = self.commit_info(commit)?;
        let [parent] = info.parents[..] else {
            return Ok(None);
        };
        let find = |id: Oid| {
            self.git
                .find_tree(id)
                .with_context(|| format!("tree {id} is missing"))
        };
        let old = find(self.tree_id(parent)?)?;
        let new = find(info.tree)?;
        let changes = self
            .tree_changes(Some(&old), &new, None)
            .with_context(|| format!("cannot diff commit {commit}"))?;
        // Trees are described by what they hold, except an empty one (its own entry).
        let keep =
            |mode: gix::object::tree::EntryMode, id: &Oid| !mode.is_tree() || id.is_empty_tree();
        let mut out: Vec<EntryChange> = Vec::new();
        for (location, before, after) in changes.into_iter().filter_map(change_sides) {
            let wanted = match (before, after) {
                (None, Some((mode, id))) | (Some((mode, id)), None) => keep(mode, &id),
                (Some((old, _)), Some((new, _))) => !(old.is_tree() && new.is_tree()),
                (None, None) => false,
            };
            if wanted {
                let raw = |s: EntrySide| s.map(|(mode, id)| (mode.value(), id));
                out.push((location.to_string(), raw(before), raw(after)));
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        out.sort();
        Ok(Some(ChangeSet(out)))
    }
}
