//! The CI job (docs/ci.md): validate a droid branch, any pull request, or a whole phase without
//! changing anything. Reuses the merger in dry-run mode (`run_merge` with an explicit base and
//! head), so CI and `merge` can never disagree.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::git::{Oid, Repo};
use crate::ops::merge::{self, DroidReport, DroidStatus, MergeOptions, Verdict};
use crate::workspace::{ManifestSource, Workspace};

pub const CHECK_VERSION: u32 = 1;

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub base: Option<String>,
    pub head: Option<String>,
    pub droid: Option<String>,
    pub phase: Option<u32>,
    pub require_droid: bool,
    pub verify: Option<String>,
}

/// CI-provided context (`GITHUB_BASE_REF`, `GITHUB_HEAD_REF`), passed in so tests can set it.
#[derive(Debug, Clone, Default)]
pub struct CheckEnv {
    pub base_ref: Option<String>,
    pub head_ref: Option<String>,
}

impl CheckEnv {
    pub fn from_process() -> CheckEnv {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        CheckEnv {
            base_ref: var("GITHUB_BASE_REF"),
            head_ref: var("GITHUB_HEAD_REF"),
        }
    }
}

/// The stable JSON result of `droidforge check` (documented in docs/ci.md).
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub version: u32,
    pub mode: CheckMode,
    /// The base as given (`main`, `origin/main`, a hash) and the commit it resolved to.
    pub base_ref: String,
    #[serde(with = "crate::git::serde_hex")]
    pub base: Oid,
    pub head_ref: String,
    #[serde(with = "crate::git::serde_hex")]
    pub head: Oid,
    /// The droid the head belongs to; `None` for a non-droid branch.
    pub droid: Option<String>,
    pub result: Verdict,
    pub exit_code: i32,
    /// Per-droid results (one in branch mode), in merge order.
    pub droids: Vec<DroidReport>,
    pub notes: Vec<String>,
}

/// What was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckMode {
    /// One head against a base.
    Branch,
    /// A dry-run merge of a whole phase onto the base.
    Phase,
}

/// Run the check in the repository containing `cwd`.
pub fn run_check(cwd: &Path, opts: &CheckOptions, env: &CheckEnv) -> Result<CheckReport> {
    let mut repo = Repo::discover(cwd)?;
    let mut notes = Vec::new();
    let base_ref = base_spec(&repo, opts, env)?;
    // Name HEAD after its branch when it has one: reports read better and the droid is inferred.
    let head_ref = opts
        .head
        .clone()
        .or_else(|| repo.head_branch().filter(|_| repo.head_commit().is_some()))
        .unwrap_or_else(|| "HEAD".to_owned());
    let mut base = resolve(&repo, &base_ref, "base")?;
    let mut head = resolve(&repo, &head_ref, "head")?;

    if !repo.history_complete_between(base, head)? {
        let remotes = repo.remote_names();
        let remote = remotes
            .iter()
            .find(|r| *r == "origin")
            .or(remotes.first())
            .cloned();
        let Some(remote) = remote else {
            return Err(shallow_error());
        };
        repo.unshallow(&remote)
            .map_err(|e| e.hint(shallow_hint()))?;
        notes.push(format!(
            "the clone was shallow; fetched full history from `{remote}`"
        ));
        repo = Repo::discover(cwd)?;
        base = resolve(&repo, &base_ref, "base")?;
        head = resolve(&repo, &head_ref, "head")?;
        if !repo.history_complete_between(base, head)? {
            return Err(shallow_error());
        }
    }

    // The manifest comes from the base: the trusted side.
    let ws = Workspace::load_with(repo, cwd, ManifestSource::At(base), false)?;
    let quiet = |_: merge::MergeEvent| {};

    if let Some(phase) = opts.phase {
        let report = merge::run_merge(
            &ws,
            &MergeOptions {
                phase: Some(phase),
                dry_run: true,
                verify: opts.verify.clone(),
                onto: Some(base),
                no_record: true,
                ..MergeOptions::default()
            },
            &quiet,
        )?;
        return Ok(finish(
            CheckMode::Phase,
            base_ref,
            base,
            head_ref,
            head,
            None,
            report.droids,
            notes,
        ));
    }

    let droid = infer_droid(&ws, opts, env, &head_ref)?;
    if head == base || ws.repo.is_ancestor(head, base)? {
        notes.push(format!(
            "`{head_ref}` has no commits that are not on `{base_ref}`; nothing to check"
        ));
    }
    let droids = match &droid {
        Some(name) => {
            let report = merge::run_merge(
                &ws,
                &MergeOptions {
                    droids: vec![name.clone()],
                    dry_run: true,
                    verify: opts.verify.clone(),
                    onto: Some(base),
                    heads: vec![(name.clone(), head)],
                    include_unready: true,
                    // A pull request is judged on its own; its dependencies may land later.
                    force: true,
                    no_record: true,
                    ..MergeOptions::default()
                },
                &quiet,
            )?;
            notes.extend(report.notes);
            report.droids
        }
        None => {
            if opts.require_droid {
                return Err(Error::usage(format!(
                    "`{head_ref}` is not a droid branch (expected `{}<droid>`)",
                    ws.forge.branch_prefix()
                ))
                .hint("pass `--droid NAME`, or drop `--require-droid` to check a human branch against protected paths only"));
            }
            notes.push(format!(
                "`{head_ref}` is not a droid branch: checked protected paths and a clean replay only"
            ));
            vec![check_human(&ws, base, head, opts.verify.as_deref())?]
        }
    };
    Ok(finish(
        CheckMode::Branch,
        base_ref,
        base,
        head_ref,
        head,
        droid,
        droids,
        notes,
    ))
}

