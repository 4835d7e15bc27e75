//! The merger (docs/merge.md): land droids' ready work on the integration branch in dependency
//! order — ownership gate, in-memory replay, optional verification, one compare-and-swap ref
//! update, a PROGRESS.md record, and crash recovery through a journal. No UI here: everything
//! returns a [`MergeReport`]; `progress` receives one-line updates.
//!
//! - [`plan`]: which droids, in which order, which commit of each;
//! - [`gate`]: ownership, replay, verification;
//! - [`record`]: PROGRESS.md rendering from state + a report;
//! - [`land`]: backup ref + CAS move of the integration branch, post-landing work, state;
//! - [`journal`]: the crash-recovery journal and the history rebuilt from backup refs;
//! - [`recover`]: `merge --continue` / `merge --abort` of an interrupted merge;
//! - [`undo`]: move the integration branch back from before a merge;
//! - [`follow`]: checkouts and droid branches that follow a moved branch;
//! - [`report`]: the serializable report.

pub mod follow;
pub mod gate;
pub mod journal;
pub mod land;
pub mod plan;
pub mod record;
pub mod recover;
pub mod report;
pub mod undo;

pub use follow::update_checkout;
pub use journal::{CHECK_BY_HAND, MergeJournal, read_journal, rebuild_merge_history};
pub use land::forget_recorded_log;
pub use recover::{AbortReport, abort_merge, continue_merge};
pub use report::{CommitReport, Conflict, DroidReport, DroidStatus, MergeReport, Violation};
pub use undo::{UndoReport, undo};

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::git::{Oid, short};
use crate::state::FileLock;
use crate::workspace::Workspace;

/// How a droid lands: the `--strategy` flag's values (clap) and the report's `strategy` field
/// (serde) both come from this one enum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Rebase the droid's commits onto the integration tip (linear history).
    #[default]
    Rebase,
    /// One `--no-ff` merge commit per droid.
    Merge,
}

/// What to merge and how.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Droid names (empty with no phase = all droids).
    pub droids: Vec<String>,
    pub phase: Option<u32>,
    pub all: bool,
    /// Do everything in memory; change no ref, keep no object, write no state.
    pub dry_run: bool,
    /// Verification command (default: `[forge] verify` of the manifest).
    pub verify: Option<String>,
    pub strategy: Strategy,
    /// Take the branch head of droids without a ready mark.
    pub include_unready: bool,
    /// Ignore the phase gate and unmerged dependencies outside the selection.
    pub force: bool,
    /// Merge onto this commit instead of the integration tip (for `check`; needs `dry_run`).
    pub onto: Option<Oid>,
    /// Explicit candidate commits per droid, overriding ready marks (for `check`).
    pub heads: Vec<(String, Oid)>,
    /// Do not write the PROGRESS.md record commit.
    pub no_record: bool,
}

/// Name of the lock file that serializes merges.
pub const MERGE_LOCK: &str = "merge";

