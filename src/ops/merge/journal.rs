//! The crash-recovery journal of a landing merge (`<state>/merge-journal.json`): written before
//! the ref transaction, removed when the follow-up work is done, read by `merge --continue`,
//! `merge --abort`, `undo` and `doctor`. Also the merge history rebuilt from backup refs when
//! `state.json` is lost.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::git::Oid;
use crate::state::{MergeRecord, StateDir};
use crate::workspace::{BACKUP_PREFIX, Workspace};

use super::error::MergeError;
use super::report::{DroidStatus, MergeReport};

pub const JOURNAL_VERSION: u32 = 1;

/// The crash-recovery journal of a landing merge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergeJournal {
    pub version: u32,
    pub merge_id: String,
    pub integration: String,
    #[serde(with = "crate::git::serde_hex")]
    pub old_tip: Oid,
    #[serde(with = "crate::git::serde_hex")]
    pub new_tip: Oid,
    pub backup_ref: String,
    /// The checkout of the integration branch whose index and files follow the branch.
    #[serde(default)]
    pub refresh_checkout: Option<PathBuf>,
    /// `merge --no-sync-worktrees`: the merged droids' branches and worktrees stay where they
    /// are (`--continue` must not move them either).
    #[serde(default)]
    pub no_sync_worktrees: bool,
    pub pid: u32,
    pub started_at: i64,
    pub report: MergeReport,
}

/// The merge history rebuilt from what survives a lost `state.json`: one record per backup
/// ref `refs/droidforge/backup/<id>` (its target is the tip before that merge), completed from
/// `<state>/merges/<id>.json` when that file is readable (new tip, merged droids). A record
/// whose new tip is unknown keeps `new_tip` empty; `undo` then names the backup ref instead.
pub fn rebuild_merge_history(ws: &Workspace) -> Result<Vec<MergeRecord>> {
    let mut out = Vec::new();
    for (name, target) in ws.repo.refs_with_prefix(BACKUP_PREFIX)? {
        let id = name.trim_start_matches(BACKUP_PREFIX).to_owned();
        let report: Option<MergeReport> =
            crate::state::peek_state_json(&ws.state.merge_report_path(&id), "merge report");
        let (integration, new_tip, droids) = match &report {
            Some(r) if r.old_tip == target => (
                r.integration.clone(),
                r.new_tip.to_string(),
                r.named()
                    .filter(|(_, d)| d.status == DroidStatus::Merged)
                    .map(|(name, _)| name.to_owned())
                    .collect(),
            ),
            _ => (ws.integration.clone(), String::new(), Vec::new()),
        };
        out.push(MergeRecord {
            at: crate::util::time::parse_compact_utc(&id).unwrap_or(0),
            id,
            integration,
            old_tip: target.to_string(),
            new_tip,
            droids,
            undone: false,
        });
    }
    // Merge ids start with their UTC time: sorting by id is chronological.
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// How to check the integration branch by hand after an unreadable merge journal was set aside.
pub const CHECK_BY_HAND: &str = "Check the integration branch by hand: `git for-each-ref refs/droidforge/backup/` lists the tip it had before each merge (newest id last), compare it with `git log <integration branch>`; `droidforge undo` rolls the last merge back if it is wrong";

/// The pending merge journal, if any. An unreadable one is [`MergeError::JournalUnreadable`].
pub fn read_journal(state: &StateDir) -> Result<Option<MergeJournal>> {
    crate::state::read_state_json(&state.merge_journal_path(), "merge journal", "")
        .map_err(|cause| MergeError::JournalUnreadable { cause }.into())
}

pub(super) fn remove_journal(state: &StateDir) -> Result<()> {
    match std::fs::remove_file(state.merge_journal_path()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::failure("cannot remove the merge journal").with_source(e)),
    }
}
