//! Merging what is ready, and what a rejection leads to: a retry (sync, feedback) or a stop
//! for a human.

use super::SyncResult;
use super::looping::Loop;
use crate::error::Result;
use crate::ops::merge::{DroidReport, DroidStatus, MergeOptions};
use crate::state::{EventKind, LandStatus, Rejection};

impl Loop<'_> {
    /// Merge every ready droid whose prerequisites are merged or merge in the same run.
    pub(super) fn merge_ready(&mut self) -> Result<()> {
        let tip = self.ws.integration_tip()?;
        let mut candidates: Vec<String> = Vec::new();
        for name in &self.order {
            if !matches!(self.status(name), LandStatus::Waiting | LandStatus::Ready) {
                continue;
            }
            let Some(ready) = self.ws.repo.ref_target(&self.ws.ready_ref(name))? else {
                continue;
            };
            let rejected = self
                .state
                .droids
                .get(name)
                .and_then(|d| d.last_rejection.as_ref().and_then(|r| r.commit.clone()));
            if rejected.as_deref() == Some(ready.to_string().as_str()) {
                continue;
            }
            candidates.push(name.clone());
        }
        // Drop candidates whose prerequisites neither are merged nor merge now (to a fixpoint:
        // dropping one can strand its dependents).
        loop {
            let mut keep = Vec::new();
            for name in &candidates {
                let mut ok = true;
                for dep in &self.prereqs[name] {
                    if !candidates.contains(dep) && !self.prerequisite_merged(dep, tip)? {
                        ok = false;
                        break;
                    }
                }
                if ok {
                    keep.push(name.clone());
                }
            }
            if keep.len() == candidates.len() {
                break;
            }
            candidates = keep;
        }
        if candidates.is_empty() {
            return Ok(());
        }
        let merge_opts = MergeOptions {
            droids: candidates.clone(),
            verify: self.opts.verify.clone(),
            verify_jobs: self.opts.verify_jobs,
            strategy: self.opts.strategy,
            ..MergeOptions::default()
        };
        let view = self.view.clone();
        let report = crate::ops::merge::run_merge(self.ws, &merge_opts, &|event| {
            view.merge_progress(&event)
        })?;
        if report.landed {
            self.merges.push(report.merge_id.clone());
        }
        for dr in &report.droids {
            // Every droid of a merge run is one (only `check` reports branches of no droid).
            let Some(droid) = dr.droid.as_deref() else {
                continue;
            };
            match dr.status {
                DroidStatus::Merged | DroidStatus::UpToDate => {
                    let e = self.entry(droid);
                    e.status = LandStatus::Landed;
                    e.reason = None;
                    e.next = None;
                    let attempts = e.attempts;
                    self.view.step(
                        "Landed",
                        droid,
                        &format!(
                            "{} ({})",
                            match dr.status {
                                DroidStatus::Merged =>
                                    crate::util::text::count(dr.commits.len(), "commit"),
                                _ => "nothing new".to_owned(),
                            },
                            crate::util::text::count(attempts as usize, "attempt")
                        ),
                    );
                }
                s if s.is_rejection() => self.rejected(dr)?,
                // Skipped (a dependency was rejected in this run) or unready: still waiting.
                _ => {
                    let e = self.entry(droid);
                    if e.status == LandStatus::Ready {
                        e.status = LandStatus::Waiting;
                    }
                }
            }
        }
        Ok(())
    }

    /// The merger rejected `dr`: retry it (sync, feedback, run again) or stop for a human.
    fn rejected(&mut self, dr: &DroidReport) -> Result<()> {
        let name = dr.droid.clone().unwrap_or_default();
        let mut paths: Vec<String> = match dr.status {
            DroidStatus::Violation => dr.violations.iter().map(|v| v.path.clone()).collect(),
            DroidStatus::Conflict => dr.conflicts.iter().map(|c| c.path.clone()).collect(),
            _ => Vec::new(),
        };
        paths.sort();
        paths.dedup();
        let rejection = Rejection {
            kind: dr.status.as_str().to_owned(),
            paths,
            commit: dr.ready.map(|c| c.to_string()),
        };
        let why = crate::ops::merge::record::reason_line(dr);
        let retries = self.opts.retries;
        let worktree = self.ws.worktree_path(&name);
        let e = self.entry(&name);
        let repeated = rejection.kind == "violation"
            && e.last_rejection
                .as_ref()
                .is_some_and(|r| r.kind == rejection.kind && r.paths == rejection.paths);
        e.last_rejection = Some(rejection);
        let attempts = e.attempts;
        let what = dr.status.as_str();
        self.view.step("Rejected", &name, &format!("{what}: {why}"));
        if repeated {
            return self.give_up(
                &name,
                format!("repeated its ownership violation: {why}"),
                format!(
                    "undo the change to those paths in {} (or ask their owner: `droidforge ask OWNER \"...\"`), commit, then `droidforge run --land {name}`",
                    worktree.display()
                ),
            );
        }
        if attempts > retries {
            return self.give_up(
                &name,
                format!(
                    "rejected ({what}: {why}) after {}; no retries left",
                    crate::util::text::count(attempts as usize, "attempt")
                ),
                format!(
                    "fix it in {} (`droidforge sync {name}` brings it onto the integration branch), then `droidforge run --land {name}`; or give its agent more tries: `droidforge run --land {name} --retries {}`",
                    worktree.display(),
                    retries + 1
                ),
            );
        }
        // Sync, then tell the agent what the merger said.
        match self.fixer.sync(self.ws, &name)? {
            SyncResult::Refused(why) => {
                return self.give_up(
                    &name,
                    format!("rejected ({what}) and could not be synced: {why}"),
                    format!(
                        "commit or stash what is in {}, then `droidforge run --land {name}`",
                        worktree.display()
                    ),
                );
            }
            SyncResult::Conflict(paths) => {
                self.view.step(
                    "Synced",
                    &name,
                    &format!(
                        "conflict left to resolve in its worktree: {}",
                        paths.join(", ")
                    ),
                );
            }
            SyncResult::Synced => self
                .view
                .step("Synced", &name, "onto the integration branch"),
            SyncResult::UpToDate => {}
        }
        self.fixer.feedback(self.ws, &name, attempts.max(1), dr)?;
        let e = self.entry(&name);
        e.status = LandStatus::Retrying;
        e.reason = Some(format!("{what}: {why}"));
        self.save();
        Ok(())
    }

    /// Stop retrying `droid`: it needs a human.
    pub(super) fn give_up(&mut self, droid: &str, reason: String, next: String) -> Result<()> {
        let e = self.entry(droid);
        e.status = LandStatus::NeedsHuman;
        e.reason = Some(reason.clone());
        e.next = Some(next.clone());
        let attempts = e.attempts;
        self.event(
            EventKind::GaveUp,
            droid,
            &reason,
            serde_json::json!({ "attempts": attempts, "reason": reason, "next": next }),
        );
        self.view.step("Gave up", droid, &reason);
        self.save();
        Ok(())
    }
}
