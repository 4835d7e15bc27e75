//! Landing a merge and recovering from an interrupted one.
//!
//! Order of work, so that a crash at any point leaves the old or the new integration tip:
//! 1. every object (rebased commits, the PROGRESS.md record) is already in the odb;
//! 2. `merge-journal.json` is written atomically (T0, new tip, backup ref, the report);
//! 3. ONE ref transaction creates the backup ref and moves the integration branch with
//!    compare-and-swap on T0 — all or nothing;
//! 4. follow-up work (ready marks, droid branches, checkouts, state, events) — idempotent, so
//!    `merge --continue` can redo it;
//! 5. the journal is removed.

use crate::git::short;

use crate::error::{Error, Result};
use crate::git::{Expect, Oid};
use crate::state::{Event, EventKind, MergeRecord};
use crate::util::safe_fs::write_json_atomic;
use crate::workspace::{BACKUP_PREFIX, Workspace};

use super::error::MergeError;
use super::follow::{CheckoutMove, DroidMove, checkout_of, follow};
use super::journal::{JOURNAL_VERSION, MergeJournal, remove_journal};
use super::report::{DroidStatus, MergeReport};

/// Land a computed (non-dry-run) report: journal, backup + CAS move, follow-up work.
pub fn land(
    ws: &Workspace,
    report: &mut MergeReport,
    no_sync_worktrees: bool,
    progress: &dyn Fn(super::MergeEvent),
) -> Result<()> {
    let backup_ref = format!("{BACKUP_PREFIX}{}", report.merge_id);
    // Its files follow the branch afterwards, keeping unrelated local edits.
    let refresh_checkout = checkout_of(ws, &report.integration)?;
    report.backup_ref = Some(backup_ref.clone());
    report.landed = true;
    // The journal holds the report itself, not a copy (it lists every commit of the run), and
    // hands it back whatever happens.
    let mut journal = MergeJournal {
        version: JOURNAL_VERSION,
        merge_id: report.merge_id.clone(),
        integration: report.integration.clone(),
        old_tip: report.old_tip,
        new_tip: report.new_tip,
        backup_ref,
        refresh_checkout,
        no_sync_worktrees,
        pid: std::process::id(),
        started_at: crate::util::time::now(),
        report: take_report(report),
    };
    let result = land_journaled(ws, &mut journal, progress);
    *report = journal.report;
    let notes = result?;
    report.notes.extend(notes);
    Ok(())
}

/// `report` moved out, leaving its small fields behind: the rest of the report (the droids
/// with their commits, the notes) is not copied.
fn take_report(report: &mut MergeReport) -> MergeReport {
    let droids = std::mem::take(&mut report.droids);
    let notes = std::mem::take(&mut report.notes);
    MergeReport {
        droids,
        notes,
        ..report.clone()
    }
}

/// [`land`] once the journal is made: write it, move the refs, do the follow-up work. Returns
/// the notes of the follow-up work; on an error before the refs moved, `journal.report` says
/// that nothing landed.
fn land_journaled(
    ws: &Workspace,
    journal: &mut MergeJournal,
    progress: &dyn Fn(super::MergeEvent),
) -> Result<Vec<String>> {
    let (old, new) = (journal.old_tip, journal.new_tip);
    let integration_ref = format!("refs/heads/{}", journal.integration);
    ws.state.ensure()?;
    write_json_atomic(&ws.state.merge_journal_path(), &*journal, true)?;
    test_pause();
    #[cfg(test)]
    crash::die_at(crash::At::BeforeRefs)?;

    progress(super::MergeEvent::Landing {
        integration: &journal.integration,
    });
    let moved = ws.repo.edit_refs(
        &[
            (journal.backup_ref.clone(), Some(old), Expect::MustNotExist),
            (integration_ref.clone(), Some(new), Expect::MustMatch(old)),
        ],
        &format!("droidforge: merge {}", journal.merge_id),
    );
    if let Err(e) = moved {
        let _ = remove_journal(&ws.state);
        journal.report.backup_ref = None;
        journal.report.landed = false;
        // The compare-and-swap says what it found; the backup ref existing is another error.
        return Err(match e.find::<crate::git::RefMoved>() {
            Some(m) if m.name == integration_ref => MergeError::IntegrationMoved {
                integration: journal.integration.clone(),
                expected: old,
                found: m.found,
            }
            .into(),
            _ => e,
        });
    }
    #[cfg(test)]
    crash::die_at(crash::At::AfterRefs)?;
    finish(ws, journal).map_err(|e| moved_but_unfinished(journal, e))
}

