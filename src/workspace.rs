//! The context every command starts from: the repository, the manifest, the state
//! directory and the integration branch — found from any directory in the main worktree or
//! in any droid worktree.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::forge::manifest::{Forge, MANIFEST_PATH};
use crate::git::{Oid, Repo};
use crate::state::{Event, EventKind, StateDir};

/// What can be wrong with the place a command runs in.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The working tree has no `.droidforge/forge.toml`.
    #[error("no forge manifest at `{}`", path.display())]
    NoManifest { path: PathBuf },
}

impl crate::error::Typed for WorkspaceError {
    fn exit_kind(&self) -> crate::error::ExitKind {
        match self {
            WorkspaceError::NoManifest { .. } => crate::error::ExitKind::Usage,
        }
    }
}

/// Prefix of the refs that mark a droid's commit ready to merge.
pub const READY_PREFIX: &str = "refs/droidforge/ready/";
/// Prefix of the refs that keep the integration tip from before each merge.
pub const BACKUP_PREFIX: &str = "refs/droidforge/backup/";

pub struct Workspace {
    pub repo: Repo,
    /// The main worktree's root.
    pub root: PathBuf,
    pub forge: Forge,
    pub state: StateDir,
    /// Short name of the integration branch.
    pub integration: String,
    /// The directory the command was started in.
    pub cwd: PathBuf,
}

/// Where to read the manifest from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestSource {
    /// The file in the main worktree (what the human is editing): plan, spawn, status, run.
    WorkingTree,
    /// The integration branch's committed manifest (the trusted side): merge.
    Integration,
    /// The manifest committed at this commit (the trusted base of `check`).
    At(Oid),
}

