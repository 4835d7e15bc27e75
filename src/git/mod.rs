//! The git layer: the only module that talks to gix (and, where gix has no API, to the `git`
//! binary). Everything above works with [`Repo`], [`Oid`] and plain strings/paths.

mod add;
mod checkout;
mod config;
mod diff;
mod dirty;
mod exclude;
mod fastpick;
pub mod fsck_names;
mod history;
mod housekeeping;
mod identity;
mod local_time;
mod object_cache;
mod porcelain;
mod rebase;
mod refs;
mod register;
pub mod remote;
mod replay;
mod reuse;
mod scratch;
mod scratch_move;
pub mod serde_hex;
mod short;
mod sparse;
mod staged;
mod store;
mod worktree;

pub use checkout::CheckoutUpdate;
pub use diff::{ChangeKind, ChangeSet, PathChange};
pub use dirty::{DirtyPaths, Unfinished};
pub use fsck_names::InvalidEntry;
pub use rebase::RebaseOutcome;
pub use refs::{Expect, RefMoved, valid_branch_name};
pub use replay::{ConflictEntry, ReplayOutcome, Replayed};
pub use scratch::{InterruptGuard, ScratchLease, ScratchPool, catch_interrupts, interrupted};
pub use short::{SHORT_LEN, ShortOid, short, short_hex};
pub use sparse::{SparseError, SparsePatterns};
pub use worktree::{DirtyCounts, WorktreeInfo};

use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};

/// A git object id.
pub type Oid = gix::ObjectId;

/// A name, email and time, as written into commits.
pub type Signature = gix::actor::Signature;

/// The identity droidforge commits as when git has none configured (CI machines, hermetic
/// environments): for the commits it writes itself and for an agent's leftover changes.
const FALLBACK_NAME: &str = "droidforge";
const FALLBACK_EMAIL: &str = "droidforge@localhost";

/// The fallback identity as gix configuration: used only when git has no committer configured,
/// also by gix itself (the reflog of a new worktree's HEAD needs one), and kept by the
/// repositories gix opens on its own (a linked worktree it adds).
fn fallback_identity() -> [String; 2] {
    [
        format!("gitoxide.committer.nameFallback={FALLBACK_NAME}"),
        format!("gitoxide.committer.emailFallback={FALLBACK_EMAIL}"),
    ]
}

/// Parse a full hex object id.
pub fn parse_oid(hex: &str) -> Option<Oid> {
    Oid::from_hex(hex.trim().as_bytes()).ok()
}

/// An identity (author or committer) with its time, as stored in a commit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Person {
    pub name: String,
    pub email: String,
    /// Seconds since the epoch.
    pub time: i64,
}

/// What the rest of droidforge needs to know about one commit.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub id: Oid,
    pub tree: Oid,
    pub parents: Vec<Oid>,
    pub author: Person,
    pub summary: String,
}

/// The most memory a handle's cache of decoded objects holds (least recently used first out).
/// Replaying and diffing read the same trees again and again (the integration tip, the
/// directories a commit touches), and a tree read from a loose object costs an inflate.
const OBJECT_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// The most memory the delta-base cache of a long run's handle holds ([`Repo::with_slot_cache`]).
/// Callgrind, merge of the 70 git/git topics: 3.84 G instructions with gix's default (64
/// entries, up to 96 MB; 4.5 MB held at the peak), 3.86 G with 4 MiB, 3.97 G with 1 MiB (its
/// rename checks read blobs whose delta chains then resolve again).
const PACK_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// An open repository, discovered from a directory that may be the main worktree or any
/// linked (droid) worktree.
pub struct Repo {
    pub(crate) git: gix::Repository,
    /// The blob resource cache of tree diffs, made once per handle (see [`Repo::tree_changes`]).
    diff_cache: diff::DiffCache,
}

impl Clone for Repo {
    fn clone(&self) -> Self {
        Repo::wrap(self.git.clone())
    }
}

/// `git -C dir`, for the few things gix has no API for; run it with [`run_git`].
pub(crate) fn git_in(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("git");
    cmd.arg("-C").arg(dir);
    cmd
}

