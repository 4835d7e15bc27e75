//! The `status` table: columns fitted to the terminal's width, in full when piped.

use std::path::Path;

use droidforge::ops::status::{GuardRefusals, StatusReport, WorktreeState};

/// The status table. `width`: the terminal's columns when stdout is a terminal — the last
/// event is shortened and then the least important columns dropped until every line fits;
/// `None` (a pipe or a file) prints every column in full, since a script reads it.
pub fn render_table(report: &StatusReport, root: &Path, width: Option<usize>) -> String {
    let header = [
        "DROID",
        "PHASE",
        "BRANCH",
        "AHEAD",
        "BEHIND",
        "DIRTY",
        "TODO",
        "AGENT",
        "READY",
        "MERGED",
        "LAND",
        "ASKS",
        "WORKTREE",
        "REFUSED E/C",
        "LAST EVENT",
    ];
    let dash = || "-".to_owned();
    let rows: Vec<Vec<String>> = report
        .droids
        .iter()
        .map(|d| {
            let phases = d
                .phases
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let branch = if d.branch_exists {
                d.branch.clone()
            } else {
                format!("{} (none)", d.branch)
            };
            let dirty = match d.dirty {
                Some(c) if c.is_clean() => "clean".to_owned(),
                Some(c) => format!("{}M {}?", c.changed, c.untracked),
                None => dash(),
            };
            let todo = match &d.todo {
                Some(t) if !t.found => "no file".to_owned(),
                Some(t) => match t.percent {
                    Some(p) => format!("{p}% ({}/{})", t.done, t.done + t.in_progress + t.open),
                    None => "no items".to_owned(),
                },
                None => dash(),
            };
            let agent = match (&d.agent.pid, d.agent.state.as_str()) {
                (Some(pid), "running" | "stalled" | "dead") => {
                    format!("{} (pid {pid})", d.agent.state)
                }
                (_, "exited" | "failed") if d.agent.exit_code.is_some() => format!(
                    "{} ({})",
                    d.agent.state,
                    d.agent.exit_code.unwrap_or_default()
                ),
                _ => d.agent.state.clone(),
            };
            let ready = match &d.ready {
                Some(r) if r.at_head => "yes".to_owned(),
                Some(r) => format!("yes ({}, not head)", droidforge::git::short_hex(&r.commit)),
                None => dash(),
            };
            let merged = d
                .merged
                .as_ref()
                .map(|m| m.result.clone())
                .unwrap_or_else(dash);
            // `run --land`: where the droid stands and after how many attempts.
            let land = match &d.land {
                Some(l) => format!("{} ({})", l.status.as_str(), l.attempts),
                None => dash(),
            };
            let worktree = match d.worktree_state {
                WorktreeState::Present => d
                    .worktree
                    .strip_prefix(root)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "present".to_owned()),
                other => other.as_str().to_owned(),
            };
            let last = d
                .last_event
                .as_deref()
                .map(|e| match width {
                    Some(_) => truncate(e, 40),
                    None => e.lines().next().unwrap_or("").to_owned(),
                })
                .unwrap_or_else(dash);
            vec![
                d.droid.clone(),
                if phases.is_empty() { dash() } else { phases },
                branch,
                d.ahead.map(|a| a.to_string()).unwrap_or_else(dash),
                d.behind.map(|b| b.to_string()).unwrap_or_else(dash),
                dirty,
                todo,
                agent,
                ready,
                merged,
                land,
                match d.open_requests {
                    0 => dash(),
                    n => n.to_string(),
                },
                worktree,
                match d.guard_refused {
                    GuardRefusals {
                        edits: 0,
                        commits: 0,
                    } => dash(),
                    g => format!("{}/{}", g.edits, g.commits),
                },
                last,
            ]
        })
        .collect();
    let mut out = match width {
        Some(w) => fit_table(&header, rows, w),
        None => crate::cli::ui::table(&header, &rows),
    };
    for d in &report.droids {
        let Some(l) = &d.land else { continue };
        if !matches!(
            l.status,
            droidforge::state::LandStatus::NeedsHuman | droidforge::state::LandStatus::Blocked
        ) {
            continue;
        }
        let what = match l.status {
            droidforge::state::LandStatus::NeedsHuman => "needs a human",
            _ => "is blocked",
        };
        out.push_str(&format!(
            "{} {what}: {}\n",
            d.droid,
            l.reason.as_deref().unwrap_or("-")
        ));
        if let Some(next) = &l.next {
            out.push_str(&format!("  next: {next}\n"));
        }
    }
    for o in &report.orphans {
        out.push_str(&format!(
            "orphan worktree {} ({}) belongs to no droid in the manifest\n",
            o.path.strip_prefix(root).unwrap_or(&o.path).display(),
            o.branch.as_deref().unwrap_or("detached"),
        ));
    }
    out
}

/// The table cut to `width` columns: first the LAST EVENT text, then whole columns in order of
/// least use (the DROID column always stays).
fn fit_table(header: &[&str], mut rows: Vec<Vec<String>>, width: usize) -> String {
    let mut header: Vec<&str> = header.to_vec();
    let widest = |t: &str| t.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut text = crate::cli::ui::table(&header, &rows);
    if widest(&text) <= width {
        return text;
    }
    if let Some(last) = header.iter().position(|h| *h == "LAST EVENT") {
        let over = widest(&text) - width;
        let longest = rows
            .iter()
            .map(|r| r[last].chars().count())
            .max()
            .unwrap_or(0);
        let keep = longest.saturating_sub(over).max(12);
        for r in &mut rows {
            r[last] = truncate(&r[last], keep);
        }
        text = crate::cli::ui::table(&header, &rows);
    }
    for drop in [
        "WORKTREE",
        "LAST EVENT",
        "LAND",
        "BEHIND",
        "PHASE",
        "MERGED",
        "DIRTY",
        "BRANCH",
    ] {
        if widest(&text) <= width {
            break;
        }
        if let Some(i) = header.iter().position(|h| *h == drop) {
            header.remove(i);
            for r in &mut rows {
                r.remove(i);
            }
            text = crate::cli::ui::table(&header, &rows);
        }
    }
    text
}

fn truncate(s: &str, max: usize) -> String {
    let s = s.lines().next().unwrap_or("");
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_fits_the_width_by_cutting_the_last_event_then_columns() {
        let header = ["DROID", "WORKTREE", "LAST EVENT"];
        let rows = vec![vec![
            "core-droid".to_owned(),
            ".droidforge/worktrees/core-droid".to_owned(),
            "x".repeat(60),
        ]];
        let wide = fit_table(&header, rows.clone(), 200);
        assert!(wide.contains(&"x".repeat(60)), "{wide}");
        for width in [80, 60, 40] {
            let text = fit_table(&header, rows.clone(), width);
            assert!(
                text.lines().all(|l| l.chars().count() <= width),
                "{width}:\n{text}"
            );
            assert!(text.contains("core-droid"), "{text}");
        }
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("ünïcödé", 4), "ünï…");
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("two\nlines", 10), "two");
    }
}
