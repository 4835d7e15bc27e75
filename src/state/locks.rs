//! Advisory leases on path globs between droids (`<state>/locks.json`): read leases are
//! shared, write leases exclusive, a multi-glob request is all-or-nothing, and a wait that
//! would close a cycle in the wait-for graph fails at once, naming the cycle.
//!
//! Every change is a read-modify-write of `locks.json` under `locks.lock` with an atomic
//! replace, so concurrent droidforge processes serialize and never lose an update. Each
//! grant and each release takes the next number of `LockTable::seq`; the stress test uses
//! those numbers to prove that conflicting grants never overlap.
//!
//! Who holds a lease ([`Holder`]):
//! - taken inside a droid's worktree, the *droid* holds it: agents run every command in a
//!   fresh shell, so no process of theirs outlives the command. When the droid's agent (the
//!   process group `run` recorded for it) was running at the grant, the lease lives as long
//!   as that agent; otherwise only its TTL ends it. Any shell of the droid releases it.
//! - taken anywhere else (the main worktree, with `--droid`), the *process* that asked holds
//!   it: the `pid` recorded is droidforge's parent (the shell, orchestrator or MCP server
//!   that runs droidforge), because the lease must outlive the short-lived `droidforge lock`
//!   process. When that process is gone, the lease is stale.
//!
//! A stale lease is reported, broken by `unlock --force` and `doctor --fix`. Leases past
//! their TTL are stale whoever holds them, and `lock` breaks them by itself.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{FileLock, StateDir, group_leader_alive, pid_alive};
use crate::error::{Context, Error, Result};
use crate::forge::ownership::compile_pattern;
use crate::util::safe_fs::write_atomic;
use crate::util::time::now;

mod held;
mod waitgraph;

pub use held::{LockedPath, write_locks_held_by_others};
pub use waitgraph::{CycleStep, format_cycle};
use waitgraph::{blockers_of, find_cycle, queued_ahead, ticket_id};

/// Default lifetime of a lease.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LockMode {
    Read,
    Write,
}

impl LockMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Read => "read",
            LockMode::Write => "write",
        }
    }
}

/// What keeps a lease alive (see the module docs).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Holder {
    /// The process `pid`: the lease is stale once it is gone. Lock files written before
    /// droid-held leases existed mean this.
    #[default]
    Process,
    /// The droid: the lease is stale once `agent` (if any) is gone, or its TTL passed.
    Droid,
}

/// One granted lease.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Lease {
    /// `L<n>`, unique for the life of the lock file.
    pub id: String,
    pub droid: String,
    pub globs: Vec<String>,
    pub mode: LockMode,
    /// The process that asked for the lease; for [`Holder::Process`] the holder.
    pub pid: u32,
    #[serde(default)]
    pub holder: Holder,
    /// For [`Holder::Droid`]: the droid's running agent (its process group id) at the grant.
    #[serde(default)]
    pub agent_pid: Option<u32>,
    /// Epoch seconds.
    pub acquired_at: i64,
    pub expires_at: i64,
    /// The lock table's sequence number at the grant.
    pub seq: u64,
}

impl Lease {
    pub fn is_expired(&self, at: i64) -> bool {
        at >= self.expires_at
    }

    /// Why the lease is stale (holder gone, or past its TTL), if it is.
    pub fn stale_reason(&self, at: i64) -> Option<String> {
        if self.is_expired(at) {
            return Some("expired".to_owned());
        }
        match (self.holder, self.agent_pid) {
            (Holder::Droid, Some(agent)) if !group_leader_alive(agent) => Some(format!(
                "the agent of `{}` (pid {agent}) has exited",
                self.droid
            )),
            (Holder::Droid, _) => None,
            (Holder::Process, _) if !pid_alive(self.pid) => {
                Some(format!("holder pid {} is gone", self.pid))
            }
            (Holder::Process, _) => None,
        }
    }
}

/// A wait-for edge: `waiter` is blocked by the leases in `blockers`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WaitEdge {
    pub waiter: String,
    /// The waiting process (the edge dies with it).
    pub pid: u32,
    /// Place in the queue: requests that hold nothing let earlier conflicting waiters go first.
    #[serde(default)]
    pub ticket: u64,
    pub globs: Vec<String>,
    pub mode: LockMode,
    pub blockers: Vec<Blocker>,
    pub since: i64,
}

/// A lease in the way of a request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Blocker {
    pub droid: String,
    pub lease: String,
    /// The holder's glob that overlaps the request.
    pub glob: String,
    pub mode: LockMode,
    /// A path both sides cover.
    pub example: String,
}

