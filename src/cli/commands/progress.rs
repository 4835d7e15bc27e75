//! `droidforge progress`: render PROGRESS.md, or commit it to the integration branch.

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::Result;
use droidforge::forge::progress::PROGRESS_PATH;
use droidforge::ops::merge::progress::{render_progress, write_progress};
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &ProgressArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::Integration, false)?;
    // `--json`: the text and what happened to it, one document (the MCP `progress` tool).
    let json = |text: &str, written: bool, commit: Option<String>| {
        ctx.ui.json(&serde_json::json!({
            "path": PROGRESS_PATH,
            "text": text,
            "written": written,
            "commit": commit,
        }));
    };
    if !args.write {
        let text = render_progress(&ws)?;
        if args.json {
            json(&text, false, None);
        } else {
            ctx.ui.data(&text);
        }
        return Ok(0);
    }
    let written = write_progress(&ws)?;
    let Some(commit) = written.commit else {
        if args.json {
            json(&written.text, false, None);
        }
        ctx.ui.status(
            "Unchanged",
            &format!("{PROGRESS_PATH} on `{}`", ws.integration),
        );
        return Ok(0);
    };
    if let Some(note) = &written.checkout_note {
        ctx.ui.warn(note);
    }
    if args.json {
        json(&written.text, true, Some(commit.to_string()));
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
