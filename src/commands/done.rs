//! `droidforge done`: mark a droid's commit ready to merge (`refs/droidforge/ready/<droid>`).

use crate::repo::short_hex as short;
use serde::Serialize;

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};
use crate::repo::Expect;
use crate::state::{Event, EventKind};
use crate::workspace::{ManifestSource, Workspace};

#[derive(Debug, Serialize)]
struct DoneReport {
    droid: String,
    ready_ref: String,
    commit: String,
    summary: String,
    previous: Option<String>,
    /// Commits not yet on the integration branch.
    ahead: usize,
    integration: String,
}

pub fn run(ctx: &Ctx, args: &DoneArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::Integration, false)?;
    let droid = ws.droid_arg(args.droid.as_deref())?;
    let branch = ws.branch_of(&droid);
    let commit = match &args.rev {
        Some(rev) => ws.repo.rev_parse(rev)?,
        None => ws.repo.branch_tip(&branch)?.ok_or_else(|| {
            Error::usage(format!("droid `{droid}` has no branch `{branch}`"))
                .hint(format!("create it with `droidforge spawn {droid}`"))
        })?,
    };
    // A commit with no history in common with the integration branch cannot be replayed onto
    // it; refuse it now rather than at merge time.
    let tip = ws.integration_tip()?;
    if ws.repo.merge_base(commit, tip)?.is_none() {
        let what = match &args.rev {
            Some(rev) => format!("`{rev}`"),
            None => format!("branch `{branch}`"),
        };
        let err = format!(
            "{what} ({}) shares no history with `{}`; it cannot be merged",
            short(&commit.to_string()),
            ws.integration
        );
        let hint = format!(
            "commit the work on a branch started from `{}` (e.g. `droidforge spawn {droid}`) and mark that ready",
            ws.integration
        );
        return Err(match &args.rev {
            Some(_) => Error::usage(err),
            None => Error::failure(err),
        }
        .hint(hint));
    }
    let ready_ref = ws.ready_ref(&droid);
    let previous = ws.repo.ref_target(&ready_ref)?;
    let expect = match previous {
        Some(p) => Expect::MustMatch(p),
        None => Expect::MustNotExist,
    };
    ws.repo.set_ref(
        &ready_ref,
        commit,
        expect,
        &format!("droidforge: `{droid}` ready"),
    )?;
    let info = ws.repo.commit_info(commit)?;
    let (ahead, _) = ws.repo.ahead_behind(commit, tip)?;
    ws.event_with(
        Event::new(
            EventKind::Ready,
            Some(&droid),
            format!("{} {}", short(&commit.to_string()), info.summary),
        )
        .with_data(serde_json::json!({ "commit": commit.to_string() })),
    );
    let report = DoneReport {
        droid: droid.clone(),
        ready_ref,
        commit: commit.to_string(),
        summary: info.summary,
        previous: previous.map(|p| p.to_string()),
        ahead,
        integration: ws.integration.clone(),
    };
    if args.json {
        ctx.ui.json(&report);
        return Ok(0);
    }
    ctx.ui.status(
        "Ready",
        &format!(
            "`{droid}` at {} {} ({ahead} commit(s) ahead of `{}`)",
            short(&report.commit),
            report.summary,
            ws.integration
        ),
    );
    if ahead == 0 {
        ctx.ui.warn(&format!(
            "the commit is already on `{}`; there is nothing to merge",
            ws.integration
        ));
    } else {
        ctx.ui
            .hint(&format!("merge it with `droidforge merge {droid}`"));
    }
    Ok(0)
}
