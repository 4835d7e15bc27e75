//! Build PROGRESS.md from the forge, the runtime state, each droid's TODO checkboxes and
//! (optionally) the report of the merge being recorded.

use crate::error::Result;
use crate::forge::progress::{
    LogRow, PROGRESS_PATH, PhaseTable, StatusRow, first_open_item, parse_merge_log, parse_todo,
    render_progress,
};
use crate::git::{Oid, Repo};
use crate::state::{AgentStatus, LandStatus};
use crate::workspace::Workspace;

use super::report::{DroidReport, DroidStatus, MergeReport};

/// One-line reason for a droid's result, for tables and the merge log.
pub fn reason_line(d: &DroidReport) -> String {
    const MAX: usize = 3;
    let more = |n: usize| {
        if n > MAX {
            format!("; +{} more", n - MAX)
        } else {
            String::new()
        }
    };
    match d.status {
        DroidStatus::Violation if !d.violations.is_empty() => {
            let parts: Vec<String> = d
                .violations
                .iter()
                .take(MAX)
                .map(|v| format!("{} ({}): {}", v.path, v.kind, v.owner))
                .collect();
            format!("{}{}", parts.join("; "), more(d.violations.len()))
        }
        DroidStatus::Conflict if !d.conflicts.is_empty() => {
            let parts: Vec<String> = d
                .conflicts
                .iter()
                .take(MAX)
                .map(|c| format!("{} ({})", c.path, c.kind))
                .collect();
            format!("{}{}", parts.join("; "), more(d.conflicts.len()))
        }
        _ => d.reason.clone().unwrap_or_default(),
    }
}

fn status_label(s: DroidStatus) -> String {
    let word = match s {
        DroidStatus::UpToDate => "merged",
        DroidStatus::Unready => "pending",
        other => other.as_str(),
    };
    format!("{} {}", s.symbol(), word)
}