/// Run a `git` command to completion; the one place that says git could not be started.
pub(crate) fn run_git(cmd: &mut std::process::Command) -> Result<std::process::Output> {
    cmd.output().map_err(|e| {
        Error::failure("cannot run `git`")
            .with_source(e)
            .hint("install git and put it on PATH")
    })
}

impl Repo {
    /// Find the repository containing `dir`.
    pub fn discover(dir: &Path) -> Result<Repo> {
        let mut trust = gix::sec::trust::Mapping::<gix::open::Options>::default();
        trust.full = trust.full.config_overrides(fallback_identity());
        trust.reduced = trust.reduced.config_overrides(fallback_identity());
        let git = gix::ThreadSafeRepository::discover_opts(dir, Default::default(), trust)
            .map(gix::Repository::from)
            .map_err(|e| {
                unsupported_format(dir, &e).unwrap_or_else(|| {
                    Error::failure(format!(
                        "`{}` is not inside a git repository",
                        dir.display()
                    ))
                    .with_source(e)
                    .hint("run droidforge inside a git repository, or create one with `git init`")
                })
            })?;
        Repo::from_git(git, dir)
    }

    /// Open the repository at exactly `dir`.
    pub fn open(dir: &Path) -> Result<Repo> {
        let opts = gix::open::Options::default().config_overrides(fallback_identity());
        let git = gix::open_opts(dir, opts).map_err(|e| {
            unsupported_format(dir, &e).unwrap_or_else(|| {
                Error::failure(format!(
                    "cannot open the git repository at `{}`",
                    dir.display()
                ))
                .with_source(e)
            })
        })?;
        Repo::from_git(git, dir)
    }

    fn from_git(git: gix::Repository, dir: &Path) -> Result<Repo> {
        // gix reads only the files ref backend; on a reftable repository it would see no
        // branches at all, so refuse instead of acting on an empty view.
        let ref_storage = git
            .config_snapshot()
            .string("extensions.refStorage")
            .map(|v| v.to_string());
        if let Some(format) = ref_storage.filter(|v| !v.eq_ignore_ascii_case("files")) {
            return Err(Error::failure(format!(
                "`{}` uses the `{format}` ref format (extensions.refStorage), which droidforge does not support",
                dir.display()
            ))
            .hint("droidforge needs the `files` ref format; convert with `git refs migrate --ref-format=files` (git 2.46+) or use a clone made without `--ref-format=reftable`"));
        }
        Ok(Repo::wrap(git))
    }

    /// Every handle gets the object cache, also a clone: gix's `Repository::clone` sets its
    /// caches up again from git's config, where the object cache is off.
    fn wrap(mut git: gix::Repository) -> Repo {
        git.object_cache_size_if_unset(OBJECT_CACHE_BYTES);
        Repo {
            git,
            diff_cache: Default::default(),
        }
    }

    /// The shared `.git` directory of all worktrees.
    pub fn common_dir(&self) -> PathBuf {
        absolute(self.git.common_dir())
    }

    /// This worktree's private git dir.
    pub fn git_dir(&self) -> PathBuf {
        absolute(self.git.git_dir())
    }

    /// The working directory this repository handle was opened in (main or linked).
    pub fn workdir(&self) -> Option<PathBuf> {
        self.git.workdir().map(absolute)
    }

    /// The main worktree's root (the one holding `.git`), where the forge's own files live.
    pub fn main_workdir(&self) -> Result<PathBuf> {
        let main = self
            .git
            .main_repo()
            .context("cannot open the main worktree")?;
        main.workdir().map(absolute).ok_or_else(|| {
            Error::failure("the repository is bare")
                .hint("droidforge needs a repository with a working tree")
        })
    }

    /// Is this handle inside a linked worktree (not the main one)?
    pub fn is_linked_worktree(&self) -> bool {
        self.git_dir() != self.common_dir()
    }

    /// The short name of the branch checked out here (also when it has no commits yet).
    pub fn head_branch(&self) -> Option<String> {
        let head = self.git.head_name().ok()??;
        Some(head.shorten().to_string())
    }

    /// The commit HEAD points at, if any.
    pub fn head_commit(&self) -> Option<Oid> {
        self.git.head_id().ok().map(|id| id.detach())
    }

