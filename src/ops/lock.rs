//! `lock`, `unlock`, `locks` as operations: advisory leases on shared paths between droids,
//! and the journal entries each change of the lock table leaves.
//!
//! Inside a droid's worktree the droid holds the lease (alive with its running agent, or until
//! its TTL); elsewhere droidforge's *parent* (the shell or orchestrator that ran the command)
//! does, because the lease has to outlive the droidforge process itself. The table and its
//! rules are in `state::locks`.

use std::time::Duration;

use serde::Serialize;

use crate::error::{ExitKind, Result, Typed};
use crate::state::locks::{
    Attempt, AttemptReport, Blocker, Lease, LockMode, LockRequest, LockStore, Released, WaitEdge,
    WaitPolicy, format_cycle, holder_for,
};
use crate::state::{Event, EventKind, pid_alive};
use crate::util::time::now;
use crate::workspace::Workspace;

/// The process that asks for a lease (see the module docs).
pub fn holder_pid() -> u32 {
    #[cfg(unix)]
    {
        std::os::unix::process::parent_id()
    }
    #[cfg(not(unix))]
    {
        std::process::id()
    }
}

/// What `lock` asks for.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// The droid taking the lease; `None`: the droid of the current worktree.
    pub droid: Option<String>,
    pub globs: Vec<String>,
    pub mode: LockMode,
    pub ttl: Duration,
    pub wait: WaitPolicy,
}

/// What `lock` got: the request as made and the final attempt.
#[derive(Debug)]
pub struct LockOutcome {
    pub request: LockRequest,
    pub report: AttemptReport,
}

/// Take a lease, waiting as `opts.wait` allows. `on_wait` is called once, with the blockers,
/// when the request has to wait. Grants, waits, deadlocks and expired leases removed on the way
/// are journaled.
pub fn lock(
    ws: &Workspace,
    opts: &LockOptions,
    mut on_wait: impl FnMut(&[Blocker]),
) -> Result<LockOutcome> {
    ws.state.ensure()?;
    let droid = ws.droid_arg(opts.droid.as_deref())?;
    let (holder, agent_pid) = holder_for(&ws.state, &droid, ws.current_droid().as_deref());
    let request = LockRequest {
        droid: droid.clone(),
        globs: opts.globs.clone(),
        mode: opts.mode,
        ttl: opts.ttl,
        pid: holder_pid(),
        holder,
        agent_pid,
    };
    let store = LockStore::new(&ws.state);
    let mut announced = false;
    let report = store.acquire(&request, opts.wait, Duration::from_millis(50), |r| {
        for gone in &r.expired {
            record_release(ws, gone);
        }
        if let Attempt::Blocked { blockers } = &r.attempt
            && !announced
            && !matches!(opts.wait, WaitPolicy::NoWait)
        {
            announced = true;
            on_wait(blockers);
            let who: Vec<String> = blockers
                .iter()
                .map(|b| format!("`{}` ({} {})", b.droid, b.mode.as_str(), b.glob))
                .collect();
            ws.event_with(
                Event::new(
                    EventKind::LockWait,
                    Some(&droid),
                    format!("waits for {}", who.join(", ")),
                )
                .with_data(serde_json::json!({ "globs": request.globs, "blockers": blockers })),
            );
        }
    })?;
    match &report.attempt {
        Attempt::Granted { lease } => ws.event_with(
            Event::new(
                EventKind::LockAcquired,
                Some(&lease.droid),
                format!("{} {}", lease.mode.as_str(), lease.globs.join(" ")),
            )
            .with_data(serde_json::to_value(lease).unwrap_or_default()),
        ),
        Attempt::Deadlock { cycle } => ws.event_with(
            Event::new(EventKind::Deadlock, Some(&droid), format_cycle(cycle))
                .with_data(serde_json::json!({ "cycle": cycle, "globs": request.globs })),
        ),
        Attempt::Blocked { .. } => {}
    }
    Ok(LockOutcome { request, report })
}

