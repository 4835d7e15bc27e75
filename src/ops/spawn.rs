//! Spawning droids: a branch `<prefix><droid>`, a linked worktree (gix, no `git` binary) and
//! an untracked, git-excluded brief per droid — many droids in parallel threads.
//!
//! Safety rules: re-spawning a droid whose worktree is registered for its branch is a no-op
//! (the brief is refreshed when the manifest changed); anything else already at the worktree
//! path, or the branch checked out elsewhere, is an error and nothing is touched.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use crate::error::{Context, Error, Result};
use crate::forge::brief::{self, BRIEF_PATH, BriefContext, BriefRequest};
use crate::forge::manifest::{Droid, MANIFEST_PATH};
use crate::forge::sparse::{self, PathKind, SparseSet};
use crate::git::{Expect, Oid, Repo, SparsePatterns, WorktreeInfo};
use crate::ops::hooks;
use crate::state::{Event, EventKind, FileLock, Request};
use crate::util::time::now;
use crate::workspace::Workspace;

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

/// One droid that needs a worktree.
struct Job {
    index: usize,
    droid: String,
    branch: String,
    path: PathBuf,
    /// The branch's tip when it exists already.
    existing_tip: Option<Oid>,
    brief: String,
    /// Check out only these paths (git sparse-checkout for this worktree only).
    sparse: Option<SparseSet>,
}

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
    // The main worktree's branch (a second open only when run from a linked worktree).
    let main_branch = if ws.repo.workdir().as_deref() == Some(ws.root.as_path()) {
        ws.repo.head_branch()
    } else {
        Repo::open(&ws.root)
            .ok()
            .and_then(|main| main.head_branch())
    };
    // A corrupt store must not stop spawning: the briefs then list no requests.
    let stored = ws.state.store().read().unwrap_or_default();
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
        match classify(ws, &registered, main_branch.as_deref(), &branch, &path) {
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
    let created = run_jobs(&ws.repo, &jobs, tip, progress);
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
        outcomes[index] = Some(outcome);
    }
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
    record(ws, &outcomes);
    Ok(outcomes)
}

enum Plan {
    Exists { head: Option<Oid> },
    Create { existing_tip: Option<Oid> },
}

/// Decide what to do for one droid without changing anything.
fn classify(
    ws: &Workspace,
    registered: &[WorktreeInfo],
    main_branch: Option<&str>,
    branch: &str,
    path: &Path,
) -> Result<Plan> {
    let droid_hint = |what: &str| format!("{what}, then run the spawn again");
    if let Some(wt) = registered.iter().find(|w| same_path(&w.path, path)) {
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

/// Create worktrees for `jobs` on up to all cores; returns (index, outcome) per job.
fn run_jobs(
    repo: &Repo,
    jobs: &[Job],
    tip: Oid,
    progress: Progress<'_>,
) -> Vec<(usize, SpawnOutcome)> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let threads = cores.min(jobs.len());
    // Checkout threads per worktree: the cores the droids running at once leave over.
    let budget = (cores / threads).max(1);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(jobs.len()));
    let registration = Mutex::new(());
    if threads <= 1 {
        for job in jobs {
            let outcome = create_one(repo, job, tip, &registration, budget);
            progress(1);
            results
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((job.index, outcome));
        }
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                // `Repository` is Send but not Sync: every thread gets its own handle.
                let repo = repo.clone();
                let (next, results, registration) = (&next, &results, &registration);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let outcome = create_one(&repo, job, tip, registration, budget);
                        progress(1);
                        results
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((job.index, outcome));
                    }
                });
            }
        });
    }
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

fn create_one(
    repo: &Repo,
    job: &Job,
    tip: Oid,
    registration: &Mutex<()>,
    threads: usize,
) -> SpawnOutcome {
    let mut outcome = SpawnOutcome::new(&job.droid, &job.branch, &job.path, SpawnStatus::Created);
    let base = match job.existing_tip {
        Some(existing) => existing,
        None => {
            if let Err(e) = repo.create_branch(&job.branch, tip) {
                return outcome.failed(e);
            }
            outcome.branch_created = true;
            tip
        }
    };
    outcome.base = Some(base.to_string());
    let added = match &job.sparse {
        Some(set) => {
            let text = set.file_text();
            let patterns = SparsePatterns {
                cone: set.cone,
                text: &text,
            };
            repo.add_worktree_sparse(&job.path, &job.branch, registration, &patterns, threads)
        }
        None => repo.add_worktree_shared(&job.path, &job.branch, registration, threads),
    };
    if let Err(e) = added {
        if outcome.branch_created {
            // Leave no trace of a failed spawn: the branch is ours and still at `tip`.
            let _ = repo.delete_ref(
                &format!("refs/heads/{}", job.branch),
                Expect::MustMatch(tip),
            );
            outcome.branch_created = false;
        }
        return outcome.failed(e);
    }
    match write_brief(&job.path, &job.brief) {
        Ok(()) => outcome.brief_written = true,
        Err(e) => return outcome.failed(e),
    }
    outcome.sparse = job.sparse.as_ref().map(|s| s.list.clone());
    outcome
}

