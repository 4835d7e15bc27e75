//! The `sync` report for people: one row per droid, then the conflicting paths and what to do.

use droidforge::git::short_hex as short;
use droidforge::ops::sync::{SyncReport, SyncStatus};

/// The table and the per-droid detail lines (stdout).
pub fn render_report(report: &SyncReport) -> String {
    let rows: Vec<Vec<String>> = report
        .droids
        .iter()
        .map(|d| {
            let detail = match d.status {
                SyncStatus::Synced => {
                    let moved = format!(
                        "{} → {} ({} onto {})",
                        d.from.as_deref().map(short).unwrap_or("?"),
                        d.to.as_deref().map(short).unwrap_or("?"),
                        droidforge::util::text::count(d.commits, "commit"),
                        short(&d.onto)
                    );
                    match &d.reason {
                        Some(note) => format!("{moved}; {note}"),
                        None => moved,
                    }
                }
                SyncStatus::UpToDate => format!("contains {}", short(&d.onto)),
                SyncStatus::Conflict => match &d.stopped_at {
                    Some(at) => format!(
                        "rebase stopped on {} \"{}\": {}",
                        short(&at.commit),
                        at.summary,
                        droidforge::util::text::count(d.conflicts.len(), "conflicting path")
                    ),
                    None => droidforge::util::text::count(d.conflicts.len(), "conflicting path"),
                },
                _ => d.reason.clone().unwrap_or_default(),
            };
            vec![d.status.as_str().to_owned(), d.droid.clone(), detail]
        })
        .collect();
    let mut out = crate::cli::ui::table(&["RESULT", "DROID", "DETAIL"], &rows);
    for d in &report.droids {
        for c in &d.conflicts {
            out.push_str(&format!(
                "  {}: `{}` conflict ({})\n",
                d.droid, c.path, c.kind
            ));
        }
        if d.status == SyncStatus::Dirty {
            for p in &d.paths {
                out.push_str(&format!("  {}: `{p}` has uncommitted changes\n", d.droid));
            }
        }
    }
    out
}

/// The hint for droids left mid-rebase (stderr).
pub fn conflict_hint(report: &SyncReport) -> Option<String> {
    let dirs: Vec<String> = report
        .droids
        .iter()
        .filter(|d| d.status == SyncStatus::Conflict)
        .map(|d| d.worktree.display().to_string())
        .collect();
    if dirs.is_empty() {
        return None;
    }
    Some(format!(
        "resolve in {}: edit the marked files, `git add` them, `git rebase --continue`; or undo with `droidforge sync --abort <droid>`",
        dirs.join(", ")
    ))
}
