//! The guard: may this droid change these paths *now*, before it spends an hour on them?
//! The same ownership rules the merge gate applies, asked at the moment of an edit (agent
//! hooks, `droidforge guard <path>`) or of a commit (the pre-commit hook, `guard --staged`).
//! The merge gate and `check` stay the last line of defence.
//!
//! It runs on every edit, so it is built to be cheap: the workspace comes from
//! [`Workspace::load_cached`] (the trusted manifest from the integration branch, validated once
//! per manifest version) and only the globs that can match the asked paths are compiled.
//!
//! Paths are judged where they really lead: `..` and symlinks are resolved against the file
//! system (a symlink is followed even when its target does not exist yet, since writing
//! through it creates the target), and anything that ends outside the worktree is refused. A
//! symlink is judged by its target and by the link path itself: both must be allowed.

pub mod hook;

use std::collections::VecDeque;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::error::Result;
use crate::forge::ownership::{Classification, Rules};
use crate::state::locks::{self, LockMode, LockRequest, LockStore};
use crate::state::{Event, EventKind};
use crate::workspace::Workspace;

/// What is being guarded: an edit (agent hook, `guard <path>`) or a commit (`guard --staged`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuardSource {
    Edit,
    Commit,
}

impl GuardSource {
    pub fn as_str(self) -> &'static str {
        match self {
            GuardSource::Edit => "edit",
            GuardSource::Commit => "commit",
        }
    }
}

/// One question to the guard.
#[derive(Debug, Clone)]
pub struct GuardRequest {
    /// The droid that wants to change the paths.
    pub droid: String,
    /// For an edit: absolute paths, or paths relative to `cwd`. For a commit: the
    /// repository-relative paths the commit changes (taken literally: git records a symlink,
    /// not what it points to).
    pub paths: Vec<PathBuf>,
    /// The directory relative paths start from.
    pub cwd: PathBuf,
    /// The worktree the paths must stay inside (the droid's worktree).
    pub worktree: PathBuf,
    pub source: GuardSource,
    /// The process that asks, recorded in a lease taken under `[forge] auto_lock` (as for
    /// `droidforge lock`: inside the droid's worktree the droid holds the lease, elsewhere
    /// this process does).
    pub lease_pid: u32,
}

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefuseReason {
    /// Owned by other droids.
    Owned,
    /// Nobody may change it (manifest `protected` or droidforge's own files).
    Protected,
    /// No droid owns it and it is not shared.
    Unowned,
    /// It resolves outside the worktree (`..`, an absolute path elsewhere, a symlink out).
    OutsideWorktree,
}

/// The answer for one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Owned by the droid.
    Allowed,
    /// A shared path: allowed; `locked_by` names other droids holding a write lease on it,
    /// `lease` the droid's own lease taken or refreshed under `auto_lock`.
    AllowedShared {
        locked_by: Vec<String>,
        lease: Option<String>,
    },
    /// Not the droid's to change.
    Refused {
        reason: RefuseReason,
        /// The owning droids (empty unless `reason` is `owned`).
        owners: Vec<String>,
        /// What to do instead.
        advice: String,
    },
}

