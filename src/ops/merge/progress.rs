//! `progress [--write]`: PROGRESS.md rendered from the state and the integration branch, and
//! committed to it as one of droidforge's own record commits (which `undo` sees through).

use crate::error::Result;
use crate::forge::progress::PROGRESS_PATH;
use crate::git::{Expect, Oid, Repo};
use crate::workspace::Workspace;

use super::record;

/// What `progress --write` did.
#[derive(Debug, Clone)]
pub struct ProgressWrite {
    /// PROGRESS.md as written (or as it already was).
    pub text: String,
    /// The record commit, or `None` when PROGRESS.md on the integration branch was current.
    pub commit: Option<Oid>,
    /// A note when the checkout of the integration branch could not follow the new commit.
    pub checkout_note: Option<String>,
}

/// PROGRESS.md as it would be written now.
pub fn render_progress(ws: &Workspace) -> Result<String> {
    record::render(ws, &ws.repo, ws.integration_tip()?, None)
}

/// Commit PROGRESS.md to the integration branch (compare-and-swap on its tip) when it changed,
/// and forget the merge-log rows it now holds.
pub fn write_progress(ws: &Workspace) -> Result<ProgressWrite> {
    let tip = ws.integration_tip()?;
    let text = record::render(ws, &ws.repo, tip, None)?;
    let current = ws.repo.read_file_at(tip, PROGRESS_PATH)?;
    // The merge-log rows waiting in the state (attempts that landed nothing) are in `text`;
    // once it is on the integration branch they are recorded.
    let forget = || -> Result<()> {
        let store = ws.state.store();
        if !store.read().unwrap_or_default().unrecorded_log.is_empty() {
            store.update(|s| super::forget_recorded_log(s, &text))?;
        }
        Ok(())
    };
    if current.as_deref() == Some(text.as_bytes()) {
        forget()?;
        return Ok(ProgressWrite {
            text,
            commit: None,
            checkout_note: None,
        });
    }
    let commit = ws.repo.commit_files(
        Some(tip),
        &[(PROGRESS_PATH, Some(text.as_bytes()))],
        &format!(
            "droidforge: update PROGRESS.md\n\n{}\n",
            record::RECORD_TRAILER
        ),
    )?;
    // Is the integration branch checked out in the main worktree? Check before moving.
    let main = Repo::open(&ws.root)?;
    let refresh = main.head_branch().as_deref() == Some(ws.integration.as_str());
    ws.repo
        .set_ref(
            &format!("refs/heads/{}", ws.integration),
            commit,
            Expect::MustMatch(tip),
            "droidforge: update PROGRESS.md",
        )
        .map_err(|e| e.hint("the integration branch moved meanwhile; run the command again"))?;
    forget()?;
    let checkout_note = match refresh {
        true => super::update_checkout(&ws.root, &ws.integration, tip, commit).err(),
        false => None,
    };
    Ok(ProgressWrite {
        text,
        commit: Some(commit),
        checkout_note,
    })
}
