//! `droidforge guard`: may this droid change these paths? The command behind the agent hooks
//! and the pre-commit hook; exit 4 (ownership violation) when a path is refused.

use super::Ctx;
use crate::cli::GuardArgs;
use crate::error::{Error, ExitKind, Result};
use crate::guard::{self, GuardRequest, GuardSource};
use crate::workspace::Workspace;

pub fn run(ctx: &Ctx, args: &GuardArgs) -> Result<i32> {
    if let Some(agent) = args.hook {
        return super::guard_hook::run(ctx, agent, args.droid.as_deref());
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
            lease_pid: super::lock::holder_pid(),
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
