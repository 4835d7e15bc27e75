//! A fresh object store under a long-lived repository handle, so that the pack files it read
//! stop counting towards the process's memory.
//!
//! gix maps every pack (data and index) it reads for the life of its object store and unmaps
//! one only when it disappears from disk; every page of a mapping the run touched stays
//! resident (file-backed RSS) until then. A merge that replays thousands of commits reads a
//! pack region per commit, so its memory grew with the commits although nothing is kept on
//! purpose (10 droids x 2,000 commits: 1.1 kB per commit). Replacing the store drops the old
//! one, and with it its mappings, as soon as no handle of it is left.
//!
//! Only the innermost store handle is replaced: the dry run's objects in memory (the
//! [`gix::odb::memory::Proxy`] around it) and the cache of decoded objects (keyed by object
//! id) stay as they are. The delta-base cache is keyed by pack ids, which the new store may
//! give to other packs, so it starts empty. The new store lists the pack directory again and
//! reads loose objects from disk, so everything written before is visible to it.

use std::sync::Arc;

use crate::error::{Context, Result};

use super::Repo;

impl Repo {
    /// Read objects through a new object store from now on (see the module documentation);
    /// the old one, and the pack files it mapped, go with its last handle.
    pub fn renew_object_store(&mut self) -> Result<()> {
        let old: &gix::odb::store::Handle<Arc<gix::odb::Store>> = &self.git.objects;
        let store = old.store_ref();
        let alloc_limit_bytes = self
            .git
            .config_snapshot()
            .integer("gitoxide.objects.allocLimit")
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0);
        let options = gix::odb::store::init::Options {
            use_multi_pack_index: store.use_multi_pack_index(),
            alloc_limit_bytes,
            loose_compression: old.loose_compression,
            ..Default::default()
        };
        let fresh = gix::odb::Store::at_opts(
            store.path().to_owned(),
            store.object_hash(),
            &mut store.replacements(),
            options,
        )
        .with_context(|| {
            format!(
                "cannot open the object database at `{}` again",
                store.path().display()
            )
        })?;
        let mut handle = Arc::new(fresh).to_handle_arc();
        handle.refresh = old.refresh;
        handle.max_recursion_depth = old.max_recursion_depth;
        handle.ignore_replacements = old.ignore_replacements;
        handle.loose_compression = old.loose_compression;
        let cache: &mut gix::odb::Cache<_> = &mut self.git.objects;
        **cache = handle;
        if cache.has_pack_cache() {
            cache.set_pack_cache(new_pack_cache);
        }
        Ok(())
    }
}

/// The delta-base cache of a long run's handle (see [`super::PACK_CACHE_BYTES`]).
pub(super) fn new_pack_cache() -> Box<gix::odb::cache::PackCache> {
    Box::new(gix::odb::pack::cache::lru::StaticLinkedList::<64>::new(
        super::PACK_CACHE_BYTES,
    ))
}

#[cfg(test)]
mod tests {

    use super::super::tests::{git, pack_mappings};
    use super::super::{Oid, parse_oid};
    use super::*;

    /// A repository whose objects are all in one pack, with a 1 MiB blob nothing compresses.
    fn packed_repo() -> (tempfile::TempDir, Oid) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        let mut noise = Vec::with_capacity(1 << 20);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while noise.len() < 1 << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.extend_from_slice(&x.to_le_bytes());
        }
        std::fs::write(root.join("noise.bin"), &noise).unwrap();
        git(root, &["add", "noise.bin"]);
        git(root, &["commit", "-q", "-m", "noise"]);
        git(root, &["gc", "-q"]);
        let blob = git(root, &["rev-parse", "HEAD:noise.bin"]);
        (dir, parse_oid(&blob).unwrap())
    }

    /// A run's repository handle kept every pack page it read resident until the process
    /// ended (gix unmaps a pack only when it vanishes from disk): a renewed store unmaps them.
    #[test]
    fn a_renewed_store_no_longer_maps_the_packs_the_old_one_read() {
        let (dir, blob) = packed_repo();
        let mut repo = Repo::open(dir.path()).unwrap().with_slot_cache();
        assert_eq!(repo.read_blob(blob).unwrap().len(), 1 << 20);
        let (maps, rss) = pack_mappings(dir.path());
        assert_eq!(maps, 1, "reading the blob maps its pack");
        assert!(rss >= 1024, "the blob's pages are resident: {rss} kB");

        repo.renew_object_store().unwrap();
        assert_eq!(
            pack_mappings(dir.path()),
            (0, 0),
            "the old store's mapping is gone"
        );
        assert_eq!(repo.read_blob(blob).unwrap().len(), 1 << 20);
        assert_eq!(
            pack_mappings(dir.path()).0,
            1,
            "the new store maps it again"
        );
    }

    /// A dry run's objects live in the handle's memory: renewing the store keeps them there,
    /// and writes nothing to the object database.
    #[test]
    fn a_renewed_in_memory_handle_keeps_its_objects_and_writes_none() {
        let (dir, _) = packed_repo();
        let before = git(dir.path(), &["count-objects", "-v"]);
        let mut repo = Repo::open(dir.path())
            .unwrap()
            .in_memory()
            .with_slot_cache();
        let head = repo.rev_parse("HEAD").unwrap();
        let commit = repo
            .commit_files(Some(head), &[("made.txt", Some(b"in memory\n"))], "dry")
            .unwrap();
        repo.renew_object_store().unwrap();
        assert_eq!(
            repo.read_file_at(commit, "made.txt").unwrap().as_deref(),
            Some(&b"in memory\n"[..]),
            "the commit made before the renewal is still readable"
        );
        assert!(
            repo.has_commit(head),
            "the pack is read through the new store"
        );
        assert_eq!(git(dir.path(), &["count-objects", "-v"]), before);
        git(dir.path(), &["fsck", "--strict", "--no-dangling"]);
    }
}
