//! `status` as data: one row per droid (branch, ahead/behind, dirty files, TODO progress on
//! its branch, worktree, ready and merged marks, agent state, last event), computed without
//! subprocesses and in parallel threads so 100 droids stay well under a second.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use crate::error::Result;
use crate::forge::manifest::Droid;
use crate::forge::progress::parse_todo;
use crate::git::{DirtyCounts, Oid, Repo, WorktreeInfo};
use crate::ops::spawn::comparable_path;
use crate::state::{AgentStatus, DroidState, pid_alive};
use crate::workspace::{READY_PREFIX, Workspace};

/// Version of the `status --json` format; bump on incompatible changes.
pub const STATUS_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub version: u32,
    /// Short name of the integration branch.
    pub integration: String,
    /// Its tip, if it has commits.
    pub integration_tip: Option<String>,
    pub droids: Vec<DroidStatus>,
    /// Worktrees in the worktree directory that belong to no droid of the manifest.
    pub orphans: Vec<Orphan>,
}

/// Whether a droid's worktree exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorktreeState {
    /// Registered and on disk.
    Present,
    /// Registered, but the directory is gone (`droidforge prune` forgets it).
    Missing,
    /// Not spawned (no worktree registered at its path).
    None,
    /// Something that is not this droid's worktree is at its path.
    Foreign,
}

