//! `droidforge remove` and `droidforge prune`: render what was removed, kept, or refused.

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::Result;
use droidforge::ops::remove::{RemoveOptions, execute, plan_all, prune as prune_worktrees};
use droidforge::workspace::{ManifestSource, Workspace};

pub fn remove(ctx: &Ctx, args: &RemoveArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    let opts = RemoveOptions {
        delete_branch: args.delete_branch,
        force: args.force,
    };
    for p in plan_all(&ws, &args.droids, opts)? {
        let o = execute(&ws, p)?;
        let at = ws.display_path(&o.worktree);
        if o.worktree_removed {
            ctx.ui
                .status("Removed", &format!("worktree of {} at {at}", o.droid));
        }
        if let Some(d) = &o.discarded {
            ctx.ui.warn(&format!(
                "discarded {} and {} of `{}`",
                droidforge::util::text::count(d.counts.changed, "changed file"),
                droidforge::util::text::count(d.counts.untracked, "untracked file"),
                o.droid
            ));
        }
        if o.branch_deleted {
            ctx.ui.status("Deleted", &format!("branch {}", o.branch));
            if o.discarded_commits > 0 {
                ctx.ui.warn(&format!(
                    "dropped {} of `{}` that were not on `{}`",
                    droidforge::util::text::count(o.discarded_commits, "commit"),
                    o.branch,
                    ws.integration
                ));
            }
        } else if o.worktree_removed {
            ctx.ui.hint(&format!(
                "the branch {} is kept; `droidforge spawn {}` brings the worktree back",
                o.branch, o.droid
            ));
        }
    }
    Ok(0)
}

pub fn prune(ctx: &Ctx, args: &PruneArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    let report = prune_worktrees(&ws, args.dry_run)?;
    if report.items.is_empty() {
        ctx.ui.status("Clean", "no stale or orphaned worktrees");
    }
    for item in &report.items {
        let at = ws.display_path(&item.path);
        let verb = match item.action {
            "pruned" => "Pruned",
            "would-prune" => "Would prune",
            "removed" => "Removed",
            "would-remove" => "Would remove",
            _ => "Kept",
        };
        let reason = item
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        ctx.ui.status(verb, &format!("{at}{reason}"));
    }
    Ok(0)
}