/// Crash-test seam: when `DROIDFORGE_TEST_PAUSE_BEFORE_LAND` names a path, `merge` waits after
/// writing its journal (right before the ref transaction) until that file exists (at most
/// 120 s), so tests can move the integration branch mid-merge or SIGKILL it at a known point.
/// Compiled into debug builds only (what `cargo test` runs): a release binary never reads it.
#[cfg(debug_assertions)]
fn test_pause() {
    let Some(path) = std::env::var_os("DROIDFORGE_TEST_PAUSE_BEFORE_LAND") else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !path.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[cfg(not(debug_assertions))]
fn test_pause() {}

/// Merged droids with their ready commit and the integration tip right after they landed.
pub(super) fn merged_droids(
    report: &MergeReport,
) -> impl Iterator<Item = (&str, &super::DroidReport, Oid, Oid)> {
    report.named().filter_map(|(name, d)| {
        if d.status != DroidStatus::Merged {
            return None;
        }
        Some((name, d, d.ready?, d.tip?))
    })
}

/// Everything after the integration branch moved. Idempotent. Returns notes for the user.
pub(super) fn finish(ws: &Workspace, journal: &mut MergeJournal) -> Result<Vec<String>> {
    let notes = follow_up(ws, journal)?;
    // The per-merge record is the report with these notes; the report itself gets them from
    // the caller, so they are added for the write and taken off again (no copy of the report).
    let report = &mut journal.report;
    let had = report.notes.len();
    report.notes.extend(notes.iter().cloned());
    let _ = write_json_atomic(
        &ws.state.merge_report_path(&report.merge_id),
        &*report,
        true,
    );
    report.notes.truncate(had);
    record_landing(ws, journal)?;
    Ok(notes)
}

/// Ready marks, droid branches and checkouts after a landing; returns the notes.
fn follow_up(ws: &Workspace, journal: &MergeJournal) -> Result<Vec<String>> {
    let report = &journal.report;
    let (old, new) = (journal.old_tip, journal.new_tip);
    let mut notes = Vec::new();

    // Droids: ready marks, then branches and worktrees with the integration checkout.
    for (name, _, ready, _) in merged_droids(report) {
        let ready_ref = ws.ready_ref(name);
        if ws.repo.ref_id(&ready_ref)? == Some(ready)
            && let Err(e) = ws.repo.delete_ref(&ready_ref, Expect::MustMatch(ready))
        {
            notes.push(format!("could not clear the ready mark of `{name}`: {e}"));
        }
    }
    let moves: Vec<DroidMove> = match journal.no_sync_worktrees {
        true => Vec::new(),
        false => merged_droids(report)
            .map(|(droid, d, ready, tip)| DroidMove {
                droid,
                branch: &d.branch,
                from: ready,
                to: tip,
            })
            .collect(),
    };
    let integration = journal.refresh_checkout.as_deref().map(|dir| CheckoutMove {
        dir,
        branch: &journal.integration,
        from: old,
        to: new,
    });
    notes.extend(follow(ws, &moves, integration)?);
    Ok(notes)
}

/// State and events of a landing, then the journal is removed.
fn record_landing(ws: &Workspace, journal: &MergeJournal) -> Result<()> {
    let report = &journal.report;
    let merged: Vec<String> = merged_droids(report)
        .map(|(name, ..)| name.to_owned())
        .collect();
    // The record commit's PROGRESS.md now holds the log rows of earlier attempts that landed
    // nothing; forget them.
    let recorded_log = ws
        .repo
        .read_file_at(journal.new_tip, crate::forge::progress::PROGRESS_PATH)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    record_outcomes(ws, report, |s| {
        forget_recorded_log(s, &recorded_log);
        if !s.merges.iter().any(|m| m.id == report.merge_id) {
            s.merges.push(MergeRecord {
                id: report.merge_id.clone(),
                at: crate::util::time::now(),
                integration: report.integration.clone(),
                old_tip: report.old_tip.to_string(),
                new_tip: report.new_tip.to_string(),
                droids: merged.clone(),
                undone: false,
            });
        }
    })?;
    ws.event_with(
        Event::new(
            EventKind::Landed,
            None,
            format!(
                "merge {} moved `{}` {} → {} ({} merged)",
                report.merge_id,
                report.integration,
                short(report.old_tip),
                short(report.new_tip),
                crate::util::text::count(merged.len(), "droid")
            ),
        )
        .with_data(serde_json::json!({
            "merge_id": report.merge_id,
            "old_tip": report.old_tip.to_string(),
            "new_tip": report.new_tip.to_string(),
            "backup_ref": journal.backup_ref,
        })),
    );
    remove_journal(&ws.state)?;
    Ok(())
}

/// Per-droid results of a run in the state (last merge result, merged commit, last event)
/// and the event journal; `more` adds to the same state update. One state write for the whole
/// run, not one per droid: a crash before it leaves the merge journal, and `merge --continue`
/// writes it again.
fn record_outcomes(
    ws: &Workspace,
    report: &MergeReport,
    more: impl FnOnce(&mut crate::state::State),
) -> Result<()> {
    let events: Vec<Event> = report
        .named()
        .filter_map(|(name, d)| outcome_event(report, name, d))
        .collect();
    ws.state.store().update(|s| {
        record_upstream(s, report);
        for (name, d) in report.named() {
            if matches!(d.status, DroidStatus::Unready | DroidStatus::UpToDate) {
                continue;
            }
            let entry = s.droids.entry(name.to_owned()).or_default();
            entry.last_merge = Some(d.status.as_str().to_owned());
            if d.status == DroidStatus::Merged {
                entry.merged_commit = d.tip.map(|t| t.to_string());
                for c in &d.commits {
                    if let Some(new) = c.rewritten {
                        entry.landed.insert(c.original, new);
                    }
                }
            }
        }
        for event in &events {
            crate::state::note_last_event(s, event);
        }
        more(s);
    })?;
    // Best effort, like every event: the journal never stops the merge that happened.
    let journal = ws.state.journal();
    for event in &events {
        let _ = journal.append(event);
    }
    Ok(())
}

/// The journal event of one droid's result, if it has one.
fn outcome_event(report: &MergeReport, name: &str, d: &super::DroidReport) -> Option<Event> {
    let kind = match d.status {
        DroidStatus::Merged => EventKind::Merged,
        DroidStatus::Conflict => EventKind::Conflict,
        DroidStatus::Violation => EventKind::Violation,
        DroidStatus::VerifyFailed => EventKind::VerifyFailed,
        DroidStatus::Skipped => EventKind::Skipped,
        DroidStatus::Unready | DroidStatus::UpToDate => return None,
    };
    let msg = match d.status {
        DroidStatus::Merged => format!(
            "{} onto `{}` (merge {})",
            crate::util::text::count(d.commits.len(), "commit"),
            report.integration,
            report.merge_id
        ),
        _ => super::record::reason_line(d),
    };
    Some(
        Event::new(kind, Some(name), msg).with_data(serde_json::json!({
            "merge_id": report.merge_id,
            "ready": d.ready.map(|id| id.to_string()),
            "tip": d.tip.map(|id| id.to_string()),
        })),
    )
}

/// A run that landed nothing (every attempted droid rejected or skipped) makes no commit: its
/// results go to the state and the event journal, and its merge-log rows wait in the state
/// until the next PROGRESS.md write renders them.
pub fn record_unlanded(ws: &Workspace, report: &MergeReport) -> Result<()> {
    ws.state.ensure()?;
    let rows = super::record::log_rows(report);
    record_outcomes(ws, report, |s| s.unrecorded_log.extend(rows))
}

/// Commits whose change was found already upstream count as landed (original → the upstream
/// commit), so a ready mark on them is merged work and they are never replayed.
fn record_upstream(s: &mut crate::state::State, report: &MergeReport) {
    for (name, d) in report.named() {
        for c in &d.upstream {
            if let Some(new) = c.rewritten {
                let entry = s.droids.entry(name.to_owned()).or_default();
                entry.landed.insert(c.original, new);
            }
        }
    }
}

/// Record only the commits found already upstream (a run that landed nothing and rejected
/// nothing).
pub fn record_upstream_only(ws: &Workspace, report: &MergeReport) -> Result<()> {
    if report.droids.iter().all(|d| d.upstream.is_empty()) {
        return Ok(());
    }
    ws.state.ensure()?;
    ws.state.store().update(|s| record_upstream(s, report))
}

/// Drop the waiting merge-log rows that `progress_text` (a written PROGRESS.md) now holds.
pub fn forget_recorded_log(state: &mut crate::state::State, progress_text: &str) {
    let written = crate::forge::progress::parse_merge_log(progress_text);
    state.unrecorded_log.retain(|row| {
        let id = format!("| {} |", crate::forge::progress::cell(&row.merge_id));
        !written.iter().any(|w| w.starts_with(&id))
    });
}

/// The follow-up work after the ref update failed (a full disk, a broken state file): the
/// integration branch has already moved, so the error must say so and how to finish, not read
/// like a merge that did not happen.
pub(super) fn moved_but_unfinished(journal: &MergeJournal, cause: Error) -> Error {
    MergeError::Unfinished {
        merge_id: journal.merge_id.clone(),
        integration: journal.integration.clone(),
        old: journal.old_tip,
        new: journal.new_tip,
        cause,
    }
    .into()
}

/// Unit-test seam: `land` stops as if the process died at a chosen point (journal written,
/// refs not moved; or refs moved, follow-up work not done), so the library tests exercise
/// `--continue` and `--abort` in-process. Per thread, and compiled into unit tests only.
#[cfg(test)]
pub(super) mod crash {
    use std::cell::Cell;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum At {
        BeforeRefs,
        AfterRefs,
    }

    thread_local! {
        pub static AT: Cell<Option<At>> = const { Cell::new(None) };
    }

    pub fn die_at(at: At) -> crate::error::Result<()> {
        if AT.with(|c| c.get()) == Some(at) {
            return Err(crate::error::Error::failure(format!(
                "simulated crash at {at:?}"
            )));
        }
        Ok(())
    }
}
