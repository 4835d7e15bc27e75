//! Resolve the merge set and its order: the selection in deterministic dependency order, the
//! phase gate, and which commit of each droid is merged (its ready mark).

use crate::error::{Error, Result};
use crate::repo::Oid;
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

/// Build the plan against the integration tip `t0`.
pub fn plan(ws: &Workspace, opts: &MergeOptions, t0: Oid) -> Result<MergePlan> {
    let forge = &ws.forge;
    let selected = forge.select(&opts.droids, opts.phase, opts.all)?;
    let selected_names: Vec<&str> = selected.iter().map(|d| d.name.as_str()).collect();
    if let Some(phase) = opts.phase
        && !opts.force
    {
        phase_gate(ws, phase, &selected_names, t0)?;
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
        };
        if let Some((_, oid)) = opts.heads.iter().find(|(n, _)| *n == droid.name) {
            entry.candidate = Some(*oid);
            entry.source = Some(CandidateSource::Override);
        } else if let Some(oid) = ws.repo.ref_target(&ws.ready_ref(&droid.name))? {
            entry.candidate = Some(oid);
            entry.source = Some(CandidateSource::ReadyMark);
        } else {
            let head = ws.repo.branch_tip(&branch)?;
            match (head, opts.include_unready) {
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

/// Is the droid's work merged (nothing pending)? A pending ready mark means no; a recorded
/// merge or a branch already contained in the integration tip means yes.
pub fn is_merged(ws: &Workspace, droid: &str, t0: Oid) -> Result<bool> {
    if ws.repo.ref_target(&ws.ready_ref(droid))?.is_some() {
        return Ok(false);
    }
    let state = ws.state.store().read().ok();
    if state
        .as_ref()
        .and_then(|s| s.droids.get(droid))
        .and_then(|d| d.last_merge.as_deref())
        == Some("merged")
    {
        return Ok(true);
    }
    match ws.repo.branch_tip(&ws.branch_of(droid))? {
        Some(tip) => ws.repo.is_ancestor(tip, t0),
        None => Ok(false),
    }
}

/// Refuse a phase whose `after` phases still have unmerged droids (droids that are also in
/// this merge are fine: they merge now, in order).
fn phase_gate(ws: &Workspace, phase: u32, selected: &[&str], t0: Oid) -> Result<()> {
    let Some(p) = ws.forge.phase(phase) else {
        return Ok(());
    };
    let mut blocking: Vec<(u32, String)> = Vec::new();
    for &before in &p.after {
        for d in ws.forge.droids_in_phase(before) {
            if selected.contains(&d.name.as_str()) {
                continue;
            }
            if !is_merged(ws, &d.name, t0)? {
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