impl WorktreeState {
    pub fn as_str(self) -> &'static str {
        match self {
            WorktreeState::Present => "present",
            WorktreeState::Missing => "missing",
            WorktreeState::None => "none",
            WorktreeState::Foreign => "foreign",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DroidStatus {
    pub droid: String,
    pub phases: Vec<u32>,
    pub branch: String,
    pub branch_exists: bool,
    /// The branch tip.
    pub head: Option<String>,
    /// Commits on the branch that are not on the integration branch.
    pub ahead: Option<usize>,
    /// Commits on the integration branch that are not on the droid branch.
    pub behind: Option<usize>,
    pub worktree: PathBuf,
    pub worktree_state: WorktreeState,
    /// Uncommitted changes (only when the worktree is present).
    pub dirty: Option<DirtyCounts>,
    pub todo: Option<TodoStatus>,
    pub ready: Option<ReadyStatus>,
    pub merged: Option<MergedStatus>,
    pub agent: AgentSummary,
    pub last_event: Option<String>,
    /// Epoch seconds.
    pub last_event_at: Option<i64>,
    /// Requests other droids (or the human) filed with this droid that are still open
    /// (`droidforge ask`).
    pub open_requests: usize,
    /// Edits and commits `droidforge guard` refused (from the event journal): a droid that
    /// keeps fighting its ownership.
    pub guard_refused: GuardRefusals,
    /// Where the droid stands in `run --land`'s loop (attempts, and why it needs a human),
    /// when a loop has seen it.
    pub land: Option<crate::state::LandDroid>,
    /// Problems computing this row (the rest of the row is still valid).
    pub errors: Vec<String>,
}

/// How often the guard refused a droid, by what was refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GuardRefusals {
    pub edits: usize,
    pub commits: usize,
}

/// Count `guard-refused` events per droid, across the journal's segments, one line in memory
/// at a time. An unreadable journal counts nothing (status reports what it can).
pub fn guard_refusals(
    journal: &crate::state::Journal,
) -> std::collections::HashMap<String, GuardRefusals> {
    let mut out: std::collections::HashMap<String, GuardRefusals> = Default::default();
    let filter = crate::state::EventFilter {
        kind: Some(crate::state::EventKind::GuardRefused),
        ..Default::default()
    };
    let _ = journal.scan(&filter, None, |event| {
        let (Some(droid), crate::state::EventKind::GuardRefused) = (&event.droid, event.kind)
        else {
            return true;
        };
        let entry = out.entry(droid.clone()).or_default();
        if event.data.get("source").and_then(|s| s.as_str()) == Some("commit") {
            entry.commits += 1;
        } else {
            entry.edits += 1;
        }
        true
    });
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct TodoStatus {
    pub path: String,
    /// Where the file was read: `branch` (the droid's branch) or `integration` (not spawned yet).
    pub from: &'static str,
    /// Does the file exist there?
    pub found: bool,
    pub done: usize,
    pub in_progress: usize,
    pub open: usize,
    pub percent: Option<u8>,
    /// The first item not done yet: what the droid works on next.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReadyStatus {
    /// The commit marked ready (`refs/droidforge/ready/<droid>`).
    pub commit: String,
    /// Is it the branch head (false: the droid kept working after `done`)?
    pub at_head: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MergedStatus {
    /// Result of the last merge attempt: merged, conflict, violation, verify-failed, skipped;
    /// or nothing-to-merge (`done` marked a commit already on the integration branch).
    pub result: String,
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentSummary {
    /// idle, queued, running, stalled, exited, failed, timed-out, interrupted, or dead (the
    /// recorded process is gone although it was last seen running).
    pub state: String,
    pub pid: Option<u32>,
    pub exit_code: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    pub path: PathBuf,
    pub branch: Option<String>,
    pub present: bool,
}

/// Everything the per-droid work needs, gathered once.
struct Shared<'a> {
    integration_tip: Option<Oid>,
    branches: HashMap<String, Oid>,
    ready: HashMap<String, Oid>,
    worktrees: &'a [WorktreeInfo],
    /// Index into `worktrees` by comparable path (the first registration wins), so each row
    /// resolves its own path once instead of against every worktree.
    by_path: HashMap<PathBuf, usize>,
    state: crate::state::State,
    land: crate::state::LandState,
}

/// Compute the status of `droids` (all droids when empty).
pub fn status(ws: &Workspace, droids: &[&Droid]) -> Result<StatusReport> {
    let all: Vec<&Droid> = if droids.is_empty() {
        ws.forge.droids().iter().collect()
    } else {
        droids.to_vec()
    };
    let integration_tip = ws.repo.branch_tip(&ws.integration)?;
    let prefix = format!("refs/heads/{}", ws.forge.branch_prefix());
    let branches: HashMap<String, Oid> = ws
        .repo
        .refs_with_prefix(&prefix)?
        .into_iter()
        .map(|(name, id)| (name["refs/heads/".len()..].to_owned(), id))
        .collect();
    let ready: HashMap<String, Oid> = ws
        .repo
        .refs_with_prefix(READY_PREFIX)?
        .into_iter()
        .map(|(name, id)| (name[READY_PREFIX.len()..].to_owned(), id))
        .collect();
    let worktrees = ws.repo.worktrees()?;
    let state = ws.state.store().read()?;
    let mut by_path = HashMap::with_capacity(worktrees.len());
    for (i, w) in worktrees.iter().enumerate() {
        by_path.entry(comparable_path(&w.path)).or_insert(i);
    }
    // An unreadable loop file is an error of every row, not of the whole status.
    let (land, land_error) = match ws.state.land_state() {
        Ok(l) => (l, None),
        Err(e) => (Default::default(), Some(e.full_message())),
    };
    let shared = Shared {
        integration_tip,
        branches,
        ready,
        worktrees: &worktrees,
        by_path,
        state,
        land,
    };
    let inputs: Vec<Input> = all
        .iter()
        .map(|d| Input {
            droid: (*d).clone(),
            branch: ws.branch_of(&d.name),
            path: ws.worktree_path(&d.name),
        })
        .collect();
    let mut rows = compute_rows(&ws.repo, &inputs, &shared);
    let refusals = guard_refusals(&ws.state.journal());
    for r in &mut rows {
        r.guard_refused = refusals.get(&r.droid).copied().unwrap_or_default();
        if let Some(e) = &land_error {
            r.errors.push(format!("loop state: {e}"));
        }
    }
    let orphans = orphans(ws, &worktrees);
    Ok(StatusReport {
        version: STATUS_VERSION,
        integration: ws.integration.clone(),
        integration_tip: integration_tip.map(|t| t.to_string()),
        droids: rows,
        orphans,
    })
}

/// Registered worktrees inside the worktree directory whose name is no droid of the manifest.
pub fn orphans(ws: &Workspace, worktrees: &[WorktreeInfo]) -> Vec<Orphan> {
    let dir = ws.root.join(&ws.forge.manifest.forge.worktree_dir);
    let dir = dir.canonicalize().unwrap_or(dir);
    worktrees
        .iter()
        .filter(|w| {
            let parent = w
                .path
                .parent()
                .map(|p| p.canonicalize().unwrap_or(p.to_owned()));
            let name = w.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            parent.as_deref() == Some(dir.as_path()) && ws.forge.droid(name).is_none()
        })
        .map(|w| Orphan {
            path: w.path.clone(),
            branch: w.branch.clone(),
            present: w.present,
        })
        .collect()
}

struct Input {
    droid: Droid,
    branch: String,
    path: PathBuf,
}

fn compute_rows(repo: &Repo, inputs: &[Input], shared: &Shared<'_>) -> Vec<DroidStatus> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(inputs.len());
    if threads <= 1 {
        return inputs.iter().map(|i| row(repo, i, shared)).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<DroidStatus>>> = Mutex::new(vec![None; inputs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            // `Repository` is Send but not Sync: one handle per thread.
            let repo = repo.clone();
            let (next, slots) = (&next, &slots);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let r = row(&repo, input, shared);
                    slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

fn row(repo: &Repo, input: &Input, shared: &Shared<'_>) -> DroidStatus {
    let name = &input.droid.name;
    let mut errors = Vec::new();
    let head = shared.branches.get(&input.branch).copied();
    let (ahead, behind) = match (head, shared.integration_tip) {
        (Some(h), Some(t)) => match repo.ahead_behind(h, t) {
            Ok((a, b)) => (Some(a), Some(b)),
            Err(e) => {
                errors.push(format!("ahead/behind: {}", e.message));
                (None, None)
            }
        },
        _ => (None, None),
    };

    let registered = shared
        .worktrees
        .iter()
        .find(|w| w.path == input.path)
        .or_else(|| {
            let i = *shared.by_path.get(&comparable_path(&input.path))?;
            shared.worktrees.get(i)
        });
    let worktree_state = match registered {
        Some(w) if w.branch.as_deref() != Some(input.branch.as_str()) => WorktreeState::Foreign,
        Some(w) if w.present => WorktreeState::Present,
        Some(_) => WorktreeState::Missing,
        None if input.path.exists() => WorktreeState::Foreign,
        None => WorktreeState::None,
    };
    let dirty = if worktree_state == WorktreeState::Present {
        match Repo::worktree_dirt(&input.path) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(format!("dirty files: {}", e.message));
                None
            }
        }
    } else {
        None
    };

    let todo = input.droid.todo.as_ref().map(|path| {
        let (commit, from) = match head {
            Some(h) => (Some(h), "branch"),
            None => (shared.integration_tip, "integration"),
        };
        let text = commit.and_then(|c| match repo.read_file_at(c, path) {
            Ok(bytes) => bytes,
            Err(e) => {
                errors.push(format!("TODO file: {}", e.message));
                None
            }
        });
        let found = text.is_some();
        let text = String::from_utf8_lossy(&text.unwrap_or_default()).into_owned();
        let p = parse_todo(&text);
        TodoStatus {
            path: path.clone(),
            from,
            found,
            done: p.done,
            in_progress: p.in_progress,
            open: p.open,
            percent: p.percent(),
            next: crate::forge::progress::first_open_item(&text),
        }
    });

    let ready = shared.ready.get(name).map(|r| ReadyStatus {
        commit: r.to_string(),
        at_head: Some(*r) == head,
    });
    let stored = shared.state.droids.get(name);
    let merged = stored.and_then(|s| match &s.finished_empty {
        // `done` with nothing ahead of the integration branch.
        Some(commit) => Some(MergedStatus {
            result: "nothing-to-merge".to_owned(),
            commit: Some(commit.clone()),
        }),
        None => s.last_merge.as_ref().map(|result| MergedStatus {
            result: result.clone(),
            commit: s.merged_commit.clone(),
        }),
    });
    DroidStatus {
        droid: name.clone(),
        phases: input.droid.phases.clone(),
        branch: input.branch.clone(),
        branch_exists: head.is_some(),
        head: head.map(|h| h.to_string()),
        ahead,
        behind,
        worktree: input.path.clone(),
        worktree_state,
        dirty,
        todo,
        ready,
        merged,
        agent: agent_summary(stored),
        last_event: stored.and_then(|s| s.last_event.clone()),
        last_event_at: stored.and_then(|s| s.last_event_at),
        open_requests: shared
            .state
            .requests
            .iter()
            .filter(|r| &r.to == name)
            .count(),
        guard_refused: GuardRefusals::default(),
        land: shared.land.droids.get(name).cloned(),
        errors,
    }
}

/// The agent state from the store; a running agent whose pid is gone is `dead`.
pub fn agent_summary(stored: Option<&DroidState>) -> AgentSummary {
    let Some(agent) = stored.and_then(|s| s.agent.as_ref()) else {
        return AgentSummary {
            state: "idle".to_owned(),
            pid: None,
            exit_code: None,
        };
    };
    let live = matches!(agent.status, AgentStatus::Running | AgentStatus::Stalled);
    let state = match agent.pid {
        Some(pid) if live && !pid_alive(pid) => "dead".to_owned(),
        _ => agent.status.as_str().to_owned(),
    };
    AgentSummary {
        state,
        pid: agent.pid,
        exit_code: agent.exit_code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::AgentState;

    #[test]
    fn dead_agent_is_detected() {
        let mut s = DroidState::default();
        assert_eq!(agent_summary(Some(&s)).state, "idle");
        s.agent = Some(AgentState {
            status: AgentStatus::Running,
            pid: Some(std::process::id()),
            exit_code: None,
            started_at: None,
            ended_at: None,
            command: None,
        });
        assert_eq!(agent_summary(Some(&s)).state, "running");
        // Far above any pid_max Linux allows.
        s.agent.as_mut().unwrap().pid = Some(u32::MAX - 1);
        assert_eq!(agent_summary(Some(&s)).state, "dead");
    }
}
