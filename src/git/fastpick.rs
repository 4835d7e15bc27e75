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

use gix::objs::tree::{EntryMode, EntryRef};

use super::{Oid, Repo};
use crate::error::{Context, Result};

/// One entry of a name on the three sides: (base, theirs, ours), each (mode, id) or absent.
type Sides<'a> = [Option<(EntryMode, &'a gix::oid)>; 3];

/// Where the id of an entry of a picked tree comes from.
enum Picked<'a> {
    /// An entry of `theirs` or `ours`, as it is.
    Taken(EntryRef<'a>),
    /// A directory both sides changed, merged: its mode and the index of its new id.
    Merged(EntryRef<'a>, usize),
}

impl Repo {
    /// The tree of `ours` with the changes `base → theirs` applied, if no entry was changed by
    /// both sides (a directory both sides changed is looked into). `None`: not trivial, merge
    /// instead.
    pub(crate) fn pick_trivially(&self, base: Oid, theirs: Oid, ours: Oid) -> Result<Option<Oid>> {
        self.pick_level(base, theirs, ours)
    }

    /// One directory level of [`Repo::pick_trivially`]: all three are trees. The three entry
    /// lists are walked side by side in name order, borrowing names and ids from the trees as
    /// read (a replayed commit touches the root directory every time; its hundreds of entries
    /// are neither copied nor allocated), and the new tree is checked and written from them.
    fn pick_level(&self, base: Oid, theirs: Oid, ours: Oid) -> Result<Option<Oid>> {
        if theirs == base {
            return Ok(Some(ours));
        }
        if ours == base {
            return Ok(Some(theirs));
        }
        let find = |id: Oid| {
            self.git
                .find_tree(id)
                .with_context(|| format!("tree {id} is missing"))
        };
        let trees = [find(base)?, find(theirs)?, find(ours)?];
        let mut sides: [Vec<EntryRef<'_>>; 3] = Default::default();
        for (side, tree) in sides.iter_mut().zip(&trees) {
            let mut entries = tree
                .decode()
                .with_context(|| format!("cannot decode tree {}", tree.id))?
                .entries;
            // git orders a directory as if its name ended in `/`; walk by the plain name, so
            // that a file and a directory of the same name meet (already nearly sorted).
            entries.sort_by(|a, b| a.filename.cmp(b.filename));
            *side = entries;
        }
        let mut at = [0usize; 3];
        let mut picked: Vec<Picked<'_>> = Vec::with_capacity(sides[2].len() + 1);
        let mut merged: Vec<Oid> = Vec::new();
        loop {
            let next = (0..3)
                .filter_map(|s| sides[s].get(at[s]).map(|e| e.filename))
                .min();
            let Some(name) = next else { break };
            let mut here: Sides<'_> = [None; 3];
            let mut entry = None;
            for s in 0..3 {
                if let Some(e) = sides[s].get(at[s]).filter(|e| e.filename == name) {
                    here[s] = Some((e.mode, e.oid));
                    entry = Some(*e);
                    at[s] += 1;
                    // A name twice in one tree (git refuses such trees): the merge decides.
                    if sides[s].get(at[s]).is_some_and(|n| n.filename == name) {
                        return Ok(None);
                    }
                }
            }
            let entry = entry.expect("the smallest name is on some side");
            let [b, t, o] = here;
            let resolved = if t == b {
                o
            } else if o == b {
                t
            } else {
                match (b, t, o) {
                    (Some((bm, bid)), Some((tm, tid)), Some((om, oid)))
                        if bm.is_tree() && tm.is_tree() && om.is_tree() =>
                    {
                        match self.pick_level(bid.to_owned(), tid.to_owned(), oid.to_owned())? {
                            Some(id) => {
                                merged.push(id);
                                picked.push(Picked::Merged(
                                    EntryRef { mode: om, ..entry },
                                    merged.len() - 1,
                                ));
                                continue;
                            }
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
                picked.push(Picked::Taken(EntryRef { mode, oid, ..entry }));
            }
        }
        let mut entries: Vec<EntryRef<'_>> = picked
            .into_iter()
            .map(|p| match p {
                Picked::Taken(e) => e,
                Picked::Merged(e, i) => EntryRef {
                    oid: &merged[i],
                    ..e
                },
            })
            .collect();
        entries.sort();
        self.ensure_valid_new_tree(&entries)?;
        let tree = gix::objs::TreeRef { entries };
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

    /// A merge run reads through the fixed-slot object cache: the same trees come out, also
    /// once the cache is warm and after it evicted (more trees than slots were read).
    #[test]
    fn picks_through_the_slot_cache_equal_git_merge_tree() {
        let f = fork(
            &[
                ("d/a", Some(b"a\n")),
                ("d/e/x", Some(b"x\n")),
                ("o", Some(b"o\n")),
            ],
            &[("d/a", Some(b"ours\n")), ("o", Some(b"ours\n"))],
            &[("d/e/z", Some(b"z\n")), ("d/n/new", Some(b"n\n"))],
        );
        let expected = f.git_merge_tree();
        let repo = f.repo.clone().with_slot_cache();
        let tree = |c| repo.tree_id(c).unwrap();
        for round in 0..3 {
            let picked = repo.pick_trivially(tree(f.base), tree(f.theirs), tree(f.ours));
            assert_eq!(picked.unwrap(), Some(expected), "round {round}");
            // Fill the cache with other trees in between.
            for n in 0..40 {
                let c = repo
                    .commit_files(
                        Some(f.base),
                        &[(&format!("x/{round}/{n}"), Some(b"y\n"))],
                        "x",
                    )
                    .unwrap();
                repo.tree_id(c).unwrap();
            }
        }
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

    /// A commit whose tree holds `.GIT` (written with gix, which checks no names), child of
    /// `parent`, with `file` set to `content` too.
    fn commit_with_dotgit(repo: &Repo, parent: Oid, file: &str, content: &[u8]) -> Oid {
        let clean = repo
            .commit_files(Some(parent), &[(file, Some(content))], "edit")
            .unwrap();
        let blob = repo
            .git
            .write_blob(b"gitdir: /tmp/evil\n")
            .unwrap()
            .detach();
        let mut tree: gix::objs::Tree = repo
            .git
            .find_tree(repo.tree_id(clean).unwrap())
            .unwrap()
            .decode()
            .unwrap()
            .into();
        tree.entries.push(gix::objs::tree::Entry {
            mode: gix::objs::tree::EntryKind::Blob.into(),
            filename: ".GIT".into(),
            oid: blob,
        });
        tree.entries.sort();
        let tree = repo.git.write_object(&tree).unwrap().detach();
        let sig = repo.committer();
        let commit = gix::objs::Commit {
            tree,
            parents: std::iter::once(parent).collect(),
            author: sig.clone(),
            committer: sig,
            encoding: None,
            message: "plant .GIT".into(),
            extra_headers: Vec::new(),
        };
        repo.git.write_object(&commit).unwrap().detach()
    }

    /// The replay checks only the trees it writes (not the directories around them), and
    /// still never writes one git would refuse: neither by the tree-level pick nor by the
    /// full merge (both sides changed `a`).
    #[test]
    fn a_replayed_commit_never_writes_a_tree_git_would_reject() {
        let f = fork(
            &[("a", Some(b"1\n2\n3\n")), ("o", Some(b"o\n"))],
            &[("o", Some(b"ours\n"))],
            &[],
        );
        let sig = f.repo.committer();
        let picked = commit_with_dotgit(&f.repo, f.base, "t", b"t\n");
        let err = f.repo.replay(f.ours, &[picked], &sig).unwrap_err();
        assert!(
            err.to_string()
                .contains("refusing to write a tree git would reject: `.GIT`"),
            "{err}"
        );
        let ours = f
            .repo
            .commit_files(Some(f.ours), &[("a", Some(b"X\n2\n3\n"))], "ours a")
            .unwrap();
        let merged = commit_with_dotgit(&f.repo, f.base, "a", b"1\n2\nY\n");
        // (the pick leaves this one to the merge)
        let tree = |c| f.repo.tree_id(c).unwrap();
        let pick = f
            .repo
            .pick_trivially(tree(f.base), tree(merged), tree(ours));
        assert_eq!(pick.unwrap(), None);
        let err = f.repo.replay(ours, &[merged], &sig).unwrap_err();
        assert!(
            err.to_string()
                .contains("refusing to write a tree git would reject: `.GIT`"),
            "{err}"
        );
    }
}
