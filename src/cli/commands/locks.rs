//! `droidforge locks`: the lease table, with who keeps each lease alive and which are stale.

use super::Ctx;
use super::lock::human_secs;
use crate::cli::args::LocksArgs;
use droidforge::error::Result;
use droidforge::state::locks::Holder;
use droidforge::workspace::{ManifestSource, Workspace};

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
