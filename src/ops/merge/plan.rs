//! Resolve the merge set and its order: the selection in deterministic dependency order, the
//! phase gate, and which commit of each droid is merged (its ready mark).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::git::{Oid, Repo};
use crate::workspace::Workspace;

use super::MergeOptions;

/// Where a droid's merge candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateSource {
    /// `refs/droidforge/ready/<droid>`.
    ReadyMark,
    /// The branch head (`--include-unready`).
    BranchHead,
    /// Given by the caller (`MergeOptions::heads`, used by `check`).
    Override,
}

/// One droid in the plan.
#[derive(Debug, Clone)]
pub struct PlanEntry {
    pub droid: String,
    pub branch: String,
    /// The commit to merge; `None` when the droid is not ready.
    pub candidate: Option<Oid>,
    pub source: Option<CandidateSource>,
    /// Why the droid has no candidate.
    pub unready_reason: Option<String>,
    /// No candidate because its work is already merged and nothing new is on its branch.
    pub merged: bool,
}

#[derive(Debug, Clone)]
pub struct MergePlan {
    pub entries: Vec<PlanEntry>,
}

impl MergePlan {
    pub fn order_names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.droid.as_str()).collect()
    }
}

/// Build the plan against the integration tip `t0`, reading objects through `repo` (the run's
/// handle: what the workspace's handle reads stays mapped for the whole command).
pub fn plan(ws: &Workspace, repo: &Repo, opts: &MergeOptions, t0: Oid) -> Result<MergePlan> {
    let forge = &ws.forge;
    let selected = forge.select(&opts.droids, opts.phase, opts.all)?;
    let selected_names: Vec<&str> = selected.iter().map(|d| d.name.as_str()).collect();
    if let Some(phase) = opts.phase
        && !opts.force
    {
        phase_gate(ws, repo, phase, &selected_names, t0)?;
    }
    let mut entries = Vec::new();
    for droid in forge.order() {
        if !selected_names.contains(&droid.name.as_str()) {
            continue;
        }
        let branch = ws.branch_of(&droid.name);
        let mut entry = PlanEntry {
            droid: droid.name.clone(),
            branch: branch.clone(),
            candidate: None,
            source: None,
            unready_reason: None,
            merged: false,
        };
        if let Some((_, oid)) = opts.heads.iter().find(|(n, _)| *n == droid.name) {
            entry.candidate = Some(*oid);
            entry.source = Some(CandidateSource::Override);
        } else if let Some(oid) = repo.ref_target(&ws.ready_ref(&droid.name))? {
            entry.candidate = Some(oid);
            entry.source = Some(CandidateSource::ReadyMark);
        } else {
            let head = repo.branch_tip(&branch)?;
            // A droid merged earlier, whose branch (if it still has one) holds nothing new, is
            // merged, not unready: there is nothing to mark ready.
            let nothing_new = match head {
                // A branch head that is not a commit is rejected later, droid by droid.
                Some(h) => repo.not_a_commit(h)?.is_none() && repo.is_ancestor(h, t0)?,
                None => true,
            };
            match (head, opts.include_unready) {
                _ if nothing_new && merged_before(ws, &droid.name) => {
                    entry.merged = true;
                }
                // A branch with nothing ahead of the integration branch and no ready mark is
                // not "merged" work: the droid has not said it is finished, so it stays
                // unready (and its dependents wait) even with `--include-unready`.
                (Some(_), true) if nothing_new => {
                    entry.unready_reason = Some(format!(
                        "no commits ahead of `{}` and not marked ready, so nothing to merge; `droidforge done {}` records it as finished with nothing to merge",
                        ws.integration, droid.name
                    ));
                }
                (Some(head), true) => {
                    entry.candidate = Some(head);
                    entry.source = Some(CandidateSource::BranchHead);
                }
                (Some(_), false) => {
                    entry.unready_reason = Some(format!(
                        "not marked ready; run `droidforge done {}` (or merge with `--include-unready`)",
                        droid.name
                    ));
                }
                (None, _) => {
                    entry.unready_reason = Some(format!(
                        "no branch `{branch}`; run `droidforge spawn {}`",
                        droid.name
                    ));
                }
            }
        }
        entries.push(entry);
    }
    Ok(MergePlan { entries })
}

