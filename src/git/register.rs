//! Registering a droid's linked worktree for its branch, without files yet: the checks gix's
//! `prepare_add_worktree` makes, done without opening every other worktree as a repository,
//! and the new HEAD's first reflog entry written with droidforge's committer (see
//! [`Repo::prepare_worktree`]). [`super::add`] checks the files out.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use super::Repo;
use crate::error::{Context, Result};

impl Repo {
    /// Register a linked worktree for `branch` at `dest` under `registration`, without files.
    /// Dropping the result rolls the registration back.
    ///
    /// Done here rather than by gix's `prepare_add_worktree`, which opens every registered
    /// worktree as a repository (configuration and all) to see which branches are taken —
    /// ~0.5M instructions per worktree, so a spawn next to 40 worktrees cost 5x one next to
    /// none, and `spawn --all` grew quadratically — and which writes the new HEAD's reflog
    /// with gix's own committer, whose time makes jiff index the zoneinfo directory (see
    /// [`super::local_time`]). The checks are the same ones, made from each worktree's HEAD
    /// and rebase/bisect files as git does. Relative worktree links (`worktree.useRelativePaths`)
    /// are left to gix.
    ///
    /// With `reuse`, the new worktree is not opened as a repository when this handle can stand
    /// in for it (see [`Repo::can_stand_in_for_new_worktrees`]); callers that write the new
    /// worktree's own settings (sparse checkout) pass `false`.
    pub(super) fn prepare_worktree(
        &self,
        dest: &Path,
        branch: gix::refs::FullName,
        registration: &Mutex<()>,
        reuse: bool,
    ) -> std::result::Result<Registration<'_>, gix::Error> {
        let _guard = registration.lock().unwrap_or_else(|e| e.into_inner());
        let config = self.git.config_snapshot();
        // Set (or invalid, which gix reports): gix's own registration.
        let relative = config.try_boolean("worktree.useRelativePaths");
        if matches!(relative, Ok(None | Some(false)))
            && let Some(own) = self.register(dest, branch.clone(), reuse)?
        {
            return Ok(Registration::Own(own));
        }
        let interrupt = AtomicBool::new(false);
        self.git
            .prepare_add_worktree(dest, gix::worktree::add::Head::Attached(branch), &interrupt)
            .map(Registration::Gix)
    }

    /// [`prepare_worktree`](Self::prepare_worktree) without gix: `None` when gix has to do it.
    fn register(
        &self,
        dest: &Path,
        branch: gix::refs::FullName,
        reuse: bool,
    ) -> std::result::Result<Option<OwnRegistration<'_>>, gix::Error> {
        let config = self.git.config_snapshot();
        let flag = |key: &str| config.try_boolean(key).ok().flatten();
        let commit = self
            .git
            .find_reference(branch.as_ref())
            .map_err(gix::Error::from_error)?
            .peel_to_commit()
            .map_err(gix::Error::from_error)?;
        let tree = commit.tree_id().map_err(gix::Error::from_error)?.detach();
        let commit = commit.id;
        let common_dir = self.common_dir();
        let own_git_dir = self.git_dir();
        let sparse_source = flag("core.sparseCheckout").unwrap_or(false);
        let worktree_config = flag("extensions.worktreeConfig").unwrap_or(false);
        // A bare main repository has no branch checked out (git skips it too).
        let main_has_worktree = !flag("core.bare").unwrap_or(false);
        let prepared = gix_worktree::add::prepare(
            dest,
            gix_worktree::add::Context {
                common_dir: &common_dir,
                git_dir: sparse_source.then_some(own_git_dir.as_path()),
            },
            gix_worktree::add::Options::default(),
        )
        .map_err(gix::Error::from_error)?;
        // Dropping `prepared` from here on rolls the registration back.
        let mut ours = None;
        let mut taken = Vec::new();
        if main_has_worktree {
            taken.extend(self.occupancy(&common_dir, &branch));
        }
        for proxy in self.git.worktrees()? {
            // Same directory `worktrees/`, spelled differently from a linked worktree: the id.
            if proxy.git_dir().file_name() == prepared.git_dir().file_name() {
                ours = Some(proxy);
                continue;
            }
            if let Ok(base) = proxy.base()
                && base == prepared.work_dir()
            {
                return Err(gix::Error::from_error(
                    gix::worktree::add::Error::DestinationRegistered {
                        destination: dest.to_owned(),
                    },
                ));
            }
            taken.extend(self.occupancy(proxy.git_dir(), &branch));
        }
        if !taken.is_empty() {
            return Err(gix::Error::from_error(
                gix::worktree::add::Error::CheckedOut {
                    name: branch,
                    worktree_dirs: taken,
                },
            ));
        }
        let Some(ours) = ours else {
            return Ok(None);
        };
        let mut head = b"ref: ".to_vec();
        head.extend_from_slice(branch.as_bstr());
        head.push(b'\n');
        std::fs::write(prepared.git_dir().join("HEAD"), head).map_err(gix::Error::from_error)?;
        if worktree_config {
            copy_worktree_config(
                &own_git_dir.join("config.worktree"),
                &prepared.git_dir().join("config.worktree"),
            )?;
        }
        // As gix does: the symbolic HEAD's first reflog entry, the branch itself untouched.
        let head_log = [gix::refs::transaction::RefEdit {
            change: gix::refs::transaction::Change::Update {
                log: gix::refs::transaction::LogChange {
                    mode: gix::refs::transaction::RefLog::Only,
                    ..Default::default()
                },
                expected: gix::refs::transaction::PreviousValue::Any,
                new: gix::refs::Target::Object(commit),
            },
            name: "HEAD".try_into().expect("valid reference name"),
            deref: false,
        }];
        let mut time = gix::date::parse::TimeBuf::default();
        if reuse && self.can_stand_in_for_new_worktrees() {
            let committer = super::identity::committer_of(&self.git);
            let refs = &self.git.refs;
            let store = gix::refs::file::Store::for_linked_worktree_opts(
                prepared.git_dir().to_owned(),
                common_dir,
                self.git.object_hash(),
                gix::refs::store::init::Options {
                    write_reflog: refs.write_reflog,
                    precompose_unicode: refs.precompose_unicode,
                    prohibit_windows_device_names: refs.prohibit_windows_device_names,
                },
            );
            // Nothing else can hold the lock of a HEAD that did not exist a moment ago.
            let fail = gix::lock::acquire::Fail::Immediately;
            store
                .transaction()
                .prepare(head_log, fail, fail)?
                .commit(Some(committer.to_ref(&mut time)))?;
            return Ok(Some(OwnRegistration {
                repo: None,
                main: &self.git,
                tree,
                prepared,
            }));
        }
        let mut repo = ours.into_repo_with_possibly_inaccessible_worktree()?;
        repo.clear_namespace();
        let committer = super::identity::committer_of(&repo);
        repo.edit_references_as(head_log, Some(committer.to_ref(&mut time)))?;
        Ok(Some(OwnRegistration {
            repo: Some(repo),
            main: &self.git,
            tree,
            prepared,
        }))
    }

    /// Can this handle check out a new linked worktree in place of the worktree's own
    /// repository? Opening that repository reads and parses all the configuration again (~0.4M
    /// instructions, a tenth of a small spawn) to get what this handle has already: the
    /// configuration is the same files (the shared ones, and with `extensions.worktreeConfig`
    /// a copy of this worktree's `config.worktree`) unless a conditional include
    /// (`includeIf`, on the git dir or the branch) can read differently there; the objects are
    /// shared. Sparse patterns copied from this worktree are left to the opened repository.
    fn can_stand_in_for_new_worktrees(&self) -> bool {
        let snapshot = self.git.config_snapshot();
        let config = snapshot.plumbing();
        let conditional = config
            .sections_by_name("includeIf")
            .is_some_and(|mut sections| sections.next().is_some());
        let sparse = !matches!(
            config.boolean("core.sparseCheckout"),
            Ok(None | Some(false))
        );
        !conditional && !sparse
    }

    /// The worktree directories (one or none) where the worktree with private git dir
    /// `git_dir` holds `branch`: checked out (following symbolic refs), or being rebased or
    /// bisected on it — what gix (and git) refuse to check out a second time.
    fn occupancy(&self, git_dir: &Path, branch: &gix::refs::FullName) -> Option<PathBuf> {
        let holds = |name: &[u8]| name == AsRef::<[u8]>::as_ref(branch.as_bstr());
        let mut taken = false;
        if let Ok(head) = std::fs::read(git_dir.join("HEAD"))
            && let Some(target) = head.trim_ascii_end().strip_prefix(b"ref: ")
        {
            let mut name = target.to_vec();
            // A chain of symbolic refs, as gix follows it (bounded: a cycle is not followed).
            for _ in 0..5 {
                if holds(&name) {
                    taken = true;
                    break;
                }
                let Ok(full) =
                    gix::refs::FullName::try_from(gix::bstr::BString::from(name.clone()))
                else {
                    break;
                };
                let Ok(Some(r)) = self.git.try_find_reference(&full) else {
                    break;
                };
                match r.target().try_name() {
                    Some(next) => name = next.as_bstr().to_vec(),
                    None => break,
                }
            }
        }
        let rebase = if git_dir.join("rebase-apply").is_dir() {
            // `git am` uses the same directory but reserves no branch.
            (!git_dir.join("rebase-apply/applying").is_file()).then_some("rebase-apply/head-name")
        } else {
            git_dir
                .join("rebase-merge")
                .is_dir()
                .then_some("rebase-merge/head-name")
        };
        let bisect = git_dir
            .join("BISECT_LOG")
            .is_file()
            .then_some("BISECT_START");
        for file in rebase.into_iter().chain(bisect) {
            let Ok(contents) = std::fs::read(git_dir.join(file)) else {
                continue;
            };
            let name = contents.trim_ascii_end();
            if name.starts_with(b"refs/heads/") {
                taken |= holds(name);
            } else if !(name.is_empty()
                || name == b"detached HEAD"
                || gix::ObjectId::from_hex(name).is_ok())
            {
                taken |= holds(&[b"refs/heads/".as_slice(), name].concat());
            }
        }
        if !taken {
            return None;
        }
        let workdir = if git_dir == self.common_dir() {
            self.main_workdir().unwrap_or_else(|_| git_dir.to_owned())
        } else {
            std::fs::read(git_dir.join("gitdir"))
                .ok()
                .map(|p| {
                    let p = PathBuf::from(String::from_utf8_lossy(p.trim_ascii_end()).into_owned());
                    p.parent().map(Path::to_owned).unwrap_or(p)
                })
                .unwrap_or_else(|| git_dir.to_owned())
        };
        Some(workdir)
    }
}

