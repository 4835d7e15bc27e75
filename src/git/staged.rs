//! The paths a commit would change: the index (or the temporary index `git commit -a` /
//! `git commit <paths>` prepares) against HEAD's tree. For the pre-commit guard.

use std::collections::HashMap;
use std::path::Path;

use super::Repo;
use crate::error::{Context, Result};

impl Repo {
    /// Repository-relative paths whose staged entry differs from HEAD's tree: added, modified,
    /// type-changed and deleted paths; a rename is both its old and its new path. `index_file`
    /// overrides the index (git passes `GIT_INDEX_FILE` to hooks when it commits from a
    /// temporary index). Sorted, without duplicates.
    pub fn staged_paths(&self, index_file: Option<&Path>) -> Result<Vec<String>> {
        let index = match index_file {
            Some(path) => gix::index::File::at(
                path,
                self.git.object_hash(),
                false,
                gix::index::decode::Options::default(),
            )
            .with_context(|| format!("cannot read the index `{}`", path.display()))?,
            None => match self.git.open_index() {
                Ok(index) => index,
                // A fresh repository without an index stages nothing.
                Err(_) if !self.git.index_path().exists() => return Ok(Vec::new()),
                Err(e) => return Err(e).context("cannot read the index"),
            },
        };
        let mut head: HashMap<String, (gix::ObjectId, gix::object::tree::EntryMode)> =
            HashMap::new();
        if let Some(commit) = self.head_commit() {
            let tree = self.tree_of(commit)?;
            let mut recorder = gix::traverse::tree::Recorder::default();
            tree.traverse()
                .breadthfirst(&mut recorder)
                .context("cannot walk HEAD's tree")?;
            for e in recorder.records {
                if !e.mode.is_tree() {
                    head.insert(e.filepath.to_string(), (e.oid, e.mode));
                }
            }
        }
        let mut out = Vec::new();
        for entry in index.entries() {
            let path = entry.path(&index).to_string();
            let same = head.remove(&path).is_some_and(|(id, mode)| {
                id == entry.id && entry.mode.to_tree_entry_mode() == Some(mode)
            });
            if !same && !out.contains(&path) {
                out.push(path);
            }
        }
        // What is left of HEAD's tree is not in the index: deleted by the commit.
        out.extend(head.into_keys());
        out.sort();
        out.dedup();
        Ok(out)
    }
}
