//! Moving a scratch checkout of a verification pool (see [`super::ScratchPool`]) from one
//! candidate to the next: undo what the last verification left (found by a status scan of the
//! whole checkout), then write only the paths that differ between the two trees.

use std::collections::BTreeSet;
use std::path::Path;

use gix::bstr::BString;

use super::{CheckoutUpdate, Oid, Repo};
use crate::error::{Context, Error, Result};

impl Repo {
    /// Move the scratch checkout at `dir` from commit `from` to `to`: undo what the last
    /// verification did (tracked files it changed or deleted are rewritten, untracked and
    /// ignored files are removed), then write only the paths that differ between the two
    /// trees and point its HEAD at `to`. An error leaves the checkout unusable (the pool
    /// replaces it); so does anything a plain cleanup cannot undo (a moved HEAD, a changed index).
    /// `used: false` says nothing ran in the checkout since it was made (nothing to undo: the
    /// status scan of the whole tree is skipped). `index`: the checksum of the index this
    /// process left there at the last move (or when making it), if known; while the index is
    /// byte-identical to it, it still matches `from`, so only the files are compared with it
    /// (not the whole tree of `from`). Returns the checksum of the index it leaves (`None`
    /// when the index has none, as with `index.skipHash`).
    pub fn move_scratch(
        dir: &Path,
        from: Oid,
        to: Oid,
        used: bool,
        index: Option<Oid>,
    ) -> Result<Option<Oid>> {
        let repo = gix::open(dir)
            .with_context(|| format!("cannot open the scratch checkout `{}`", dir.display()))?;
        let head = repo.head_id().ok().map(|id| id.detach());
        if head != Some(from) {
            return Err(Error::failure(format!(
                "the HEAD of the scratch checkout `{}` moved",
                dir.display()
            )));
        }
        let mut rewrite: BTreeSet<BString> = BTreeSet::new();
        let mut junk: Vec<BString> = Vec::new();
        if used {
            // Loading the index verifies its checksum against its contents: equal to the
            // recorded one, the index is the one this process wrote.
            let unchanged = index.is_some()
                && repo
                    .index_or_empty()
                    .context("cannot read the index of the scratch checkout")?
                    .checksum()
                    == index;
            scan_leftovers(&repo, !unchanged, &mut rewrite, &mut junk)?;
        }
        let index_path = repo.index_path();
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
            crate::util::safe_fs::remove_all(&workdir.join(rel))?;
        }
        CheckoutUpdate::for_scratch(repo, from, to, &rewrite)?.apply()?;
        Repo::open(&workdir)?.set_ref("HEAD", to, super::Expect::Any, "droidforge: verify")?;
        Ok(index_file_checksum(&index_path))
    }
}

/// The trailing checksum of the index of the checkout at `dir`, if it has one.
pub(super) fn index_checksum(dir: &Path) -> Option<Oid> {
    gix::open(dir)
        .ok()
        .and_then(|r| index_file_checksum(&r.index_path()))
}

/// The trailing checksum of the index file at `path` (SHA-1), `None` when it cannot be read
/// or is null (an index written with `index.skipHash`). Not verified here: the next load of
/// the index (which does verify it) is what it is compared with.
fn index_file_checksum(path: &Path) -> Option<Oid> {
    use std::io::{Read, Seek, SeekFrom};
    let kind = gix::hash::Kind::Sha1;
    let len = kind.len_in_bytes();
    let mut file = std::fs::File::open(path).ok()?;
    file.seek(SeekFrom::End(-(len as i64))).ok()?;
    let mut buf = vec![0; len];
    file.read_exact(&mut buf).ok()?;
    let id = gix::ObjectId::try_from(buf.as_slice()).ok()?;
    (!id.is_null()).then_some(id)
}

/// What the last verification left in the scratch checkout `repo`: tracked paths that differ
/// from the index (to `rewrite`) and untracked or ignored files and directories (to `junk`).
/// A changed index is an error: a plain cleanup cannot undo it.
/// `tree`: also compare the tree of HEAD with the index (skipped when the index is known to be
/// the one this process wrote, which matches HEAD).
fn scan_leftovers(
    repo: &gix::Repository,
    tree: bool,
    rewrite: &mut BTreeSet<BString>,
    junk: &mut Vec<BString>,
) -> Result<()> {
    let platform = repo
        .status(gix::progress::Discard)
        .context("cannot compute status")?
        .untracked_files(gix::status::UntrackedFiles::Collapsed)
        .dirwalk_options(|o| o.emit_ignored(Some(gix::dir::walk::EmissionMode::CollapseDirectory)));
    let iter: Box<dyn Iterator<Item = _>> = if tree {
        Box::new(
            platform
                .into_iter(None)
                .context("cannot compute the status of the scratch checkout")?,
        )
    } else {
        Box::new(
            platform
                .into_index_worktree_iter(None)
                .context("cannot compute the status of the scratch checkout")?
                .map(|item| item.map(gix::status::Item::IndexWorktree)),
        )
    };
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
    Ok(())
}
