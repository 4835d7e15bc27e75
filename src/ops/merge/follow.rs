//! Checkouts that follow a moved branch: the integration branch's checkout after a landing,
//! undo or abort, and droid branches (and their worktrees) moved onto their merged commits —
//! always keeping unrelated local edits, and saying exactly what to run when it cannot.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::git::short;
use crate::git::{Expect, Oid, Repo};
use crate::workspace::Workspace;

/// Where the integration branch (or any branch) is checked out: the main worktree or a linked one.
pub(super) fn checkout_of(ws: &Workspace, branch: &str) -> Result<Option<PathBuf>> {
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

pub(super) fn shell_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Move a droid's branch from `from` to `to` if it still points at `from` and its checkout (if
/// any) is clean; otherwise say how to sync. `None` when nothing needs saying.
pub(super) fn move_droid_branch(
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
            short(to),
            short(from)
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
            short(to),
            short(from)
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
