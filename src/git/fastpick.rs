//! The trivial case of a cherry-pick, without a three-way merge: when every path a commit
//! changes (relative to its parent) is unchanged between that parent and the new base, the
//! result is the new base with the commit's edits applied. That is what `merge_trees` (and git's
//! merge-ort) produce in this case, at a cost proportional to the commit's own changes instead
//! of to everything that differs between the two bases. Anything else falls back to the merge.

use gix::bstr::{BStr, BString, ByteSlice};
use gix::objs::tree::{EntryKind, EntryMode};

use super::{Oid, Repo};
use crate::error::{Context, Result};

type Entry = Option<(EntryMode, Oid)>;

impl Repo {
    /// Apply the changes `base → theirs` onto `ours` if none of the touched paths (or their
    /// parent directories) differ between `base` and `ours`. `None`: not trivial, merge instead.
    pub(crate) fn pick_trivially(&self, base: Oid, theirs: Oid, ours: Oid) -> Result<Option<Oid>> {
        let find = |id: Oid| {
            self.git
                .find_tree(id)
                .with_context(|| format!("tree {id} is missing"))
        };
        let (base_t, their_t, our_t) = (find(base)?, find(theirs)?, find(ours)?);
        let changes = self
            .git
            .diff_tree_to_tree(
                Some(&base_t),
                Some(&their_t),
                Some(gix::diff::Options::default().with_rewrites(None)),
            )
            .context("cannot diff trees")?;
        let lookup = |tree: &gix::Tree<'_>, path: &BStr| -> Result<Entry> {
            Ok(tree
                .lookup_entry(path.split_str("/"))
                .context("cannot look up a tree entry")?
                .map(|e| (e.mode(), e.oid().to_owned())))
        };
        let mut edits: Vec<(BString, Entry)> = Vec::new();
        for change in changes {
            let Some((path, before, after)) = super::diff::change_sides(change) else {
                return Ok(None);
            };
            let is_tree = |e: &Entry| e.map(|(m, _)| m.is_tree()).unwrap_or(false);
            match (
                before.is_some(),
                after.is_some(),
                is_tree(&before),
                is_tree(&after),
            ) {
                // A directory added, removed or changed: its files are listed too.
                (_, _, true, true) | (false, true, _, true) | (true, false, true, _) => continue,
                // A path switching between file and directory: leave it to the merge.
                (_, _, true, false) | (_, _, false, true) => return Ok(None),
                _ => {}
            }
            // The path itself must be exactly as the commit's parent had it.
            if lookup(&our_t, path.as_ref())? != before {
                return Ok(None);
            }
            // And every parent directory must exist (as a directory) on both sides alike, so
            // that nothing was renamed or replaced around it.
            let mut end = 0;
            while let Some(pos) = path[end..].find_byte(b'/') {
                end += pos;
                let dir: &BStr = path[..end].as_bstr();
                let in_base = lookup(&base_t, dir)?;
                let in_ours = lookup(&our_t, dir)?;
                let dir_or_absent = |e: &Entry| e.map(|(m, _)| m.is_tree()).unwrap_or(true);
                if in_base.is_some() != in_ours.is_some() || !dir_or_absent(&in_ours) {
                    return Ok(None);
                }
                end += 1;
            }
            edits.push((path, after));
        }
        if edits.is_empty() {
            return Ok(Some(ours));
        }
        let mut editor = self
            .git
            .edit_tree(ours)
            .context("cannot edit tree")?
            .detach();
        for (path, after) in &edits {
            let components = path.split_str("/");
            match after {
                Some((mode, id)) => {
                    let kind: EntryKind = mode.kind();
                    editor
                        .upsert(components, kind, *id)
                        .context("cannot edit tree")?;
                }
                None => {
                    editor.remove(components).context("cannot edit tree")?;
                }
            }
        }
        let repo = &self.git;
        let tree = editor
            .write(|tree| repo.write_object(tree).map(|id| id.detach()))
            .context("cannot write tree")?;
        Ok(Some(tree))
    }
}
