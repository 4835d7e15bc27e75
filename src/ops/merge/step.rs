//! One droid of a merge run: dependencies, candidate, history, ownership gate, replay and
//! verification, in that order. [`Run::step`] decides a droid and returns its report line plus
//! a [`DroidOutcome`] that says what the run does next (move the tip, block dependents).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use crate::error::Result;
use crate::git::{Oid, Repo, Signature, short};
use crate::util::text::count;
use crate::workspace::Workspace;

use super::plan::{self, CandidateSource, PlanEntry};
use super::report::{CommitReport, DroidReport, DroidStatus, Violation};
use super::upstream::{ChangeSets, drop_matching};
pub(crate) use super::upstream::{drop_landed, drop_upstream};
use super::{MergeEvent, MergeOptions, Strategy, gate};

/// What happened to one droid, as far as the rest of the run is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DroidOutcome {
    /// Its work applied cleanly (and verified); the integration tip moves to `tip`.
    Landed { tip: Oid, commits: usize },
    /// Nothing of it is new on the integration branch.
    UpToDate,
    /// No merge candidate; `merged` when its earlier work is merged (dependents need not wait).
    Unready { merged: bool },
    /// Not attempted: a dependency did not land or is not merged.
    Skipped(SkipReason),
    /// Attempted and refused; its dependents are skipped.
    Rejected(Rejection),
}

impl DroidOutcome {
    /// Why dependents of this droid cannot land in this run, if they cannot.
    pub fn not_landed(&self) -> Option<NotLanded> {
        match self {
            DroidOutcome::Landed { .. }
            | DroidOutcome::UpToDate
            | DroidOutcome::Unready { merged: true } => None,
            DroidOutcome::Unready { merged: false } => Some(NotLanded::NotReady),
            DroidOutcome::Skipped(_) => Some(NotLanded::Skipped),
            DroidOutcome::Rejected(r) => Some(NotLanded::Rejected(*r)),
        }
    }
}

/// Why a droid was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Its candidate is not a commit (a damaged or hostile ready mark or branch).
    NotACommit,
    /// Its commits do not apply (or cannot be replayed at all).
    Conflict,
    /// Tree entries git would reject.
    InvalidEntries,
    /// Paths outside its ownership.
    Violation,
    /// The verification command failed.
    VerifyFailed,
}

/// Why a droid's dependents cannot land in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotLanded {
    Skipped,
    NotReady,
    Rejected(Rejection),
}

impl fmt::Display for NotLanded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotLanded::Skipped => "was skipped",
            NotLanded::NotReady => "is not ready",
            NotLanded::Rejected(Rejection::NotACommit) => "was rejected (not a commit)",
            NotLanded::Rejected(Rejection::Conflict) => "was rejected (conflict)",
            NotLanded::Rejected(Rejection::InvalidEntries) => "was rejected (invalid tree entries)",
            NotLanded::Rejected(Rejection::Violation) => "was rejected (ownership violation)",
            NotLanded::Rejected(Rejection::VerifyFailed) => "failed verification",
        })
    }
}

/// Why a droid was skipped: its `reason` in the report, PROGRESS.md and the event journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A dependency earlier in this run did not land.
    DependencyNotLanded { dep: String, why: NotLanded },
    /// A dependency outside the selection is not merged yet.
    DependencyNotMerged { dep: String },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::DependencyNotLanded { dep, why } => {
                write!(f, "depends on `{dep}`, which {why}")
            }
            SkipReason::DependencyNotMerged { dep } => write!(
                f,
                "depends on `{dep}`, which is not merged yet (merge it first or in the same run)"
            ),
        }
    }
}

/// How many commits a run decides through one object store before it opens a new one (before
/// the next droid): the pages of the pack files the store read stay resident until it goes.
pub(super) const RENEW_STORE_AFTER: usize = 256;

/// [`RENEW_STORE_AFTER`], or what a unit test of this thread set (the seam to renew the store
/// before every droid of a small run).
pub(super) fn renew_store_after() -> usize {
    #[cfg(test)]
    if let Some(n) = renewal::AFTER.get() {
        return n;
    }
    RENEW_STORE_AFTER
}

#[cfg(test)]
pub(super) mod renewal {
    thread_local! {
        /// Overrides [`super::RENEW_STORE_AFTER`] for runs on this thread.
        pub static AFTER: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
    }
}

