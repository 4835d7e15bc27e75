//! `droidforge ask`: file a request with the owner of some files, close one (`--done`), or
//! list the open ones (`--list`). The owner's brief is rewritten right away when its worktree
//! exists, so a running agent that re-reads it sees the request.

use super::Ctx;
use crate::cli::args::AskArgs;
use droidforge::error::Result;
use droidforge::ops::ask;
use droidforge::ops::spawn::rewrite_brief;
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &AskArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    let from = ask::sender(&ws, args.from.as_deref())?;
    if let Some(id) = args.done {
        let request = ask::close(&ws, id, &from)?;
        refresh(ctx, &ws, &request.to);
        if args.json {
            ctx.ui
                .json(&serde_json::json!({ "version": 1, "closed": request }));
        } else {
            ctx.ui.status(
                "Closed",
                &format!("request #{id} to {} (from {})", request.to, request.from),
            );
        }
        return Ok(0);
    }
    if args.list {
        if let Some(d) = &args.droid {
            ws.forge.require_droid(d)?;
        }
        let open = ask::open(&ws, args.droid.as_deref())?;
        if args.json {
            ctx.ui
                .json(&serde_json::json!({ "version": 1, "requests": open }));
        } else if open.is_empty() {
            ctx.ui.status("Nothing", "no open requests");
        } else {
            let rows: Vec<Vec<String>> = open
                .iter()
                .map(|r| {
                    vec![
                        format!("#{}", r.id),
                        r.to.clone(),
                        r.from.clone(),
                        droidforge::util::text::one_line(&r.message),
                    ]
                })
                .collect();
            ctx.ui.data(&crate::cli::ui::table(
                &["ID", "TO", "FROM", "MESSAGE"],
                &rows,
            ));
        }
        return Ok(0);
    }
    // clap guarantees both when neither `--done` nor `--list` is given.
    let (Some(to), Some(message)) = (&args.droid, &args.message) else {
        return Err(droidforge::error::Error::usage(
            "name the droid to ask and the message",
        ));
    };
    let request = ask::ask(&ws, to, &from, message)?;
    let in_brief = refresh(ctx, &ws, &request.to);
    if args.json {
        ctx.ui.json(&serde_json::json!({
            "version": 1,
            "request": request,
            "brief_updated": in_brief,
        }));
    } else {
        let where_ = if in_brief {
            "; it is in its brief"
        } else {
            "; its brief will list it when it is spawned"
        };
        ctx.ui.status(
            "Asked",
            &format!(
                "{} (request #{}, from {}){where_}",
                request.to, request.id, request.from
            ),
        );
    }
    Ok(0)
}

/// Rewrite the owner's brief; a failure is a warning (the request is recorded either way).
fn refresh(ctx: &Ctx, ws: &Workspace, droid: &str) -> bool {
    match rewrite_brief(ws, droid) {
        Ok(_) => ws.worktree_path(droid).join(".git").is_file(),
        Err(e) => {
            ctx.ui.warn(&format!(
                "the request is recorded, but {droid}'s brief was not updated: {}",
                e.message
            ));
            false
        }
    }
}
