//! Which files of a worktree are uncommitted (for `remove`'s "what would be lost" message),
//! and worktree registrations whose directory is gone (for `prune --dry-run`).

use std::path::Path;

use super::{DirtyCounts, Repo};
use crate::error::{Context, Error, Result};

/// Uncommitted state of a worktree with the first few paths, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DirtyPaths {
    pub counts: DirtyCounts,
    /// Changed tracked paths (up to the limit asked for), sorted.
    pub changed: Vec<String>,
    /// Untracked paths (up to the limit asked for), sorted.
    pub untracked: Vec<String>,
}

impl Repo {
    /// Like [`Repo::worktree_dirt`], but also names up to `limit` changed and untracked paths.
    pub fn worktree_dirty_paths(path: &Path, limit: usize) -> Result<DirtyPaths> {
        let repo = gix::open(path)
            .with_context(|| format!("cannot open the worktree `{}`", path.display()))?;
        dirty_paths(&repo, path, limit)
    }

    /// [`Repo::worktree_dirt`] of this handle's own worktree, without opening it a second time
    /// (an open reads and parses the whole configuration again).
    pub fn dirt(&self) -> Result<DirtyCounts> {
        let path = self
            .workdir()
            .ok_or_else(|| Error::failure("the repository has no working tree"))?;
        Ok(dirty_paths(&self.git, &path, 0)?.counts)
    }
}

/// Uncommitted state of `repo`'s worktree at `path`, naming up to `limit` paths of each kind.
fn dirty_paths(repo: &gix::Repository, path: &Path, limit: usize) -> Result<DirtyPaths> {
    let index = repo
        .index_or_empty()
        .with_context(|| format!("cannot read the index of `{}`", path.display()))?;
    let head_tree = repo
        .head_tree_id_or_empty()
        .with_context(|| format!("cannot read HEAD of `{}`", path.display()))?
        .detach();
    // Nothing staged (the common case) is settled by hashing the index's trees in memory:
    // the HEAD-to-index diff would read every tree of HEAD from the object database,
    // hundreds of object reads per worktree.
    let staged_nothing = index_tree_id(&index, repo.object_hash()) == Some(head_tree);
    let platform = repo
        .status(gix::progress::Discard)
        .context("cannot compute status")?
        .index(gix::worktree::IndexPersistedOrInMemory::Persisted(index))
        .head_tree(head_tree)
        .untracked_files(gix::status::UntrackedFiles::Files)
        // Callers already check many worktrees in parallel; nested thread pools per
        // worktree only add thread churn.
        .index_worktree_options_mut(|o| o.thread_limit = Some(1));
    let iter = if staged_nothing {
        platform.into_index_worktree_iter(None).map(Items::Worktree)
    } else {
        platform.into_iter(None).map(Items::All)
    };
    let mut iter =
        iter.with_context(|| format!("cannot compute the status of `{}`", path.display()))?;
    let mut changed = std::collections::BTreeSet::new();
    let mut untracked = std::collections::BTreeSet::new();
    while let Some(item) = iter.next_item() {
        let item =
            item.with_context(|| format!("cannot compute the status of `{}`", path.display()))?;
        match item {
            gix::status::Item::IndexWorktree(
                gix::status::index_worktree::Item::DirectoryContents { entry, .. },
            ) => {
                if matches!(entry.status, gix::dir::entry::Status::Untracked) {
                    untracked.insert(entry.rela_path.to_string());
                }
            }
            gix::status::Item::IndexWorktree(item) => {
                changed.insert(item.rela_path().to_string());
            }
            gix::status::Item::TreeIndex(change) => {
                changed.insert(change.location().to_string());
            }
        }
    }
    // Like `git status`, refresh the index's stat data when it went stale (e.g. files
    // checked out in the same second as the index was written, which would otherwise be
    // re-hashed on every call). Best effort: a concurrent git in that worktree wins.
    // Only when there is something to refresh: gix hands back an empty change list after
    // a parallel run, and writing it would rewrite (and lock) every worktree's index on
    // every call, racing the agent's own `git add`.
    if let Some(outcome) = iter.outcome_mut()
        && outcome.has_changes()
    {
        let _ = outcome.write_changes();
    }
    Ok(DirtyPaths {
        counts: DirtyCounts {
            changed: changed.len(),
            untracked: untracked.len(),
        },
        changed: changed.into_iter().take(limit).collect(),
        untracked: untracked.into_iter().take(limit).collect(),
    })
}