/// A linked worktree registered, HEAD and reflog written, without files yet; dropping it rolls
/// the registration back.
pub(super) enum Registration<'r> {
    Own(OwnRegistration<'r>),
    Gix(gix::worktree::add::PrepareCheckout),
}

pub(super) struct OwnRegistration<'r> {
    /// The new worktree's repository; `None` when `main` stands in for it.
    repo: Option<gix::Repository>,
    main: &'r gix::Repository,
    /// The tree to check out.
    tree: gix::ObjectId,
    prepared: gix_worktree::add::PreparedWorktree,
}

/// What a checkout of a registered worktree works with.
pub(super) struct CheckoutTarget<'a> {
    /// Configuration (checkout settings, sparse patterns) and objects.
    pub(super) repo: &'a gix::Repository,
    pub(super) workdir: PathBuf,
    pub(super) tree: gix::ObjectId,
    /// Where the new worktree's index goes.
    pub(super) index: PathBuf,
}

impl Registration<'_> {
    /// The new worktree's own repository, when it was opened (always for gix's registration,
    /// and for droidforge's unless `reuse` was asked for).
    pub(super) fn repo(&self) -> Option<&gix::Repository> {
        match self {
            Registration::Own(own) => own.repo.as_ref(),
            Registration::Gix(prepared) => Some(prepared.repo()),
        }
    }

    /// What the checkout uses.
    pub(super) fn target(&self) -> Result<CheckoutTarget<'_>> {
        let (repo, tree) = match self {
            Registration::Own(OwnRegistration {
                repo: None,
                main,
                tree,
                prepared,
            }) => {
                return Ok(CheckoutTarget {
                    repo: main,
                    workdir: prepared.work_dir().to_owned(),
                    tree: *tree,
                    index: prepared.git_dir().join("index"),
                });
            }
            Registration::Own(OwnRegistration {
                repo: Some(repo),
                tree,
                ..
            }) => (repo, *tree),
            Registration::Gix(prepared) => {
                let repo = prepared.repo();
                let tree = repo
                    .head_tree_id()
                    .context("cannot read the new worktree's HEAD")?
                    .detach();
                (repo, tree)
            }
        };
        let workdir = repo
            .workdir()
            .ok_or_else(|| crate::error::Error::failure("the new worktree has no working tree"))?
            .to_owned();
        Ok(CheckoutTarget {
            repo,
            workdir,
            tree,
            index: repo.index_path(),
        })
    }

    /// Finish the registration (the worktree is complete).
    pub(super) fn persist(self) -> Result<()> {
        match self {
            Registration::Own(own) => own
                .prepared
                .persist()
                .context("cannot finish registering the worktree"),
            Registration::Gix(prepared) => prepared
                .persist()
                .map(drop)
                .context("cannot finish registering the worktree"),
        }
    }

    /// Remove the registration and the files written so far.
    pub(super) fn rollback(self) -> Result<()> {
        match self {
            Registration::Own(own) => own
                .prepared
                .rollback()
                .context("cannot remove the unfinished worktree"),
            Registration::Gix(prepared) => prepared
                .rollback()
                .context("cannot remove the unfinished worktree"),
        }
    }
}

