//! Turn selected droids into runnable [`AgentJob`]s: make sure each has a worktree and a
//! brief (spawning what is missing), and resolve its agent command.

use std::path::Path;

use super::presets::{Placeholders, resolve_command};
use super::runner::AgentJob;
use crate::error::{Context, Result};
use crate::manifest::Droid;
use crate::workspace::Workspace;

/// Where the brief lives inside a worktree.
pub const BRIEF_PATH: &str = ".droidforge/BRIEF.md";

/// Jobs for `droids` plus the names of droids whose worktree had to be created first.
pub struct Prepared {
    pub jobs: Vec<AgentJob>,
    pub spawned: Vec<String>,
}

/// Resolve commands and spawn missing worktrees. Commands are resolved first so that a bad
/// `--agent` changes nothing.
pub fn prepare(
    ws: &Workspace,
    droids: &[&Droid],
    cli_agent: Option<&str>,
    cli_cmd: Option<&str>,
) -> Result<Prepared> {
    let mut jobs = Vec::new();
    for droid in droids {
        let worktree = ws.worktree_path(&droid.name);
        let brief = worktree.join(BRIEF_PATH);
        let branch = ws.branch_of(&droid.name);
        let command = resolve_command(
            &ws.forge,
            droid,
            cli_agent,
            cli_cmd,
            &Placeholders {
                brief: &brief,
                droid: &droid.name,
                worktree: &worktree,
                branch: &branch,
            },
        )?;
        jobs.push(AgentJob {
            droid: droid.name.clone(),
            todo: droid.todo.as_ref().map(|t| worktree.join(t)),
            log: ws.state.log_path(&droid.name),
            worktree,
            branch,
            brief,
            command: command.command,
        });
    }
    let mut spawned = Vec::new();
    for droid in droids {
        if ensure_worktree(ws, droid)? {
            spawned.push(droid.name.clone());
        }
    }
    Ok(Prepared { jobs, spawned })
}

/// Minimal spawn (branch from the integration tip, worktree, brief) for droids that have no
/// worktree yet; returns whether anything was created.
fn ensure_worktree(ws: &Workspace, droid: &Droid) -> Result<bool> {
    let worktree = ws.worktree_path(&droid.name);
    let branch = ws.branch_of(&droid.name);
    let mut created = false;
    if !worktree.join(".git").exists() {
        ensure_excludes(ws)?;
        if ws.repo.branch_tip(&branch)?.is_none() {
            let tip = ws.integration_tip()?;
            ws.repo.create_branch(&branch, tip)?;
        }
        if let Some(parent) = worktree.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        ws.repo.add_worktree(&worktree, &branch)?;
        ws.event(
            crate::state::EventKind::Spawned,
            Some(&droid.name),
            format!("worktree {}", worktree.display()),
        );
        let base = ws.repo.branch_tip(&branch)?.map(|o| o.to_string());
        let _ = ws.state.store().update_droid(&droid.name, |d| {
            d.spawned_at = Some(crate::state::now());
            d.base = base;
        });
        created = true;
    }
    let brief = worktree.join(BRIEF_PATH);
    if !brief.exists() {
        write_brief(ws, droid, &brief)?;
    }
    Ok(created)
}

/// Keep the worktree directory and briefs out of `git status` (same entries as `init`).
fn ensure_excludes(ws: &Workspace) -> Result<()> {
    let worktree_dir = format!(
        "/{}/",
        ws.forge.manifest.forge.worktree_dir.trim_matches('/')
    );
    let brief = format!("/{BRIEF_PATH}");
    ws.repo.ensure_excluded(&[&worktree_dir, &brief])?;
    Ok(())
}

fn write_brief(ws: &Workspace, droid: &Droid, path: &Path) -> Result<()> {
    let mut b = format!("# Brief: {}\n\n", droid.name);
    if !droid.role.is_empty() {
        b.push_str(&format!("Role: {}\n\n", droid.role));
    }
    b.push_str(&format!(
        "You work on branch `{}` in this worktree. Commit your work here; droidforge merges it.\n\n",
        ws.branch_of(&droid.name)
    ));
    let list = |title: &str, items: &[String], b: &mut String| {
        if !items.is_empty() {
            b.push_str(&format!("## {title}\n"));
            for i in items {
                b.push_str(&format!("- {i}\n"));
            }
            b.push('\n');
        }
    };
    list("Read", &droid.reads, &mut b);
    list(
        "Your files (you may change only these)",
        &droid.owns,
        &mut b,
    );
    list(
        "Shared files (edit with care, changes must merge cleanly)",
        &ws.forge.manifest.paths.shared,
        &mut b,
    );
    list("Do not modify", &ws.forge.protected_patterns(), &mut b);
    list("Tasks", &droid.tasks, &mut b);
    if let Some(todo) = &droid.todo {
        b.push_str(&format!(
            "Track progress in `{todo}`: `- [x]` done, `- [~]` in progress, `- [ ]` open.\n"
        ));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    std::fs::write(path, b).with_context(|| format!("cannot write `{}`", path.display()))
}
