//! `merge` for people: the progress lines of a run ([`MergeEvent`]s).

use droidforge::ops::merge::{DroidOutcome, MergeEvent, Rejection};
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