/// The sparse-checkout definition of `droid`'s worktree made from commit `base`.
fn sparse_set(ws: &Workspace, droid: &Droid, base: Oid) -> SparseSet {
    let kind = |path: &str| {
        if ws.repo.is_dir_at(base, path).unwrap_or(false) {
            PathKind::Dir
        } else if ws.repo.file_id_at(base, path).ok().flatten().is_some() {
            PathKind::File
        } else {
            PathKind::Missing
        }
    };
    sparse::select(droid, &ws.forge.manifest.paths.shared, kind)
}

fn write_brief(worktree: &Path, text: &str) -> Result<()> {
    crate::util::safe_fs::write_under(worktree, BRIEF_PATH, text)
}

/// Rewrite the brief when it is missing or the manifest changed; returns whether it wrote.
fn refresh_brief(worktree: &Path, text: &str) -> Result<bool> {
    let path = worktree.join(BRIEF_PATH);
    if std::fs::read(&path).ok().as_deref() == Some(text.as_bytes()) {
        return Ok(false);
    }
    write_brief(worktree, text)?;
    Ok(true)
}

/// Rewrite `droid`'s brief in its worktree (after its open requests or the merger's feedback
/// changed), when the worktree exists; returns whether the brief was written.
pub fn rewrite_brief(ws: &Workspace, droid: &str) -> Result<bool> {
    let droid = ws.forge.require_droid(droid)?;
    let worktree = ws.worktree_path(&droid.name);
    if !worktree.join(".git").is_file() {
        return Ok(false);
    }
    let state = ws.state.store().read()?;
    let requests = brief_requests(&state.requests);
    let ctx = BriefContext {
        integration: &ws.integration,
        requests: &requests,
        feedback: state.feedback_of(&droid.name),
    };
    refresh_brief(&worktree, &brief::render(&ws.forge, droid, &ctx))
}

/// Stored requests as the brief shows them.
fn brief_requests(stored: &[Request]) -> Vec<BriefRequest<'_>> {
    stored
        .iter()
        .map(|r| BriefRequest {
            id: r.id,
            to: &r.to,
            from: &r.from,
            message: &r.message,
        })
        .collect()
}

/// Record `spawned` events and the droids' spawn time and base in the store.
fn record(ws: &Workspace, outcomes: &[SpawnOutcome]) {
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
    let _ = ws.state.store().update(|state| {
        for o in &created {
            let d = state.droids.entry(o.droid.clone()).or_default();
            d.spawned_at = Some(at);
            d.base = o.base.clone();
            d.last_event = Some(format!("spawned: branch {}", o.branch));
            d.last_event_at = Some(at);
        }
    });
}

/// The lines droidforge keeps in `<common-dir>/info/exclude`: the worktree directory, the
/// brief and the agent hook settings (the file is shared by all worktrees, so these root-anchored
/// lines apply in the main worktree too).
pub fn exclude_lines(worktree_dir: &str) -> Vec<String> {
    let dir = worktree_dir.trim().trim_matches('/');
    let mut lines = vec![format!("/{dir}/"), format!("/{BRIEF_PATH}")];
    lines.extend(hooks::exclude_lines());
    lines
}

/// Make sure `<common-dir>/info/exclude` hides the worktree directory and the briefs, in every
/// worktree (the file is shared). Appends only missing lines; idempotent.
pub fn ensure_excludes(ws: &Workspace) -> Result<bool> {
    let lines = exclude_lines(&ws.forge.manifest.forge.worktree_dir);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    Ok(!ws.repo.ensure_excluded(&lines)?.is_empty())
}

/// Do two paths name the same directory (resolving symlinks where they exist)?
pub fn same_path(a: &Path, b: &Path) -> bool {
    a == b || comparable_path(a) == comparable_path(b)
}

/// The form [`same_path`] compares: the canonical path, or for a missing directory its
/// canonical parent joined with its name. Callers comparing one path with many compute this
/// once per path instead of calling `same_path` for every pair.
pub fn comparable_path(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    match (
        p.parent().and_then(|d| d.canonicalize().ok()),
        p.file_name(),
    ) {
        (Some(parent), Some(name)) => parent.join(name),
        _ => p.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_lines_are_anchored() {
        assert_eq!(
            exclude_lines(".droidforge/worktrees/"),
            vec![
                "/.droidforge/worktrees/",
                "/.droidforge/BRIEF.md",
                "/.claude/settings.local.json",
                "/.factory/settings.local.json"
            ]
        );
        assert_eq!(exclude_lines("wt")[0], "/wt/");
    }
}
