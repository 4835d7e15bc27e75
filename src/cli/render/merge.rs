//! `merge` for people: the progress lines of a run ([`MergeEvent`]s), the report table and
//! what `merge --abort` did.

use super::droid;
use crate::cli::ui::Ui;
use droidforge::git::{short, short_hex};
use droidforge::ops::merge::{
    AbortReport, DroidOutcome, DroidStatus, MergeEvent, MergeReport, Rejection,
};
use droidforge::util::text::count;

/// The status line for a merge event as (label, text); `None` for events not worth a line.
pub fn event_line(event: &MergeEvent) -> Option<(&'static str, String)> {
    let text = match event {
        MergeEvent::Order(names) => return Some(("Order", names.join(" → "))),
        MergeEvent::Checking { droid, commits } => {
            format!("{droid}: checking {}", count(*commits, "commit"))
        }
        MergeEvent::Verifying { droid, command } => {
            format!("{droid}: verifying with `{command}`")
        }
        MergeEvent::Landing { integration } => format!("landing on `{integration}`"),
        MergeEvent::Fetching { prefix, remote } => {
            return Some(("Fetching", format!("`{prefix}*` from `{remote}`")));
        }
        MergeEvent::Pushing { branch, remote } => {
            return Some(("Pushing", format!("`{branch}` to `{remote}`")));
        }
        MergeEvent::Decided {
            droid,
            outcome,
            dry_run,
        } => match outcome {
            DroidOutcome::Landed { commits, .. } => format!(
                "{droid}: {} {}",
                if *dry_run { "would merge" } else { "merged" },
                count(*commits, "commit")
            ),
            DroidOutcome::Skipped(reason) => format!("{droid}: skipped ({reason})"),
            DroidOutcome::Rejected(why) => format!(
                "{droid}: {}",
                match why {
                    Rejection::NotACommit => "not a commit",
                    Rejection::Conflict => "conflict",
                    Rejection::InvalidEntries => "invalid tree entries",
                    Rejection::Violation => "ownership violation",
                    Rejection::VerifyFailed => "verification failed",
                }
            ),
            DroidOutcome::UpToDate | DroidOutcome::Unready { .. } => return None,
        },
    };
    Some(("Merging", text))
}

/// The merge report: one table row per droid, the paths that stopped a droid, and what happened
/// to the integration branch.
pub fn report(ui: &Ui, report: &MergeReport) {
    let mut rows = Vec::new();
    for d in &report.droids {
        let commits = count(d.commits.len(), "commit");
        let detail = match (d.status, d.tip) {
            (DroidStatus::Merged, Some(tip)) => format!("{commits} → {}", short(tip)),
            (DroidStatus::Merged, None) => commits,
            _ => d.reason.clone().unwrap_or_default(),
        };
        rows.push(vec![
            droid::result(d, report.dry_run),
            droid::label(d).to_owned(),
            detail,
        ]);
    }
    let mut out = crate::cli::ui::table(&["RESULT", "DROID", "DETAIL"], &rows);
    for d in &report.droids {
        for line in droid::details(d) {
            out.push_str(&format!("  {}: {line}\n", droid::label(d)));
        }
    }
    ui.data(&out);

    let merged = report.count(DroidStatus::Merged);
    let total = report.droids.len();
    if report.dry_run {
        ui.status(
            "Dry run",
            &format!(
                "{merged} of {} would merge onto `{}`; nothing was changed",
                count(total, "droid"),
                report.integration
            ),
        );
    } else if report.landed {
        ui.status(
            "Landed",
            &format!(
                "{merged} of {} on `{}` ({} → {}), merge `{}`",
                count(total, "droid"),
                report.integration,
                short(report.old_tip),
                short(report.new_tip),
                report.merge_id
            ),
        );
        ui.hint(&format!(
            "undo it with `droidforge undo {}`",
            report.merge_id
        ));
    } else if report.droids.iter().any(|d| d.status.is_rejection()) {
        ui.status(
            "Nothing",
            &format!(
                "landed; `{}` is unchanged. The results are in the event journal (`droidforge events`); `droidforge progress --write` adds them to PROGRESS.md",
                report.integration
            ),
        );
    } else {
        ui.status(
            "Nothing",
            &format!("to merge; `{}` is unchanged", report.integration),
        );
    }
    for n in &report.notes {
        ui.status("Note", n);
    }
    let unready: Vec<&str> = report
        .droids
        .iter()
        .filter(|d| d.status == DroidStatus::Unready)
        .map(droid::label)
        .collect();
    if !unready.is_empty() {
        ui.hint(&format!(
            "not ready: {}; mark them with `droidforge done <droid>` or pass `--include-unready`",
            unready.join(", ")
        ));
    }
}

/// What `merge --abort` did.
pub fn abort(ui: &Ui, report: &AbortReport) {
    ui.status(
        "Aborted",
        &format!(
            "merge `{}`{}",
            report.merge_id,
            if report.restored {
                format!(
                    "; `{}` is back at {}",
                    report.integration,
                    short_hex(&report.tip)
                )
            } else {
                String::new()
            }
        ),
    );
    for n in &report.notes {
        ui.status("Note", n);
    }
}