/// The whole `locks.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockTable {
    #[serde(default)]
    pub version: u32,
    /// Bumped by every grant and every release.
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub next_id: u64,
    #[serde(default)]
    pub next_ticket: u64,
    #[serde(default)]
    pub leases: Vec<Lease>,
    #[serde(default)]
    pub waits: Vec<WaitEdge>,
}

/// What someone asks for.
#[derive(Debug, Clone)]
pub struct LockRequest {
    pub droid: String,
    pub globs: Vec<String>,
    pub mode: LockMode,
    pub ttl: Duration,
    /// The process that asks (the holder for [`Holder::Process`]).
    pub pid: u32,
    pub holder: Holder,
    /// For [`Holder::Droid`]: the droid's running agent, which the lease lives with.
    pub agent_pid: Option<u32>,
}

/// Who holds a lease that `droid` asks for from a directory inside `cwd_droid`'s worktree
/// (`None`: not inside a droid's worktree), and the droid's running agent it lives with: see
/// the module docs.
pub fn holder_for(state: &StateDir, droid: &str, cwd_droid: Option<&str>) -> (Holder, Option<u32>) {
    if cwd_droid == Some(droid) {
        (Holder::Droid, super::running_agent(state, droid))
    } else {
        (Holder::Process, None)
    }
}

/// The answer to one attempt.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Attempt {
    Granted { lease: Lease },
    Blocked { blockers: Vec<Blocker> },
    Deadlock { cycle: Vec<CycleStep> },
}

/// A lease that went away, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Released {
    pub lease: Lease,
    /// The lock table's sequence number at the release.
    pub seq: u64,
    /// `released`, `forced`, or `expired`.
    pub how: String,
}

/// Result of [`LockStore::try_acquire`].
#[derive(Debug, Clone, Serialize)]
pub struct AttemptReport {
    #[serde(flatten)]
    pub attempt: Attempt,
    /// Expired leases removed on the way.
    pub expired: Vec<Released>,
}

/// How long [`LockStore::acquire`] may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitPolicy {
    NoWait,
    Forever,
    AtMost(Duration),
}

/// Access to `locks.json`.
#[derive(Debug, Clone)]
pub struct LockStore {
    root: PathBuf,
}

