//! `droidforge done`: mark a droid's commit ready to merge (`refs/droidforge/ready/<droid>`).

use droidforge::git::short;

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::Result;
use droidforge::ops::ready::{DoneOptions, DoneReport, done};
use droidforge::workspace::Workspace;

pub fn run(ctx: &Ctx, args: &DoneArgs) -> Result<i32> {
    // The trusted manifest (the integration branch's), validated once per version: `done`
    // needs droid names and branches, not the ownership globs or the overlap analysis.
    let ws = Workspace::load_cached(&ctx.cwd)?;
    let report = done(
        &ws,
        &DoneOptions {
            droid: args.droid.clone(),
            rev: args.rev.clone(),
            strict: args.strict,
        },
    )?;
    if args.json {
        ctx.ui.json(&json(&report));
        return Ok(0);
    }
    render(ctx, &report);
    Ok(0)
}

fn json(r: &DoneReport) -> serde_json::Value {
    serde_json::json!({
        "droid": r.droid,
        "ready_ref": r.ready_ref,
        "commit": r.commit.to_string(),
        "summary": r.summary,
        "previous": r.previous.map(|p| p.to_string()),
        "ahead": r.ahead,
        "integration": r.integration,
        "nothing_to_merge": r.nothing_to_merge(),
        "uncommitted": r.uncommitted.as_ref().map(|d| d.counts.changed + d.counts.untracked),
    })
}

fn render(ctx: &Ctx, r: &DoneReport) {
    let droid = &r.droid;
    if let Some(dirt) = &r.uncommitted {
        ctx.ui.warn(&format!(
            "the worktree of `{droid}` has {} that the ready mark does not include: {}; commit them and run `droidforge done {droid}` again to include them",
            droidforge::ops::remove::describe_counts(dirt.counts.changed, dirt.counts.untracked),
            droidforge::ops::remove::sample(dirt)
        ));
    }
    if r.nothing_to_merge() {
        ctx.ui.status(
            "Finished",
            &format!(
                "`{droid}` at {} {}: recorded as \"finished, nothing to merge\" (the commit is already on `{}`); droids that come after it may merge now",
                short(r.commit),
                r.summary,
                r.integration
            ),
        );
    } else {
        ctx.ui.status(
            "Ready",
            &format!(
                "`{droid}` at {} {} ({} ahead of `{}`)",
                short(r.commit),
                r.summary,
                droidforge::util::text::count(r.ahead, "commit"),
                r.integration
            ),
        );
        ctx.ui
            .hint(&format!("merge it with `droidforge merge {droid}`"));
    }
}
