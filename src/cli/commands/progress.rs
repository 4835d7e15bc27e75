//! `droidforge progress`: render PROGRESS.md, or commit it to the integration branch.

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::Result;
use droidforge::forge::progress::PROGRESS_PATH;
use droidforge::git::{Expect, Repo};
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &ProgressArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::Integration, false)?;
    let tip = ws.integration_tip()?;
    let text = droidforge::ops::merge::record::render(&ws, &ws.repo, tip, None)?;
    // `--json`: the text and what happened to it, one document (the MCP `progress` tool).
    let json = |written: bool, commit: Option<String>| {
        ctx.ui.json(&serde_json::json!({
            "path": PROGRESS_PATH,
            "text": text,
            "written": written,
            "commit": commit,
        }));
    };
    if !args.write {
        if args.json {
            json(false, None);
        } else {
            ctx.ui.data(&text);
        }
        return Ok(0);
    }
    let current = ws.repo.read_file_at(tip, PROGRESS_PATH)?;
    // The merge-log rows waiting in the state (attempts that landed nothing) are in `text`;
    // once it is on the integration branch they are recorded.
    let forget = || -> Result<()> {
        let store = ws.state.store();
        if !store.read().unwrap_or_default().unrecorded_log.is_empty() {
            store.update(|s| droidforge::ops::merge::forget_recorded_log(s, &text))?;
        }
        Ok(())
    };
    if current.as_deref() == Some(text.as_bytes()) {
        forget()?;
        if args.json {
            json(false, None);
        }
        ctx.ui.status(
            "Unchanged",
            &format!("{PROGRESS_PATH} on `{}`", ws.integration),
        );
        return Ok(0);
    }
    let commit = ws.repo.commit_files(
        Some(tip),
        &[(PROGRESS_PATH, Some(text.as_bytes()))],
        &format!(
            "droidforge: update PROGRESS.md\n\n{}\n",
            droidforge::ops::merge::record::RECORD_TRAILER
        ),
    )?;
    // Is the integration branch checked out in the main worktree? Check before moving.
    let main = Repo::open(&ws.root)?;
    let refresh = main.head_branch().as_deref() == Some(ws.integration.as_str());
    ws.repo
        .set_ref(
            &format!("refs/heads/{}", ws.integration),
            commit,
            Expect::MustMatch(tip),
            "droidforge: update PROGRESS.md",
        )
        .map_err(|e| e.hint("the integration branch moved meanwhile; run the command again"))?;
    forget()?;
    if refresh
        && let Err(note) =
            droidforge::ops::merge::update_checkout(&ws.root, &ws.integration, tip, commit)
    {
        ctx.ui.warn(&note);
    }
    if args.json {
        json(true, Some(commit.to_string()));
    }
    ctx.ui.status(
        "Committed",
        &format!(
            "{PROGRESS_PATH} to `{}` ({})",
            ws.integration,
            droidforge::git::short(commit)
        ),
    );
    Ok(0)
}
