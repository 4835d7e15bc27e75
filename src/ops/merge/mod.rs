//! The merger (docs/merge.md): land droids' ready work on the integration branch in dependency
//! order — ownership gate, in-memory replay, optional verification, one compare-and-swap ref
//! update, a PROGRESS.md record, and crash recovery through a journal. No UI here: everything
//! returns a [`MergeReport`]; `progress` receives [`MergeEvent`]s.
//!
//! - [`plan`]: which droids, in which order, which commit of each;
//! - [`step`]: one droid of a run → a [`DroidOutcome`];
//! - [`speculate`]: every droid of a run in order, verifications K at a time (speculative);
//! - [`gate`]: ownership, replay, verification;
//! - [`record`]: PROGRESS.md rendering from state + a report;
//! - [`progress`]: `progress [--write]` (PROGRESS.md as a record commit);
//! - [`land`]: backup ref + CAS move of the integration branch, post-landing work, state;
//! - [`journal`]: the crash-recovery journal and the history rebuilt from backup refs;
//! - [`recover`]: `merge --continue` / `merge --abort` of an interrupted merge;
//! - [`remote`]: `--fetch` / `--push`;
//! - [`undo`]: move the integration branch back from before a merge;
//! - [`follow`]: checkouts and droid branches that follow a moved branch;
//! - [`report`]: the serializable report;
//! - [`error`]: why a run stopped as a whole ([`MergeError`]).

pub mod error;
pub mod follow;
pub mod gate;
pub mod journal;
pub mod land;
pub mod plan;
pub mod progress;
pub mod record;
pub mod recover;
pub mod remote;
pub mod report;
mod speculate;
pub mod step;
pub mod undo;
mod upstream;

pub use error::MergeError;
pub use follow::update_checkout;
pub use journal::{CHECK_BY_HAND, MergeJournal, read_journal, rebuild_merge_history};
pub use land::forget_recorded_log;
pub use recover::{AbortReport, abort_merge, continue_merge};
pub use report::{
    CommitReport, Conflict, DroidReport, DroidStatus, MergeReport, Verdict, Violation,
};
pub use step::{DroidOutcome, NotLanded, Rejection, SkipReason};
pub use undo::{UndoReport, undo};

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::git::Oid;
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
    /// How many candidates to verify at once, speculatively (default: `[forge] verify_jobs`
    /// of the manifest, else 1: one after the other).
    pub verify_jobs: Option<usize>,
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
    /// Leave the merged droids' branches and worktrees on their original commits
    /// (`droidforge sync` moves them later); the integration checkout still follows.
    pub no_sync_worktrees: bool,
}

