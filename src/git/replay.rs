//! In-memory rebase: replay commits onto a new base with `merge_trees`, no checkout.
//!
//! Produces the same trees as `git replay` (and `git merge-tree --write-tree` per step), keeps
//! author, author date, message and encoding, drops signatures, and sets the committer.

use gix::merge::tree::TreatAsUnresolved;

use super::{Oid, Repo};
use crate::error::{Context, Error, Result};

/// One conflicting path found while replaying.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConflictEntry {
    pub path: String,
    /// Human-readable kind: `content`, `add/add`, `modify/delete`, `rename/rename`, …
    pub kind: String,
}

/// A successfully replayed commit: original id and rewritten id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub original: Oid,
    pub rewritten: Oid,
    /// The rewritten commit changes exactly what the original changed (same paths, same
    /// entries before and after): its tree is the new base with the original's changes applied
    /// without a content merge. Lets callers reuse what they know of the original's change.
    pub same_change: bool,
}

#[derive(Debug, Clone)]
pub enum ReplayOutcome {
    /// Every commit applied; `tip` is the new head.
    Clean { tip: Oid, commits: Vec<Replayed> },
    /// Commit `at` could not be applied.
    Conflict {
        at: Oid,
        conflicts: Vec<ConflictEntry>,
    },
}

impl Repo {
    /// Replay `commits` (oldest first, each with exactly one parent) onto `onto`.
    pub fn replay(
        &self,
        onto: Oid,
        commits: &[Oid],
        committer: &gix::actor::Signature,
    ) -> Result<ReplayOutcome> {
        let options = self
            .git
            .tree_merge_options()
            .context("cannot read merge options")?;
        let mut tip = onto;
        let mut tip_tree = self.tree_id(onto)?;
        let mut done = Vec::with_capacity(commits.len());
        for &id in commits {
            let commit = self.commit(id)?;
            let decoded = commit
                .decode()
                .with_context(|| format!("cannot decode commit {id}"))?;
            let parents: Vec<Oid> = decoded.parents().collect();
            if parents.len() > 1 {
                return Err(Error::failure(format!(
                    "commit {id} is a merge commit; rebase replays linear history only"
                ))
                .hint("rebase the droid branch to a linear history"));
            }
            let base_tree = match parents.first() {
                Some(p) => self.tree_id(*p)?,
                None => gix::ObjectId::empty_tree(gix::hash::Kind::Sha1),
            };
            let their_tree = decoded.tree();
            let mut same_change = parents.len() == 1;
            let new_tree = if base_tree == tip_tree {
                their_tree
            } else if base_tree == their_tree {
                tip_tree
            } else if let Some(tree) = self.pick_trivially(base_tree, their_tree, tip_tree)? {
                tree
            } else {
                same_change = false;
                let labels = gix::merge::blob::builtin_driver::text::Labels {
                    ancestor: Some("base".into()),
                    current: Some("integration".into()),
                    other: Some("droid".into()),
                };
                let out = self
                    .git
                    .merge_trees(base_tree, tip_tree, their_tree, labels, options.clone())
                    .with_context(|| format!("cannot merge commit {id}"))?;
                if has_conflicts(&out.conflicts) {
                    return Ok(ReplayOutcome::Conflict {
                        at: id,
                        conflicts: describe_conflicts(&out.conflicts),
                    });
                }
                self.write_merged_tree(out.tree)?
            };
            // Whatever path produced it, nothing git would refuse goes into a commit: the
            // trees the pick or the merge wrote were checked as they were written. What they
            // take whole is as valid as where it comes from (droid commits are validated before
            // they are replayed).
            let rewritten = gix::objs::Commit {
                tree: new_tree,
                parents: std::iter::once(tip).collect(),
                author: decoded
                    .author()
                    .context("malformed author")?
                    .to_owned()
                    .context("malformed author")?,
                committer: committer.clone(),
                encoding: decoded.encoding.map(|e| e.to_owned()),
                message: decoded.message.to_owned(),
                extra_headers: decoded
                    .extra_headers
                    .iter()
                    .filter(|(k, _)| !k.starts_with(b"gpgsig"))
                    .map(|(k, v)| ((*k).to_owned(), v.as_ref().to_owned()))
                    .collect(),
            };
            let new_id = self
                .git
                .write_object(&rewritten)
                .context("cannot write commit")?
                .detach();
            done.push(Replayed {
                original: id,
                rewritten: new_id,
                same_change,
            });
            tip = new_id;
            tip_tree = new_tree;
        }
        Ok(ReplayOutcome::Clean { tip, commits: done })
    }

    /// Write a merged tree, refusing a tree git would reject (only the trees the merge
    /// changed are written, so only those are checked). Uses the plumbing editor: the porcelain
    /// one checks that every entry of every written tree exists (a `stat` per entry on a loose
    /// object store), which made replay ~1.5x slower than `git replay`. Entries come from trees
    /// already in the odb.
    fn write_merged_tree(&self, editor: gix::object::tree::Editor<'_>) -> Result<Oid> {
        let mut editor = editor.detach();
        let repo = &self.git;
        editor.write(|tree| -> Result<Oid> {
            let entries: Vec<gix::objs::tree::EntryRef<'_>> = tree
                .entries
                .iter()
                .map(|e| gix::objs::tree::EntryRef {
                    mode: e.mode,
                    filename: e.filename.as_ref(),
                    oid: &e.oid,
                })
                .collect();
            self.ensure_valid_new_tree(&entries)?;
            Ok(repo
                .write_object(tree)
                .context("cannot write merged tree")?
                .detach())
        })
    }

