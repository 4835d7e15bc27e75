//! The trivial case of a cherry-pick, without a three-way merge: a tree-level merge of `base`
//! (the commit's parent), `theirs` (the commit) and `ours` (the new base) that resolves every
//! entry one side left as the base had it by taking the other side's entry — a whole subtree
//! at once, without reading it — and descends only into directories both sides changed. This
//! is the trivial tree-level resolution of git's merge-ort, and it produces what `merge_trees`
//! (and `git replay`) produce in this case, at a cost proportional to the directories both
//! sides changed instead of to the size of a directory the commit touched (a commit adding a
//! file to a 5,000-entry directory the other side never changed writes only the trees above
//! it, and reuses the commit's own directory tree). Anything else — an entry both sides
//! changed that is not a directory on all three sides — falls back to the full merge.

use std::collections::BTreeMap;

use gix::bstr::BString;
use gix::objs::tree::{Entry, EntryMode};

use super::{Oid, Repo};
use crate::error::{Context, Result};

/// One entry of a name on the three sides: (base, theirs, ours), each (mode, id) or absent.
type Sides = [Option<(EntryMode, Oid)>; 3];

impl Repo {
    /// The tree of `ours` with the changes `base → theirs` applied, if no entry was changed by
    /// both sides (a directory both sides changed is looked into). `None`: not trivial, merge
    /// instead.
    pub(crate) fn pick_trivially(&self, base: Oid, theirs: Oid, ours: Oid) -> Result<Option<Oid>> {
        self.pick_level(base, theirs, ours)
    }