/// The answer for one asked path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathVerdict {
    /// The path as asked.
    pub input: String,
    /// Where it leads, relative to the worktree root (`None` when outside it).
    pub path: Option<String>,
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl PathVerdict {
    pub fn is_refused(&self) -> bool {
        matches!(self.verdict, Verdict::Refused { .. })
    }

    /// Who may change the path, in words: "owned by `a`", "protected", "unowned", "outside
    /// the worktree".
    pub fn owner_text(&self) -> String {
        match &self.verdict {
            Verdict::Allowed => "yours".to_owned(),
            Verdict::AllowedShared { .. } => "shared".to_owned(),
            Verdict::Refused { reason, owners, .. } => match reason {
                RefuseReason::Owned => format!(
                    "owned by {}",
                    owners
                        .iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                RefuseReason::Protected => "protected".to_owned(),
                RefuseReason::Unowned => "unowned".to_owned(),
                RefuseReason::OutsideWorktree => "outside the worktree".to_owned(),
            },
        }
    }
}

/// Version of the `guard --json` format; bump on incompatible changes.
pub const GUARD_VERSION: u32 = 1;

/// The guard's answer to a [`GuardRequest`].
#[derive(Debug, Clone, Serialize)]
pub struct GuardReport {
    pub version: u32,
    pub droid: String,
    pub source: GuardSource,
    pub paths: Vec<PathVerdict>,
}

impl GuardReport {
    /// Every path may be changed.
    pub fn allowed(&self) -> bool {
        !self.paths.iter().any(PathVerdict::is_refused)
    }

    pub fn refused(&self) -> impl Iterator<Item = &PathVerdict> {
        self.paths.iter().filter(|p| p.is_refused())
    }

    /// Allowed shared paths that another droid holds a write lease on.
    pub fn lock_warnings(&self) -> impl Iterator<Item = (&PathVerdict, &[String])> {
        self.paths.iter().filter_map(|p| match &p.verdict {
            Verdict::AllowedShared { locked_by, .. } if !locked_by.is_empty() => {
                Some((p, locked_by.as_slice()))
            }
            _ => None,
        })
    }

    /// One line per refused path (`src/x.rs: owned by `core` — ask ...`), for an agent's
    /// context or a terminal.
    pub fn refusal_text(&self) -> String {
        let mut out = String::new();
        for p in self.refused() {
            let shown = p.path.as_deref().unwrap_or(&p.input);
            let advice = match &p.verdict {
                Verdict::Refused { advice, .. } => advice.as_str(),
                _ => "",
            };
            out.push_str(&format!(
                "droidforge guard: `{shown}` is {} — droid `{}` may not change it. {advice}\n",
                p.owner_text(),
                self.droid
            ));
        }
        out
    }
}

/// Judge `req.paths` for `req.droid`. Refusals are recorded in the event journal
/// (`guard-refused`); under `[forge] auto_lock`, allowed shared paths of an edit get the
/// droid's write lease (taken or refreshed).
pub fn check(ws: &Workspace, req: &GuardRequest) -> Result<GuardReport> {
    ws.forge.require_droid(&req.droid)?;
    let root = req
        .worktree
        .canonicalize()
        .unwrap_or_else(|_| req.worktree.clone());
    // Each asked path leads to one or two repository paths (a symlink: link and target). A
    // commit changes exactly the paths git names, so those are taken as they are.
    let resolved: Vec<(String, Option<Vec<String>>)> = req
        .paths
        .iter()
        .map(|p| {
            let input = p.to_string_lossy().into_owned();
            if req.source == GuardSource::Commit {
                return (input.clone(), Some(vec![input]));
            }
            let abs = if p.is_absolute() {
                p.clone()
            } else {
                req.cwd.join(p)
            };
            (input, leads_to(&abs, &root))
        })
        .collect();
    let wanted: Vec<String> = resolved
        .iter()
        .flat_map(|(_, r)| r.iter().flatten().cloned())
        .collect();
    let rules = crate::forge::manifest::rules_for_paths(&ws.forge.manifest, &wanted)?;
    let me = rules.droid_index(&req.droid);
    let mut scratch = Vec::new();
    let mut out = Vec::with_capacity(resolved.len());
    for (input, leads) in resolved {
        let Some(leads) = leads else {
            out.push(PathVerdict {
                input,
                path: None,
                verdict: refuse(RefuseReason::OutsideWorktree, Vec::new(), ws, &req.droid),
            });
            continue;
        };
        // The target decides what is shown; the first refusal among link and target wins.
        let mut verdict = Verdict::Allowed;
        let mut shown = leads[0].clone();
        for path in &leads {
            let class = rules.classify_into(path, &mut scratch);
            let v = judge(&rules, &class, me, path, ws, &req.droid);
            if matches!(v, Verdict::Refused { .. }) {
                verdict = v;
                shown = path.clone();
                break;
            }
            if matches!(v, Verdict::AllowedShared { .. }) {
                verdict = v;
            }
        }
        out.push(PathVerdict {
            input,
            path: Some(shown),
            verdict,
        });
    }
    shared_locks(ws, req, &mut out);
    let report = GuardReport {
        version: GUARD_VERSION,
        droid: req.droid.clone(),
        source: req.source,
        paths: out,
    };
    for p in report.refused() {
        let shown = p.path.clone().unwrap_or_else(|| p.input.clone());
        let owner = p.owner_text();
        ws.event_with(
            Event::new(
                EventKind::GuardRefused,
                Some(&req.droid),
                format!("{} of `{shown}` refused: {owner}", req.source.as_str()),
            )
            .with_data(serde_json::json!({
                "path": shown,
                "owner": owner,
                "source": req.source.as_str(),
            })),
        );
    }
    Ok(report)
}

fn judge(
    rules: &Rules,
    class: &Classification,
    me: Option<usize>,
    path: &str,
    ws: &Workspace,
    droid: &str,
) -> Verdict {
    if path.is_empty() {
        // The worktree root itself is nobody's file.
        return refuse(RefuseReason::Unowned, Vec::new(), ws, droid);
    }
    if class.protected {
        return refuse(RefuseReason::Protected, Vec::new(), ws, droid);
    }
    if me.is_some_and(|m| class.owners.contains(&m)) {
        return Verdict::Allowed;
    }
    if class.shared {
        return Verdict::AllowedShared {
            locked_by: Vec::new(),
            lease: None,
        };
    }
    if class.owners.is_empty() {
        return refuse(RefuseReason::Unowned, Vec::new(), ws, droid);
    }
    let owners = class
        .owners
        .iter()
        .map(|&i| rules.droid_names[i].clone())
        .collect();
    refuse(RefuseReason::Owned, owners, ws, droid)
}

fn refuse(reason: RefuseReason, owners: Vec<String>, ws: &Workspace, droid: &str) -> Verdict {
    let advice = match reason {
        RefuseReason::Owned => format!(
            "Ask the owner to make the change: `droidforge ask {} \"<what you need>\"` (or note it in INTERFACES.md).",
            owners.first().map(String::as_str).unwrap_or("<owner>")
        ),
        RefuseReason::Protected => "Protected paths change only on the integration branch (by a human or by droidforge itself); ask the orchestrator.".to_owned(),
        RefuseReason::Unowned => format!(
            "No droid owns it: ask the orchestrator to give it to `{droid}` in {}, or make the change inside your own files.",
            ws.forge.source
        ),
        RefuseReason::OutsideWorktree => "Change files inside your worktree only.".to_owned(),
    };
    Verdict::Refused {
        reason,
        owners,
        advice,
    }
}

/// Fill in other droids' write leases on allowed shared paths, and under `auto_lock` take or
/// refresh the droid's own lease. Lock-table trouble never blocks an edit: the guard answers
/// on ownership; leases are advisory.
fn shared_locks(ws: &Workspace, req: &GuardRequest, out: &mut [PathVerdict]) {
    let shared: Vec<String> = out
        .iter()
        .filter(|p| matches!(p.verdict, Verdict::AllowedShared { .. }))
        .filter_map(|p| p.path.clone())
        .collect();
    if shared.is_empty() {
        return;
    }
    let held = locks::write_locks_held_by_others(&ws.state, &req.droid, &shared);
    let auto = ws.forge.manifest.forge.auto_lock && req.source == GuardSource::Edit;
    for p in out.iter_mut() {
        let Some(path) = p.path.clone() else { continue };
        let Verdict::AllowedShared { locked_by, lease } = &mut p.verdict else {
            continue;
        };
        for h in held.iter().filter(|h| h.path == path) {
            if !locked_by.contains(&h.holder) {
                locked_by.push(h.holder.clone());
            }
        }
        if auto && locked_by.is_empty() {
            *lease = take_lease(ws, req, &path);
        }
    }
}

/// Take the droid's write lease on exactly `path`, or refresh the one it holds. The guard
/// runs in the agent's short-lived hook process, so inside the droid's worktree the lease
/// belongs to the droid (alive with its running agent, or until the TTL), like `lock`'s.
fn take_lease(ws: &Workspace, req: &GuardRequest, path: &str) -> Option<String> {
    let store = LockStore::new(&ws.state);
    let ttl = locks::DEFAULT_TTL;
    let (holder, agent_pid) =
        locks::holder_for(&ws.state, &req.droid, ws.current_droid().as_deref());
    let refreshed = store
        .update(|table| {
            let until = crate::util::time::now().saturating_add(ttl.as_secs() as i64);
            table
                .leases
                .iter_mut()
                .find(|l| {
                    l.droid == req.droid
                        && l.mode == LockMode::Write
                        && l.globs.iter().any(|g| g == path)
                })
                .map(|l| {
                    l.expires_at = until;
                    l.pid = req.lease_pid;
                    l.holder = holder;
                    l.agent_pid = agent_pid;
                    l.id.clone()
                })
        })
        .ok()
        .flatten();
    if refreshed.is_some() {
        return refreshed;
    }
    let lock_req = LockRequest {
        droid: req.droid.clone(),
        globs: vec![crate::forge::ownership::escape_path(path)],
        mode: LockMode::Write,
        ttl: Duration::from_secs(ttl.as_secs()),
        pid: req.lease_pid,
        holder,
        agent_pid,
    };
    match store.try_acquire(&lock_req, None) {
        Ok(report) => match report.attempt {
            locks::Attempt::Granted { lease } => {
                ws.event(
                    EventKind::LockAcquired,
                    Some(&req.droid),
                    format!("{} (write, auto_lock) {path}", lease.id),
                );
                Some(lease.id)
            }
            _ => None,
        },
        Err(_) => None,
    }
}

/// The repository-relative paths an absolute path leads to inside `root` (canonical): the
/// link path and, when it differs, the symlink's final target. `None` when either leads
/// outside `root`.
pub fn leads_to(abs: &Path, root: &Path) -> Option<Vec<String>> {
    let target = resolve(abs)?;
    // The link itself: the parent resolved, the last name kept.
    let link = match abs.components().next_back() {
        Some(Component::Normal(name)) => abs.parent().and_then(resolve).map(|p| p.join(name)),
        _ => Some(target.clone()),
    }?;
    let mut out = vec![relative(&link, root)?];
    let t = relative(&target, root)?;
    if t != out[0] {
        out.push(t);
    }
    // The target first: it is what gets written.
    out.reverse();
    Some(out)
}

fn relative(path: &Path, root: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

/// Resolve `..`, `.` and symlinks of an absolute path against the file system; components
/// that do not exist are appended as they are. A dangling symlink is followed too: writing
/// through it creates its target. `None` on a symlink loop.
fn resolve(abs: &Path) -> Option<PathBuf> {
    let mut queue: VecDeque<Part> = parts(abs).collect();
    let mut cur = PathBuf::new();
    let mut exists = true;
    let mut hops = 0;
    while let Some(part) = queue.pop_front() {
        match part {
            Part::Root(root) => cur = root,
            Part::Parent => {
                cur.pop();
            }
            Part::Name(name) => {
                let next = cur.join(&name);
                if exists {
                    match std::fs::symlink_metadata(&next) {
                        Ok(meta) if meta.file_type().is_symlink() => {
                            hops += 1;
                            if hops > 40 {
                                return None;
                            }
                            let target = std::fs::read_link(&next).ok()?;
                            for p in parts(&target).collect::<Vec<_>>().into_iter().rev() {
                                queue.push_front(p);
                            }
                            continue;
                        }
                        Ok(_) => {}
                        Err(_) => exists = false,
                    }
                }
                cur = next;
            }
        }
    }
    Some(cur)
}

/// A path component, owned (symlink targets are spliced into the queue of what is left).
enum Part {
    /// The root (and prefix) an absolute path starts from.
    Root(PathBuf),
    Parent,
    Name(std::ffi::OsString),
}

fn parts(path: &Path) -> impl Iterator<Item = Part> + '_ {
    path.components().filter_map(|c| match c {
        Component::Prefix(_) | Component::RootDir => Some(Part::Root(
            path.components()
                .take_while(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
                .collect::<PathBuf>(),
        )),
        Component::CurDir => None,
        Component::ParentDir => Some(Part::Parent),
        Component::Normal(n) => Some(Part::Name(n.to_os_string())),
    })
}
