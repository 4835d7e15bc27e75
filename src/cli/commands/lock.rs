//! `droidforge lock`: flags to options, `ops::lock::lock`, and the grant or refusal.

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::{Error, Result};
use droidforge::ops::lock::{LockOptions, LockOutcome};
use droidforge::state::locks::{Attempt, DEFAULT_TTL, LockMode, WaitPolicy, format_cycle};
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

/// A short age or time left: `90s`, `5m`, `3h`, `2d`.
pub(super) fn human_secs(secs: i64) -> String {
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