/// A status iteration with or without its HEAD-to-index part.
enum Items {
    All(gix::status::Iter),
    Worktree(gix::status::index_worktree::Iter),
}

impl Items {
    fn next_item(&mut self) -> Option<std::result::Result<gix::status::Item, gix::Error>> {
        match self {
            Items::All(iter) => iter.next(),
            Items::Worktree(iter) => iter.next().map(|r| r.map(gix::status::Item::IndexWorktree)),
        }
    }

    fn outcome_mut(&mut self) -> Option<&mut gix::status::Outcome> {
        match self {
            Items::All(iter) => iter.outcome_mut(),
            Items::Worktree(iter) => iter.outcome_mut(),
        }
    }
}

/// The id of the tree `git write-tree` would write from `index`, hashed in memory (nothing is
/// read or written); `None` when the index holds what a plain tree cannot say (conflicts,
/// intent-to-add entries, sparse directories) or an entry mode git does not know.
fn index_tree_id(index: &gix::index::State, hash: gix::hash::Kind) -> Option<gix::ObjectId> {
    let mut buf = Vec::new();
    subtree_id(index, index.entries(), 0, hash, &mut buf)
}

/// The tree of `entries`, all below the directory that is the first `prefix` bytes of their
/// paths. Index entries are sorted by path, so each subdirectory's entries are contiguous.
fn subtree_id(
    index: &gix::index::State,
    entries: &[gix::index::Entry],
    prefix: usize,
    hash: gix::hash::Kind,
    buf: &mut Vec<u8>,
) -> Option<gix::ObjectId> {
    use gix::bstr::ByteSlice;
    use gix::objs::tree::{Entry, EntryKind};
    let mut tree = gix::objs::Tree::empty();
    let mut i = 0;
    while i < entries.len() {
        let entry = &entries[i];
        if entry.stage_raw() != 0
            || entry
                .flags
                .contains(gix::index::entry::Flags::INTENT_TO_ADD)
            || entry.mode.is_sparse()
        {
            return None;
        }
        let rest = entry.path(index).get(prefix..)?;
        let Some(slash) = rest.find_byte(b'/') else {
            tree.entries.push(Entry {
                mode: entry.mode.to_tree_entry_mode()?,
                filename: rest.into(),
                oid: entry.id,
            });
            i += 1;
            continue;
        };
        let dir = &rest[..=slash];
        let end = i + entries[i..]
            .iter()
            .take_while(|e| {
                e.path(index)
                    .get(prefix..)
                    .is_some_and(|p| p.starts_with(dir))
            })
            .count();
        let oid = subtree_id(index, &entries[i..end], prefix + dir.len(), hash, buf)?;
        tree.entries.push(Entry {
            mode: EntryKind::Tree.into(),
            filename: dir[..slash].into(),
            oid,
        });
        i = end;
    }
    // Tree order differs from index order (`a.b` < `a/` as a tree entry `a`).
    tree.entries.sort();
    buf.clear();
    gix::objs::WriteTo::write_to(&tree, &mut *buf).ok()?;
    gix::objs::compute_hash(hash, gix::objs::Kind::Tree, buf).ok()
}

/// A git operation a worktree is in the middle of: a rebase, merge, cherry-pick, revert or
/// `git am` that stopped (usually on a conflict) and was neither continued nor aborted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unfinished {
    /// `rebase`, `merge`, `cherry-pick`, `revert` or `am`; `None` when only the index holds
    /// unmerged entries.
    pub operation: Option<&'static str>,
    /// Paths with unmerged (conflict) entries in the index, sorted.
    pub unmerged: Vec<String>,
}