impl Workspace {
    /// A path for messages: relative to the repository root when it is inside it.
    pub fn display_path(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    pub fn load(cwd: &Path, source: ManifestSource, strict: bool) -> Result<Workspace> {
        let repo = Repo::discover(cwd)?;
        Self::load_with(repo, cwd, source, strict)
    }

    pub fn load_with(
        repo: Repo,
        cwd: &Path,
        source: ManifestSource,
        strict: bool,
    ) -> Result<Workspace> {
        let root = repo.main_workdir()?;
        // The branch checked out in the main worktree: the integration branch when the
        // manifest names none. Opened only when needed, and not twice for the main worktree.
        let main_branch = || -> Result<Option<String>> {
            if repo.is_linked_worktree() {
                Ok(Repo::open(&root)?.head_branch())
            } else {
                Ok(repo.head_branch())
            }
        };
        let (forge, integration) = match source {
            ManifestSource::WorkingTree => {
                let path = root.join(MANIFEST_PATH);
                let bytes = std::fs::read(&path).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Error::from(WorkspaceError::NoManifest { path: path.clone() })
                    } else {
                        Error::failure(format!("cannot read `{}`", path.display())).with_source(e)
                    }
                })?;
                let forge = Forge::parse_bytes(&bytes, MANIFEST_PATH, strict)?;
                let integration = match forge.integration() {
                    Some(name) => name.to_owned(),
                    None => main_branch()?.ok_or_else(no_integration_branch)?,
                };
                (forge, integration)
            }
            ManifestSource::At(commit) => {
                let short = crate::git::short(commit);
                let forge = forge_at(
                    &repo,
                    commit,
                    &format!("{short}:{MANIFEST_PATH}"),
                    strict,
                    || {
                        Error::usage(format!("the base commit {short} has no `{MANIFEST_PATH}`"))
                        .hint("check against a base that has the forge manifest committed (`--base`)")
                    },
                )?;
                let integration = match forge.integration() {
                    Some(name) => name.to_owned(),
                    None => match integration_named_on_disk(&root) {
                        Some(name) => name,
                        None => main_branch()?.ok_or_else(no_integration_branch)?,
                    },
                };
                (forge, integration)
            }
            ManifestSource::Integration => {
                // The integration branch's name itself must not come from an untrusted file:
                // take it from the main worktree's manifest only to find the branch, then
                // re-read everything from that branch's commit.
                let integration = match integration_named_on_disk(&root) {
                    Some(name) => name,
                    None => main_branch()?.ok_or_else(no_integration_branch)?,
                };
                let tip = repo.branch_tip(&integration)?.ok_or_else(|| {
                    Error::usage(format!("the integration branch `{integration}` has no commits"))
                        .hint("commit the forge files first: `git add .droidforge PROGRESS.md INTERFACES.md FILE_OWNERSHIP.md && git commit`")
                })?;
                let forge = forge_at(
                    &repo,
                    tip,
                    &format!("{integration}:{MANIFEST_PATH}"),
                    strict,
                    || {
                        Error::usage(format!("the integration branch `{integration}` has no `{MANIFEST_PATH}`"))
                        .hint("commit the manifest on the integration branch: `git add .droidforge/forge.toml && git commit`")
                    },
                )?;
                (forge, integration)
            }
        };
        // Droid worktrees go under `worktree_dir`; a directory the integration branch
        // tracks would be mixed with the project's own files.
        let wt = forge
            .manifest
            .forge
            .worktree_dir
            .trim()
            .trim_end_matches('/');
        if !wt.is_empty()
            && let Some(tip) = repo.branch_tip(&integration)?
            && repo.is_dir_at(tip, wt)?
        {
            let label = format!("{integration}:{MANIFEST_PATH}");
            let at = match crate::forge::manifest::line_of(
                &forge.text,
                &forge.manifest.forge.worktree_dir,
            ) {
                Some(l) => format!("{label}:{l}"),
                None => label,
            };
            return Err(Error::usage(format!(
                "invalid manifest: {at}: worktree_dir `{wt}` is a directory tracked on `{integration}`; droid worktrees would be created among the project's files"
            ))
            .hint("set `worktree_dir` to an untracked directory (the default is `.droidforge/worktrees`)"));
        }
        let state = StateDir::new(&repo.common_dir());
        Ok(Workspace {
            repo,
            root,
            forge,
            state,
            integration,
            cwd: cwd.to_owned(),
        })
    }

    /// The trusted workspace (manifest from the integration branch, as for `merge`), loaded
    /// for a hot path that runs on every edit: the validated manifest is cached in the state
    /// directory keyed by its blob id, so validation (overlap analysis included) runs once per
    /// manifest version, and no ownership glob is compiled: `forge.rules` covers no path;
    /// compile what you need with [`crate::forge::manifest::rules_for_paths`].
    pub fn load_cached(cwd: &Path) -> Result<Workspace> {
        let repo = Repo::discover(cwd)?;
        let root = repo.main_workdir()?;
        let state = StateDir::new(&repo.common_dir());
        let cache_path = state.manifest_cache_path();
        // A cache that cannot be read is rebuilt (and rewritten) below.
        let cached: Option<ManifestCache> =
            crate::state::peek_state_json(&cache_path, "manifest cache");
        // The integration branch's *name* comes from the main worktree's file (see
        // `ManifestSource::Integration`); reading it parses the whole file, so remember it
        // per (size, mtime) of that file.
        let disk_key = disk_key(&root.join(MANIFEST_PATH));
        let named = match cached
            .as_ref()
            .filter(|c| disk_key.is_some() && c.disk == disk_key)
        {
            Some(c) => c.integration_on_disk.clone(),
            None => integration_named_on_disk(&root),
        };
        let integration = match &named {
            Some(name) => name.clone(),
            None => if repo.is_linked_worktree() {
                Repo::open(&root)?.head_branch()
            } else {
                repo.head_branch()
            }
            .ok_or_else(no_integration_branch)?,
        };
        let tip = repo.branch_tip(&integration)?.ok_or_else(|| {
            Error::usage(format!(
                "the integration branch `{integration}` has no commits"
            ))
        })?;
        let label = format!("{integration}:{MANIFEST_PATH}");
        let blob = repo.file_id_at(tip, MANIFEST_PATH)?.ok_or_else(|| {
            Error::usage(format!("the integration branch `{integration}` has no `{MANIFEST_PATH}`"))
                .hint("commit the manifest on the integration branch: `git add .droidforge/forge.toml && git commit`")
        })?;
        let blob_hex = blob.to_string();
        let (manifest, fresh) = match cached.filter(|c| c.blob == blob_hex) {
            Some(c) => (c.manifest, c.disk != disk_key),
            None => {
                let bytes = repo.read_blob(blob)?;
                (Forge::parse_bytes(&bytes, &label, false)?.manifest, true)
            }
        };
        if fresh {
            let entry = ManifestCache {
                blob: blob_hex,
                disk: disk_key,
                integration_on_disk: named,
                manifest,
            };
            // A cache that cannot be written only costs time.
            if let Ok(bytes) = serde_json::to_vec(&entry) {
                let _ = state.ensure();
                let _ = crate::util::safe_fs::write_atomic(&cache_path, &bytes);
            }
            return Self::from_cached(repo, root, cwd, state, integration, label, entry.manifest);
        }
        Self::from_cached(repo, root, cwd, state, integration, label, manifest)
    }

    fn from_cached(
        repo: Repo,
        root: PathBuf,
        cwd: &Path,
        state: StateDir,
        integration: String,
        source: String,
        manifest: crate::forge::manifest::Manifest,
    ) -> Result<Workspace> {
        let rules = crate::forge::manifest::rules_for_paths(&manifest, &[])?;
        Ok(Workspace {
            repo,
            root,
            forge: Forge {
                manifest,
                rules,
                // Overlap analysis never runs on a cached manifest (it is `plan`'s job).
                text: String::new(),
                source,
            },
            state,
            integration,
            cwd: cwd.to_owned(),
        })
    }

    /// The integration branch tip; an error when the branch has no commits.
    pub fn integration_tip(&self) -> Result<Oid> {
        self.integration_tip_in(&self.repo)
    }

    /// [`Workspace::integration_tip`] read through another handle of the same repository (a
    /// merge run's own: see `ops::merge::run_merge`).
    pub fn integration_tip_in(&self, repo: &Repo) -> Result<Oid> {
        repo.branch_tip(&self.integration)?.ok_or_else(|| {
            Error::usage(format!(
                "the integration branch `{}` has no commits yet",
                self.integration
            ))
            .hint(
                "commit the forge files first: `git add -A && git commit -m \"Set up droidforge\"`",
            )
        })
    }

    /// Where a droid's worktree lives.
    pub fn worktree_path(&self, droid: &str) -> PathBuf {
        self.root
            .join(&self.forge.manifest.forge.worktree_dir)
            .join(droid)
    }

    pub fn branch_of(&self, droid: &str) -> String {
        self.forge.branch_of(droid)
    }

    pub fn ready_ref(&self, droid: &str) -> String {
        format!("{READY_PREFIX}{droid}")
    }

    /// The droid whose worktree contains the current directory, or whose branch is checked
    /// out here.
    pub fn current_droid(&self) -> Option<String> {
        let cwd = self.cwd.canonicalize().unwrap_or_else(|_| self.cwd.clone());
        for d in self.forge.droids() {
            let wt = self.worktree_path(&d.name);
            let wt = wt.canonicalize().unwrap_or(wt);
            if cwd.starts_with(&wt) {
                return Some(d.name.clone());
            }
        }
        let branch = self.repo.head_branch()?;
        self.forge.droid_of_branch(&branch).map(|d| d.name.clone())
    }

    /// Resolve a droid argument or infer it from the current worktree.
    pub fn droid_arg(&self, given: Option<&str>) -> Result<String> {
        match given {
            Some(name) => Ok(self.forge.require_droid(name)?.name.clone()),
            None => self.current_droid().ok_or_else(|| {
                Error::usage("cannot tell which droid you mean")
                    .hint("name the droid, or run the command inside its worktree")
            }),
        }
    }

    /// Record an event; failures to write the journal are reported, not fatal.
    pub fn event(&self, kind: EventKind, droid: Option<&str>, message: impl Into<String>) {
        self.event_with(Event::new(kind, droid, message));
    }

    pub fn event_with(&self, event: Event) {
        self.state.record(event);
    }
}

