//! The merge report: what happened to each droid in one merge run. Serializable and stable —
//! it is what `merge --json`, `check`, the MCP server and PROGRESS.md are built from.

use serde::{Deserialize, Serialize};

use crate::git::Oid;

/// Version of the JSON shape of [`MergeReport`].
pub const REPORT_VERSION: u32 = 1;

/// The outcome of one merge run (or dry run).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MergeReport {
    pub version: u32,
    pub merge_id: String,
    /// Short name of the integration branch.
    pub integration: String,
    /// Integration tip before the run (T0).
    #[serde(with = "crate::git::serde_hex")]
    pub old_tip: Oid,
    /// Integration tip after the run (equal to `old_tip` when nothing landed, and in a dry run:
    /// a dry run shows no commit ids it made, since the real merge makes its own).
    #[serde(with = "crate::git::serde_hex")]
    pub new_tip: Oid,
    pub dry_run: bool,
    /// `rebase` or `merge`.
    pub strategy: super::Strategy,
    /// The droids in merge order.
    pub droids: Vec<DroidReport>,
    /// The commit that recorded the run in PROGRESS.md, if one was written.
    #[serde(default, with = "crate::git::serde_hex::option")]
    pub record_commit: Option<Oid>,
    /// `refs/droidforge/backup/<merge-id>` when the run landed.
    #[serde(default)]
    pub backup_ref: Option<String>,
    /// Did the integration branch move?
    #[serde(default)]
    pub landed: bool,
    /// Follow-up information: checkouts updated or left alone, branches to sync by hand.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// What happened to one droid.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DroidStatus {
    Merged,
    Conflict,
    Violation,
    VerifyFailed,
    Skipped,
    Unready,
    UpToDate,
}

impl DroidStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DroidStatus::Merged => "merged",
            DroidStatus::Conflict => "conflict",
            DroidStatus::Violation => "violation",
            DroidStatus::VerifyFailed => "verify-failed",
            DroidStatus::Skipped => "skipped",
            DroidStatus::Unready => "unready",
            DroidStatus::UpToDate => "up-to-date",
        }
    }

    /// The PROGRESS.md symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            DroidStatus::Merged | DroidStatus::UpToDate => "🟢",
            DroidStatus::Conflict | DroidStatus::VerifyFailed => "🔴",
            DroidStatus::Violation => "⛔",
            DroidStatus::Skipped => "⏭",
            DroidStatus::Unready => "🔵",
        }
    }

    /// Was the droid rejected (and so are its dependents)?
    pub fn is_rejection(self) -> bool {
        matches!(
            self,
            DroidStatus::Conflict | DroidStatus::Violation | DroidStatus::VerifyFailed
        )
    }

    pub fn parse(s: &str) -> Option<DroidStatus> {
        Some(match s {
            "merged" => DroidStatus::Merged,
            "conflict" => DroidStatus::Conflict,
            "violation" => DroidStatus::Violation,
            "verify-failed" => DroidStatus::VerifyFailed,
            "skipped" => DroidStatus::Skipped,
            "unready" => DroidStatus::Unready,
            "up-to-date" => DroidStatus::UpToDate,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DroidReport {
    /// The droid; `None` for a branch that belongs to no droid (`check` of a human branch).
    pub droid: Option<String>,
    pub status: DroidStatus,
    /// The droid branch (short name).
    pub branch: String,
    /// The commit that was merged (the ready mark, or the branch head with `--include-unready`).
    #[serde(default, with = "crate::git::serde_hex::option")]
    pub ready: Option<Oid>,
    /// The integration tip right after this droid landed (merged droids only).
    #[serde(default, with = "crate::git::serde_hex::option")]
    pub tip: Option<Oid>,
    pub commits: Vec<CommitReport>,
    /// Commits skipped because their change is already on the integration branch under
    /// another id (`rewritten` is that upstream commit).
    #[serde(default)]
    pub upstream: Vec<CommitReport>,
    pub violations: Vec<Violation>,
    pub conflicts: Vec<Conflict>,
    #[serde(default)]
    pub reason: Option<String>,
    /// The output (stdout, then stderr) of a failed verification, for the feedback written
    /// into the droid's brief; not part of the JSON report.
    #[serde(skip)]
    pub verify_output: Option<String>,
}

impl DroidReport {
    pub fn new(droid: Option<&str>, branch: &str, status: DroidStatus) -> DroidReport {
        DroidReport {
            droid: droid.map(str::to_owned),
            status,
            branch: branch.to_owned(),
            ready: None,
            tip: None,
            commits: Vec::new(),
            upstream: Vec::new(),
            violations: Vec::new(),
            conflicts: Vec::new(),
            reason: None,
            verify_output: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommitReport {
    #[serde(with = "crate::git::serde_hex")]
    pub original: Oid,
    /// The rebased commit (equal to `original` with `--strategy merge`); absent when the
    /// droid did not land.
    #[serde(default, with = "crate::git::serde_hex::option")]
    pub rewritten: Option<Oid>,
    pub summary: String,
}

/// A path a droid changed without owning it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Violation {
    pub path: String,
    /// `added`, `modified`, `deleted`, `renamed-from`, `renamed-to`, `mode-changed`.
    pub kind: String,
    pub commit: String,
    /// "owned by `x`", "unowned" or "protected".
    pub owner: String,
}

/// A path that did not merge cleanly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Conflict {
    pub path: String,
    /// `content`, `add/add`, `modify/delete`, `rename/rename`, …
    pub kind: String,
    /// The droid commit that could not be applied.
    pub commit: String,
}

impl MergeReport {
    /// The process exit code for this report: 4 any violation (wins), 3 any conflict,
    /// 5 any verification failure, else 0.
    pub fn exit_code(&self) -> i32 {
        worst_outcome(&self.droids).exit_code()
    }

    pub fn count(&self, status: DroidStatus) -> usize {
        self.droids.iter().filter(|d| d.status == status).count()
    }

    /// The droids of a merge run with their names (every line of a merge report names one).
    pub fn named(&self) -> impl Iterator<Item = (&str, &DroidReport)> {
        self.droids
            .iter()
            .filter_map(|d| Some((d.droid.as_deref()?, d)))
    }

    pub fn droid(&self, name: &str) -> Option<&DroidReport> {
        self.droids
            .iter()
            .find(|d| d.droid.as_deref() == Some(name))
    }
}

/// The verdict on a set of droids: the worst outcome among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Violation,
    Conflict,
    VerifyFailed,
}

impl Verdict {
    /// The process exit code (README, "Exit codes").
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Conflict => 3,
            Verdict::Violation => 4,
            Verdict::VerifyFailed => 5,
        }
    }

    /// The name used in text output (the same as its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Violation => "violation",
            Verdict::Conflict => "conflict",
            Verdict::VerifyFailed => "verify-failed",
        }
    }
}

/// The worst outcome among droids: a violation (4) wins over a conflict (3), which wins over a
/// failed verification (5); otherwise a pass.
pub fn worst_outcome(droids: &[DroidReport]) -> Verdict {
    let any = |s: DroidStatus| droids.iter().any(|d| d.status == s);
    if any(DroidStatus::Violation) {
        Verdict::Violation
    } else if any(DroidStatus::Conflict) {
        Verdict::Conflict
    } else if any(DroidStatus::VerifyFailed) {
        Verdict::VerifyFailed
    } else {
        Verdict::Pass
    }
}