    /// Resolve a revision (`main`, `HEAD~2`, a hash) to a commit.
    pub fn rev_parse(&self, spec: &str) -> Result<Oid> {
        let id = self.git.rev_parse_single(spec).map_err(|e| {
            Error::usage(format!("cannot resolve revision `{spec}`")).with_source(e)
        })?;
        let commit = id
            .object()
            .context("cannot read object")?
            .peel_to_kind(gix::object::Kind::Commit)
            .map_err(|e| {
                Error::usage(format!("revision `{spec}` is not a commit")).with_source(e)
            })?;
        Ok(commit.id)
    }

    /// Read a file's bytes from a commit's tree; `None` when the path is not a file there.
    pub fn read_file_at(&self, commit: Oid, path: &str) -> Result<Option<Vec<u8>>> {
        let Some(entry) = self.entry_at(commit, path)? else {
            return Ok(None);
        };
        if !entry.mode().is_blob() {
            return Ok(None);
        }
        let obj = entry
            .object()
            .with_context(|| format!("cannot read `{path}`"))?;
        Ok(Some(obj.detach().data))
    }

    /// The blob id of a file in a commit's tree; `None` when the path is not a file there.
    /// Cheaper than [`read_file_at`](Self::read_file_at) when the id is all a cache needs.
    pub fn file_id_at(&self, commit: Oid, path: &str) -> Result<Option<Oid>> {
        let Some(entry) = self.entry_at(commit, path)? else {
            return Ok(None);
        };
        Ok(entry.mode().is_blob().then(|| entry.object_id()))
    }

    /// Is `path` a directory (tree) in a commit's tree?
    pub fn is_dir_at(&self, commit: Oid, path: &str) -> Result<bool> {
        Ok(self
            .entry_at(commit, path)?
            .is_some_and(|e| e.mode().is_tree()))
    }

