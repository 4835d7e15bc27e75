//! Spawning droids: a branch `<prefix><droid>`, a linked worktree (gix, no `git` binary) and
//! an untracked, git-excluded brief per droid — many droids in parallel threads.
//!
//! Safety rules: re-spawning a droid whose worktree is registered for its branch is a no-op
//! (the brief is refreshed when the manifest changed); anything else already at the worktree
//! path, or the branch checked out elsewhere, is an error and nothing is touched.
//!
//! Layout: this file decides per droid (create, exists, error) and records the outcome;
//! `create` makes the worktrees (in parallel threads); `files` writes what droidforge keeps in
//! a worktree besides the checkout (brief, excludes).

mod create;
mod files;
mod pooled;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Context, Error, Result};
use crate::forge::brief::{self, BriefContext};
use crate::forge::manifest::{Droid, MANIFEST_PATH};
use crate::git::{Oid, Repo, WorktreeInfo};
use crate::ops::hooks;
use crate::state::{Event, EventKind, FileLock};
use crate::util::time::now;
use crate::workspace::Workspace;

use create::{Job, run_jobs, sparse_set};
use files::{brief_requests, refresh_brief};
pub use files::{comparable_path, ensure_excludes, exclude_lines, rewrite_brief, same_path};

/// What happened to one droid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpawnStatus {
    /// Branch (if needed), worktree and brief were created.
    Created,
    /// The droid's worktree already existed: nothing was created.
    Exists,
    /// Nothing was done for this droid; see `error`.
    Error,
}

/// The serializable result of spawning one droid.
#[derive(Debug, Clone, Serialize)]
pub struct SpawnOutcome {
    pub droid: String,
    pub status: SpawnStatus,
    /// Short branch name, e.g. `droidforge/core-droid`.
    pub branch: String,
    /// Absolute worktree path.
    pub worktree: PathBuf,
    /// Was the branch created by this spawn (false: it existed already)?
    pub branch_created: bool,
    /// The commit the worktree was checked out at.
    pub base: Option<String>,
    /// Was the brief (re)written?
    pub brief_written: bool,
    /// The worktree was taken from the warm pool (`[forge] pool`) instead of checked out.
    pub pooled: bool,
    /// The worktree was created sparse: what `git sparse-checkout list` prints there (null:
    /// a full checkout, or a worktree that existed already).
    pub sparse: Option<Vec<String>>,
    /// Agent hook settings files (re)written in the worktree, e.g. `.claude/settings.local.json`.
    pub hooks: Vec<String>,
    /// Why the agent hooks could not be installed (the worktree itself is fine).
    pub hooks_error: Option<String>,
    /// The pre-commit guard installed or refreshed for the worktree.
    pub guard: Option<crate::ops::guard::hook::Installed>,
    /// Why the pre-commit guard could not be installed (the merge gate still checks).
    pub guard_error: Option<String>,
    /// Something worth knowing that is not an error (e.g. `--from` did not apply).
    pub note: Option<String>,
    /// Why nothing was done (status `error`).
    pub error: Option<String>,
    pub hints: Vec<String>,
}

impl SpawnOutcome {
    fn new(droid: &str, branch: &str, worktree: &Path, status: SpawnStatus) -> SpawnOutcome {
        SpawnOutcome {
            droid: droid.to_owned(),
            status,
            branch: branch.to_owned(),
            worktree: worktree.to_owned(),
            branch_created: false,
            base: None,
            brief_written: false,
            pooled: false,
            sparse: None,
            hooks: Vec::new(),
            hooks_error: None,
            guard: None,
            guard_error: None,
            note: None,
            error: None,
            hints: Vec::new(),
        }
    }

    fn failed(mut self, err: Error) -> SpawnOutcome {
        self.status = SpawnStatus::Error;
        self.error = Some(err.full_message());
        self.hints = err.hints;
        self
    }

    /// Install or refresh the agent hooks; a failure is recorded, not fatal.
    fn install_hooks(&mut self, exe: &Result<PathBuf>) {
        let res = match exe {
            Ok(exe) => hooks::install(&self.worktree, exe),
            Err(e) => Err(Error::failure(e.message.clone())),
        };
        match res {
            Ok(written) => self.hooks = written,
            Err(e) => {
                self.hooks_error = Some(e.full_message());
                self.hints.extend(e.hints);
            }
        }
    }
}

/// Told how many more droids are done (called from the spawning threads); the command line
/// turns it into a progress bar.
pub type Progress<'a> = &'a (dyn Fn(usize) + Sync);