impl Unfinished {
    /// "mid-rebase with 2 unmerged paths (a.rs, b.rs)".
    pub fn describe(&self) -> String {
        let what = match self.operation {
            Some(op) => format!("mid-{op}"),
            None => "in a conflicted state".to_owned(),
        };
        if self.unmerged.is_empty() {
            return what;
        }
        let shown: Vec<&str> = self.unmerged.iter().take(5).map(String::as_str).collect();
        let more = if self.unmerged.len() > shown.len() {
            format!(", +{} more", self.unmerged.len() - shown.len())
        } else {
            String::new()
        };
        format!(
            "{what} with {} ({}{more})",
            crate::util::text::count(self.unmerged.len(), "unmerged path"),
            shown.join(", ")
        )
    }
}

impl Repo {
    /// Is the worktree at `path` in the middle of a git operation, or does its index hold
    /// unmerged entries? Such a worktree holds nobody's finished work: committing what is in
    /// it would record conflict markers or half a rebase.
    pub fn unfinished_operation(path: &Path) -> Result<Option<Unfinished>> {
        let repo = gix::open(path)
            .with_context(|| format!("cannot open the worktree `{}`", path.display()))?;
        let git_dir = repo.git_dir();
        let operation = [
            ("rebase-merge", "rebase"),
            ("rebase-apply/applying", "am"),
            ("rebase-apply", "rebase"),
            ("MERGE_HEAD", "merge"),
            ("CHERRY_PICK_HEAD", "cherry-pick"),
            ("REVERT_HEAD", "revert"),
        ]
        .into_iter()
        .find(|(file, _)| git_dir.join(file).exists())
        .map(|(_, op)| op);
        let index = repo
            .index_or_empty()
            .with_context(|| format!("cannot read the index of `{}`", path.display()))?;
        let mut unmerged: Vec<String> = index
            .entries()
            .iter()
            .filter(|e| e.stage_raw() != 0)
            .map(|e| e.path(&index).to_string())
            .collect();
        unmerged.dedup();
        if operation.is_none() && unmerged.is_empty() {
            return Ok(None);
        }
        Ok(Some(Unfinished {
            operation,
            unmerged,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::git::tests::git;

    fn tree_of_index(dir: &Path) -> Option<gix::ObjectId> {
        let repo = gix::open(dir).unwrap();
        let index = repo.index_or_empty().unwrap();
        index_tree_id(&index, repo.object_hash())
    }

    /// The in-memory hash agrees with `git write-tree` on names whose index order differs from
    /// tree order (`a.b`, `a/`, `a-b`, `a0`), nested directories, an executable and a symlink.
    #[test]
    fn index_tree_id_is_what_git_write_tree_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        git(dir, &["init", "-q"]);
        assert_eq!(
            tree_of_index(dir).map(|t| t.to_string()),
            Some(git(dir, &["write-tree"]).trim().to_owned()),
            "empty index"
        );
        for f in ["a.b", "a/x", "a/y/z", "a-b", "a0", "b/c/d/e.txt", "top"] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f).unwrap();
        }
        std::os::unix::fs::symlink("top", dir.join("link")).unwrap();
        git(dir, &["add", "-A"]);
        git(dir, &["update-index", "--chmod=+x", "top"]);
        let expected = git(dir, &["write-tree"]).trim().to_owned();
        assert_eq!(tree_of_index(dir).map(|t| t.to_string()), Some(expected));
    }

    /// What a tree cannot hold makes the caller fall back to the full HEAD-to-index diff.
    #[test]
    fn index_tree_id_gives_up_on_intent_to_add_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        git(dir, &["init", "-q"]);
        std::fs::write(dir.join("a"), "a").unwrap();
        git(dir, &["add", "-N", "a"]);
        assert_eq!(tree_of_index(dir), None);
    }
}