/// Run a merge (or a dry run, `opts.dry_run`) and return its report. Rejected droids are in
/// the report, not errors; errors are for things that stop the whole run (bad selection,
/// phase gate, a pending journal, the integration branch moving under us).
pub fn run_merge(
    ws: &Workspace,
    opts: &MergeOptions,
    progress: &dyn Fn(&str),
) -> Result<MergeReport> {
    if opts.onto.is_some() && !opts.dry_run {
        return Err(Error::usage(
            "merging onto an explicit base is only possible as a dry run",
        ));
    }
    let _lock = if opts.dry_run {
        None
    } else {
        if let Some(j) = read_journal(&ws.state)? {
            return Err(pending_journal_error(&j));
        }
        ws.state.ensure()?;
        let lock = FileLock::try_acquire(&ws.state.lock_path(MERGE_LOCK))?.ok_or_else(|| {
            Error::failure("another `droidforge merge` is running in this repository")
                .hint("wait for it to finish, then run the merge again")
        })?;
        // A merge that crashed between our journal check and the lock leaves a journal.
        if let Some(j) = read_journal(&ws.state)? {
            return Err(pending_journal_error(&j));
        }
        Some(lock)
    };
    let t0 = match opts.onto {
        Some(oid) => oid,
        None => ws.integration_tip()?,
    };
    let merge_plan = plan::plan(ws, opts, t0)?;
    progress(&format!("order: {}", merge_plan.order_names().join(" → ")));

    let repo = if opts.dry_run {
        ws.repo.in_memory()
    } else {
        ws.repo.clone()
    };
    let committer = repo.committer();
    let merge_id = new_merge_id(t0);
    let verify_cmd = opts
        .verify
        .clone()
        .or_else(|| ws.forge.manifest.forge.verify.clone());
    let mut report = MergeReport {
        version: report::REPORT_VERSION,
        merge_id: merge_id.clone(),
        integration: ws.integration.clone(),
        old_tip: t0.to_string(),
        new_tip: t0.to_string(),
        dry_run: opts.dry_run,
        strategy: opts.strategy,
        droids: Vec::new(),
        record_commit: None,
        backup_ref: None,
        landed: false,
        notes: Vec::new(),
    };
    let selected: Vec<&str> = merge_plan.order_names();
    // droid -> why it did not land (for its dependents).
    let mut not_landed: HashMap<String, String> = HashMap::new();
    let mut tip = t0;
    // What landed before, per droid (original → rewritten). A state file that cannot be read
    // only loses this shortcut; the merge itself does not depend on it.
    let landed: HashMap<String, std::collections::BTreeMap<String, String>> = ws
        .state
        .store()
        .read()
        .map(|s| {
            s.droids
                .into_iter()
                .filter(|(_, d)| !d.landed.is_empty())
                .map(|(n, d)| (n, d.landed))
                .collect()
        })
        .unwrap_or_default();

    for entry in &merge_plan.entries {
        let name = entry.droid.as_str();
        let droid = ws.forge.require_droid(name)?;
        let mut dr = DroidReport::new(name, &entry.branch, DroidStatus::Skipped);
        dr.ready = entry.candidate.map(|c| c.to_string());

        // Dependencies first.
        let mut blocked: Option<String> = None;
        for dep in &droid.after {
            if let Some(why) = not_landed.get(dep) {
                blocked = Some(format!("depends on `{dep}`, which {why}"));
                break;
            }
            if !selected.contains(&dep.as_str())
                && !opts.force
                && ws.forge.droid(dep).is_some()
                && !plan::is_merged(ws, dep, t0)?
            {
                blocked = Some(format!(
                    "depends on `{dep}`, which is not merged yet (merge it first or in the same run)"
                ));
                break;
            }
        }
        if let Some(reason) = blocked {
            progress(&format!("{name}: skipped ({reason})"));
            not_landed.insert(name.to_owned(), "was skipped".to_owned());
            dr.reason = Some(reason);
            report.droids.push(dr);
            continue;
        }

        if entry.merged {
            dr.status = DroidStatus::UpToDate;
            dr.reason = Some(plan::MERGED_NOTHING_NEW.to_owned());
            report.droids.push(dr);
            continue;
        }
        let Some(candidate) = entry.candidate else {
            dr.status = DroidStatus::Unready;
            dr.reason = entry.unready_reason.clone();
            if !plan::is_merged(ws, name, t0)? {
                not_landed.insert(name.to_owned(), "is not ready".to_owned());
            }
            report.droids.push(dr);
            continue;
        };
        // A damaged or hostile ready mark (a blob, a tree, a missing object) rejects this
        // droid only.
        if let Some(problem) = repo.not_a_commit(candidate)? {
            let what = match entry.source {
                Some(plan::CandidateSource::BranchHead) => format!("branch `{}`", entry.branch),
                Some(plan::CandidateSource::Override) => "the commit to check".to_owned(),
                _ => format!("the ready mark `{}`", ws.ready_ref(name)),
            };
            dr.status = DroidStatus::Conflict;
            dr.reason = Some(format!(
                "{what} {problem}; mark the droid ready again with `droidforge done {name}`"
            ));
            progress(&format!("{name}: not a commit"));
            not_landed.insert(name.to_owned(), "was rejected (not a commit)".to_owned());
            report.droids.push(dr);
            continue;
        }
        // One history walk answers "already merged?", "related at all?" and "which commits".
        let commits = repo
            .commits_between(Some(t0), candidate)?
            .into_iter()
            .map(|c| repo.commit_info(c))
            .collect::<Result<Vec<_>>>()?;
        if commits.is_empty() {
            dr.status = DroidStatus::UpToDate;
            dr.reason = Some(if entry.source == Some(plan::CandidateSource::ReadyMark) {
                plan::nothing_new_reason(ws, name, candidate).to_owned()
            } else {
                format!("{} is already on `{}`", short(candidate), ws.integration)
            });
            report.droids.push(dr);
            continue;
        }
        if commits.iter().any(|c| c.parents.is_empty()) {
            dr.status = DroidStatus::Conflict;
            dr.reason = Some(format!(
                "{} shares no history with `{}`",
                short(candidate),
                ws.integration
            ));
            not_landed.insert(name.to_owned(), "was rejected (conflict)".to_owned());
            report.droids.push(dr);
            continue;
        }
        // Commits that already landed (a ready mark set again after more commits, or one that
        // could not be cleared) are never replayed twice.
        let (commits, already) = drop_landed(&repo, landed.get(name), tip, commits)?;
        if commits.is_empty() {
            dr.status = DroidStatus::UpToDate;
            dr.reason = Some(format!(
                "its {} up to {} already landed on `{}`",
                crate::util::text::count(already.len(), "commit"),
                short(candidate),
                ws.integration
            ));
            report.droids.push(dr);
            continue;
        }
        if !already.is_empty() && opts.strategy == Strategy::Merge {
            dr.status = DroidStatus::Conflict;
            dr.reason = Some(format!(
                "{} of its commits already landed rebased (first: {} as {}); a merge commit would bring the originals in again: rebase the branch onto `{}` and mark it ready again, or merge with `--strategy rebase`",
                already.len(),
                short(already[0].0),
                short(already[0].1),
                ws.integration
            ));
            not_landed.insert(name.to_owned(), "was rejected (conflict)".to_owned());
            report.droids.push(dr);
            continue;
        }
        // Commits whose change is already upstream under another id (cherry-picked onto the
        // integration branch) are skipped, as `git rebase` skips them. A merge commit brings
        // them in with their history instead, as `git merge` does.
        let (commits, upstream) = match opts.strategy {
            Strategy::Rebase => drop_upstream(&repo, tip, candidate, commits)?,
            Strategy::Merge => (commits, Vec::new()),
        };
        dr.upstream = upstream
            .iter()
            .map(|(original, upstream)| {
                Ok(CommitReport {
                    original: original.to_string(),
                    rewritten: Some(upstream.to_string()),
                    summary: repo.commit_info(*original)?.summary,
                })
            })
            .collect::<Result<_>>()?;
        if commits.is_empty() {
            dr.status = DroidStatus::UpToDate;
            dr.reason = Some(format!(
                "its {} commit(s) up to {} are already on `{}` under other ids (first: {} as {})",
                upstream.len(),
                short(candidate),
                ws.integration,
                short(upstream[0].0),
                short(upstream[0].1)
            ));
            report.droids.push(dr);
            continue;
        }
        if !upstream.is_empty() {
            report.notes.push(format!(
                "`{name}`: {} commit(s) skipped, their change is already on `{}` (first: {} as {})",
                upstream.len(),
                ws.integration,
                short(upstream[0].0),
                short(upstream[0].1)
            ));
        }
        for info in &commits {
            dr.commits.push(CommitReport {
                original: info.id.to_string(),
                rewritten: None,
                summary: info.summary.clone(),
            });
        }
        progress(&format!(
            "{name}: checking {}",
            crate::util::text::count(commits.len(), "commit")
        ));

        // Entries git would refuse land nowhere, whoever owns the directory.
        let invalid = gate::check_entries_of(&repo, &commits)?;
        if !invalid.is_empty() {
            dr.status = DroidStatus::Violation;
            dr.reason = Some(format!(
                "{} tree entr{} git would reject",
                invalid.len(),
                if invalid.len() == 1 { "y" } else { "ies" }
            ));
            dr.violations = invalid;
            progress(&format!("{name}: invalid tree entries"));
            not_landed.insert(
                name.to_owned(),
                "was rejected (invalid tree entries)".to_owned(),
            );
            report.droids.push(dr);
            continue;
        }

        // Ownership (the manifest is the integration branch's).
        let ownership =
            gate::check_ownership_of(&repo, &ws.forge.rules, name, tip, candidate, &commits)?;
        let violations = ownership.violations;
        if !violations.is_empty() {
            reject_for_violations(dr, violations, &mut report, &mut not_landed, progress);
            continue;
        }

        // Shared paths changed while another droid holds a write lease on them: advisory, so
        // a warning in the report rather than a rejection.
        warn_about_locked_paths(ws, name, &ownership.shared_paths, &mut report.notes);

        // Replay.
        let message = format!(
            "Merge droid `{name}` ({})\n\nReady commit: {candidate}\nMerge: droidforge {merge_id}\n",
            entry.branch
        );
        let applied = gate::apply_of(
            &repo,
            opts.strategy,
            tip,
            candidate,
            &commits,
            &message,
            &committer,
        )?;
        let (new_tip, rewritten) = match applied {
            gate::Applied::Clean {
                tip: new_tip,
                rewritten,
            } => {
                // What landing does to the integration branch must pass the gate too (for
                // `--strategy merge` this is the merge result, not the droid's own commits).
                let violations =
                    gate::check_landing(&repo, &ws.forge.rules, name, tip, new_tip, candidate)?;
                if !violations.is_empty() {
                    reject_for_violations(dr, violations, &mut report, &mut not_landed, progress);
                    continue;
                }
                (new_tip, rewritten)
            }
            gate::Applied::Conflict(conflicts) => {
                dr.status = DroidStatus::Conflict;
                dr.reason = Some(crate::util::text::count(
                    conflicts.len(),
                    "conflicting path",
                ));
                dr.conflicts = conflicts;
                progress(&format!("{name}: conflict"));
                not_landed.insert(name.to_owned(), "was rejected (conflict)".to_owned());
                report.droids.push(dr);
                continue;
            }
            gate::Applied::Refused(reason) => {
                dr.status = DroidStatus::Conflict;
                dr.reason = Some(reason);
                not_landed.insert(name.to_owned(), "was rejected (conflict)".to_owned());
                report.droids.push(dr);
                continue;
            }
        };

        // Verification of the candidate tip.
        if let Some(cmd) = &verify_cmd {
            progress(&format!("{name}: verifying with `{cmd}`"));
            let dir = ws.state.verify_dir(&format!("{merge_id}-{name}"));
            let verified = gate::verify(&repo, &dir, new_tip, cmd)?;
            if !verified.ok {
                dr.status = DroidStatus::VerifyFailed;
                dr.reason = Some(verified.detail);
                progress(&format!("{name}: verification failed"));
                not_landed.insert(name.to_owned(), "failed verification".to_owned());
                report.droids.push(dr);
                continue;
            }
        }

        match opts.strategy {
            Strategy::Rebase => {
                for (c, (orig, new)) in dr.commits.iter_mut().zip(&rewritten) {
                    debug_assert_eq!(c.original, orig.to_string());
                    c.rewritten = Some(new.to_string());
                }
            }
            Strategy::Merge => {
                for c in dr.commits.iter_mut() {
                    c.rewritten = Some(c.original.clone());
                }
            }
        }
        dr.status = DroidStatus::Merged;
        dr.tip = Some(new_tip.to_string());
        progress(&format!(
            "{name}: {} {}",
            if opts.dry_run {
                "would merge"
            } else {
                "merged"
            },
            crate::util::text::count(dr.commits.len(), "commit")
        ));
        tip = new_tip;
        report.droids.push(dr);
    }

    // Only a run that lands something commits (its work plus the PROGRESS.md record). A run
    // that lands nothing leaves the integration branch alone: its rejections go to the state
    // and the event journal, and the next PROGRESS.md write shows them in the merge log.
    let landed_any = report.count(DroidStatus::Merged) > 0;
    let attempted = report.droids.iter().any(|d| d.status.is_rejection());
    if landed_any && !opts.no_record {
        let text = record::render(ws, &repo, t0, Some(&report))?;
        let message = record::commit_message(&report);
        let record_commit = repo.commit_files(
            Some(tip),
            &[(crate::forge::progress::PROGRESS_PATH, Some(text.as_bytes()))],
            &message,
        )?;
        report.record_commit = Some(record_commit.to_string());
        tip = record_commit;
    }
    report.new_tip = tip.to_string();
    if opts.dry_run {
        // The commits a dry run builds carry this moment's committer date; the real merge
        // will make others. Show no hash that the merge would not produce: nothing moved.
        report.new_tip = report.old_tip.clone();
        report.record_commit = None;
        for d in &mut report.droids {
            d.tip = None;
            for c in &mut d.commits {
                c.rewritten = None;
            }
        }
        return Ok(report);
    }
    if tip == t0 {
        if attempted && !opts.no_record {
            land::record_unlanded(ws, &report)?;
        } else if !opts.no_record {
            land::record_upstream_only(ws, &report)?;
        }
        return Ok(report);
    }
    land::land(ws, &mut report, progress)?;
    Ok(report)
}

