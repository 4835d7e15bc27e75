//! Scratch checkouts for verification (dry runs write the tree into a plain directory).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use super::{Oid, Repo};
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