/// What stays the same for every droid of one run.
pub(super) struct Run<'a> {
    pub ws: &'a Workspace,
    pub opts: &'a MergeOptions,
    /// The repository the run writes objects to (in memory for a dry run). Its object store
    /// is renewed between droids (see [`Run::renew_store_if_due`]).
    pub repo: RefCell<Repo>,
    /// Commits decided since the run's object store was last renewed.
    pub since_renewal: Cell<usize>,
    /// Renew it once this many were ([`renew_store_after`]).
    pub renew_after: usize,
    pub committer: Signature,
    pub t0: Oid,
    pub merge_id: String,
    pub verify_cmd: Option<String>,
    /// How many verifications may run at once (≥ 1; `--verify-jobs`).
    pub verify_jobs: usize,
    /// The droids of this run, in order.
    pub selected: Vec<String>,
    /// What landed before, per droid (original → rewritten).
    pub landed: HashMap<String, BTreeMap<Oid, Oid>>,
    pub progress: &'a dyn Fn(MergeEvent),
    /// Change sets computed so far in this run (see [`drop_upstream`]): each droid is checked
    /// against everything that landed before it, which would otherwise diff every earlier
    /// droid's commits again for every later droid.
    pub change_sets: std::sync::Mutex<ChangeSets>,
    /// The tips this run made by replaying: new tip → (the tip it was built on, the commits
    /// from there to it, oldest first). A later droid lists what landed before it from these,
    /// instead of walking the ever longer history again (see [`Run::since_t0`]).
    pub chains: std::sync::Mutex<HashMap<Oid, (Oid, Vec<Oid>)>>,
}

/// The mutable part of a run: the integration tip so far, why droids did not land, notes.
#[derive(Clone)]
pub(super) struct Progress {
    pub tip: Oid,
    pub not_landed: HashMap<String, NotLanded>,
    pub notes: Vec<String>,
}

impl Progress {
    /// What a decided droid does to the rest of the run: move the tip, or block dependents.
    pub fn apply(&mut self, droid: &str, outcome: &DroidOutcome) {
        if let DroidOutcome::Landed { tip, .. } = outcome {
            self.tip = *tip;
        }
        if let Some(why) = outcome.not_landed() {
            self.not_landed.insert(droid.to_owned(), why);
        }
    }
}

/// A droid decided up to its verification.
pub(super) struct Stepped {
    pub dr: DroidReport,
    pub outcome: DroidOutcome,
    /// The candidate tip the verification command must accept before the droid lands (its
    /// outcome is then `Landed`, assuming it does); see [`Stepped::verify_failed`].
    pub verify: Option<Oid>,
}

impl Stepped {
    /// The verification of [`Stepped::verify`] failed: the droid is rejected instead.
    pub fn verify_failed(&mut self, verified: gate::Verified) {
        let dr = &mut self.dr;
        dr.reason = Some(verified.detail);
        dr.verify_output = Some(verified.output);
        dr.tip = None;
        for c in &mut dr.commits {
            c.rewritten = None;
        }
        self.outcome = DroidOutcome::Rejected(Rejection::VerifyFailed);
        dr.status = status_of(&self.outcome);
        self.verify = None;
    }
}

/// The report status of an outcome.
fn status_of(outcome: &DroidOutcome) -> DroidStatus {
    match outcome {
        DroidOutcome::Landed { .. } => DroidStatus::Merged,
        DroidOutcome::UpToDate => DroidStatus::UpToDate,
        DroidOutcome::Unready { .. } => DroidStatus::Unready,
        DroidOutcome::Skipped(_) => DroidStatus::Skipped,
        DroidOutcome::Rejected(Rejection::Violation | Rejection::InvalidEntries) => {
            DroidStatus::Violation
        }
        DroidOutcome::Rejected(Rejection::VerifyFailed) => DroidStatus::VerifyFailed,
        DroidOutcome::Rejected(Rejection::Conflict | Rejection::NotACommit) => {
            DroidStatus::Conflict
        }
    }
}