    /// One directory level of [`Repo::pick_trivially`]: all three are trees.
    fn pick_level(&self, base: Oid, theirs: Oid, ours: Oid) -> Result<Option<Oid>> {
        if theirs == base {
            return Ok(Some(ours));
        }
        if ours == base {
            return Ok(Some(theirs));
        }
        let mut names: BTreeMap<BString, Sides> = BTreeMap::new();
        for (side, id) in [base, theirs, ours].into_iter().enumerate() {
            let tree = self
                .git
                .find_tree(id)
                .with_context(|| format!("tree {id} is missing"))?;
            let decoded = tree
                .decode()
                .with_context(|| format!("cannot decode tree {id}"))?;
            for entry in decoded.entries {
                names.entry(entry.filename.to_owned()).or_default()[side] =
                    Some((entry.mode, entry.oid.to_owned()));
            }
        }
        let mut entries = Vec::with_capacity(names.len());
        for (filename, [b, t, o]) in names {
            let resolved = if t == b {
                o
            } else if o == b {
                t
            } else {
                match (b, t, o) {
                    (Some((bm, bid)), Some((tm, tid)), Some((om, oid)))
                        if bm.is_tree() && tm.is_tree() && om.is_tree() =>
                    {
                        match self.pick_level(bid, tid, oid)? {
                            Some(id) => Some((om, id)),
                            None => return Ok(None),
                        }
                    }
                    // Changed on both sides (or a file/directory switch): a real merge.
                    _ => return Ok(None),
                }
            };
            // Entries keep their modes as they are (droid trees with modes git refuses never
            // get here), so the result changes exactly what `base → theirs` changes.
            if let Some((mode, oid)) = resolved {
                entries.push(Entry {
                    mode,
                    filename,
                    oid,
                });
            }
        }
        entries.sort();
        let tree = gix::objs::Tree { entries };
        Ok(Some(
            self.git
                .write_object(&tree)
                .context("cannot write tree")?
                .detach(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Files<'a> = &'a [(&'a str, Option<&'a [u8]>)];

    /// A repository with a `base` commit and two children, `ours` and `theirs`.
    struct Fork {
        dir: tempfile::TempDir,
        repo: Repo,
        base: Oid,
        ours: Oid,
        theirs: Oid,
    }

    fn fork(base: Files<'_>, ours: Files<'_>, theirs: Files<'_>) -> Fork {
        let dir = tempfile::tempdir().unwrap();
        Repo::git_cli(dir.path(), &["init", "-q", "-b", "main"]).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let base = repo.commit_files(None, base, "base").unwrap();
        let ours = repo.commit_files(Some(base), ours, "ours").unwrap();
        let theirs = repo.commit_files(Some(base), theirs, "theirs").unwrap();
        Fork {
            dir,
            repo,
            base,
            ours,
            theirs,
        }
    }

    impl Fork {
        fn pick(&self) -> Option<Oid> {
            let tree = |c| self.repo.tree_id(c).unwrap();
            self.repo
                .pick_trivially(tree(self.base), tree(self.theirs), tree(self.ours))
                .unwrap()
        }

        /// The oracle: the tree `git merge-tree` writes for the same three commits.
        fn git_merge_tree(&self) -> Oid {
            let out = Repo::git_cli(
                self.dir.path(),
                &[
                    "merge-tree",
                    "--write-tree",
                    &format!("--merge-base={}", self.base),
                    &self.ours.to_string(),
                    &self.theirs.to_string(),
                ],
            )
            .unwrap();
            out.lines().next().unwrap().parse().unwrap()
        }

        fn entry(&self, tree: Oid, path: &str) -> Oid {
            let out = Repo::git_cli(self.dir.path(), &["rev-parse", &format!("{tree}:{path}")]);
            out.unwrap().trim().parse().unwrap()
        }
    }

    fn big_dir(n: usize) -> Vec<(String, Vec<u8>)> {
        (0..n)
            .map(|i| (format!("big/f{i}.txt"), format!("{i}\n").into_bytes()))
            .collect()
    }

    #[test]
    fn a_file_added_to_a_5000_entry_directory_reuses_the_commits_directory_tree_unread() {
        let big = big_dir(5000);
        let mut base: Vec<(&str, Option<&[u8]>)> = big
            .iter()
            .map(|(p, c)| (p.as_str(), Some(c.as_slice())))
            .collect();
        base.push(("other/a.txt", Some(b"a\n")));
        let f = fork(
            &base,
            &[("other/a.txt", Some(b"ours\n"))],
            &[("big/new.txt", Some(b"new\n"))],
        );
        let picked = f.pick().expect("a one-sided change is trivial");
        assert_eq!(picked, f.git_merge_tree());
        let their_big = f.entry(f.repo.tree_id(f.theirs).unwrap(), "big");
        assert_eq!(f.entry(picked, "big"), their_big);
        // The work is proportional to what changed on both sides: the commit's 5,001-entry
        // directory is taken by id, never read. Remove it from the object store and pick
        // again with a fresh handle (no object cache): the same tree comes out.
        let hex = their_big.to_string();
        let loose = f
            .dir
            .path()
            .join(".git/objects")
            .join(&hex[..2])
            .join(&hex[2..]);
        std::fs::remove_file(&loose).expect("the directory tree is a loose object");
        let f = Fork {
            repo: Repo::open(f.dir.path()).unwrap(),
            ..f
        };
        assert_eq!(f.pick(), Some(picked));
    }

    #[test]
    fn a_directory_both_sides_changed_is_merged_entry_by_entry() {
        let f = fork(
            &[
                ("d/a", Some(b"a\n")),
                ("d/b", Some(b"b\n")),
                ("d/e/x", Some(b"x\n")),
            ],
            &[("d/a", Some(b"ours\n")), ("d/e/y", Some(b"y\n"))],
            &[
                ("d/b", None),
                ("d/e/z", Some(b"z\n")),
                ("d/n/new", Some(b"n\n")),
            ],
        );
        assert_eq!(f.pick(), Some(f.git_merge_tree()));
    }

    #[test]
    fn a_file_turned_into_a_directory_where_the_other_side_changed_nothing_is_taken_whole() {
        let f = fork(
            &[("d/x", Some(b"x\n")), ("o", Some(b"o\n"))],
            &[("o", Some(b"ours\n"))],
            &[("d/x", None), ("d/x/inner", Some(b"i\n"))],
        );
        assert_eq!(f.pick(), Some(f.git_merge_tree()));
    }

    #[test]
    fn a_path_both_sides_changed_is_left_to_the_merge() {
        let same_file = fork(
            &[("d/a", Some(b"a\n"))],
            &[("d/a", Some(b"ours\n"))],
            &[("d/a", Some(b"theirs\n"))],
        );
        assert_eq!(same_file.pick(), None);
        // A directory the other side turned into a file.
        let dir_vs_file = fork(
            &[("d/a", Some(b"a\n"))],
            &[("d/a", None), ("d", Some(b"file\n"))],
            &[("d/b", Some(b"b\n"))],
        );
        assert_eq!(dir_vs_file.pick(), None);
    }
}
