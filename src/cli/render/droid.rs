//! The one droid line that `merge` (a table row) and `check` (a text line) both show: who, the
//! status word with its PROGRESS.md symbol, and why.

use droidforge::git::short_hex;
use droidforge::ops::merge::{DroidReport, DroidStatus};

/// Who the line is about: the droid, or `branch` for a branch that belongs to no droid.
pub fn label(d: &DroidReport) -> &str {
    d.droid.as_deref().unwrap_or("branch")
}

/// The status with its symbol; a dry run speaks in the conditional (nothing happened).
pub fn result(d: &DroidReport, dry_run: bool) -> String {
    format!("{} {}", d.status.symbol(), word(d, dry_run))
}

/// The status word followed by the reason (`conflict: 1 conflicting path`).
pub fn outcome(d: &DroidReport, dry_run: bool) -> String {
    let word = word(d, dry_run);
    match d.reason.as_deref() {
        Some(reason) => format!("{word}: {reason}"),
        None => word.to_owned(),
    }
}

/// What stopped the droid, one line per path: the paths it may not change and the paths that
/// did not apply.
pub fn details(d: &DroidReport) -> Vec<String> {
    let violations = d.violations.iter().map(|v| {
        format!(
            "`{}` {} in {}: {}",
            v.path,
            v.kind,
            short_hex(&v.commit),
            v.owner
        )
    });
    let conflicts = d.conflicts.iter().map(|c| {
        format!(
            "`{}` conflict ({}) applying {}",
            c.path,
            c.kind,
            short_hex(&c.commit)
        )
    });
    violations.chain(conflicts).collect()
}

fn word(d: &DroidReport, dry_run: bool) -> &'static str {
    match (d.status, dry_run) {
        (DroidStatus::Merged, true) => "would merge",
        (s, _) => s.as_str(),
    }
}
