//! `droidforge lock`, `unlock`, `locks`: advisory leases on shared paths between droids.
//!
//! Inside a droid's worktree the droid holds the lease (alive with its running agent, or
//! until its TTL); elsewhere droidforge's *parent* (the shell or orchestrator that ran the
//! command) does, because the lease has to outlive the `droidforge lock` process itself.
//! See `state::locks` for the rules.

use std::time::Duration;

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::{Error, Result};
use droidforge::state::locks::{
    Attempt, AttemptReport, DEFAULT_TTL, Holder, LockMode, LockRequest, LockStore, Released,
    WaitPolicy, format_cycle, holder_for,
};
use droidforge::state::{Event, EventKind};
use droidforge::util::time::now;
use droidforge::workspace::{ManifestSource, Workspace};

/// The process that asks for a lease through this command (see the module docs).
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

fn duration_arg(flag: &str, text: &str) -> Result<Duration> {
    droidforge::util::duration::parse(text).ok_or_else(|| {
        Error::usage(format!("`{text}` is not a duration for `{flag}`"))
            .hint("write e.g. `30s`, `5m`, `2h`")
    })
}

pub fn lock(ctx: &Ctx, args: &LockArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    ws.state.ensure()?;
    let droid = ws.droid_arg(args.droid.as_deref())?;
    let mode = if args.read {
        LockMode::Read
    } else {
        LockMode::Write
    };
    let ttl = match &args.ttl {
        Some(t) => duration_arg("--ttl", t)?,
        None => DEFAULT_TTL,
    };
    let wait = match args.wait.as_deref() {
        None => WaitPolicy::NoWait,
        Some("forever") => WaitPolicy::Forever,
        Some(t) => WaitPolicy::AtMost(duration_arg("--wait", t)?),
    };
    let (holder, agent_pid) = holder_for(&ws.state, &droid, ws.current_droid().as_deref());
    let req = LockRequest {
        droid: droid.clone(),
        globs: args.globs.clone(),
        mode,
        ttl,
        pid: holder_pid(),
        holder,
        agent_pid,
    };
    let store = LockStore::new(&ws.state);
    let mut announced = false;
    let report = store.acquire(&req, wait, Duration::from_millis(50), |r| {
        for gone in &r.expired {
            record_release(&ws, gone);
        }
        if let Attempt::Blocked { blockers } = &r.attempt
            && !announced
            && !matches!(wait, WaitPolicy::NoWait)
        {
            announced = true;
            let who: Vec<String> = blockers
                .iter()
                .map(|b| format!("`{}` ({} {})", b.droid, b.mode.as_str(), b.glob))
                .collect();
            ctx.ui.status("Waiting", &format!("for {}", who.join(", ")));
            ws.event_with(
                Event::new(
                    EventKind::LockWait,
                    Some(&droid),
                    format!("waits for {}", who.join(", ")),
                )
                .with_data(serde_json::json!({ "globs": req.globs, "blockers": blockers })),
            );
        }
    })?;
    render_attempt(ctx, &ws, &req, args, report)
}