/// Spawn `droids`: branches from `from` (default: the integration tip), worktrees, briefs.
/// New worktrees of droids with `sparse = true` in the manifest, or of every droid when
/// `sparse` is set, check out only the droid's paths (see [`crate::forge::sparse`]).
/// Per-droid problems are reported in the outcomes; an `Err` means nothing could start
/// (e.g. the integration branch has no commits).
pub fn spawn(
    ws: &Workspace,
    droids: &[&Droid],
    from: Option<Oid>,
    sparse: bool,
    progress: Progress<'_>,
) -> Result<Vec<SpawnOutcome>> {
    let tip = match from {
        Some(oid) => oid,
        None => ws.integration_tip()?,
    };
    // The worktrees are made from this commit: without the committed manifest (and the files
    // it sets up) the droids would get a brief naming files their checkout does not have, and
    // `merge` would refuse their work anyway.
    if ws.repo.read_file_at(tip, MANIFEST_PATH)?.is_none() {
        let err = match from {
            None => Error::usage(format!(
                "the integration branch `{}` has no `{MANIFEST_PATH}` (only the working tree has one)",
                ws.integration
            ))
            .hint(format!(
                "commit {MANIFEST_PATH} on {} first: `git add .droidforge && git commit -m \"Set up droidforge\"`",
                ws.integration
            )),
            Some(commit) => Error::usage(format!(
                "the base commit {} has no `{MANIFEST_PATH}`",
                crate::git::short(commit)
            ))
            .hint(format!(
                "spawn from a commit that has the forge manifest, or commit {MANIFEST_PATH} on {} first",
                ws.integration
            )),
        };
        return Err(err);
    }
    ws.state.ensure()?;
    // Two spawns at once would race for the same paths and the exclude file.
    let _lock = FileLock::acquire(&ws.state.lock_path("spawn"))?;
    ensure_excludes(ws)?;
    let exe = hooks::current_exe();

    let registered = ws.repo.worktrees()?;
    // Each registered path resolved once, not once per droid (see `classify`).
    let registered_at: Vec<PathBuf> = registered
        .iter()
        .map(|w| comparable_path(&w.path))
        .collect();
    // The main worktree's branch (a second open only when run from a linked worktree).
    let main_branch = if ws.repo.workdir().as_deref() == Some(ws.root.as_path()) {
        ws.repo.head_branch()
    } else {
        Repo::open(&ws.root)
            .ok()
            .and_then(|main| main.head_branch())
    };
    // A corrupt store must not stop spawning: the briefs then list no requests.
    // Kept with its bytes: the record at the end does not parse the file again (`Seen`).
    let seen = ws.state.store().read_seen().unwrap_or_default();
    let stored = &seen.state;
    let requests = brief_requests(&stored.requests);

    let mut outcomes: Vec<Option<SpawnOutcome>> = vec![None; droids.len()];
    let mut jobs: Vec<Job> = Vec::new();
    for (index, droid) in droids.iter().enumerate() {
        let branch = ws.branch_of(&droid.name);
        let path = ws.worktree_path(&droid.name);
        let ctx = BriefContext {
            integration: &ws.integration,
            requests: &requests,
            feedback: stored.feedback_of(&droid.name),
        };
        let brief_text = brief::render(&ws.forge, droid, &ctx);
        let base = SpawnOutcome::new(&droid.name, &branch, &path, SpawnStatus::Exists);
        match classify(
            ws,
            (&registered, &registered_at),
            main_branch.as_deref(),
            &branch,
            &path,
        ) {
            Ok(Plan::Exists { head }) => {
                let mut outcome = base;
                outcome.base = head.map(|h| h.to_string());
                match refresh_brief(&path, &brief_text) {
                    Ok(written) => {
                        outcome.brief_written = written;
                        outcome.install_hooks(&exe);
                    }
                    Err(e) => outcome = outcome.failed(e),
                }
                outcomes[index] = Some(outcome);
            }
            Ok(Plan::Create { existing_tip }) => {
                let sparse = (sparse || droid.sparse)
                    .then(|| sparse_set(ws, droid, existing_tip.unwrap_or(tip)));
                jobs.push(Job {
                    index,
                    droid: droid.name.clone(),
                    branch,
                    path,
                    existing_tip,
                    brief: brief_text,
                    sparse,
                })
            }
            Err(e) => outcomes[index] = Some(base.failed(e)),
        }
    }
    progress(outcomes.iter().flatten().count());

    if let Some(parent) = jobs.first().and_then(|j| j.path.parent()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    if jobs.iter().any(|j| j.sparse.is_some()) {
        // The sparse settings live in each worktree's own config file.
        ws.repo.ensure_worktree_config()?;
    }
    let pooled::Claims { done, left, notes } = pooled::claim(ws, jobs, tip, progress);
    let jobs = left;
    let used_pool = !done.is_empty();
    let mut created = run_jobs(&ws.repo, &jobs, tip, progress);
    created.extend(done);
    for (index, mut outcome) in created {
        if outcome.status == SpawnStatus::Created {
            outcome.install_hooks(&exe);
        }
        let existing = jobs
            .iter()
            .find(|j| j.index == index)
            .and_then(|j| j.existing_tip);
        if let (Some(from), Some(at)) = (from, existing)
            && from != at
        {
            outcome.note = Some(format!(
                "the branch already existed at {}, so `--from` was not applied",
                crate::git::short(at)
            ));
        }
        if let Some((_, note)) = notes.iter().find(|(i, _)| *i == index) {
            outcome.note = Some(note.clone());
        }
        outcomes[index] = Some(outcome);
    }
    pooled::refill(ws, used_pool);
    let mut outcomes: Vec<SpawnOutcome> = outcomes.into_iter().flatten().collect();
    // The pre-commit guard in every droid worktree, refreshed for existing ones (so `run`,
    // which spawns first, restores a deleted hook too).
    for o in outcomes.iter_mut() {
        if o.status == SpawnStatus::Error {
            continue;
        }
        match crate::ops::guard::hook::install(ws, &o.worktree) {
            Ok(done) => o.guard = Some(done),
            Err(e) => o.guard_error = Some(e.full_message()),
        }
    }
    drop(requests);
    record(ws, &outcomes, seen);
    Ok(outcomes)
}

enum Plan {
    Exists { head: Option<Oid> },
    Create { existing_tip: Option<Oid> },
}

/// Decide what to do for one droid without changing anything. `registered` are the linked
/// worktrees with their paths as [`comparable_path`] gives them.
fn classify(
    ws: &Workspace,
    (registered, registered_at): (&[WorktreeInfo], &[PathBuf]),
    main_branch: Option<&str>,
    branch: &str,
    path: &Path,
) -> Result<Plan> {
    let droid_hint = |what: &str| format!("{what}, then run the spawn again");
    let at = comparable_path(path);
    let same = registered
        .iter()
        .zip(registered_at)
        .find(|(w, cmp)| w.path == path || **cmp == at);
    if let Some((wt, _)) = same {
        if wt.branch.as_deref() != Some(branch) {
            let has = match &wt.branch {
                Some(b) => format!("branch `{b}` checked out"),
                None => "a detached HEAD".to_owned(),
            };
            return Err(Error::failure(format!(
                "`{}` is a worktree with {has}, not `{branch}`; not touching it",
                path.display()
            ))
            .hint(droid_hint("remove it with `git worktree remove`")));
        }
        if !wt.present {
            return Err(Error::failure(format!(
                "the worktree `{}` is registered but its directory is missing",
                path.display()
            ))
            .hint(droid_hint("run `droidforge prune`")));
        }
        let head = Repo::worktree_head(path).ok().flatten();
        return Ok(Plan::Exists { head });
    }
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(Error::failure(format!(
            "`{}` already exists and is not the worktree of branch `{branch}`; not touching it",
            path.display()
        ))
        .hint(droid_hint("move it away or delete it")));
    }
    if main_branch == Some(branch) {
        return Err(Error::failure(format!(
            "branch `{branch}` is checked out in the main worktree `{}`",
            ws.root.display()
        ))
        .hint(droid_hint(&format!(
            "switch the main worktree to `{}`",
            ws.integration
        ))));
    }
    if let Some(other) = registered
        .iter()
        .find(|w| w.branch.as_deref() == Some(branch))
    {
        return Err(Error::failure(format!(
            "branch `{branch}` is already checked out in the worktree `{}`",
            other.path.display()
        ))
        .hint(droid_hint(&format!(
            "remove that worktree (`git worktree remove {}`)",
            other.path.display()
        ))));
    }
    let existing_tip = ws.repo.branch_tip(branch)?;
    Ok(Plan::Create { existing_tip })
}