#[allow(clippy::too_many_arguments)]
fn finish(
    mode: CheckMode,
    base_ref: String,
    base: Oid,
    head_ref: String,
    head: Oid,
    droid: Option<String>,
    droids: Vec<DroidReport>,
    notes: Vec<String>,
) -> CheckReport {
    let result = merge::report::worst_outcome(&droids);
    CheckReport {
        version: CHECK_VERSION,
        mode,
        base_ref,
        base,
        head_ref,
        head,
        droid,
        result,
        exit_code: result.exit_code(),
        droids,
        notes,
    }
}

fn base_spec(repo: &Repo, opts: &CheckOptions, env: &CheckEnv) -> Result<String> {
    if let Some(b) = &opts.base {
        return Ok(b.clone());
    }
    let name = match &env.base_ref {
        Some(b) => b.clone(),
        // Only to *find* the base branch; the manifest itself is read from the base commit.
        None => crate::workspace::integration_named_on_disk(&repo.main_workdir()?)
            .unwrap_or_else(|| "main".to_owned()),
    };
    // Prefer the remote-tracking branch in CI checkouts, where the local branch may not exist.
    for candidate in [name.clone(), format!("origin/{name}")] {
        if repo.rev_parse(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Ok(name)
}

fn resolve(repo: &Repo, spec: &str, what: &str) -> Result<Oid> {
    repo.rev_parse(spec).map_err(|e| {
        e.hint(format!(
            "pass an existing revision with `--{what}`; in CI, check out with full history (`fetch-depth: 0`)"
        ))
    })
}

fn infer_droid(
    ws: &Workspace,
    opts: &CheckOptions,
    env: &CheckEnv,
    head_ref: &str,
) -> Result<Option<String>> {
    if let Some(name) = &opts.droid {
        return Ok(Some(ws.forge.require_droid(name)?.name.clone()));
    }
    let mut candidates: Vec<String> = Vec::new();
    if head_ref != "HEAD" {
        candidates.push(head_ref.trim_start_matches("refs/heads/").to_owned());
        if let Some(rest) = head_ref.strip_prefix("origin/") {
            candidates.push(rest.to_owned());
        }
    }
    if let Some(h) = &env.head_ref {
        candidates.push(h.clone());
    }
    if head_ref == "HEAD"
        && let Some(b) = ws.repo.head_branch()
    {
        candidates.push(b);
    }
    for c in candidates {
        if let Some(d) = ws.forge.droid_of_branch(&c) {
            return Ok(Some(d.name.clone()));
        }
    }
    Ok(None)
}

/// A branch that belongs to no droid: it may not touch protected paths and must replay cleanly.
fn check_human(ws: &Workspace, base: Oid, head: Oid, verify: Option<&str>) -> Result<DroidReport> {
    let repo = ws.repo.in_memory();
    let mut dr = DroidReport::new(None, "", DroidStatus::Merged);
    let merge_base = repo.merge_base(base, head)?;
    let commits = repo.commits_between(merge_base, head)?;
    for &c in &commits {
        dr.commits.push(merge::CommitReport {
            original: c,
            rewritten: None,
            summary: repo.commit_info(c)?.summary,
        });
    }
    let infos = commits
        .iter()
        .map(|&c| repo.commit_info(c))
        .collect::<Result<Vec<_>>>()?;
    dr.violations = merge::gate::check_entries_of(&repo, &infos)?;
    if !dr.violations.is_empty() {
        dr.status = DroidStatus::Violation;
        dr.reason = Some(format!(
            "{} tree entr{} git would reject",
            dr.violations.len(),
            if dr.violations.len() == 1 { "y" } else { "ies" }
        ));
        return Ok(dr);
    }
    let mut scratch = Vec::new();
    // Every commit on its own, and the branch's net change (a merge commit that takes an old
    // integration commit's version of a protected path changes no path of its own).
    let mut changes = Vec::new();
    for &c in &commits {
        changes.extend(merge::gate::commit_changes(&repo, c)?);
    }
    if !commits.is_empty() {
        changes.extend(merge::gate::net_changes(&repo, base, head)?);
    }
    {
        for change in changes {
            let class = ws.forge.rules.classify_into(&change.path, &mut scratch);
            if class.protected && !dr.violations.iter().any(|v| v.path == change.path) {
                dr.violations.push(merge::Violation {
                    path: change.path,
                    kind: change.kind.as_str().to_owned(),
                    commit: change.commit,
                    owner: "protected".to_owned(),
                });
            }
        }
    }
    if !dr.violations.is_empty() {
        dr.status = DroidStatus::Violation;
        dr.reason = Some(format!(
            "{} changed",
            crate::util::text::count(dr.violations.len(), "protected path")
        ));
        return Ok(dr);
    }
    if commits.is_empty() {
        return Ok(dr);
    }
    let committer = repo.committer();
    let apply =
        |strategy| merge::gate::apply(&repo, strategy, base, head, &commits, "check", &committer);
    // Rebase like `merge` does; a branch with merge commits is tried as one merge instead.
    let mut applied = apply(merge::Strategy::Rebase)?;
    if let merge::gate::Applied::Refused(_) = applied {
        applied = apply(merge::Strategy::Merge)?;
    }
    let tip = match applied {
        merge::gate::Applied::Clean { tip, .. } => tip,
        merge::gate::Applied::Conflict(conflicts) => {
            dr.status = DroidStatus::Conflict;
            dr.reason = Some(crate::util::text::count(
                conflicts.len(),
                "conflicting path",
            ));
            dr.conflicts = conflicts;
            return Ok(dr);
        }
        merge::gate::Applied::Refused(reason) => {
            dr.status = DroidStatus::Conflict;
            dr.reason = Some(reason);
            return Ok(dr);
        }
    };
    if let Some(cmd) = verify {
        // The candidate exists only in memory; the in-memory handle can still check it out.
        let dir = ws
            .state
            .verify_dir(&format!("check-{}", std::process::id()));
        let trash = ws.state.trash_dir().ok();
        let verified = merge::gate::verify(&repo, &dir, trash.as_deref(), tip, cmd);
        crate::state::trash::sweep_later(&ws.state);
        let verified = verified?;
        if !verified.ok {
            dr.status = DroidStatus::VerifyFailed;
            dr.reason = Some(verified.detail);
        }
    }
    Ok(dr)
}

fn shallow_hint() -> &'static str {
    "check out with full history: `actions/checkout` with `fetch-depth: 0`, or `git fetch --unshallow`"
}

fn shallow_error() -> Error {
    Error::failure("the repository is a shallow clone without the history between base and head")
        .hint(shallow_hint())
}