/// Render PROGRESS.md as it should be on top of `base` (whose PROGRESS.md holds the merge log
/// so far), including `report` when recording a merge.
pub fn render(
    ws: &Workspace,
    repo: &Repo,
    base: Oid,
    report: Option<&MergeReport>,
) -> Result<String> {
    let state = ws.state.store().read().unwrap_or_default();
    // The loop of `run --land`: attempts, and who waits on a human. An unreadable loop file
    // only loses those columns.
    let land = ws.state.land_state().unwrap_or_default();
    let old_text = repo
        .read_file_at(base, PROGRESS_PATH)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let old_log = parse_merge_log(&old_text);

    let forge = &ws.forge;
    let mut phase_ids: Vec<u32> = forge.manifest.phases.iter().map(|p| p.id).collect();
    for d in forge.droids() {
        for &p in &d.phases {
            if !phase_ids.contains(&p) {
                phase_ids.push(p);
            }
        }
    }
    phase_ids.sort_unstable();

    let row_for = |name: &str| -> Result<StatusRow> {
        let droid = forge.droid(name);
        let branch = ws.branch_of(name);
        // Read only when a row needs it, and once: each read peels the tip, and a run that
        // merged many droids would otherwise read one commit per droid once more.
        let tip = std::cell::OnceCell::new();
        let branch_tip = || -> Result<Option<Oid>> {
            if let Some(t) = tip.get() {
                return Ok(*t);
            }
            let t = repo.branch_tip(&branch)?;
            Ok(*tip.get_or_init(|| t))
        };
        let ds = state.droids.get(name);
        let in_report = report.and_then(|r| r.droid(name));
        let mut notes = String::new();
        let mut merged_commit = ds.and_then(|d| d.merged_commit.clone());
        let status = match in_report {
            Some(d) if !matches!(d.status, DroidStatus::Unready | DroidStatus::UpToDate) => {
                notes = match d.status {
                    DroidStatus::Merged => crate::util::text::count(d.commits.len(), "commit"),
                    _ => reason_line(d),
                };
                if let Some(tip) = &d.tip {
                    merged_commit = Some(tip.to_string());
                }
                status_label(d.status)
            }
            _ => {
                let last = ds
                    .and_then(|d| d.last_merge.as_deref())
                    .and_then(DroidStatus::parse);
                let running = ds
                    .and_then(|d| d.agent.as_ref())
                    .map(|a| matches!(a.status, AgentStatus::Running | AgentStatus::Stalled))
                    .unwrap_or(false);
                let ahead = match branch_tip()? {
                    Some(t) => !repo.is_ancestor(t, base)?,
                    None => false,
                };
                let finished_empty = ds.is_some_and(|d| d.finished_empty.is_some());
                match last {
                    _ if finished_empty && !running && !ahead => {
                        format!("🟢 {}", super::plan::FINISHED_NOTHING_TO_MERGE)
                    }
                    Some(s) if !(running || ahead && s == DroidStatus::Merged) => status_label(s),
                    _ if running || ahead => "🟡 in progress".to_owned(),
                    _ => "🔵 pending".to_owned(),
                }
            }
        };
        let todo_text = match droid.and_then(|d| d.todo.as_deref()) {
            Some(path) => repo
                .read_file_at(branch_tip()?.unwrap_or(base), path)?
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            None => None,
        };
        let looped = land.droids.get(name);
        let mut status = status;
        if let Some(l) = looped
            && matches!(l.status, LandStatus::NeedsHuman | LandStatus::Blocked)
            && in_report.is_none_or(|d| d.status != DroidStatus::Merged)
        {
            status = match l.status {
                LandStatus::NeedsHuman => "🙋 needs a human".to_owned(),
                _ => "⏸ blocked".to_owned(),
            };
            notes = [l.reason.as_deref(), l.next.as_deref().map(|n| n.trim())]
                .into_iter()
                .flatten()
                .map(|t| t.trim_end_matches('.').to_owned())
                .collect::<Vec<_>>()
                .join(". Next: ");
        }
        Ok(StatusRow {
            droid: name.to_owned(),
            status,
            todo: todo_text.as_deref().and_then(|t| parse_todo(t).percent()),
            merged_commit: merged_commit.map(|c| c.chars().take(7).collect()),
            next: todo_text.as_deref().and_then(first_open_item),
            attempts: looped.map(|l| l.attempts).filter(|&a| a > 0),
            notes,
        })
    };

    let mut tables = Vec::new();
    for id in phase_ids {
        let title = match forge.phase(id) {
            Some(p) if !p.name.is_empty() => format!("Phase {id} — {}", p.name),
            _ => format!("Phase {id}"),
        };
        let mut rows = Vec::new();
        for d in forge.droids_in_phase(id) {
            rows.push(row_for(&d.name)?);
        }
        tables.push(PhaseTable { title, rows });
    }
    let unphased: Vec<&str> = forge
        .droids()
        .iter()
        .filter(|d| d.phases.is_empty())
        .map(|d| d.name.as_str())
        .collect();
    if !unphased.is_empty() {
        let mut rows = Vec::new();
        for n in unphased {
            rows.push(row_for(n)?);
        }
        tables.push(PhaseTable {
            title: "No phase".to_owned(),
            rows,
        });
    }

    // Attempts that landed nothing wait in the state (unless a write already holds them),
    // then the run being recorded.
    let mut new_log: Vec<LogRow> = state
        .unrecorded_log
        .iter()
        .filter(|row| {
            let id = format!("| {} |", crate::forge::progress::cell(&row.merge_id));
            !old_log.iter().any(|w| w.starts_with(&id))
        })
        .cloned()
        .collect();
    if let Some(r) = report {
        new_log.extend(log_rows(r));
    }
    let blocked = blocked_lines(ws, repo, base, report, &land)?;
    Ok(render_progress(&tables, &blocked, &old_log, &new_log))
}

