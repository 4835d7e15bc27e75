//! `droidforge plan`: validate the manifest and show the plan.

use super::Ctx;
use crate::cli::args::{PlanArgs, PlanFormat};
use droidforge::error::Result;
use droidforge::forge::manifest::MANIFEST_PATH;
use droidforge::ops::plan;
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &PlanArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, args.strict)?;
    // Overlap analysis is `plan`'s job alone; other commands load the manifest without it.
    let overlaps = ws.forge.overlaps();
    let mut warnings = ws.forge.overlap_problems(&overlaps);
    // Ownership checked against the integration branch's files (no branch yet: nothing to check).
    let tree = match ws.repo.branch_tip(&ws.integration)? {
        Some(tip) => ws.repo.tree_paths(tip)?,
        None => Vec::new(),
    };
    if !tree.is_empty() {
        let text = std::fs::read_to_string(ws.root.join(MANIFEST_PATH)).unwrap_or_default();
        warnings.extend(plan::ownership_warnings(&ws.forge, &tree, &text));
    }
    for w in &warnings {
        ctx.ui.warn(&w.render(&ws.forge.source));
    }
    if args.write {
        let path = ws.root.join("FILE_OWNERSHIP.md");
        let text = droidforge::forge::file_ownership::render(&ws.forge);
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == text);
        if unchanged {
            ctx.ui.status("Unchanged", "FILE_OWNERSHIP.md");
        } else {
            droidforge::util::safe_fs::write_under(&ws.root, "FILE_OWNERSHIP.md", text)?;
            ctx.ui.status(
                "Wrote",
                "FILE_OWNERSHIP.md (commit it to the integration branch)",
            );
        }
    }
    if args.check {
        // As its help says: only the exit code (and warnings on stderr) speak.
        return Ok(0);
    }
    let report = plan::build(&ws.forge, overlaps.found, warnings);
    let format = if args.json {
        PlanFormat::Json
    } else {
        args.format
    };
    match format {
        PlanFormat::Text => ctx.ui.data(&plan::render_text(&report)),
        PlanFormat::Mermaid => ctx.ui.data(&plan::render_mermaid(&report)),
        PlanFormat::Dot => ctx.ui.data(&plan::render_dot(&report)),
        PlanFormat::Json => ctx.ui.json(&report),
    }
    Ok(0)
}