/// What [`Workspace::load_cached`] keeps between runs.
#[derive(serde::Serialize, serde::Deserialize)]
struct ManifestCache {
    /// The manifest blob on the integration branch that `manifest` was validated from.
    blob: String,
    /// Size and mtime (ns) of the main worktree's manifest file when it was read.
    disk: Option<(u64, u128)>,
    integration_on_disk: Option<String>,
    manifest: crate::forge::manifest::Manifest,
}

fn disk_key(path: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((meta.len(), mtime))
}

/// The integration branch named by the main worktree's manifest file, if it parses. Only for
/// *finding* a branch: trusted manifests are read from commits.
pub fn integration_named_on_disk(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(MANIFEST_PATH)).ok()?;
    toml::from_str::<crate::forge::manifest::Manifest>(&text)
        .ok()?
        .forge
        .integration
}

/// Parse and validate the manifest committed at `commit`; `missing` is the error when there is none.
fn forge_at(
    repo: &Repo,
    commit: Oid,
    label: &str,
    strict: bool,
    missing: impl FnOnce() -> Error,
) -> Result<Forge> {
    let bytes = repo
        .read_file_at(commit, MANIFEST_PATH)?
        .ok_or_else(missing)?;
    Forge::parse_bytes(&bytes, label, strict)
}

fn no_integration_branch() -> Error {
    Error::usage("cannot tell which branch is the integration branch (HEAD is detached)")
        .hint("set `integration = \"main\"` under [forge] in .droidforge/forge.toml")
}
