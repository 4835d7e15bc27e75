//! `droidforge undo`: restore the integration branch from before a merge.

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::{Error, Result};
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &UndoArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::Integration, false)?;
    let report = droidforge::ops::merge::undo(&ws, args.merge_id.as_deref())?;
    if args.json {
        ctx.ui.json(&report);
        return Ok(if report.undone { 0 } else { 1 });
    }
    if !report.undone {
        let mut msg = format!(
            "cannot undo merge `{}`: {} landed on `{}` since",
            report.merge_id,
            droidforge::util::text::count(report.landed_since.len(), "commit"),
            report.integration
        );
        for c in report.landed_since.iter().take(20) {
            msg.push_str(&format!("\n  {} {}", &c.id[..7.min(c.id.len())], c.summary));
        }
        if report.landed_since.len() > 20 {
            msg.push_str(&format!(
                "\n  … and {} more",
                report.landed_since.len() - 20
            ));
        }
        let mut hint = "revert the merged commits with `git revert`".to_owned();
        if let Some(cmd) = &report.move_back_command {
            hint.push_str(&format!(
                ", or, to drop the later commits too, move `{}` back with `{cmd}`",
                report.integration
            ));
        }
        return Err(Error::failure(msg).hint(hint));
    }
    ctx.ui.status(
        "Undone",
        &format!(
            "merge `{}`: `{}` is back at {}",
            report.merge_id,
            report.integration,
            report
                .restored_tip
                .as_deref()
                .map(|t| &t[..7.min(t.len())])
                .unwrap_or("?")
        ),
    );
    for note in &report.notes {
        ctx.ui.status("Note", note);
    }
    Ok(0)
}