/// The "Blocked" section: each unmerged droid that waits for unmerged droids of its `after`
/// list, and each phase that waits for unmerged droids of the phases it comes after.
fn blocked_lines(
    ws: &Workspace,
    repo: &Repo,
    base: Oid,
    report: Option<&MergeReport>,
    land: &crate::state::LandState,
) -> Result<Vec<String>> {
    let forge = &ws.forge;
    let mut merged = std::collections::HashMap::new();
    for d in forge.droids() {
        let landed_now = report
            .and_then(|r| r.droid(&d.name))
            .is_some_and(|r| matches!(r.status, DroidStatus::Merged | DroidStatus::UpToDate));
        merged.insert(
            d.name.as_str(),
            landed_now || super::plan::is_merged(ws, repo, &d.name, base)?,
        );
    }
    let why = |name: &str| match land.droids.get(name) {
        Some(l) if l.status == LandStatus::NeedsHuman => " (needs a human)",
        _ => "",
    };
    let mut lines = Vec::new();
    for d in forge.droids() {
        if merged[d.name.as_str()] {
            continue;
        }
        let waits: Vec<String> = d
            .after
            .iter()
            .filter(|a| merged.get(a.as_str()) == Some(&false))
            .map(|a| format!("`{a}`{}", why(a)))
            .collect();
        if !waits.is_empty() {
            lines.push(format!("`{}` waits for {}", d.name, waits.join(", ")));
        }
    }
    for phase in &forge.manifest.phases {
        let unmerged_here = forge
            .droids_in_phase(phase.id)
            .iter()
            .any(|d| !merged[d.name.as_str()]);
        if !unmerged_here {
            continue;
        }
        for &before in &phase.after {
            let open: Vec<String> = forge
                .droids_in_phase(before)
                .iter()
                .filter(|d| !merged[d.name.as_str()])
                .map(|d| format!("`{}`{}", d.name, why(&d.name)))
                .collect();
            if !open.is_empty() {
                lines.push(format!(
                    "Phase {} waits for phase {before}: {} not merged",
                    phase.id,
                    open.join(", ")
                ));
            }
        }
    }
    Ok(lines)
}

/// The merge-log rows of one run (droids it attempted; not the unready or up-to-date ones).
pub fn log_rows(r: &MergeReport) -> Vec<LogRow> {
    let date = crate::util::time::utc_minute(crate::util::time::now());
    r.named()
        .filter(|(_, d)| !matches!(d.status, DroidStatus::Unready | DroidStatus::UpToDate))
        .map(|(name, d)| LogRow {
            merge_id: r.merge_id.clone(),
            date: date.clone(),
            droid: name.to_owned(),
            commits: d.commits.len(),
            result: status_label(d.status),
            reasons: reason_line(d),
        })
        .collect()
}

/// The message of the record commit.
pub fn commit_message(report: &MergeReport) -> String {
    let mut msg = format!(
        "droidforge: record merge {}\n\nUpdate PROGRESS.md.\n\n",
        report.merge_id
    );
    for (name, d) in report.named() {
        if matches!(d.status, DroidStatus::Unready | DroidStatus::UpToDate) {
            continue;
        }
        msg.push_str(&format!("{name}: {}", d.status.as_str()));
        let reason = reason_line(d);
        if d.status != DroidStatus::Merged && !reason.is_empty() {
            msg.push_str(&format!(" ({reason})"));
        }
        msg.push('\n');
    }
    msg.push_str(&format!("\n{RECORD_TRAILER}\n"));
    msg
}

/// The trailer of every commit droidforge makes only to record its own files (PROGRESS.md,
/// FILE_OWNERSHIP.md). `undo` sees through such commits: they hold no one's work.
pub const RECORD_TRAILER: &str = "Droidforge-Record: yes";

/// The files a record commit may change.
const RECORD_FILES: [&str; 2] = [PROGRESS_PATH, "FILE_OWNERSHIP.md"];

/// Is this commit one of droidforge's record commits: the trailer in its message and only
/// record files changed? A human commit that copies the trailer but touches anything else
/// is not.
pub fn is_record_commit(repo: &Repo, commit: Oid) -> Result<bool> {
    let info = repo.commit_info(commit)?;
    let message = repo.commit_message(commit)?;
    if !message.lines().any(|l| l.trim() == RECORD_TRAILER) || info.parents.len() != 1 {
        return Ok(false);
    }
    Ok(repo
        .changed_paths(commit)?
        .iter()
        .all(|c| RECORD_FILES.contains(&c.path.as_str())))
}