impl Run<'_> {
    /// Decide one droid against the tip so far, up to its verification (which the caller
    /// runs: [`super::speculate`]). Rejections are outcomes, not errors; an error stops the
    /// whole run (an unreadable object, a broken repository).
    pub fn step(&self, entry: &PlanEntry, at: &mut Progress) -> Result<Stepped> {
        let name = entry.droid.as_str();
        let mut dr = DroidReport::new(Some(name), &entry.branch, DroidStatus::Skipped);
        dr.ready = entry.candidate;
        self.renew_store_if_due()?;
        let outcome = self.decide(entry, at, &mut dr)?;
        self.since_renewal
            .set(self.since_renewal.get() + dr.commits.len() + dr.upstream.len());
        if let DroidOutcome::Skipped(reason) = &outcome {
            dr.reason = Some(reason.to_string());
        }
        dr.status = status_of(&outcome);
        let verify = match (&outcome, &self.verify_cmd) {
            (DroidOutcome::Landed { tip, .. }, Some(_)) => Some(*tip),
            _ => None,
        };
        Ok(Stepped {
            dr,
            outcome,
            verify,
        })
    }

    fn decide(
        &self,
        entry: &PlanEntry,
        at: &mut Progress,
        dr: &mut DroidReport,
    ) -> Result<DroidOutcome> {
        let repo = self.repo.borrow();
        let (ws, repo, t0) = (self.ws, &*repo, self.t0);
        let name = entry.droid.as_str();
        if let Some(reason) = self.blocked(name, at)? {
            return Ok(DroidOutcome::Skipped(reason));
        }
        if entry.merged {
            dr.reason = Some(plan::MERGED_NOTHING_NEW.to_owned());
            return Ok(DroidOutcome::UpToDate);
        }
        let Some(candidate) = entry.candidate else {
            dr.reason = entry.unready_reason.clone();
            return Ok(DroidOutcome::Unready {
                merged: plan::is_merged(ws, repo, name, t0)?,
            });
        };
        // A damaged or hostile ready mark (a blob, a tree, a missing object) rejects this
        // droid only.
        if let Some(problem) = repo.not_a_commit(candidate)? {
            let what = match entry.source {
                Some(CandidateSource::BranchHead) => format!("branch `{}`", entry.branch),
                Some(CandidateSource::Override) => "the commit to check".to_owned(),
                _ => format!("the ready mark `{}`", ws.ready_ref(name)),
            };
            dr.reason = Some(format!(
                "{what} {problem}; mark the droid ready again with `droidforge done {name}`"
            ));
            return Ok(DroidOutcome::Rejected(Rejection::NotACommit));
        }
        // One history walk answers "already merged?", "related at all?" and "which commits".
        let commits = repo
            .commits_between(Some(t0), candidate)?
            .into_iter()
            .map(|c| repo.commit_info(c))
            .collect::<Result<Vec<_>>>()?;
        if commits.is_empty() {
            dr.reason = Some(if entry.source == Some(CandidateSource::ReadyMark) {
                plan::nothing_new_reason(ws, name, candidate).to_owned()
            } else {
                format!("{} is already on `{}`", short(candidate), ws.integration)
            });
            return Ok(DroidOutcome::UpToDate);
        }
        if commits.iter().any(|c| c.parents.is_empty()) {
            dr.reason = Some(format!(
                "{} shares no history with `{}`",
                short(candidate),
                ws.integration
            ));
            return Ok(DroidOutcome::Rejected(Rejection::Conflict));
        }
        // Commits that already landed (a ready mark set again after more commits, or one that
        // could not be cleared) are never replayed twice.
        let walked: HashSet<Oid> = commits.iter().map(|c| c.id).collect();
        let (commits, already) = drop_landed(repo, self.landed.get(name), at.tip, commits)?;
        if commits.is_empty() {
            dr.reason = Some(format!(
                "its {} up to {} already landed on `{}`",
                count(already.len(), "commit"),
                short(candidate),
                ws.integration
            ));
            return Ok(DroidOutcome::UpToDate);
        }
        if !already.is_empty() && self.opts.strategy == Strategy::Merge {
            dr.reason = Some(format!(
                "{} of its commits already landed rebased (first: {} as {}); a merge commit would bring the originals in again: rebase the branch onto `{}` and mark it ready again, or merge with `--strategy rebase`",
                already.len(),
                short(already[0].0),
                short(already[0].1),
                ws.integration
            ));
            return Ok(DroidOutcome::Rejected(Rejection::Conflict));
        }
        // Commits whose change is already upstream under another id (cherry-picked onto the
        // integration branch) are skipped, as `git rebase` skips them. A merge commit brings
        // them in with their history instead, as `git merge` does.
        // `merge-base(tip, candidate)`, when it is already known.
        let mut net_base = None;
        let (commits, upstream) = match self.opts.strategy {
            Strategy::Rebase => {
                let upstream = match self.since_t0(at.tip, &walked) {
                    Some(landed) => {
                        let base = repo.merge_base(self.t0, candidate)?;
                        let mut upstream = match base {
                            Some(b) => repo.commits_between(Some(b), self.t0)?,
                            None => Vec::new(),
                        };
                        if upstream.is_empty() {
                            upstream = landed;
                        } else {
                            upstream.reserve_exact(landed.len());
                            upstream.extend(landed);
                        }
                        Some((base, upstream))
                    }
                    None => None,
                };
                let mut memo = self.change_sets.lock().unwrap_or_else(|e| e.into_inner());
                match upstream {
                    Some((base, upstream)) => {
                        net_base = Some(base);
                        drop_matching(repo, upstream, commits, &mut memo)?
                    }
                    None => drop_upstream(repo, at.tip, candidate, commits, &mut memo)?,
                }
            }
            Strategy::Merge => (commits, Vec::new()),
        };
        dr.upstream = upstream
            .iter()
            .map(|(original, upstream)| {
                Ok(CommitReport {
                    original: *original,
                    rewritten: Some(*upstream),
                    summary: repo.commit_info(*original)?.summary,
                })
            })
            .collect::<Result<_>>()?;
        if commits.is_empty() {
            dr.reason = Some(format!(
                "its {} commit(s) up to {} are already on `{}` under other ids (first: {} as {})",
                upstream.len(),
                short(candidate),
                ws.integration,
                short(upstream[0].0),
                short(upstream[0].1)
            ));
            return Ok(DroidOutcome::UpToDate);
        }
        if !upstream.is_empty() {
            at.notes.push(format!(
                "`{name}`: {} commit(s) skipped, their change is already on `{}` (first: {} as {})",
                upstream.len(),
                ws.integration,
                short(upstream[0].0),
                short(upstream[0].1)
            ));
        }
        dr.commits.reserve_exact(commits.len());
        for info in &commits {
            dr.commits.push(CommitReport {
                original: info.id,
                rewritten: None,
                summary: info.summary.clone(),
            });
        }
        (self.progress)(MergeEvent::Checking {
            droid: name,
            commits: commits.len(),
        });

        // Entries git would refuse land nowhere, whoever owns the directory.
        let invalid = gate::check_entries_of(repo, &commits)?;
        if !invalid.is_empty() {
            dr.reason = Some(format!(
                "{} tree entr{} git would reject",
                invalid.len(),
                if invalid.len() == 1 { "y" } else { "ies" }
            ));
            dr.violations = invalid;
            return Ok(DroidOutcome::Rejected(Rejection::InvalidEntries));
        }

        // Ownership (the manifest is the integration branch's).
        let rules = &ws.forge.rules;
        let net_base = match net_base {
            Some(base) => base,
            None => repo.merge_base(at.tip, candidate)?,
        };
        let ownership = gate::check_ownership_of(repo, rules, name, net_base, candidate, &commits)?;
        if !ownership.violations.is_empty() {
            return Ok(reject_for_violations(dr, ownership.violations));
        }
        // Shared paths changed while another droid holds a write lease on them: advisory, so
        // a warning in the report rather than a rejection.
        warn_about_locked_paths(ws, name, &ownership.shared_paths, &mut at.notes);

        // Replay.
        let message = format!(
            "Merge droid `{name}` ({})\n\nReady commit: {candidate}\nMerge: droidforge {}\n",
            entry.branch, self.merge_id
        );
        let strategy = self.opts.strategy;
        let applied = gate::apply_of(
            repo,
            strategy,
            at.tip,
            candidate,
            &commits,
            &message,
            &self.committer,
        )?;
        let (new_tip, rewritten) = match applied {
            gate::Applied::Clean {
                tip,
                rewritten,
                same_change,
            } => {
                // A commit replayed without a content merge changes what its original changed:
                // later droids compare against it without diffing it again.
                if strategy == Strategy::Rebase {
                    let chain = rewritten.iter().map(|(_, new)| *new).collect();
                    let mut chains = self.chains.lock().unwrap_or_else(|e| e.into_inner());
                    chains.insert(tip, (at.tip, chain));
                }
                // The original's entry moves to its replayed commit: later droids compare
                // against the replayed ones only, so the memo keeps one entry per commit, not
                // two (a droid decided again, after a speculative verification failed before
                // it, diffs its commits again).
                let mut memo = self.change_sets.lock().unwrap_or_else(|e| e.into_inner());
                for (original, new) in same_change {
                    if let Some(known) = memo.remove(&original) {
                        memo.insert(new, known);
                    }
                }
                drop(memo);
                // What landing does to the integration branch must pass the gate too (for
                // `--strategy merge` this is the merge result, not the droid's own commits).
                let violations = gate::check_landing(repo, rules, name, at.tip, tip, candidate)?;
                if !violations.is_empty() {
                    return Ok(reject_for_violations(dr, violations));
                }
                (tip, rewritten)
            }
            gate::Applied::Conflict(conflicts) => {
                dr.reason = Some(count(conflicts.len(), "conflicting path"));
                dr.conflicts = conflicts;
                return Ok(DroidOutcome::Rejected(Rejection::Conflict));
            }
            gate::Applied::Refused(reason) => {
                dr.reason = Some(reason);
                return Ok(DroidOutcome::Rejected(Rejection::Conflict));
            }
        };

        match strategy {
            Strategy::Rebase => {
                for (c, (orig, new)) in dr.commits.iter_mut().zip(&rewritten) {
                    debug_assert_eq!(c.original, *orig);
                    c.rewritten = Some(*new);
                }
            }
            Strategy::Merge => {
                for c in dr.commits.iter_mut() {
                    c.rewritten = Some(c.original);
                }
            }
        }
        dr.tip = Some(new_tip);
        Ok(DroidOutcome::Landed {
            tip: new_tip,
            commits: dr.commits.len(),
        })
    }

    /// Renew the run's object store (see [`Repo::renew_object_store`]) before a droid once
    /// [`Run::renew_after`] commits were decided through the current one: the pack pages a
    /// droid's commits were read from then stop counting towards the run's memory.
    fn renew_store_if_due(&self) -> Result<()> {
        if self.since_renewal.get() < self.renew_after {
            return Ok(());
        }
        self.repo.borrow_mut().renew_object_store()?;
        self.since_renewal.set(0);
        Ok(())
    }

    /// The commits this run landed from `t0` up to `tip`, oldest first, when `tip` is the end
    /// of a chain of this run's replays and none of those commits is one of `walked` (the
    /// candidate's own commits since `t0`). Then every commit this run added is a descendant of
    /// `t0` the candidate does not contain, so `merge-base(tip, candidate)` is
    /// `merge-base(t0, candidate)` and what landed since is what landed on `t0` since then,
    /// plus these. `None`: not known this way; walk the history.
    fn since_t0(&self, tip: Oid, walked: &HashSet<Oid>) -> Option<Vec<Oid>> {
        let chains = self.chains.lock().unwrap_or_else(|e| e.into_inner());
        let mut parts = Vec::new();
        let mut at = tip;
        while at != self.t0 {
            let (below, commits) = chains.get(&at)?;
            if commits.iter().any(|c| walked.contains(c)) {
                return None;
            }
            parts.push(commits);
            at = *below;
        }
        // Exactly as long as it must be: it holds every commit the run landed so far.
        let mut landed = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        landed.extend(parts.into_iter().rev().flatten().copied());
        Some(landed)
    }

    /// Why `name` cannot be attempted: a dependency that did not land in this run, or one
    /// outside the selection that is not merged yet (unless `--force`).
    fn blocked(&self, name: &str, at: &Progress) -> Result<Option<SkipReason>> {
        let ws = self.ws;
        let droid = ws.forge.require_droid(name)?;
        for dep in &droid.after {
            if let Some(why) = at.not_landed.get(dep) {
                return Ok(Some(SkipReason::DependencyNotLanded {
                    dep: dep.clone(),
                    why: *why,
                }));
            }
            if !self.selected.iter().any(|s| s == dep)
                && !self.opts.force
                && ws.forge.droid(dep).is_some()
                && !plan::is_merged(ws, &self.repo.borrow(), dep, self.t0)?
            {
                return Ok(Some(SkipReason::DependencyNotMerged { dep: dep.clone() }));
            }
        }
        Ok(None)
    }
}

/// Reject a droid for ownership violations, found before or after its replay: nothing of it
/// lands, and droids that depend on it are skipped.
fn reject_for_violations(dr: &mut DroidReport, violations: Vec<Violation>) -> DroidOutcome {
    dr.reason = Some(format!(
        "{} outside its ownership",
        count(violations.len(), "path")
    ));
    dr.violations = violations;
    DroidOutcome::Rejected(Rejection::Violation)
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