/// Why each blocking lease is stale, if it is (`None` for a live one), in blocker order.
pub fn stale_blockers(ws: &Workspace, blockers: &[Blocker]) -> Vec<Option<String>> {
    let at = now();
    let table = LockStore::new(&ws.state).read().unwrap_or_default();
    blockers
        .iter()
        .map(|b| {
            table
                .leases
                .iter()
                .find(|l| l.id == b.lease)
                .and_then(|l| l.stale_reason(at))
        })
        .collect()
}

/// What `unlock` releases.
#[derive(Debug, Clone)]
pub struct UnlockOptions {
    /// Lease ids or globs.
    pub targets: Vec<String>,
    pub droid: Option<String>,
    /// Break leases of other (dead or stuck) holders.
    pub force: bool,
    /// Every lease of the droid.
    pub all: bool,
}

/// Why `unlock` released nothing it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("name the locks to release")]
    NothingNamed,
    #[error("no lock on {}{}", quoted(targets), holder.as_ref().map(|d| format!(" held by `{d}`")).unwrap_or_default())]
    NoLock {
        targets: Vec<String>,
        holder: Option<String>,
    },
}

fn quoted(targets: &[String]) -> String {
    targets
        .iter()
        .map(|g| format!("`{g}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Typed for LockError {
    fn exit_kind(&self) -> ExitKind {
        match self {
            LockError::NothingNamed => ExitKind::Usage,
            LockError::NoLock { .. } => ExitKind::Failure,
        }
    }
}

/// Release leases (journaled). `--force` without a droid acts on every holder; otherwise the
/// droid must be known. Naming targets that match no lease is an error.
pub fn unlock(ws: &Workspace, opts: &UnlockOptions) -> Result<Vec<Released>> {
    ws.state.ensure()?;
    if opts.targets.is_empty() && !opts.all && !opts.force {
        return Err(LockError::NothingNamed.into());
    }
    let scope = if opts.force && opts.droid.is_none() {
        None
    } else {
        Some(ws.droid_arg(opts.droid.as_deref())?)
    };
    let released =
        LockStore::new(&ws.state).release(scope.as_deref(), &opts.targets, opts.all, opts.force)?;
    for r in &released {
        record_release(ws, r);
    }
    if released.is_empty() && !opts.targets.is_empty() {
        return Err(LockError::NoLock {
            targets: opts.targets.clone(),
            holder: scope,
        }
        .into());
    }
    Ok(released)
}

/// One lease as `locks` shows it.
#[derive(Debug, Serialize)]
pub struct LeaseView {
    #[serde(flatten)]
    pub lease: Lease,
    /// Why the lease is stale, when it is.
    pub stale: Option<String>,
}

/// The lock table as `locks` shows it: leases with their staleness, the live waiters.
#[derive(Debug, Serialize)]
pub struct LockList {
    pub leases: Vec<LeaseView>,
    pub waits: Vec<WaitEdge>,
    pub seq: u64,
    /// When the staleness was judged (seconds since the epoch).
    #[serde(skip)]
    pub at: i64,
}

pub fn list(ws: &Workspace) -> Result<LockList> {
    let table = LockStore::new(&ws.state).read()?;
    let at = now();
    Ok(LockList {
        leases: table
            .leases
            .into_iter()
            .map(|lease| {
                let stale = lease.stale_reason(at);
                LeaseView { lease, stale }
            })
            .collect(),
        waits: table
            .waits
            .into_iter()
            .filter(|w| pid_alive(w.pid))
            .collect(),
        seq: table.seq,
        at,
    })
}

fn record_release(ws: &Workspace, r: &Released) {
    ws.event_with(
        Event::new(
            EventKind::LockReleased,
            Some(&r.lease.droid),
            format!("{} {} ({})", r.lease.id, r.lease.globs.join(" "), r.how),
        )
        .with_data(serde_json::json!({ "lease": r.lease, "seq": r.seq, "how": r.how })),
    );
}