/// (original, the commit it became on the integration branch).
type Landed = (Oid, Oid);

/// Split `commits` into those still to land and those that already landed: recorded in state as
/// landed, with the commit they became still on the integration branch (`tip`). An undone merge
/// no longer counts. Returns (to land, [(original, rewritten)]).
fn drop_landed(
    repo: &crate::git::Repo,
    landed: Option<&std::collections::BTreeMap<String, String>>,
    tip: Oid,
    commits: Vec<crate::git::CommitInfo>,
) -> Result<(Vec<crate::git::CommitInfo>, Vec<Landed>)> {
    let Some(landed) = landed else {
        return Ok((commits, Vec::new()));
    };
    let mut keep = Vec::with_capacity(commits.len());
    let mut already = Vec::new();
    for info in commits {
        match plan::landed_on(repo, Some(landed), info.id, tip)? {
            Some(new) => already.push((info.id, new)),
            None => keep.push(info),
        }
    }
    Ok((keep, already))
}

/// Split `commits` into those still to land and those whose exact change (see
/// [`crate::git::ChangeSet`]) a commit of the integration branch since its merge base with
/// `candidate` already made. Returns (to land, [(original, the upstream commit)]).
fn drop_upstream(
    repo: &crate::git::Repo,
    tip: Oid,
    candidate: Oid,
    commits: Vec<crate::git::CommitInfo>,
) -> Result<(Vec<crate::git::CommitInfo>, Vec<Landed>)> {
    let Some(base) = repo.merge_base(tip, candidate)? else {
        return Ok((commits, Vec::new()));
    };
    let upstream = repo.commits_between(Some(base), tip)?;
    if upstream.is_empty() {
        return Ok((commits, Vec::new()));
    }
    let mut upstream_changes: HashMap<crate::git::ChangeSet, Oid> = HashMap::new();
    for id in upstream {
        if let Some(change) = repo.change_set(id)? {
            upstream_changes.entry(change).or_insert(id);
        }
    }
    let mut keep = Vec::with_capacity(commits.len());
    let mut skipped = Vec::new();
    for info in commits {
        match repo.change_set(info.id)? {
            Some(change) if upstream_changes.contains_key(&change) => {
                skipped.push((info.id, upstream_changes[&change]));
            }
            _ => keep.push(info),
        }
    }
    Ok((keep, skipped))
}

