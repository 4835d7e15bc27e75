//! `droidforge lock`, `unlock`, `locks`: flags to options, `ops::lock`, and the rendering.

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::{Error, Result};
use droidforge::ops::lock::{LockError, LockOptions, LockOutcome, UnlockOptions};
use droidforge::state::locks::{Attempt, DEFAULT_TTL, Holder, LockMode, WaitPolicy, format_cycle};
use droidforge::workspace::{ManifestSource, Workspace};

pub fn lock(ctx: &Ctx, args: &LockArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    let opts = LockOptions {
        droid: args.droid.clone(),
        globs: args.globs.clone(),
        mode: if args.read {
            LockMode::Read
        } else {
            LockMode::Write
        },
        ttl: args.ttl.unwrap_or(DEFAULT_TTL),
        wait: args.wait.unwrap_or(WaitPolicy::NoWait),
    };
    let outcome = droidforge::ops::lock::lock(&ws, &opts, |blockers| {
        let who: Vec<String> = blockers
            .iter()
            .map(|b| format!("`{}` ({} {})", b.droid, b.mode.as_str(), b.glob))
            .collect();
        ctx.ui.status("Waiting", &format!("for {}", who.join(", ")));
    })?;
    render_attempt(ctx, &ws, args, outcome)
}

fn render_attempt(ctx: &Ctx, ws: &Workspace, args: &LockArgs, outcome: LockOutcome) -> Result<i32> {
    let LockOutcome {
        request: req,
        report,
    } = outcome;
    match &report.attempt {
        Attempt::Granted { lease } => {
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
            let mut lines = Vec::new();
            let mut stale = Vec::new();
            let whys = droidforge::ops::lock::stale_blockers(ws, blockers);
            for (b, why) in blockers.iter().zip(whys) {
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

pub fn unlock(ctx: &Ctx, args: &UnlockArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    let opts = UnlockOptions {
        targets: args.globs.clone(),
        droid: args.droid.clone(),
        force: args.force,
        all: args.all,
    };
    let released = match droidforge::ops::lock::unlock(&ws, &opts) {
        Ok(released) => released,
        Err(e) => {
            // A script reading `--json` still gets the (empty) list before the error.
            if args.json
                && e.find::<LockError>()
                    .is_some_and(|e| matches!(e, LockError::NoLock { .. }))
            {
                ctx.ui.json(&serde_json::json!({ "released": [] }));
            }
            return Err(e);
        }
    };
    if args.json {
        ctx.ui.json(&serde_json::json!({ "released": released }));
    } else {
        for r in &released {
            let verb = if r.how == "forced" {
                "Broke"
            } else {
                "Unlocked"
            };
            let lease = &r.lease;
            ctx.ui.status(
                verb,
                &format!(
                    "{} {} (`{}`, lease {})",
                    lease.mode.as_str(),
                    lease.globs.join(" "),
                    lease.droid,
                    lease.id
                ),
            );
        }
        if released.is_empty() {
            ctx.ui.status("Unlocked", "nothing");
        }
    }
    Ok(0)
}

pub fn locks(ctx: &Ctx, args: &LocksArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    let list = droidforge::ops::lock::list(&ws)?;
    if args.json {
        ctx.ui.json(&list);
        return Ok(0);
    }
    let at = list.at;
    if list.leases.is_empty() {
        ctx.ui.status("Locks", "none held");
    } else {
        let rows: Vec<Vec<String>> = list
            .leases
            .iter()
            .map(|v| {
                vec![
                    v.lease.id.clone(),
                    v.lease.droid.clone(),
                    v.lease.mode.as_str().to_owned(),
                    v.lease.globs.join(" "),
                    holder_text(&v.lease),
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
    for w in &list.waits {
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
    if list.leases.iter().any(|v| v.stale.is_some()) {
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