/// Record `spawned` events and the droids' spawn time and base in the store.
fn record(ws: &Workspace, outcomes: &[SpawnOutcome], seen: crate::state::Seen) {
    let created: Vec<&SpawnOutcome> = outcomes
        .iter()
        .filter(|o| o.status == SpawnStatus::Created)
        .collect();
    if created.is_empty() {
        return;
    }
    let journal = ws.state.journal();
    for o in &created {
        let event = Event::new(
            EventKind::Spawned,
            Some(&o.droid),
            format!(
                "branch {} at {}",
                o.branch,
                o.base.as_deref().map(crate::git::short_hex).unwrap_or("?")
            ),
        )
        .with_data(serde_json::json!({
            "branch": o.branch,
            "base": o.base,
            "worktree": o.worktree,
            "branch_created": o.branch_created,
        }));
        let _ = journal.append(&event);
    }
    let at = now();
    // Not fsynced: the branch and worktree this records are git's, which `git worktree add`
    // does not fsync either, and an fsync would cost more than the rest of a small spawn.
    let _ = ws.state.store().update_unsynced_after(seen, |state| {
        for o in &created {
            let d = state.droids.entry(o.droid.clone()).or_default();
            d.spawned_at = Some(at);
            d.base = o.base.clone();
            d.last_event = Some(format!("spawned: branch {}", o.branch));
            d.last_event_at = Some(at);
        }
    });
}
