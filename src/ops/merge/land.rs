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

use crate::git::short_hex as short;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};
use crate::git::{Expect, Oid, Repo, parse_oid};
use crate::state::{Event, EventKind, FileLock, MergeRecord, StateDir};
use crate::util::safe_fs::write_atomic;
use crate::workspace::{BACKUP_PREFIX, Workspace};

use super::report::{DroidStatus, MergeReport};

/// Test-only hook: when set to a path, `merge` waits after writing its journal (right before
/// the ref transaction) until that file exists. Lets tests move the integration branch during
/// a merge to exercise the compare-and-swap. Not for production use.
pub const TEST_PAUSE_ENV: &str = "DROIDFORGE_TEST_PAUSE_BEFORE_LAND";

pub const JOURNAL_VERSION: u32 = 1;

/// The crash-recovery journal of a landing merge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergeJournal {
    pub version: u32,
    pub merge_id: String,
    pub integration: String,
    pub old_tip: String,
    pub new_tip: String,
    pub backup_ref: String,
    /// The checkout of the integration branch whose index and files follow the branch.
    #[serde(default)]
    pub refresh_checkout: Option<PathBuf>,
    pub pid: u32,
    pub started_at: i64,
    pub report: MergeReport,
}

impl MergeJournal {
    fn old_oid(&self) -> Result<Oid> {
        oid(&self.old_tip)
    }
    fn new_oid(&self) -> Result<Oid> {
        oid(&self.new_tip)
    }
}