impl LockStore {
    pub fn new(state: &StateDir) -> LockStore {
        LockStore {
            root: state.root.clone(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.root.join("locks.json")
    }

    /// Read the table (empty when none was written yet).
    pub fn read(&self) -> Result<LockTable> {
        let path = self.path();
        Ok(super::read_state_json(
            &path,
            "lock file",
            "run `droidforge doctor --fix`: it moves the file aside as `locks.json.corrupt-<time>` and starts with no locks held",
        )?
        .unwrap_or_else(|| LockTable {
            version: 1,
            ..LockTable::default()
        }))
    }

    /// Read-modify-write under `locks.lock`; the file is rewritten only when something changed.
    pub fn update<T>(&self, f: impl FnOnce(&mut LockTable) -> T) -> Result<T> {
        let _guard = FileLock::acquire(&self.root.join("locks.lock"))?;
        let mut table = self.read()?;
        let before = table.clone();
        table.version = 1;
        let out = f(&mut table);
        if table != before {
            let bytes = serde_json::to_vec_pretty(&table).context("cannot serialize locks")?;
            write_atomic(&self.path(), &bytes)?;
        }
        Ok(out)
    }

    /// One attempt: break expired leases, then grant, or report the blockers. With
    /// `register_wait`, a blocked request records its wait-for edge (owned by `waiter_pid`),
    /// unless that edge would close a cycle, which is reported as a deadlock instead.
    pub fn try_acquire(
        &self,
        req: &LockRequest,
        register_wait: Option<u32>,
    ) -> Result<AttemptReport> {
        validate_globs(&req.globs)?;
        let mut to_mark = Vec::new();
        let mut to_unmark = Vec::new();
        let report = self.update(|table| {
            let at = now();
            let expired = take_expired(table, at);
            to_unmark.extend(expired.iter().map(|r| r.lease.id.clone()));
            // Edges of processes that stopped waiting (killed, Ctrl-C) are not real.
            let dead: Vec<String> = table
                .waits
                .iter()
                .filter(|w| !pid_alive(w.pid))
                .map(|w| ticket_id(w.ticket))
                .collect();
            if !dead.is_empty() {
                table.waits.retain(|w| !dead.contains(&ticket_id(w.ticket)));
                to_unmark.extend(dead);
            }
            let mine = register_wait.and_then(|pid| table.waits.iter().find(|w| w.pid == pid));
            let (since, ticket) = mine.map_or((at, None), |w| (w.since, Some(w.ticket)));
            let mut blockers = blockers_of(table, req);
            blockers.extend(queued_ahead(table, req, ticket));
            let attempt = if blockers.is_empty() {
                table.seq += 1;
                table.next_id += 1;
                let lease = Lease {
                    id: format!("L{}", table.next_id),
                    droid: req.droid.clone(),
                    globs: req.globs.clone(),
                    mode: req.mode,
                    pid: req.pid,
                    holder: req.holder,
                    agent_pid: req.agent_pid,
                    acquired_at: at,
                    expires_at: at.saturating_add(req.ttl.as_secs().min(i64::MAX as u64) as i64),
                    seq: table.seq,
                };
                table.leases.push(lease.clone());
                to_mark.push(lease.id.clone());
                if let Some(t) = ticket {
                    table.waits.retain(|w| w.ticket != t);
                    to_unmark.push(ticket_id(t));
                }
                Attempt::Granted { lease }
            } else if let Some(pid) = register_wait {
                let ticket = ticket.unwrap_or_else(|| {
                    table.next_ticket += 1;
                    to_mark.push(ticket_id(table.next_ticket));
                    table.next_ticket
                });
                table.waits.retain(|w| w.ticket != ticket);
                // The table keeps only the lease blockers (the wait-for graph); queue order
                // is implied by the tickets.
                let edge = WaitEdge {
                    waiter: req.droid.clone(),
                    pid,
                    ticket,
                    globs: req.globs.clone(),
                    mode: req.mode,
                    blockers: blockers
                        .iter()
                        .filter(|b| !b.lease.starts_with('W'))
                        .cloned()
                        .collect(),
                    since,
                };
                match find_cycle(&table.waits, &edge) {
                    Some(cycle) => {
                        to_unmark.push(ticket_id(ticket));
                        Attempt::Deadlock { cycle }
                    }
                    None => {
                        table.waits.push(edge);
                        Attempt::Blocked { blockers }
                    }
                }
            } else {
                Attempt::Blocked { blockers }
            };
            AttemptReport { attempt, expired }
        })?;
        // Markers change after the table; ids are never reused, so only order matters.
        for id in &to_unmark {
            let _ = std::fs::remove_file(self.marker(id));
        }
        for id in &to_mark {
            self.mark(id);
        }
        Ok(report)
    }

    /// Forget the wait edge of `pid` (after a timeout or an error).
    pub fn clear_wait(&self, pid: u32) -> Result<()> {
        let gone = self.update(|t| {
            let gone: Vec<String> = t
                .waits
                .iter()
                .filter(|w| w.pid == pid)
                .map(|w| ticket_id(w.ticket))
                .collect();
            t.waits.retain(|w| w.pid != pid);
            gone
        })?;
        for id in gone {
            let _ = std::fs::remove_file(self.marker(&id));
        }
        Ok(())
    }

    /// Try until granted, a deadlock, or the wait policy runs out. `on_attempt` sees every
    /// attempt (the command uses it to print and record `lock-wait` once).
    pub fn acquire(
        &self,
        req: &LockRequest,
        wait: WaitPolicy,
        poll: Duration,
        mut on_attempt: impl FnMut(&AttemptReport),
    ) -> Result<AttemptReport> {
        let me = std::process::id();
        let started = Instant::now();
        let register = match wait {
            WaitPolicy::NoWait => None,
            _ => Some(me),
        };
        let cap = poll * 4;
        let mut delay = poll;
        // While blocked: the blocking lease ids and when we last asked under the lock.
        let mut blocked_on: Option<(Vec<String>, Instant)> = None;
        loop {
            // Waiters do not contend for `locks.lock` while nothing they care about changed:
            // they watch the marker files of the leases in their way, and ask again when one
            // disappears (released or broken), or every second anyway (expiry, crashed writers).
            if let Some((ids, asked)) = &blocked_on {
                let freed = ids.iter().any(|id| !self.marker(id).exists());
                let out_of_time = match wait {
                    WaitPolicy::AtMost(limit) => started.elapsed() + delay > limit,
                    _ => false,
                };
                if !freed && !out_of_time && asked.elapsed() < Duration::from_secs(1) {
                    std::thread::sleep(jitter(delay));
                    delay = (delay * 2).min(cap);
                    continue;
                }
            }
            let report = match self.try_acquire(req, register) {
                Ok(r) => r,
                Err(e) => {
                    if register.is_some() {
                        let _ = self.clear_wait(me);
                    }
                    return Err(e);
                }
            };
            on_attempt(&report);
            let out_of_time = match wait {
                WaitPolicy::NoWait => true,
                WaitPolicy::Forever => false,
                WaitPolicy::AtMost(limit) => started.elapsed() + delay > limit,
            };
            match &report.attempt {
                Attempt::Blocked { blockers } if !out_of_time => {
                    // Queued behind other waiters: watch only the nearest one ahead (it will
                    // go first, then we look again), so a release wakes one waiter, not all.
                    let nearest = blockers
                        .iter()
                        .filter_map(|b| b.lease.strip_prefix('W')?.parse::<u64>().ok())
                        .max();
                    let ids = match nearest {
                        Some(t) => vec![ticket_id(t)],
                        None => blockers.iter().map(|b| b.lease.clone()).collect(),
                    };
                    blocked_on = Some((ids, Instant::now()));
                }
                _ => {
                    if register.is_some() && !matches!(report.attempt, Attempt::Granted { .. }) {
                        self.clear_wait(me)?;
                    }
                    return Ok(report);
                }
            }
            std::thread::sleep(jitter(delay));
            delay = (delay * 2).min(cap);
        }
    }

    /// `<state>/leases/<id>`: exists while the lease does (a hint for waiters, not the truth).
    fn marker(&self, id: &str) -> PathBuf {
        self.root.join("leases").join(id)
    }

    fn mark(&self, id: &str) {
        let path = self.marker(id);
        if std::fs::write(&path, b"").is_err()
            && let Some(dir) = path.parent()
        {
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::write(&path, b"");
        }
    }

    fn unmark(&self, released: &[Released]) {
        for r in released {
            let _ = std::fs::remove_file(self.marker(&r.lease.id));
        }
    }

    /// Release leases. `targets` are lease ids or globs (a lease goes when its id or one of its
    /// globs is named). Without `force` only `droid`'s own leases are touched. With `force`
    /// and no targets (and not `all`), every stale lease is broken.
    pub fn release(
        &self,
        droid: Option<&str>,
        targets: &[String],
        all: bool,
        force: bool,
    ) -> Result<Vec<Released>> {
        let released = self.update(|table| {
            let at = now();
            let mut out = Vec::new();
            let mut keep = Vec::with_capacity(table.leases.len());
            for lease in std::mem::take(&mut table.leases) {
                let mine = droid.is_none_or(|d| lease.droid == d);
                let named = targets
                    .iter()
                    .any(|t| *t == lease.id || lease.globs.contains(t));
                let hit = if !targets.is_empty() {
                    named && (mine || force)
                } else if all {
                    mine
                } else if force {
                    lease.stale_reason(at).is_some()
                } else {
                    false
                };
                if hit {
                    table.seq += 1;
                    let how = if mine && droid.is_some() {
                        "released"
                    } else {
                        "forced"
                    };
                    out.push(Released {
                        lease,
                        seq: table.seq,
                        how: how.to_owned(),
                    });
                } else {
                    keep.push(lease);
                }
            }
            table.leases = keep;
            out
        })?;
        self.unmark(&released);
        Ok(released)
    }
}

/// Spread waiters out so they do not wake in lockstep.
fn jitter(d: Duration) -> Duration {
    let nanos = crate::util::time::since_epoch().subsec_nanos();
    let frac = 0.5 + f64::from(nanos % 1000) / 1000.0;
    d.mul_f64(frac)
}

fn validate_globs(globs: &[String]) -> Result<()> {
    if globs.is_empty() {
        return Err(Error::usage("name at least one path glob to lock"));
    }
    for g in globs {
        compile_pattern(g).map_err(|e| {
            Error::usage(format!("cannot lock `{g}`: {e}"))
                .hint("lock paths are globs relative to the repository root, e.g. `src/api/**`")
        })?;
    }
    Ok(())
}

fn take_expired(table: &mut LockTable, at: i64) -> Vec<Released> {
    let (gone, keep): (Vec<Lease>, Vec<Lease>) = std::mem::take(&mut table.leases)
        .into_iter()
        .partition(|l| l.is_expired(at));
    table.leases = keep;
    gone.into_iter()
        .map(|lease| {
            table.seq += 1;
            Released {
                lease,
                seq: table.seq,
                how: "expired".to_owned(),
            }
        })
        .collect()
}