/// What a merge run reports while it works, for a progress display. The library never
/// prints; the command renders these.
#[derive(Debug, Clone, Copy)]
pub enum MergeEvent<'a> {
    /// The droids of the run, in merge order.
    Order(&'a [String]),
    /// A droid's commits go through the gate.
    Checking { droid: &'a str, commits: usize },
    /// A droid's candidate tip is being verified.
    Verifying { droid: &'a str, command: &'a str },
    /// A droid was decided.
    Decided {
        droid: &'a str,
        outcome: &'a DroidOutcome,
        dry_run: bool,
    },
    /// The integration branch is about to move (the one ref transaction).
    Landing { integration: &'a str },
    /// `--fetch`: the droid branches `<prefix>*` are fetched from `remote`.
    Fetching { prefix: &'a str, remote: &'a str },
    /// `--push`: the integration branch is pushed to `remote`.
    Pushing { branch: &'a str, remote: &'a str },
}

/// Name of the lock file that serializes merges.
pub const MERGE_LOCK: &str = "merge";

/// Run a merge (or a dry run, `opts.dry_run`) and return its report. Rejected droids are in
/// the report, not errors; errors are for things that stop the whole run (bad selection,
/// phase gate, a pending journal, the integration branch moving under us).
pub fn run_merge(
    ws: &Workspace,
    opts: &MergeOptions,
    progress: &dyn Fn(MergeEvent),
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
            Error::from(MergeError::Busy).hint("wait for it to finish, then run the merge again")
        })?;
        // A merge that crashed between our journal check and the lock leaves a journal.
        if let Some(j) = read_journal(&ws.state)? {
            return Err(pending_journal_error(&j));
        }
        Some(lock)
    };
    let mut repo = if opts.dry_run {
        ws.repo.in_memory()
    } else {
        ws.repo.clone()
    }
    .with_slot_cache();
    // Its own object store: the workspace's handle lives as long as the command, and with it
    // the pack pages its store mapped. Everything up to the landing reads through this one
    // (the tip and every ready mark are peeled, dependencies walked): each lookup touches
    // pages of the pack index and of the pack, and through the workspace's handle they
    // would stay resident until the process ends.
    repo.renew_object_store()?;
    let t0 = match opts.onto {
        Some(oid) => oid,
        None => ws.integration_tip_in(&repo)?,
    };
    let merge_plan = plan::plan(ws, &repo, opts, t0)?;
    let selected: Vec<String> = merge_plan.entries.iter().map(|e| e.droid.clone()).collect();
    progress(MergeEvent::Order(&selected));
    let run = step::Run {
        change_sets: Default::default(),
        chains: Default::default(),
        ws,
        opts,
        committer: repo.committer(),
        repo: repo.into(),
        since_renewal: Default::default(),
        renew_after: step::renew_store_after(),
        t0,
        merge_id: new_merge_id(t0),
        verify_cmd: opts
            .verify
            .clone()
            .or_else(|| ws.forge.manifest.forge.verify.clone()),
        verify_jobs: opts
            .verify_jobs
            .or(ws.forge.manifest.forge.verify_jobs.map(|n| n.get()))
            .unwrap_or(1)
            .max(1),
        selected,
        // What landed before, per droid (original → rewritten). A state file that cannot be
        // read only loses this shortcut; the merge itself does not depend on it.
        landed: ws
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
            .unwrap_or_default(),
        progress,
    };
    let mut report = MergeReport {
        version: report::REPORT_VERSION,
        merge_id: run.merge_id.clone(),
        integration: ws.integration.clone(),
        old_tip: t0,
        new_tip: t0,
        dry_run: opts.dry_run,
        strategy: opts.strategy,
        droids: Vec::new(),
        record_commit: None,
        backup_ref: None,
        landed: false,
        notes: Vec::new(),
    };
    let mut at = step::Progress {
        tip: t0,
        not_landed: HashMap::new(),
        notes: Vec::new(),
    };
    report.droids = speculate::decide_all(&run, &merge_plan.entries, &mut at)?;
    report.notes.append(&mut at.notes);
    let mut tip = at.tip;
    // What only the decisions needed (the change sets seen, the commits landed before) goes
    // now, not after the landing: the run's peak memory is the larger of the two, not their
    // sum.
    let repo = run.repo.into_inner();
    drop((run.change_sets, run.landed, run.chains));

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
        report.record_commit = Some(record_commit);
        tip = record_commit;
    }
    // Its object caches too (they hold the largest trees the replay read).
    drop(repo);
    report.new_tip = tip;
    if opts.dry_run {
        // The commits a dry run builds carry this moment's committer date; the real merge
        // will make others. Show no hash that the merge would not produce: nothing moved.
        report.new_tip = report.old_tip;
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
        let notes = crate::ops::feedback::after_merge(ws, &report);
        report.notes.extend(notes);
        return Ok(report);
    }
    land::land(ws, &mut report, opts.no_sync_worktrees, progress)?;
    // The replayed commits and their trees are loose objects; git packs them past its
    // threshold, in the background.
    ws.repo.gc_auto_later();
    // Rejected droids find the merger's verdict in their briefs; landed ones lose theirs.
    let notes = crate::ops::feedback::after_merge(ws, &report);
    report.notes.extend(notes);
    Ok(report)
}

fn pending_journal_error(j: &MergeJournal) -> Error {
    MergeError::Interrupted {
        merge_id: j.merge_id.clone(),
    }
    .into()
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

#[cfg(test)]
mod tests;
