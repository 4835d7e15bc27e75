//! `droidforge guard`: may this droid change these paths? The command behind the agent hooks
//! and the pre-commit hook; exit 4 (ownership violation) when a path is refused.

use super::Ctx;
use crate::cli::args::GuardArgs;
use droidforge::error::{Error, ExitKind, Result};
use droidforge::ops::guard::{self, GuardRequest, GuardSource, hook};
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &GuardArgs) -> Result<i32> {
    if let Some(agent) = args.hook {
        return super::guard_hook::run(ctx, agent, args.droid.as_deref());
    }
    if args.install || args.uninstall {
        return hooks(ctx, args);
    }
    let ws = Workspace::load_cached(&ctx.cwd)?;
    let droid = match args.droid.as_deref() {
        Some(name) => ws.forge.require_droid(name)?.name.clone(),
        None => match ws.current_droid() {
            Some(d) => d,
            // The pre-commit hook outside a droid worktree: not ours to judge.
            None if args.staged => {
                ctx.ui
                    .status("Skipped", "not a droid worktree: nothing to guard");
                return Ok(0);
            }
            None => {
                return Err(Error::usage("cannot tell which droid is editing")
                    .hint("run inside a droid worktree, or name the droid with `--droid`"));
            }
        },
    };
    let worktree = ws.repo.workdir().unwrap_or_else(|| ws.root.clone());
    let (paths, source) = if args.staged {
        // git hands hooks the index it is committing from (a temporary one for `commit -a`).
        let index = std::env::var_os("GIT_INDEX_FILE").map(|f| ctx.cwd.join(f));
        let staged = ws.repo.staged_paths(index.as_deref())?;
        (
            staged.into_iter().map(Into::into).collect(),
            GuardSource::Commit,
        )
    } else {
        (args.paths.clone(), GuardSource::Edit)
    };
    let report = guard::check(
        &ws,
        &GuardRequest {
            droid,
            paths,
            cwd: ctx.cwd.clone(),
            worktree,
            source,
            lease_pid: droidforge::ops::lock::holder_pid(),
        },
    )?;
    if args.json {
        ctx.ui.json(&report);
    }
    for (p, holders) in report.lock_warnings() {
        let shown = p.path.as_deref().unwrap_or(&p.input);
        ctx.ui.warn(&format!(
            "`{shown}` is shared and write-locked by {}: take `droidforge lock {shown}` first (it waits for them) or coordinate in INTERFACES.md",
            holders
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if report.allowed() {
        return Ok(0);
    }
    ctx.ui.message(&report.refusal_text());
    if source == GuardSource::Commit {
        ctx.ui.message(
            "droidforge guard: commit refused. Unstage those paths (`git restore --staged <path>`) and ask their owners instead.",
        );
    }
    Ok(ExitKind::Violation.code())
}

/// `guard --install` / `--uninstall`: the pre-commit guard in droid worktrees.
fn hooks(ctx: &Ctx, args: &GuardArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    if args.uninstall {
        let done = hook::uninstall(&ws)?;
        if args.json {
            ctx.ui.json(&done);
        }
        for wt in &done.worktrees {
            ctx.ui.status(
                "Removed",
                &format!("pre-commit guard from {}", wt.display()),
            );
        }
        if done.worktrees.is_empty() {
            ctx.ui
                .status("Unchanged", "no worktree had the pre-commit guard");
        }
        if done.worktree_config_disabled {
            ctx.ui
                .status("Restored", "extensions.worktreeConfig is off again");
        }
        return Ok(0);
    }
    let mut installed = Vec::new();
    for d in ws.forge.droids() {
        let wt = ws.worktree_path(&d.name);
        if wt.join(".git").exists() {
            let done = hook::install(&ws, &wt)?;
            report_installed(ctx, &d.name, &done);
            installed.push(done);
        }
    }
    if args.json {
        // No bare arrays in machine output (docs/json.md): the list is a named field.
        ctx.ui
            .json(&serde_json::json!({ "version": 1, "installed": installed }));
    }
    Ok(0)
}

/// One status line for an installed pre-commit guard (also used by `spawn`).
pub fn report_installed(ctx: &Ctx, droid: &str, done: &hook::Installed) {
    let chained = if done.user_hooks.is_empty() {
        String::new()
    } else {
        format!(
            "; then your hooks from {}: {}",
            done.chains_to,
            done.user_hooks.join(", ")
        )
    };
    ctx.ui.status(
        "Guarded",
        &format!("{droid}: pre-commit hook runs `droidforge guard --staged`{chained}"),
    );
}