/// Is the droid's work merged (nothing pending)? Yes when its ready work is on the integration
/// branch: a ready mark contained in `t0` (this includes `done` with nothing ahead: "finished,
/// nothing to merge"), a ready mark recorded as landed whose rewritten copy is in `t0` (a mark
/// that could not be cleared, or set again on the original commits after a rebased landing),
/// or, once a merge cleared the mark, a recorded merge. A droid without a ready mark and
/// without a recorded merge is not merged, however few commits it has: it has not said it is
/// finished, so its dependents wait. Objects are read through `repo` (a merge run's own
/// handle, or `ws.repo`).
pub fn is_merged(ws: &Workspace, repo: &Repo, droid: &str, t0: Oid) -> Result<bool> {
    if let Some(ready) = repo.ref_target(&ws.ready_ref(droid))? {
        // A ready mark that is not a commit (damaged or hostile) is not merged work.
        if repo.not_a_commit(ready)?.is_some() {
            return Ok(false);
        }
        if repo.is_ancestor(ready, t0)? {
            return Ok(true);
        }
        let state = ws.state.store().read().unwrap_or_default();
        let landed = state.droids.get(droid).map(|d| &d.landed);
        return Ok(landed_on(repo, landed, ready, t0)?.is_some());
    }
    Ok(merged_before(ws, droid))
}

/// The commit `original` became on the integration branch, when the state records it as
/// landed (`landed`: a droid's original → rewritten mapping) and that commit is still
/// contained in `tip` (an undone or rewound merge no longer counts). The one answer to "did
/// this commit already land?" for the merger and the dependency and phase gates.
pub fn landed_on(
    repo: &Repo,
    landed: Option<&BTreeMap<Oid, Oid>>,
    original: Oid,
    tip: Oid,
) -> Result<Option<Oid>> {
    let Some(&new) = landed.and_then(|l| l.get(&original)) else {
        return Ok(None);
    };
    Ok(repo.is_ancestor(new, tip)?.then_some(new))
}

/// Does the state record this droid's work as merged (a landed merge, or `done` with nothing
/// to merge)?
fn merged_before(ws: &Workspace, droid: &str) -> bool {
    let state = ws.state.store().read().unwrap_or_default();
    state
        .droids
        .get(droid)
        .is_some_and(|d| d.last_merge.as_deref() == Some("merged") || d.finished_empty.is_some())
}

/// What `merge` and `check` say about a droid whose work is already merged.
pub const MERGED_NOTHING_NEW: &str = "merged (nothing new)";
/// What they say about a droid that `done` recorded as finished with nothing to merge.
pub const FINISHED_NOTHING_TO_MERGE: &str = "finished, nothing to merge";

/// The reason shown for a ready mark that is already on the integration branch.
pub fn nothing_new_reason(ws: &Workspace, droid: &str, ready: Oid) -> &'static str {
    let state = ws.state.store().read().unwrap_or_default();
    let hex = ready.to_string();
    if state
        .droids
        .get(droid)
        .and_then(|d| d.finished_empty.as_deref())
        == Some(hex.as_str())
    {
        FINISHED_NOTHING_TO_MERGE
    } else {
        MERGED_NOTHING_NEW
    }
}

/// Refuse a phase whose `after` phases still have unmerged droids (droids that are also in
/// this merge are fine: they merge now, in order).
fn phase_gate(ws: &Workspace, repo: &Repo, phase: u32, selected: &[&str], t0: Oid) -> Result<()> {
    let Some(p) = ws.forge.phase(phase) else {
        return Ok(());
    };
    let mut blocking: Vec<(u32, String)> = Vec::new();
    for &before in &p.after {
        for d in ws.forge.droids_in_phase(before) {
            if selected.contains(&d.name.as_str()) {
                continue;
            }
            if !is_merged(ws, repo, &d.name, t0)? {
                blocking.push((before, d.name.clone()));
            }
        }
    }
    if blocking.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = blocking
        .iter()
        .map(|(ph, n)| format!("`{n}` (phase {ph})"))
        .collect();
    let first = blocking[0].0;
    Err(Error::failure(format!(
        "phase {phase} comes after phase {first}, which still has unmerged droids: {}",
        names.join(", ")
    ))
    .hint(format!(
        "merge phase {first} first (`droidforge merge --phase {first}`), or pass `--force`"
    )))
}
