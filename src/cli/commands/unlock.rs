//! `droidforge unlock`: release leases by glob or id (`--all`, `--force`).

use super::Ctx;
use crate::cli::args::UnlockArgs;
use droidforge::error::Result;
use droidforge::ops::lock::{LockError, UnlockOptions};
use droidforge::workspace::{ManifestSource, Workspace};

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