/// Reject a droid for ownership violations, found before or after its replay: nothing of it
/// lands, and droids that depend on it are skipped.
fn reject_for_violations(
    mut dr: DroidReport,
    violations: Vec<Violation>,
    report: &mut MergeReport,
    not_landed: &mut HashMap<String, String>,
    progress: &dyn Fn(&str),
) {
    dr.status = DroidStatus::Violation;
    dr.reason = Some(format!(
        "{} outside its ownership",
        crate::util::text::count(violations.len(), "path")
    ));
    dr.violations = violations;
    progress(&format!("{}: ownership violation", dr.droid));
    not_landed.insert(
        dr.droid.clone(),
        "was rejected (ownership violation)".to_owned(),
    );
    report.droids.push(dr);
}

fn warn_about_locked_paths(
    ws: &Workspace,
    droid: &str,
    shared_paths: &[String],
    notes: &mut Vec<String>,
) {
    if shared_paths.is_empty() {
        return;
    }
    for locked in crate::state::locks::write_locks_held_by_others(&ws.state, droid, shared_paths) {
        notes.push(format!(
            "`{droid}` changed `{}` while `{}` holds a write lock on `{}` (lease {}); coordinate before relying on it",
            locked.path, locked.holder, locked.glob, locked.lease
        ));
    }
}

fn pending_journal_error(j: &MergeJournal) -> Error {
    Error::failure(format!(
        "merge `{}` was interrupted before it finished (journal in the state directory)",
        j.merge_id
    ))
    .hint("run `droidforge merge --continue` to finish it, or `droidforge merge --abort` to roll it back")
}

/// `YYYYMMDD-HHMMSS-xxxxxx`: sortable, unique enough, a valid ref name component.
fn new_merge_id(t0: Oid) -> String {
    let now = crate::util::time::since_epoch();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in t0
        .as_bytes()
        .iter()
        .chain(&now.subsec_nanos().to_le_bytes())
        .chain(&std::process::id().to_le_bytes())
    {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!(
        "{}-{:06x}",
        crate::util::time::compact_utc(now.as_secs() as i64),
        h & 0xff_ffff
    )
}
