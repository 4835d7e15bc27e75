//! Checkouts that follow a moved branch: the integration branch's checkout after a landing,
//! undo or abort, and droid branches (and their worktrees) moved onto their merged commits —
//! always keeping unrelated local edits, and saying exactly what to run when it cannot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::git::short;
use crate::git::{CheckoutUpdate, Expect, Oid, Repo};
use crate::workspace::Workspace;

/// Where each checked-out branch is checked out (the main worktree or a linked one), read once.
fn checkouts(ws: &Workspace) -> Result<HashMap<String, PathBuf>> {
    let mut out = HashMap::new();
    for wt in ws.repo.worktrees()? {
        if let (true, Some(branch)) = (wt.present, wt.branch) {
            out.insert(branch, wt.path);
        }
    }
    if let Ok(main) = Repo::open(&ws.root)
        && let Some(branch) = main.head_branch()
    {
        out.insert(branch, ws.root.clone());
    }
    Ok(out)
}

/// Where the integration branch (or any branch) is checked out: the main worktree or a linked one.
pub(super) fn checkout_of(ws: &Workspace, branch: &str) -> Result<Option<PathBuf>> {
    Ok(checkouts(ws)?.remove(branch))
}

/// A path as one shell word, for the commands the notes tell the user to run.
pub(super) fn shell_path(p: &Path) -> String {
    crate::util::text::shell_quote(&p.display().to_string())
}

/// A droid branch to move from `from` to `to` (onto its merged commits, or back for an abort).
pub(super) struct DroidMove<'a> {
    pub droid: &'a str,
    pub branch: &'a str,
    pub from: Oid,
    pub to: Oid,
}

/// The checkout of the integration branch at `dir`, to bring from `from` to `to` after the
/// branch moved.
pub(super) struct CheckoutMove<'a> {
    pub dir: &'a Path,
    pub branch: &'a str,
    pub from: Oid,
    pub to: Oid,
}

/// Which note a checkout update belongs to.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Droid(&'a DroidMove<'a>, &'a Path),
    Integration(&'a CheckoutMove<'a>),
}