fn oid(hex: &str) -> Result<Oid> {
    parse_oid(hex).ok_or_else(|| Error::failure(format!("`{hex}` is not an object id")))
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
            Some(r) if parse_oid(&r.old_tip) == Some(target) => (
                r.integration.clone(),
                r.new_tip.clone(),
                r.droids
                    .iter()
                    .filter(|d| d.status == DroidStatus::Merged)
                    .map(|d| d.droid.clone())
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

/// How to get past an unreadable merge journal.
fn journal_fix() -> String {
    format!(
        "run `droidforge merge --abort` (or `droidforge doctor --fix`): it moves the journal aside as `merge-journal.json.corrupt-<time>`. {CHECK_BY_HAND}"
    )
}

/// The pending merge journal, if any.
pub fn read_journal(state: &StateDir) -> Result<Option<MergeJournal>> {
    crate::state::read_state_json(&state.merge_journal_path(), "merge journal", &journal_fix())
}

fn remove_journal(state: &StateDir) -> Result<()> {
    match std::fs::remove_file(state.merge_journal_path()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::failure("cannot remove the merge journal").with_source(e)),
    }
}

/// Where the integration branch (or any branch) is checked out: the main worktree or a linked one.
fn checkout_of(ws: &Workspace, branch: &str) -> Result<Option<PathBuf>> {
    if let Ok(main) = Repo::open(&ws.root)
        && main.head_branch().as_deref() == Some(branch)
    {
        return Ok(Some(ws.root.clone()));
    }
    for wt in ws.repo.worktrees()? {
        if wt.present && wt.branch.as_deref() == Some(branch) {
            return Ok(Some(wt.path));
        }
    }
    Ok(None)
}

/// Land a computed (non-dry-run) report: journal, backup + CAS move, follow-up work.
pub fn land(ws: &Workspace, report: &mut MergeReport, progress: &dyn Fn(&str)) -> Result<()> {
    let old = oid(&report.old_tip)?;
    let new = oid(&report.new_tip)?;
    let backup_ref = format!("{BACKUP_PREFIX}{}", report.merge_id);
    let integration_ref = format!("refs/heads/{}", report.integration);
    // Its files follow the branch afterwards, keeping unrelated local edits.
    let refresh_checkout = checkout_of(ws, &report.integration)?;
    report.backup_ref = Some(backup_ref.clone());
    report.landed = true;
    let journal = MergeJournal {
        version: JOURNAL_VERSION,
        merge_id: report.merge_id.clone(),
        integration: report.integration.clone(),
        old_tip: report.old_tip.clone(),
        new_tip: report.new_tip.clone(),
        backup_ref: backup_ref.clone(),
        refresh_checkout,
        pid: std::process::id(),
        started_at: crate::util::time::now(),
        report: report.clone(),
    };
    ws.state.ensure()?;
    let bytes = serde_json::to_vec_pretty(&journal).context("cannot serialize the journal")?;
    write_atomic(&ws.state.merge_journal_path(), &bytes)?;
    test_pause();

    progress(&format!("landing on `{}`", report.integration));
    let moved = ws.repo.edit_refs(
        &[
            (backup_ref.clone(), Some(old), Expect::MustNotExist),
            (integration_ref, Some(new), Expect::MustMatch(old)),
        ],
        &format!("droidforge: merge {}", report.merge_id),
    );
    if let Err(e) = moved {
        let _ = remove_journal(&ws.state);
        report.backup_ref = None;
        report.landed = false;
        let now = ws.repo.branch_tip(&report.integration).ok().flatten();
        if now != Some(old) {
            return Err(Error::failure(format!(
                "the integration branch `{}` moved during the merge (expected {}, found {}); nothing was changed",
                report.integration,
                short(&report.old_tip),
                now.map(|o| crate::git::short(o).to_string())
                    .unwrap_or_else(|| "no branch".to_owned())
            ))
            .hint("run the merge again to merge onto the new tip"));
        }
        return Err(e);
    }
    let notes = finish(ws, &journal).map_err(|e| moved_but_unfinished(&journal, e))?;
    report.notes.extend(notes);
    Ok(())
}

/// The follow-up work after the ref update failed (a full disk, a broken state file): the
/// integration branch has already moved, so the error must say so and how to finish, not read
/// like a merge that did not happen.
fn moved_but_unfinished(journal: &MergeJournal, cause: Error) -> Error {
    Error::failure(format!(
        "merge {} moved `{}` from {} to {}, but finishing it failed (ready marks, branches, checkouts or state may be stale)",
        journal.merge_id,
        journal.integration,
        short(&journal.old_tip),
        short(&journal.new_tip)
    ))
    .with_source(cause)
    .hint("fix the cause, then run `droidforge merge --continue` to finish the merge (safe to repeat)")
}

fn test_pause() {
    let Some(path) = std::env::var_os(TEST_PAUSE_ENV) else {
        return;
    };
    let path = PathBuf::from(path);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !path.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn shell_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Merged droids with their ready commit and the integration tip right after they landed.
fn merged_droids(report: &MergeReport) -> impl Iterator<Item = (&super::DroidReport, Oid, Oid)> {
    report.droids.iter().filter_map(|d| {
        if d.status != DroidStatus::Merged {
            return None;
        }
        let ready = d.ready.as_deref().and_then(parse_oid)?;
        let tip = d.tip.as_deref().and_then(parse_oid)?;
        Some((d, ready, tip))
    })
}

/// Everything after the integration branch moved. Idempotent. Returns notes for the user.
fn finish(ws: &Workspace, journal: &MergeJournal) -> Result<Vec<String>> {
    let report = &journal.report;
    let old = journal.old_oid()?;
    let new = journal.new_oid()?;
    let mut notes = Vec::new();

    // Droids: ready marks and branches.
    for (d, ready, tip) in merged_droids(report) {
        let ready_ref = ws.ready_ref(&d.droid);
        if ws.repo.ref_target(&ready_ref)? == Some(ready)
            && let Err(e) = ws.repo.delete_ref(&ready_ref, Expect::MustMatch(ready))
        {
            notes.push(format!(
                "could not clear the ready mark of `{}`: {e}",
                d.droid
            ));
        }
        if let Some(note) = move_droid_branch(ws, &d.droid, &d.branch, ready, tip)? {
            notes.push(note);
        }
    }

    // The integration checkout.
    if let Some(dir) = &journal.refresh_checkout {
        notes.push(update_checkout(dir, &journal.integration, old, new).unwrap_or_else(|e| e));
    }

    // State, the per-merge record, events.
    let mut final_report = report.clone();
    final_report.notes.extend(notes.iter().cloned());
    if let Ok(bytes) = serde_json::to_vec_pretty(&final_report) {
        let _ = write_atomic(&ws.state.merge_report_path(&report.merge_id), &bytes);
    }
    let merged: Vec<String> = report
        .droids
        .iter()
        .filter(|d| d.status == DroidStatus::Merged)
        .map(|d| d.droid.clone())
        .collect();
    // The record commit's PROGRESS.md now holds the log rows of earlier attempts that landed
    // nothing; forget them.
    let recorded_log = ws
        .repo
        .read_file_at(new, crate::forge::progress::PROGRESS_PATH)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    record_outcomes(ws, report, |s| {
        forget_recorded_log(s, &recorded_log);
        if !s.merges.iter().any(|m| m.id == report.merge_id) {
            s.merges.push(MergeRecord {
                id: report.merge_id.clone(),
                at: crate::util::time::now(),
                integration: report.integration.clone(),
                old_tip: report.old_tip.clone(),
                new_tip: report.new_tip.clone(),
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
                short(&report.old_tip),
                short(&report.new_tip),
                crate::util::text::count(merged.len(), "droid")
            ),
        )
        .with_data(serde_json::json!({
            "merge_id": report.merge_id,
            "old_tip": report.old_tip,
            "new_tip": report.new_tip,
            "backup_ref": journal.backup_ref,
        })),
    );
    remove_journal(&ws.state)?;
    Ok(notes)
}

/// Per-droid results of a run in the state (last merge result, merged commit) and the event
/// journal; `more` adds to the same state update.
fn record_outcomes(
    ws: &Workspace,
    report: &MergeReport,
    more: impl FnOnce(&mut crate::state::State),
) -> Result<()> {
    ws.state.store().update(|s| {
        record_upstream(s, report);
        for d in &report.droids {
            if matches!(d.status, DroidStatus::Unready | DroidStatus::UpToDate) {
                continue;
            }
            let entry = s.droids.entry(d.droid.clone()).or_default();
            entry.last_merge = Some(d.status.as_str().to_owned());
            if d.status == DroidStatus::Merged {
                entry.merged_commit = d.tip.clone();
                for c in &d.commits {
                    if let Some(new) = &c.rewritten {
                        entry.landed.insert(c.original.clone(), new.clone());
                    }
                }
            }
        }
        more(s);
    })?;
    for d in &report.droids {
        let kind = match d.status {
            DroidStatus::Merged => EventKind::Merged,
            DroidStatus::Conflict => EventKind::Conflict,
            DroidStatus::Violation => EventKind::Violation,
            DroidStatus::VerifyFailed => EventKind::VerifyFailed,
            DroidStatus::Skipped => EventKind::Skipped,
            DroidStatus::Unready | DroidStatus::UpToDate => continue,
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
        ws.event_with(
            Event::new(kind, Some(&d.droid), msg).with_data(serde_json::json!({
                "merge_id": report.merge_id,
                "ready": d.ready,
                "tip": d.tip,
            })),
        );
    }
    Ok(())
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
    for d in &report.droids {
        for c in &d.upstream {
            if let Some(new) = &c.rewritten {
                let entry = s.droids.entry(d.droid.clone()).or_default();
                entry.landed.insert(c.original.clone(), new.clone());
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

/// Move a droid's branch from `from` to `to` if it still points at `from` and its checkout (if
/// any) is clean; otherwise say how to sync. `None` when nothing needs saying.
fn move_droid_branch(
    ws: &Workspace,
    droid: &str,
    branch: &str,
    from: Oid,
    to: Oid,
) -> Result<Option<String>> {
    let head = ws.repo.branch_tip(branch)?;
    if head == Some(to) || head.is_none() {
        return Ok(None);
    }
    let checkout = checkout_of(ws, branch)?;
    let where_ = checkout
        .as_deref()
        .map(shell_path)
        .unwrap_or_else(|| ".".to_owned());
    if head != Some(from) {
        return Ok(Some(format!(
            "`{branch}` has commits after its ready mark; to continue on the merged work run \
             `git -C {where_} rebase --onto {} {} {branch}`",
            crate::git::short(to),
            crate::git::short(from)
        )));
    }
    let set_branch = || {
        ws.repo.set_ref(
            &format!("refs/heads/{branch}"),
            to,
            Expect::MustMatch(from),
            &format!("droidforge: reset `{droid}` to its merged commits"),
        )
    };
    let Some(dir) = checkout else {
        return Ok(set_branch().err().map(|e| {
            format!(
                "could not reset `{branch}` to the merged commits: {}",
                e.message
            )
        }));
    };
    // The worktree follows its branch, keeping the droid's unrelated uncommitted edits; an
    // edit to a file the move changes keeps the branch where it is.
    let plan = match Repo::plan_checkout_update(&dir, from, to) {
        Ok(plan) => plan,
        Err(e) => {
            return Ok(Some(format!(
                "could not check `{droid}`'s worktree `{}` ({}), so `{branch}` still holds the original commits",
                dir.display(),
                e.message
            )));
        }
    };
    if !plan.blocked.is_empty() {
        return Ok(Some(format!(
            "`{droid}`'s worktree `{}` has uncommitted changes to files the merge changes ({}), so \
             `{branch}` still holds the original commits; after committing run `git -C {where_} rebase --onto {} {}`",
            dir.display(),
            list_paths(&plan.blocked),
            crate::git::short(to),
            crate::git::short(from)
        )));
    }
    if let Err(e) = set_branch() {
        return Ok(Some(format!(
            "could not reset `{branch}` to the merged commits: {}",
            e.message
        )));
    }
    Ok(plan.apply().err().map(|e| {
        format!(
            "moved `{branch}` to the merged commits but could not update its worktree ({}); run {}",
            e.message,
            finish_command(&dir, branch, from)
        )
    }))
}

/// At most ten paths, comma-separated, with a count of the rest.
fn list_paths(paths: &[String]) -> String {
    let mut text = paths
        .iter()
        .take(10)
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > 10 {
        text.push_str(&format!(" and {} more", paths.len() - 10));
    }
    text
}

/// The git commands that bring a checkout whose branch moved on from `from` up to date while
/// carrying its local changes over (three-way, like `git stash pop`).
fn finish_command(dir: &Path, branch: &str, from: Oid) -> String {
    let d = shell_path(dir);
    format!(
        "`git -C {d} checkout -q --detach {from} && git -C {d} stash push -u && git -C {d} checkout -q {branch} && git -C {d} stash pop`"
    )
}

/// Bring the checkout of `branch` at `dir` from `from` to `to` after the branch moved, keeping
/// local edits to files the move does not change. When a local edit (or an untracked file)
/// touches a changed file, nothing is touched and the note names those files and the commands
/// that finish the update. Returns the note for the user: `Ok` when the checkout was updated.
pub fn update_checkout(
    dir: &Path,
    branch: &str,
    from: Oid,
    to: Oid,
) -> std::result::Result<String, String> {
    let outcome =
        Repo::plan_checkout_update(dir, from, to).and_then(|plan| match plan.blocked.is_empty() {
            true => plan.apply().map(|_| None),
            false => Ok(Some(plan.blocked)),
        });
    match outcome {
        Ok(None) => Ok(format!(
            "updated the checkout of `{branch}` at `{}`",
            dir.display()
        )),
        Ok(Some(blocked)) => Err(format!(
            "the checkout of `{branch}` at `{}` was left as it was: your uncommitted changes touch files that changed ({}); \
             to update it and carry your changes over run {}",
            dir.display(),
            list_paths(&blocked),
            finish_command(dir, branch, from)
        )),
        Err(e) => Err(format!(
            "could not update the checkout of `{branch}` at `{}` ({}); run {}",
            dir.display(),
            e.message,
            finish_command(dir, branch, from)
        )),
    }
}

/// Remove stale ref lock files left by a killed merge (only when its process is gone).
fn clear_stale_locks(ws: &Workspace, journal: &MergeJournal) {
    if crate::state::pid_alive(journal.pid) && journal.pid != std::process::id() {
        return;
    }
    let common = ws.repo.common_dir();
    let mut candidates = vec![
        common.join(format!("refs/heads/{}.lock", journal.integration)),
        common.join(format!("{}.lock", journal.backup_ref)),
        common.join("packed-refs.lock"),
    ];
    // The follow-up work deletes ready marks and moves droid branches: a kill there leaves
    // their locks, and a ready mark that cannot be cleared would be merged again.
    for (d, _, _) in merged_droids(&journal.report) {
        candidates.push(common.join(format!("{}.lock", ws.ready_ref(&d.droid))));
        candidates.push(common.join(format!("refs/heads/{}.lock", d.branch)));
    }
    for p in candidates {
        let _ = std::fs::remove_file(p);
    }
}

fn lock_merges(ws: &Workspace) -> Result<FileLock> {
    ws.state.ensure()?;
    FileLock::try_acquire(&ws.state.lock_path(super::MERGE_LOCK))?.ok_or_else(|| {
        Error::failure("another `droidforge merge` is running in this repository")
            .hint("wait for it to finish")
    })
}

fn no_journal() -> Error {
    Error::failure("there is no interrupted merge to resolve")
        .hint("`droidforge merge --continue`/`--abort` only act on a merge that was interrupted")
}

/// `merge --continue`: finish an interrupted merge.
pub fn continue_merge(ws: &Workspace, progress: &dyn Fn(&str)) -> Result<MergeReport> {
    let _lock = lock_merges(ws)?;
    let journal = read_journal(&ws.state)?.ok_or_else(no_journal)?;
    clear_stale_locks(ws, &journal);
    let old = journal.old_oid()?;
    let new = journal.new_oid()?;
    let current = ws.repo.branch_tip(&journal.integration)?;
    let mut report = journal.report.clone();
    if current == Some(old) {
        if !ws.repo.has_commit(new) {
            return Err(Error::failure(format!(
                "the merged commit {} of the interrupted merge is missing",
                short(&journal.new_tip)
            ))
            .hint("run `droidforge merge --abort`, then merge again"));
        }
        progress(&format!("landing on `{}`", journal.integration));
        ws.repo.edit_refs(
            &[
                (journal.backup_ref.clone(), Some(old), Expect::Any),
                (
                    format!("refs/heads/{}", journal.integration),
                    Some(new),
                    Expect::MustMatch(old),
                ),
            ],
            &format!("droidforge: merge {} (continued)", journal.merge_id),
        )?;
    } else if current == Some(new) {
        if ws.repo.ref_target(&journal.backup_ref)?.is_none() {
            ws.repo
                .set_ref(&journal.backup_ref, old, Expect::Any, "droidforge: backup")?;
        }
    } else {
        return Err(Error::failure(format!(
            "the integration branch `{}` is neither at the old ({}) nor at the new tip ({}) of merge `{}`",
            journal.integration,
            short(&journal.old_tip),
            short(&journal.new_tip),
            journal.merge_id
        ))
        .hint("run `droidforge merge --abort` to drop the interrupted merge, then merge again"));
    }
    let notes = finish(ws, &journal).map_err(|e| moved_but_unfinished(&journal, e))?;
    report.notes.extend(notes);
    report.landed = true;
    report.backup_ref = Some(journal.backup_ref.clone());
    Ok(report)
}

/// What `merge --abort` did.
#[derive(Debug, Clone, Serialize)]
pub struct AbortReport {
    pub merge_id: String,
    pub integration: String,
    /// Was the integration branch moved back to the old tip?
    pub restored: bool,
    pub tip: String,
    pub notes: Vec<String>,
}

/// `merge --abort`: roll an interrupted merge back to T0 (if nothing landed on top) and drop
/// its journal.
pub fn abort_merge(ws: &Workspace) -> Result<AbortReport> {
    let _lock = lock_merges(ws)?;
    let journal = match read_journal(&ws.state) {
        Ok(j) => j.ok_or_else(no_journal)?,
        // An unreadable journal cannot be rolled back; set it aside so merging works again
        // and say how to check the branch (the backup refs are untouched).
        Err(e) if std::fs::symlink_metadata(ws.state.merge_journal_path()).is_ok() => {
            let aside = crate::state::move_aside(&ws.state.merge_journal_path())?;
            ws.event(
                EventKind::Interrupted,
                None,
                format!("unreadable merge journal moved to {}", aside.display()),
            );
            return Ok(AbortReport {
                merge_id: "(unreadable journal)".into(),
                integration: ws.integration.clone(),
                restored: false,
                tip: ws
                    .repo
                    .branch_tip(&ws.integration)?
                    .map(|o| o.to_string())
                    .unwrap_or_default(),
                notes: vec![
                    format!("the merge journal could not be read ({})", e.message),
                    format!(
                        "moved it to `{}`; `{}` was left alone",
                        aside.display(),
                        ws.integration
                    ),
                    CHECK_BY_HAND.to_owned(),
                ],
            });
        }
        Err(e) => return Err(e),
    };
    clear_stale_locks(ws, &journal);
    let old = journal.old_oid()?;
    let new = journal.new_oid()?;
    let current = ws.repo.branch_tip(&journal.integration)?;
    let mut notes = Vec::new();
    let mut restored = false;
    if current == Some(new) {
        ws.repo.set_ref(
            &format!("refs/heads/{}", journal.integration),
            old,
            Expect::MustMatch(new),
            &format!("droidforge: abort merge {}", journal.merge_id),
        )?;
        restored = true;
        if let Some(dir) = &journal.refresh_checkout {
            notes.push(update_checkout(dir, &journal.integration, new, old).unwrap_or_else(|e| e));
        }
        notes.extend(restore_droids(ws, &journal.report)?);
    } else if current == Some(old) {
        notes.push(format!(
            "`{}` was still at {}; nothing had landed",
            journal.integration,
            short(&journal.old_tip)
        ));
    } else {
        notes.push(format!(
            "`{}` moved on since the interrupted merge; it was left alone",
            journal.integration
        ));
    }
    if ws.repo.ref_target(&journal.backup_ref)? == Some(old) && current != Some(new) {
        let _ = ws
            .repo
            .delete_ref(&journal.backup_ref, Expect::MustMatch(old));
    }
    remove_journal(&ws.state)?;
    ws.event(
        EventKind::Interrupted,
        None,
        format!("merge {} aborted", journal.merge_id),
    );
    Ok(AbortReport {
        merge_id: journal.merge_id,
        integration: journal.integration,
        restored,
        tip: ws
            .repo
            .branch_tip(&ws.integration)?
            .map(|o| o.to_string())
            .unwrap_or_default(),
        notes,
    })
}

/// Put merged droids back as they were before a merge: ready marks on their original commits,
/// branches that still sit on the rebased commits moved back (when clean).
fn restore_droids(ws: &Workspace, report: &MergeReport) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for (d, ready, tip) in merged_droids(report) {
        let ready_ref = ws.ready_ref(&d.droid);
        if ws.repo.ref_target(&ready_ref)?.is_none() {
            ws.repo.set_ref(
                &ready_ref,
                ready,
                Expect::MustNotExist,
                "droidforge: restore ready mark",
            )?;
        }
        if let Some(note) = move_droid_branch(ws, &d.droid, &d.branch, tip, ready)? {
            notes.push(note);
        }
        let _ = ws.state.store().update_droid(&d.droid, |s| {
            s.last_merge = None;
            s.merged_commit = None;
            for c in &d.commits {
                s.landed.remove(&c.original);
            }
        });
    }
    Ok(notes)
}

/// What `undo` did or why it did nothing.
#[derive(Debug, Clone, Serialize)]
pub struct UndoReport {
    pub merge_id: String,
    pub integration: String,
    pub undone: bool,
    pub restored_tip: Option<String>,
    /// Commits that landed on top of the merge (when it could not be undone).
    pub landed_since: Vec<LandedCommit>,
    /// When it could not be undone: the command that moves the integration branch back to
    /// its tip from before the merge (dropping the later commits too), for a user who means it.
    pub move_back_command: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LandedCommit {
    pub id: String,
    pub summary: String,
}

/// A git command that moves `branch` to `to`: `git branch -f` refuses a branch checked out in
/// a worktree, so there it is `git -C <checkout> reset --keep` (which also refuses to
/// overwrite local changes).
fn move_back_command(ws: &Workspace, branch: &str, to: &str) -> Result<String> {
    Ok(match checkout_of(ws, branch)? {
        Some(dir) => format!("git -C {} reset --keep {to}", shell_path(&dir)),
        None => format!("git branch -f {branch} {to}"),
    })
}

/// `undo [MERGE-ID]`: restore the integration branch from the backup ref when nothing landed on
/// top of the merge since; otherwise report what landed and change nothing.
pub fn undo(ws: &Workspace, merge_id: Option<&str>) -> Result<UndoReport> {
    let _lock = lock_merges(ws)?;
    if let Some(j) = read_journal(&ws.state)? {
        return Err(Error::failure(format!(
            "merge `{}` was interrupted and is not finished",
            j.merge_id
        ))
        .hint("run `droidforge merge --abort` to roll it back instead"));
    }
    let state = ws.state.store().read()?;
    let record = match merge_id {
        Some(id) => state.merges.iter().find(|m| m.id == id).ok_or_else(|| {
            let known: Vec<&str> = state
                .merges
                .iter()
                .rev()
                .take(5)
                .map(|m| m.id.as_str())
                .collect();
            let mut e = Error::usage(format!("no merge `{id}` in this forge's history"));
            if !known.is_empty() {
                e = e.hint(format!("recent merges: {}", known.join(", ")));
            }
            e
        })?,
        None => state
            .merges
            .iter()
            .rev()
            .find(|m| !m.undone)
            .ok_or_else(|| {
                Error::usage("there is no merge to undo")
                    .hint("`droidforge undo` restores the integration branch from before a merge")
            })?,
    }
    .clone();
    if record.undone {
        return Err(Error::failure(format!(
            "merge `{}` was already undone",
            record.id
        )));
    }
    let backup_ref = format!("{BACKUP_PREFIX}{}", record.id);
    let Some(backup) = ws.repo.ref_target(&backup_ref)? else {
        return Err(
            Error::failure(format!("the backup ref `{backup_ref}` is missing")).hint(format!(
                "the old tip was {}; restore it by hand with `{}`",
                record.old_tip,
                move_back_command(ws, &record.integration, &record.old_tip)?
            )),
        );
    };
    if record.new_tip.is_empty() {
        return Err(Error::failure(format!(
            "merge `{}` was rebuilt from its backup ref by `droidforge doctor --fix`; the tip it made is not known",
            record.id
        ))
        .hint(format!(
            "the tip before it is {} (`{backup_ref}`); check `git log {}` and move the branch back by hand with `{}`",
            record.old_tip,
            record.integration,
            move_back_command(ws, &record.integration, &record.old_tip)?
        )));
    }
    let new = oid(&record.new_tip)?;
    let mut current = ws.repo.branch_tip(&record.integration)?;
    // The tip undo moves from: the merge's new tip, or a record commit on top of it.
    let mut expected = new;
    // droidforge's own record commits on top of the merge (`progress --write`) hold no one's
    // work: undo drops them with the merge.
    if let Some(cur) = current
        && cur != new
        && ws.repo.is_ancestor(new, cur)?
    {
        let since = ws.repo.commits_between(Some(new), cur)?;
        let mut all_records = true;
        for c in &since {
            if !super::record::is_record_commit(&ws.repo, *c)? {
                all_records = false;
                break;
            }
        }
        if all_records {
            current = Some(new);
            expected = cur;
        }
    }
    let mut out = UndoReport {
        merge_id: record.id.clone(),
        integration: record.integration.clone(),
        undone: false,
        restored_tip: None,
        landed_since: Vec::new(),
        move_back_command: None,
        notes: Vec::new(),
    };
    if current != Some(new) {
        out.move_back_command = Some(move_back_command(
            ws,
            &record.integration,
            &backup.to_string(),
        )?);
        if let Some(cur) = current {
            let base = if ws.repo.is_ancestor(new, cur)? {
                Some(new)
            } else {
                ws.repo.merge_base(new, cur)?
            };
            for c in ws.repo.commits_between(base, cur)?.into_iter().rev() {
                let info = ws.repo.commit_info(c)?;
                out.landed_since.push(LandedCommit {
                    id: c.to_string(),
                    summary: info.summary,
                });
            }
        }
        return Ok(out);
    }
    let checkout = checkout_of(ws, &record.integration)?;
    ws.repo.set_ref(
        &format!("refs/heads/{}", record.integration),
        backup,
        Expect::MustMatch(expected),
        &format!("droidforge: undo merge {}", record.id),
    )?;
    out.undone = true;
    out.restored_tip = Some(backup.to_string());
    if let Some(dir) = checkout {
        out.notes.push(
            update_checkout(&dir, &record.integration, expected, backup).unwrap_or_else(|e| e),
        );
    }
    // Give merged droids their ready marks and original branches back.
    let saved = ws.state.merge_report_path(&record.id);
    if let Some(report) = crate::state::peek_state_json::<MergeReport>(&saved, "merge report") {
        out.notes.extend(restore_droids(ws, &report)?);
    }
    ws.state.store().update(|s| {
        if let Some(m) = s.merges.iter_mut().find(|m| m.id == record.id) {
            m.undone = true;
        }
    })?;
    ws.event_with(
        Event::new(
            EventKind::Undone,
            None,
            format!(
                "merge {} undone: `{}` back at {}",
                record.id,
                record.integration,
                crate::git::short(backup)
            ),
        )
        .with_data(serde_json::json!({"merge_id": record.id})),
    );
    Ok(out)
}