    /// The entry at `path` in a commit's tree, if there is one.
    fn entry_at(&self, commit: Oid, path: &str) -> Result<Option<gix::object::tree::Entry<'_>>> {
        self.tree_of(commit)?
            .lookup_entry_by_path(path)
            .with_context(|| format!("cannot look up `{path}`"))
    }

    /// The bytes of a blob.
    pub fn read_blob(&self, id: Oid) -> Result<Vec<u8>> {
        let obj = self
            .git
            .find_object(id)
            .with_context(|| format!("object {id} is missing"))?;
        Ok(obj.detach().data)
    }

    /// The root tree id of a commit.
    pub fn tree_id(&self, commit: Oid) -> Result<Oid> {
        Ok(self.tree_of(commit)?.id)
    }

    /// The commit `id`; an error naming it when it is missing (or not a commit).
    pub(crate) fn commit(&self, id: Oid) -> Result<gix::Commit<'_>> {
        self.git
            .find_commit(id)
            .with_context(|| format!("commit {id} is missing"))
    }

    pub(crate) fn tree_of(&self, commit: Oid) -> Result<gix::Tree<'_>> {
        let commit = self.commit(commit)?;
        commit
            .tree()
            .with_context(|| format!("cannot read the tree of {}", commit.id))
    }

    /// Every file path (blobs, symlinks, submodules) in a commit's tree.
    pub fn tree_paths(&self, commit: Oid) -> Result<Vec<String>> {
        let tree = self.tree_of(commit)?;
        let mut recorder = gix::traverse::tree::Recorder::default();
        tree.traverse()
            .breadthfirst(&mut recorder)
            .context("cannot walk the tree")?;
        Ok(recorder
            .records
            .into_iter()
            .filter(|e| !e.mode.is_tree())
            .map(|e| e.filepath.to_string())
            .collect())
    }

    pub fn commit_info(&self, id: Oid) -> Result<CommitInfo> {
        let commit = self.commit(id)?;
        let decoded = commit
            .decode()
            .with_context(|| format!("cannot decode commit {id}"))?;
        let author = decoded
            .author()
            .with_context(|| format!("commit {id} has a malformed author"))?;
        Ok(CommitInfo {
            id,
            tree: decoded.tree(),
            parents: decoded.parents().collect(),
            author: Person {
                name: author.name.to_string(),
                email: author.email.to_string(),
                time: author.time().map(|t| t.seconds).unwrap_or(0),
            },
            summary: decoded.message_summary().to_string(),
        })
    }

    /// Why `id` cannot be merged as a commit (`None` when it is one): it names a blob, a tree,
    /// a tag or nothing at all.
    pub fn not_a_commit(&self, id: Oid) -> Result<Option<String>> {
        match self.git.try_find_header(id) {
            Ok(Some(h)) if h.kind() == gix::object::Kind::Commit => Ok(None),
            Ok(Some(h)) => Ok(Some(format!("points at a {}, not a commit", h.kind()))),
            Ok(None) => Ok(Some(format!(
                "points at {}, which is not in the repository",
                short(id)
            ))),
            Err(e) => Err(Error::failure(format!("cannot read object {id}")).with_source(e)),
        }
    }

    /// The full message of a commit (trailers included).
    pub fn commit_message(&self, id: Oid) -> Result<String> {
        let commit = self.commit(id)?;
        Ok(String::from_utf8_lossy(commit.message_raw_sloppy()).into_owned())
    }

    /// Does `id` exist as a commit in the object database?
    pub fn has_commit(&self, id: Oid) -> bool {
        self.git.find_commit(id).is_ok()
    }

    pub fn merge_base(&self, a: Oid, b: Oid) -> Result<Option<Oid>> {
        let base = self.git.merge_base(a, b).map_err(|e| {
            Error::failure(format!("cannot compute the merge base of {a} and {b}")).with_source(e)
        })?;
        Ok(base.map(|id| id.detach()))
    }

    /// Is `ancestor` reachable from `descendant` (or equal)?
    pub fn is_ancestor(&self, ancestor: Oid, descendant: Oid) -> Result<bool> {
        if ancestor == descendant {
            return Ok(true);
        }
        Ok(self.merge_base(ancestor, descendant)? == Some(ancestor))
    }

    /// Commits reachable from `tip` but not from `base`, oldest first (parents before children).
    pub fn commits_between(&self, base: Option<Oid>, tip: Oid) -> Result<Vec<Oid>> {
        let walk = self.git.rev_walk([tip]);
        let walk = match base {
            Some(b) => walk.with_hidden([b]),
            None => walk,
        };
        let mut out = Vec::new();
        for info in walk.all().context("cannot walk history")? {
            let info = info.context("cannot walk history")?;
            out.push(info.id);
        }
        out.reverse();
        Ok(out)
    }

    /// (ahead, behind): commits in `a` not in `b`, and in `b` not in `a`.
    pub fn ahead_behind(&self, a: Oid, b: Oid) -> Result<(usize, usize)> {
        if a == b {
            return Ok((0, 0));
        }
        let ahead = self.count_between(b, a)?;
        let behind = self.count_between(a, b)?;
        Ok((ahead, behind))
    }

    fn count_between(&self, hidden: Oid, tip: Oid) -> Result<usize> {
        let walk = self
            .git
            .rev_walk([tip])
            .with_hidden([hidden])
            .all()
            .context("cannot walk history")?;
        Ok(walk.filter(|r| r.is_ok()).count())
    }

    /// Write a commit that changes some files on top of `parent` (or a root commit).
    /// `None` content deletes the path.
    pub fn commit_files(
        &self,
        parent: Option<Oid>,
        files: &[(&str, Option<&[u8]>)],
        message: &str,
    ) -> Result<Oid> {
        let base_tree = match parent {
            Some(p) => self.tree_id(p)?,
            None => gix::ObjectId::empty_tree(gix::hash::Kind::Sha1),
        };
        let mut editor = self.git.edit_tree(base_tree).context("cannot edit tree")?;
        for (path, content) in files {
            match content {
                Some(bytes) => {
                    let blob = self
                        .git
                        .write_blob(bytes)
                        .context("cannot write blob")?
                        .detach();
                    editor
                        .upsert(*path, gix::object::tree::EntryKind::Blob, blob)
                        .with_context(|| format!("cannot place `{path}` in the tree"))?;
                }
                None => {
                    editor
                        .remove(*path)
                        .with_context(|| format!("cannot remove `{path}`"))?;
                }
            }
        }
        let tree = editor.write().context("cannot write tree")?.detach();
        self.ensure_valid_tree(tree, &[base_tree])?;
        let sig = self.committer();
        let commit = gix::objs::Commit {
            tree,
            parents: parent.into_iter().collect(),
            author: sig.clone(),
            committer: sig,
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        Ok(self
            .git
            .write_object(&commit)
            .context("cannot write commit")?
            .detach())
    }

    /// Run the `git` binary in `dir` for the few things gix has no API for. Output is returned
    /// on success; failure includes git's stderr.
    pub fn git_cli(dir: &Path, args: &[&str]) -> Result<String> {
        let out = run_git(git_in(dir).args(args))?;
        if !out.status.success() {
            return Err(Error::failure(format!(
                "`git {}` failed in `{}`: {}",
                args.join(" "),
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// This handle with a small cache of decoded objects in fixed, reused slots instead of
    /// gix's (see [`object_cache`]): for a long run that reads the same few trees again and
    /// again, whose memory must not grow with the work it does. Its cache of delta bases (gix
    /// keeps 64 decoded pack entries, up to 96 MB) is bounded in bytes too: 64 entries grow
    /// with the trees, and trees grow with the directories a run's commits keep adding to.
    pub fn with_slot_cache(mut self) -> Repo {
        self.git
            .objects
            .set_object_cache(|| Box::new(object_cache::SlotCache::default()));
        self.git.objects.set_pack_cache(store::new_pack_cache);
        self
    }

    /// A handle whose new objects stay in memory (for dry runs: nothing reaches the odb).
    pub fn in_memory(&self) -> Repo {
        Repo::wrap(self.git.clone().with_object_memory())
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_owned())
    }
}

/// A repository gix refuses because of its object format (SHA-256: gix is built here for SHA-1
/// only) gets an error naming the format, not "not a git repository".
fn unsupported_format(dir: &Path, e: &dyn std::error::Error) -> Option<Error> {
    let mut chain = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        chain.push(err.to_string());
        cur = err.source();
    }
    let text = chain.join(": ");
    if !text.contains("extensions.objectFormat") {
        return None;
    }
    let format = text
        .split("input=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("unknown");
    Some(
        Error::failure(format!(
            "`{}` is a git repository in the `{format}` object format (extensions.objectFormat), which droidforge does not support",
            dir.display()
        ))
        .hint("droidforge works with SHA-1 repositories only; use a repository made by `git init` without `--object-format=sha256`"),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// This process's mappings of pack files under `dir` (from `/proc/self/smaps`): how many
    /// there are, and their resident pages in kB.
    pub(crate) fn pack_mappings(dir: &Path) -> (usize, u64) {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let dir = dir.to_str().unwrap();
        let (mut count, mut rss, mut ours) = (0, 0, false);
        for line in smaps.lines() {
            let mut fields = line.split_whitespace();
            let first = fields.next().unwrap_or("");
            if first.contains('-') && !first.ends_with(':') {
                let path = fields.nth(4).unwrap_or("");
                ours = path.starts_with(dir) && path.ends_with(".pack");
                count += usize::from(ours);
            } else if ours && first == "Rss:" {
                rss += fields.next().unwrap().parse::<u64>().unwrap();
            }
        }
        (count, rss)
    }

    /// Runs `git` in `dir` with a throwaway identity and returns its stdout; panics when git
    /// fails. The git layer's unit tests use git as the oracle.
    pub(super) fn git(dir: &Path, args: &[&str]) -> String {
        let args = [&["-c", "user.name=t", "-c", "user.email=t@t"][..], args].concat();
        Repo::git_cli(dir, &args).unwrap_or_else(|e| panic!("{}", e.full_message()))
    }

    /// gix's `Repository::clone` configures the caches afresh from git's config, where the
    /// object cache is off: every clone (the merge's handle, a dry run's in-memory one) read
    /// and inflated each tree again on every use (12,000 object reads, 6 % hits, for a merge
    /// of 70 real topics).
    #[test]
    fn a_cloned_handle_lost_the_object_cache() {
        let dir = tempfile::tempdir().unwrap();
        Repo::git_cli(dir.path(), &["init", "-q", "-b", "main"]).unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        assert!(repo.git.objects.has_object_cache());
        assert!(repo.clone().git.objects.has_object_cache());
        assert!(repo.in_memory().git.objects.has_object_cache());
    }
}