/// Move each droid's branch that still points at its `from` (and whose checkout, if any, has
/// no local change on a path the move changes), and bring the integration checkout along.
/// The decisions and ref moves are made here in order; the checkouts are checked and written
/// in parallel, each touching only the paths that change. Returns the notes for the user:
/// the droids' in the order given, then the integration checkout's.
pub(super) fn follow(
    ws: &Workspace,
    droids: &[DroidMove],
    integration: Option<CheckoutMove>,
) -> Result<Vec<String>> {
    let checkouts = match droids.is_empty() {
        true => HashMap::new(),
        false => checkouts(ws)?,
    };
    let mut notes: Vec<Option<String>> = vec![None; droids.len() + 1];
    let mut slots = Vec::new();
    for (i, m) in droids.iter().enumerate() {
        let head = ws.repo.ref_id(&format!("refs/heads/{}", m.branch))?;
        if head == Some(m.to) || head.is_none() {
            continue;
        }
        let checkout = checkouts.get(m.branch);
        if head != Some(m.from) {
            let where_ = checkout.map_or_else(|| ".".to_owned(), |d| shell_path(d));
            notes[i] = Some(format!(
                "`{}` has commits after its ready mark; to continue on the merged work run \
                 `git -C {where_} rebase --onto {} {} {}`",
                m.branch,
                short(m.to),
                short(m.from),
                m.branch
            ));
            continue;
        }
        match checkout {
            Some(dir) => slots.push((i, Slot::Droid(m, dir))),
            None => notes[i] = set_branch(ws, m).err(),
        }
    }
    if let Some(c) = &integration {
        slots.push((droids.len(), Slot::Integration(c)));
    }
    let moves = slots
        .iter()
        .map(|(_, slot)| match slot {
            Slot::Droid(m, dir) => (dir.to_path_buf(), m.from, m.to),
            Slot::Integration(c) => (c.dir.to_path_buf(), c.from, c.to),
        })
        .collect();
    let mut ready = Vec::new();
    for ((i, slot), plan) in slots.into_iter().zip(Repo::plan_checkout_updates(moves)) {
        let note = match (slot, plan) {
            (Slot::Droid(m, dir), Err(e)) => Some(format!(
                "could not check `{}`'s worktree `{}` ({}), so `{}` still holds the original commits",
                m.droid,
                dir.display(),
                e.message,
                m.branch
            )),
            (Slot::Droid(m, dir), Ok(plan)) if !plan.blocked.is_empty() => Some(format!(
                "`{}`'s worktree `{}` has uncommitted changes to files the merge changes ({}), so \
                 `{}` still holds the original commits; after committing run `git -C {} rebase --onto {} {}`",
                m.droid,
                dir.display(),
                list_paths(&plan.blocked),
                m.branch,
                shell_path(dir),
                short(m.to),
                short(m.from)
            )),
            // The worktree follows its branch, keeping the droid's unrelated uncommitted edits.
            (Slot::Droid(m, _), Ok(plan)) => match set_branch(ws, m) {
                Err(note) => Some(note),
                Ok(()) => {
                    ready.push((i, slot, plan));
                    None
                }
            },
            (Slot::Integration(c), plan) => match plan {
                Err(e) => Some(cannot_update(c, &e)),
                Ok(plan) if !plan.blocked.is_empty() => Some(left_alone(c, &plan.blocked)),
                Ok(plan) => {
                    ready.push((i, slot, plan));
                    None
                }
            },
        };
        notes[i] = note;
    }
    let (places, plans): (Vec<_>, Vec<_>) = ready.into_iter().map(|(i, s, p)| ((i, s), p)).unzip();
    for ((i, slot), applied) in places.into_iter().zip(CheckoutUpdate::apply_all(plans)) {
        notes[i] = match (slot, applied) {
            (Slot::Droid(..), Ok(_)) => None,
            (Slot::Droid(m, dir), Err(e)) => Some(format!(
                "moved `{}` to the merged commits but could not update its worktree ({}); run {}",
                m.branch,
                e.message,
                finish_command(dir, m.branch, m.from)
            )),
            (Slot::Integration(c), Ok(_)) => Some(updated(c)),
            (Slot::Integration(c), Err(e)) => Some(cannot_update(c, &e)),
        };
    }
    Ok(notes.into_iter().flatten().collect())
}

/// Move a droid's branch (compare-and-swap on `from`); the note when that fails.
fn set_branch(ws: &Workspace, m: &DroidMove) -> std::result::Result<(), String> {
    ws.repo
        .set_ref(
            &format!("refs/heads/{}", m.branch),
            m.to,
            Expect::MustMatch(m.from),
            &format!("droidforge: reset `{}` to its merged commits", m.droid),
        )
        .map_err(|e| {
            format!(
                "could not reset `{}` to the merged commits: {}",
                m.branch, e.message
            )
        })
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

fn updated(c: &CheckoutMove) -> String {
    format!(
        "updated the checkout of `{}` at `{}`",
        c.branch,
        c.dir.display()
    )
}

fn left_alone(c: &CheckoutMove, blocked: &[String]) -> String {
    format!(
        "the checkout of `{}` at `{}` was left as it was: your uncommitted changes touch files that changed ({}); \
         to update it and carry your changes over run {}",
        c.branch,
        c.dir.display(),
        list_paths(blocked),
        finish_command(c.dir, c.branch, c.from)
    )
}

fn cannot_update(c: &CheckoutMove, e: &crate::error::Error) -> String {
    format!(
        "could not update the checkout of `{}` at `{}` ({}); run {}",
        c.branch,
        c.dir.display(),
        e.message,
        finish_command(c.dir, c.branch, c.from)
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
    let c = CheckoutMove {
        dir,
        branch,
        from,
        to,
    };
    let outcome =
        Repo::plan_checkout_update(dir, from, to).and_then(|plan| match plan.blocked.is_empty() {
            true => plan.apply().map(|_| None),
            false => Ok(Some(plan.blocked)),
        });
    match outcome {
        Ok(None) => Ok(updated(&c)),
        Ok(Some(blocked)) => Err(left_alone(&c, &blocked)),
        Err(e) => Err(cannot_update(&c, &e)),
    }
}
