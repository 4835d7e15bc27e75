//! The summary of `run --land`: where each droid ended, why, and the exact next command.

use droidforge::ops::land_loop::LandReport;
use droidforge::state::LandStatus;

/// One table (droid, result, attempts, reason), then a "next" line per droid that did not land.
pub fn summary(report: &LandReport) -> String {
    let rows: Vec<Vec<String>> = report
        .droids
        .iter()
        .map(|d| {
            vec![
                d.droid.clone(),
                label(d.state.status).to_owned(),
                d.state.attempts.to_string(),
                d.state.reason.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    let mut out = crate::cli::ui::table(&["DROID", "RESULT", "ATTEMPTS", "WHY"], &rows);
    let landed = report
        .droids
        .iter()
        .filter(|d| d.state.status == LandStatus::Landed)
        .count();
    out.push_str(&format!(
        "\n{landed} of {} landed{}.\n",
        report.droids.len(),
        if report.merges.is_empty() {
            String::new()
        } else {
            format!(
                " ({} by this run: {})",
                droidforge::util::text::count(report.merges.len(), "merge"),
                report.merges.join(", ")
            )
        }
    ));
    if report.interrupted {
        out.push_str(
            "Interrupted: run the same `droidforge run --land` again to continue where it stopped.\n",
        );
        return out;
    }
    let mut first = true;
    for d in &report.droids {
        if let Some(next) = &d.state.next
            && d.state.status != LandStatus::Landed
        {
            if first {
                out.push_str("\nNext:\n");
                first = false;
            }
            out.push_str(&format!("  {}: {next}\n", d.droid));
        }
    }
    out
}

fn label(s: LandStatus) -> &'static str {
    match s {
        LandStatus::Landed => "landed",
        LandStatus::NeedsHuman => "needs a human",
        LandStatus::Blocked => "blocked",
        LandStatus::Interrupted => "interrupted",
        LandStatus::Waiting => "waiting",
        LandStatus::Running => "running",
        LandStatus::Ready => "ready",
        LandStatus::Retrying => "retrying",
    }
}

/// 0 when everything landed, 130 when interrupted; otherwise the merger's code for the worst
/// rejection among droids that need a human (4 violation, 3 conflict, 5 verify), else 1.
pub fn exit_code(report: &LandReport) -> i32 {
    if report.interrupted {
        return 130;
    }
    if report.all_landed() {
        return 0;
    }
    let kinds: Vec<&str> = report.rejections().collect();
    if kinds.contains(&"violation") {
        4
    } else if kinds.contains(&"conflict") {
        3
    } else if kinds.contains(&"verify-failed") {
        5
    } else {
        1
    }
}