    /// One `--no-ff` merge commit of `theirs` into `ours`, or the conflicts that prevent it.
    pub fn merge_commit(
        &self,
        ours: Oid,
        theirs: Oid,
        message: &str,
        committer: &gix::actor::Signature,
    ) -> Result<ReplayOutcome> {
        let base = self.merge_base(ours, theirs)?;
        let base_tree = match base {
            Some(b) => self.tree_id(b)?,
            None => gix::ObjectId::empty_tree(gix::hash::Kind::Sha1),
        };
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: Some("base".into()),
            current: Some("integration".into()),
            other: Some("droid".into()),
        };
        let options = self
            .git
            .tree_merge_options()
            .context("cannot read merge options")?;
        let out = self
            .git
            .merge_trees(
                base_tree,
                self.tree_id(ours)?,
                self.tree_id(theirs)?,
                labels,
                options,
            )
            .context("cannot merge")?;
        if has_conflicts(&out.conflicts) {
            return Ok(ReplayOutcome::Conflict {
                at: theirs,
                conflicts: describe_conflicts(&out.conflicts),
            });
        }
        let tree = self.write_merged_tree(out.tree)?;
        let commit = gix::objs::Commit {
            tree,
            parents: [ours, theirs].into_iter().collect(),
            author: committer.clone(),
            committer: committer.clone(),
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        let id = self
            .git
            .write_object(&commit)
            .context("cannot write commit")?
            .detach();
        Ok(ReplayOutcome::Clean {
            tip: id,
            commits: vec![Replayed {
                original: theirs,
                rewritten: id,
                same_change: false,
            }],
        })
    }
}

/// git's merge-ort reports a path added inside a directory that the other side renamed as a
/// conflict ("file location"); gix resolves it silently. Keep it a conflict, like git.
fn is_conflict(c: &gix::merge::tree::Conflict) -> bool {
    c.is_unresolved(TreatAsUnresolved::git())
        || matches!(
            c.resolution,
            Ok(gix::merge::tree::Resolution::SourceLocationAffectedByRename { .. })
        )
}

fn has_conflicts(conflicts: &[gix::merge::tree::Conflict]) -> bool {
    conflicts.iter().any(is_conflict)
}

fn describe_conflicts(conflicts: &[gix::merge::tree::Conflict]) -> Vec<ConflictEntry> {
    use gix::merge::tree::{Resolution, ResolutionFailure};
    let mut out: Vec<ConflictEntry> = Vec::new();
    for c in conflicts {
        if !is_conflict(c) {
            continue;
        }
        let (ours, theirs) = c.changes_in_resolution();
        let failure_kind = |f: &ResolutionFailure| -> &'static str {
            match f {
                ResolutionFailure::OursRenamedTheirsRenamedDifferently { .. } => "rename/rename",
                ResolutionFailure::OursRenamedTheirsRenamedToSameLocation => {
                    "rename/rename (same target)"
                }
                ResolutionFailure::OursModifiedTheirsDirectoryThenOursRenamed { .. } => {
                    "file/directory"
                }
                ResolutionFailure::OursDirectoryTheirsNonDirectoryTheirsRenamed { .. } => {
                    "file/directory"
                }
                ResolutionFailure::OursAddedTheirsAddedTypeMismatch { .. } => {
                    "add/add (type mismatch)"
                }
                ResolutionFailure::OursModifiedTheirsRenamedTypeMismatch => "rename vs type change",
                ResolutionFailure::OursDeletedTheirsRenamed => "delete/rename",
                ResolutionFailure::OursModifiedTheirsDeleted => "modify/delete",
                ResolutionFailure::SubmoduleMerge => "submodule",
                ResolutionFailure::SubmoduleAddAdd => "submodule add/add",
                ResolutionFailure::Unknown => "unsupported",
            }
        };
        let kind = match &c.resolution {
            Err(f) | Ok(Resolution::Forced(f)) => failure_kind(f).to_owned(),
            Ok(Resolution::OursModifiedTheirsModifiedThenBlobContentMerge { .. }) => {
                let added_both =
                    matches!(ours, gix::diff::tree_with_rewrites::Change::Addition { .. })
                        && matches!(
                            theirs,
                            gix::diff::tree_with_rewrites::Change::Addition { .. }
                        );
                if added_both { "add/add" } else { "content" }.to_owned()
            }
            Ok(Resolution::OursModifiedTheirsRenamedAndChangedThenRename { .. }) => {
                "rename vs edit".to_owned()
            }
            Ok(Resolution::SourceLocationAffectedByRename { .. }) => {
                "file location (directory renamed)".to_owned()
            }
        };
        // Like `git merge-tree`, name the rename sources too (they hold the base stage), but
        // not whole directories (a directory rename shows up as a change of a tree entry).
        let mut files: Vec<_> = [ours, theirs]
            .into_iter()
            .filter(|change| !change.entry_mode().is_tree())
            .collect();
        if files.is_empty() {
            files = vec![ours, theirs];
        }
        // git names the place the file would have moved to.
        if let Ok(Resolution::SourceLocationAffectedByRename { final_location }) = &c.resolution {
            out.push(ConflictEntry {
                path: final_location.to_string(),
                kind: kind.clone(),
            });
        }
        for path in files.into_iter().flat_map(|change| {
            [
                change.source_location().to_string(),
                change.location().to_string(),
            ]
        }) {
            if !out.iter().any(|e| e.path == path) {
                out.push(ConflictEntry {
                    path,
                    kind: kind.clone(),
                });
            }
        }
    }
    out
}