fn render_attempt(
    ctx: &Ctx,
    ws: &Workspace,
    req: &LockRequest,
    args: &LockArgs,
    report: AttemptReport,
) -> Result<i32> {
    match &report.attempt {
        Attempt::Granted { lease } => {
            ws.event_with(
                Event::new(
                    EventKind::LockAcquired,
                    Some(&lease.droid),
                    format!("{} {}", lease.mode.as_str(), lease.globs.join(" ")),
                )
                .with_data(serde_json::to_value(lease).unwrap_or_default()),
            );
            if args.json {
                ctx.ui.json(&report);
            } else {
                ctx.ui.status(
                    "Locked",
                    &format!(
                        "{} for `{}` ({}, lease {}, expires in {})",
                        lease.globs.join(" "),
                        lease.droid,
                        lease.mode.as_str(),
                        lease.id,
                        human_secs(lease.expires_at - lease.acquired_at)
                    ),
                );
                ctx.ui.data(&lease.id);
            }
            Ok(0)
        }
        Attempt::Blocked { blockers } => {
            if args.json {
                ctx.ui.json(&report);
            }
            let at = now();
            let table = LockStore::new(&ws.state).read().unwrap_or_default();
            let mut lines = Vec::new();
            let mut stale = Vec::new();
            for b in blockers {
                let lease = table.leases.iter().find(|l| l.id == b.lease);
                let why = lease.and_then(|l| l.stale_reason(at));
                if why.is_some() {
                    stale.push(b.lease.clone());
                }
                lines.push(format!(
                    "`{}` is {}-locked by `{}` (lease {}{})",
                    b.glob,
                    b.mode.as_str(),
                    b.droid,
                    b.lease,
                    why.map(|w| format!(", stale: {w}")).unwrap_or_default()
                ));
            }
            let verb = if args.wait.is_some() {
                "timed out waiting to lock"
            } else {
                "cannot lock"
            };
            let mut err = Error::failure(format!(
                "{verb} {} for `{}`: {}",
                req.globs.join(" "),
                req.droid,
                lines.join("; ")
            ));
            if !stale.is_empty() {
                err = err.hint(format!(
                    "the holder is gone; break it with `droidforge unlock --force {}`",
                    stale.join(" ")
                ));
            }
            if args.wait.is_none() {
                err = err.hint("wait for it with `--wait` (or `--wait=5m`)");
            }
            Err(err)
        }
        Attempt::Deadlock { cycle } => {
            let text = format_cycle(cycle);
            ws.event_with(
                Event::new(EventKind::Deadlock, Some(&req.droid), text.clone())
                    .with_data(serde_json::json!({ "cycle": cycle, "globs": req.globs })),
            );
            if args.json {
                ctx.ui.json(&report);
            }
            Err(
                Error::failure(format!("waiting would deadlock: {text}")).hint(format!(
                    "release a lock in the cycle first, e.g. `droidforge unlock --droid {} --all`",
                    req.droid
                )),
            )
        }
    }
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

pub fn unlock(ctx: &Ctx, args: &UnlockArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    ws.state.ensure()?;
    if args.globs.is_empty() && !args.all && !args.force {
        return Err(Error::usage("name the locks to release")
            .hint("pass globs or lease ids, `--all` for every lock of the droid, or `--force` to break stale locks"));
    }
    // `--force` without `--droid` acts on every holder; otherwise the droid must be known.
    let scope = if args.force && args.droid.is_none() {
        None
    } else {
        Some(ws.droid_arg(args.droid.as_deref())?)
    };
    let scope = scope.as_deref();
    let store = LockStore::new(&ws.state);
    let released = store.release(scope, &args.globs, args.all, args.force)?;
    for r in &released {
        record_release(&ws, r);
    }
    if args.json {
        ctx.ui.json(&serde_json::json!({ "released": released }));
    } else {
        for r in &released {
            ctx.ui.status(
                if r.how == "forced" {
                    "Broke"
                } else {
                    "Unlocked"
                },
                &format!(
                    "{} {} (`{}`, lease {})",
                    r.lease.mode.as_str(),
                    r.lease.globs.join(" "),
                    r.lease.droid,
                    r.lease.id
                ),
            );
        }
    }
    if released.is_empty() && !args.globs.is_empty() {
        let who = scope.map(|d| format!(" held by `{d}`")).unwrap_or_default();
        return Err(Error::failure(format!(
            "no lock on {}{who}",
            args.globs
                .iter()
                .map(|g| format!("`{g}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .hint("`droidforge locks` lists the current leases; `--force` breaks another droid's"));
    }
    if released.is_empty() {
        ctx.ui.status("Unlocked", "nothing");
    }
    Ok(0)
}

#[derive(serde::Serialize)]
struct LeaseView<'a> {
    #[serde(flatten)]
    lease: &'a droidforge::state::locks::Lease,
    /// Why the lease is stale, when it is.
    stale: Option<String>,
}

pub fn locks(ctx: &Ctx, args: &LocksArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    let table = LockStore::new(&ws.state).read()?;
    let at = now();
    let views: Vec<LeaseView> = table
        .leases
        .iter()
        .map(|l| LeaseView {
            lease: l,
            stale: l.stale_reason(at),
        })
        .collect();
    let waits: Vec<_> = table
        .waits
        .iter()
        .filter(|w| droidforge::state::pid_alive(w.pid))
        .collect();
    if args.json {
        ctx.ui
            .json(&serde_json::json!({ "leases": views, "waits": waits, "seq": table.seq }));
        return Ok(0);
    }
    if views.is_empty() {
        ctx.ui.status("Locks", "none held");
    } else {
        let rows: Vec<Vec<String>> = views
            .iter()
            .map(|v| {
                vec![
                    v.lease.id.clone(),
                    v.lease.droid.clone(),
                    v.lease.mode.as_str().to_owned(),
                    v.lease.globs.join(" "),
                    holder_text(v.lease),
                    human_secs(at - v.lease.acquired_at),
                    match &v.stale {
                        Some(why) => format!("stale: {why}"),
                        None => format!("expires in {}", human_secs(v.lease.expires_at - at)),
                    },
                ]
            })
            .collect();
        ctx.ui.data(&crate::cli::ui::table(
            &["LEASE", "DROID", "MODE", "GLOBS", "HOLDER", "AGE", "STATE"],
            &rows,
        ));
    }
    for w in waits {
        let on: Vec<String> = w
            .blockers
            .iter()
            .map(|b| format!("{} ({})", b.droid, b.glob))
            .collect();
        ctx.ui.data(&format!(
            "waiting: {} for {} {} on {}",
            w.waiter,
            w.mode.as_str(),
            w.globs.join(" "),
            on.join(", ")
        ));
    }
    if views.iter().any(|v| v.stale.is_some()) {
        ctx.ui
            .hint("break stale leases with `droidforge unlock --force`");
    }
    Ok(0)
}

/// Who keeps the lease alive, for the `locks` table.
fn holder_text(lease: &droidforge::state::locks::Lease) -> String {
    match (lease.holder, lease.agent_pid) {
        (Holder::Droid, Some(agent)) => format!("droid (agent {agent})"),
        (Holder::Droid, None) => "droid (ttl)".to_owned(),
        (Holder::Process, _) => format!("pid {}", lease.pid),
    }
}

fn human_secs(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        format!("{s}s")
    } else if s < 7200 {
        format!("{}m", s / 60)
    } else if s < 172_800 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86400)
    }
}