/// Give the new worktree the source worktree's `config.worktree`, without the settings that
/// would tie it to the source (`core.worktree`, `core.bare = true`), as gix and git do.
fn copy_worktree_config(source: &Path, destination: &Path) -> std::result::Result<(), gix::Error> {
    if !source.is_file() {
        return Ok(());
    }
    let mut config =
        gix::config::File::from_path_no_includes(source.to_owned(), gix::config::Source::Worktree)?;
    if matches!(config.boolean("core.bare"), Ok(Some(true)))
        && let Ok(mut values) = config.raw_values_mut("core.bare")
    {
        values.delete_all();
    }
    if let Ok(mut values) = config.raw_values_mut("core.worktree") {
        values.delete_all();
    }
    let mut file = std::fs::File::create(destination).map_err(gix::Error::from_error)?;
    config.write_to(&mut file).map_err(gix::Error::from_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::git::tests::git;

    /// droidforge registers a branch's worktree itself (gix's registration opened every other
    /// worktree as a repository, O(worktrees) in instructions per spawn), so it must refuse
    /// what gix and git refuse: a branch checked out, being rebased or bisected in another
    /// worktree, each time leaving nothing behind. git is the oracle for both the refusals and
    /// the worktree that is made: registered, clean, HEAD's reflog started, the source's
    /// `config.worktree` copied without its `core.worktree`.
    #[test]
    fn own_worktree_registration_refuses_what_git_refuses_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("a.txt"), "a\n").unwrap();
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-qm", "a"]);
        for b in ["busy", "rebasing", "bisecting", "free"] {
            git(&dir, &["branch", b]);
        }
        git(&dir, &["worktree", "add", "-q", "../other", "busy"]);
        git(
            &dir,
            &["worktree", "add", "-q", "--detach", "../rebaser", "main"],
        );
        let other_git = dir.join(".git/worktrees/rebaser");
        // A worktree (detached, as during both) in the middle of a rebase of `rebasing` and a
        // bisect started on `bisecting`: the state files git leaves.
        std::fs::create_dir_all(other_git.join("rebase-merge")).unwrap();
        std::fs::write(
            other_git.join("rebase-merge/head-name"),
            "refs/heads/rebasing\n",
        )
        .unwrap();
        std::fs::write(other_git.join("BISECT_LOG"), "").unwrap();
        std::fs::write(other_git.join("BISECT_START"), "bisecting\n").unwrap();
        git(&dir, &["config", "extensions.worktreeConfig", "true"]);
        git(
            &dir,
            &[
                "config",
                "--worktree",
                "core.worktree",
                &dir.display().to_string(),
            ],
        );
        git(&dir, &["config", "--worktree", "droidforge.probe", "kept"]);

        let repo = Repo::open(&dir).unwrap();
        let registration = Mutex::new(());
        for branch in ["main", "busy", "rebasing", "bisecting"] {
            let dest = tmp.path().join(format!("wt-{branch}"));
            let err = repo.add_worktree_shared(&dest, branch, &registration, 1);
            assert!(err.is_err(), "{branch}: a second checkout was allowed");
            let by_git = Repo::git_cli(&dir, &["worktree", "add", "-q", "../git-wt", branch]);
            assert!(by_git.is_err(), "{branch}: git allows it");
            assert!(!dest.exists(), "{branch}: a directory was left");
            assert_eq!(
                git(&dir, &["worktree", "list", "--porcelain"])
                    .matches("worktree ")
                    .count(),
                3,
                "{branch}: a registration was left"
            );
        }

        let dest = tmp.path().join("wt-free");
        repo.add_worktree_shared(&dest, "free", &registration, 1)
            .unwrap();
        assert_eq!(git(&dest, &["status", "--porcelain", "--ignored"]), "");
        assert_eq!(
            git(&dest, &["symbolic-ref", "HEAD"]).trim(),
            "refs/heads/free"
        );
        assert_eq!(git(&dest, &["reflog", "show", "HEAD"]).lines().count(), 1);
        assert_eq!(git(&dest, &["config", "droidforge.probe"]).trim(), "kept");
        assert_eq!(
            git(&dest, &["rev-parse", "--show-toplevel"]).trim(),
            dest.canonicalize().unwrap().display().to_string()
        );
        git(&dir, &["fsck", "--strict", "--no-progress"]);
    }

    /// A new worktree is checked out with this handle's settings instead of opening its own
    /// repository, unless a conditional include could read differently there. Here the
    /// settings differ by branch (`includeIf "onbranch:…"` turns symlinks off): the new
    /// worktree must get what `git worktree add` gives it, a plain file, not this handle's
    /// symlink.
    #[cfg(unix)]
    #[test]
    fn a_branch_conditional_include_applies_to_the_new_worktree_s_checkout() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("target.txt"), "t\n").unwrap();
        std::os::unix::fs::symlink("target.txt", dir.join("link")).unwrap();
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-qm", "a link"]);
        git(&dir, &["branch", "plain"]);
        git(&dir, &["branch", "plain-git"]);
        let extra = tmp.path().join("no-symlinks.cfg");
        std::fs::write(&extra, "[core]\n\tsymlinks = false\n").unwrap();
        for branch in ["plain", "plain-git"] {
            let key = format!("includeIf.onbranch:{branch}.path");
            git(&dir, &["config", &key, &extra.display().to_string()]);
        }
        let repo = Repo::open(&dir).unwrap();
        assert!(!repo.can_stand_in_for_new_worktrees());

        let ours = tmp.path().join("ours");
        repo.add_worktree_shared(&ours, "plain", &Mutex::new(()), 1)
            .unwrap();
        let theirs = tmp.path().join("theirs");
        git(
            &dir,
            &[
                "worktree",
                "add",
                "-q",
                &theirs.display().to_string(),
                "plain-git",
            ],
        );
        let is_link = |p: &Path| {
            std::fs::symlink_metadata(p.join("link"))
                .unwrap()
                .file_type()
                .is_symlink()
        };
        assert!(!is_link(&theirs), "git made a symlink");
        assert_eq!(is_link(&ours), is_link(&theirs));
        assert_eq!(git(&ours, &["status", "--porcelain"]), "");

        // Without conditional includes, this handle stands in (and the result is the same).
        git(
            &dir,
            &["config", "--remove-section", "includeIf.onbranch:plain"],
        );
        git(
            &dir,
            &["config", "--remove-section", "includeIf.onbranch:plain-git"],
        );
        let repo = Repo::open(&dir).unwrap();
        assert!(repo.can_stand_in_for_new_worktrees());
        let plain = tmp.path().join("stood-in");
        git(&dir, &["branch", "stood-in"]);
        repo.add_worktree_shared(&plain, "stood-in", &Mutex::new(()), 1)
            .unwrap();
        assert!(is_link(&plain));
        assert_eq!(git(&plain, &["status", "--porcelain", "--ignored"]), "");
        assert_eq!(git(&plain, &["reflog", "show", "HEAD"]).lines().count(), 1);
        git(&dir, &["fsck", "--strict", "--no-progress"]);
    }
}
