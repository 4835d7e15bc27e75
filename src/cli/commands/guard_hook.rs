//! `droidforge guard --hook <agent>`: the command an agent's pre-tool hook runs. It reads the
//! tool call the agent sends on stdin, asks the guard about every path the call would write,
//! and answers in the agents' shared protocol: exit 0 lets the call run, exit 2 blocks it
//! with the reason on stderr (the agent puts that text into the model's context).
//!
//! Exit 2 on stderr was chosen over the JSON `permissionDecision: "deny"` answer because it
//! means "block" in all three protocols droidforge reads (Claude Code, Factory droid, Gemini
//! CLI) and needs nothing on stdout. The hook fails closed: a tool call it cannot read, or a
//! forge it cannot load, blocks the edit with the reason, because an edit the guard cannot
//! judge is one the merge gate may later throw away.

use std::io::Read;

use super::Ctx;
use droidforge::error::{Error, Result};
use droidforge::ops::guard::{self, GuardRequest, GuardSource};
use droidforge::ops::hooks::{self, HookAgent};
use droidforge::workspace::Workspace;

/// The exit code that blocks a tool call in every supported agent.
const BLOCK: i32 = 2;

pub fn run(ctx: &Ctx, agent: HookAgent, droid: Option<&str>) -> Result<i32> {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        return Ok(block(
            ctx,
            &Error::failure("cannot read the hook input").with_source(e),
        ));
    }
    match judge(ctx, agent, droid, &input) {
        Ok(code) => Ok(code),
        Err(e) => Ok(block(ctx, &e)),
    }
}

fn judge(ctx: &Ctx, agent: HookAgent, droid: Option<&str>, input: &[u8]) -> Result<i32> {
    let Some(call) = hooks::parse_payload(agent, input)? else {
        return Ok(0);
    };
    let cwd = call.cwd.clone().unwrap_or_else(|| ctx.cwd.clone());
    let ws = Workspace::load_cached(&cwd)?;
    let droid = match droid {
        Some(name) => ws.forge.require_droid(name)?.name.clone(),
        // Outside a droid worktree (the hook copied into the main worktree) there is no
        // ownership to enforce.
        None => match ws.current_droid() {
            Some(d) => d,
            None => return Ok(0),
        },
    };
    let worktree = ws.repo.workdir().unwrap_or_else(|| ws.root.clone());
    let report = guard::check(
        &ws,
        &GuardRequest {
            droid,
            paths: call.paths.iter().map(Into::into).collect(),
            cwd,
            worktree,
            source: GuardSource::Edit,
            lease_pid: droidforge::ops::lock::holder_pid(),
        },
    )?;
    for (p, holders) in report.lock_warnings() {
        let shown = p.path.as_deref().unwrap_or(&p.input);
        ctx.ui.message(&format!(
            "droidforge guard: `{shown}` is shared and write-locked by {}; coordinate in INTERFACES.md or take `droidforge lock {shown}` first",
            holders.join(", ")
        ));
    }
    if report.allowed() {
        return Ok(0);
    }
    ctx.ui.message(report.refusal_text().trim_end());
    Ok(BLOCK)
}

/// Block the call because the guard could not judge it, saying why.
fn block(ctx: &Ctx, err: &Error) -> i32 {
    let mut text = format!("droidforge guard: edit blocked: {}", err.full_message());
    for hint in &err.hints {
        text.push_str(&format!(" ({hint})"));
    }
    ctx.ui.message(&text);
    BLOCK
}
