//! `droidforge mcp`: an MCP server over stdio (rmcp) for an orchestrating agent.
//!
//! Each tool runs this same droidforge binary with the matching command line and `--json`
//! and returns its stdout, so the tools answer with exactly the CLI's JSON. A failing command
//! becomes a tool error carrying its exit code, stdout and stderr. Locks taken through the
//! `lock` tool are held by the MCP server process (the `droidforge lock` child's parent), so
//! they live as long as the agent's session and turn stale when it ends.

use std::path::PathBuf;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Content, Implementation, ServerCapabilities, ServerInfo};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::cli::args::*;
use crate::cli::commands::Ctx;
use droidforge::error::{Context, Error, Result};

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct NoParams {}

/// Which droids: names, a phase, or all.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct SelectParams {
    /// Droid names.
    #[serde(default)]
    pub droids: Vec<String>,
    /// Every droid of this phase.
    pub phase: Option<u32>,
    /// Every droid in the manifest.
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct SpawnParams {
    #[serde(flatten)]
    pub select: SelectParams,
    /// Start the branches from this revision instead of the integration branch.
    pub from: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DroidParams {
    /// The droid (omit for every droid).
    pub droid: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DoneParams {
    /// The droid to mark ready.
    pub droid: Option<String>,
    /// Mark this revision instead of the branch head.
    pub rev: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct MergeParams {
    #[serde(flatten)]
    pub select: SelectParams,
    /// Do everything in memory and change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Merge branch heads even without a ready mark.
    #[serde(default)]
    pub include_unready: bool,
    /// Command to run on each candidate; non-zero rejects the droid.
    pub verify: Option<String>,
    /// Verify up to this many candidates at once (speculatively; the result is the serial one).
    pub verify_jobs: Option<u32>,
    /// Leave merged droids' branches and worktrees on their original commits.
    #[serde(default)]
    pub no_sync_worktrees: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RunParams {
    #[serde(flatten)]
    pub select: SelectParams,
    /// Carry the droids to merged (`run --land`): merge what their agents finish, re-run a
    /// rejected droid's agent with the merger's verdict in its brief, stop only for a human.
    #[serde(default)]
    pub land: bool,
    /// With `land`: re-runs of a droid's agent after its first attempt (default 2).
    pub retries: Option<u32>,
    /// Agent preset (droid, claude, codex, aider, gemini).
    pub agent: Option<String>,
    /// Command template instead of a preset ({brief} {droid} {worktree} {branch}).
    pub cmd: Option<String>,
    /// At most this many agents at once.
    pub jobs: Option<usize>,
    /// Stop an agent that runs longer than this (e.g. `45m`).
    pub timeout: Option<String>,
    /// With `land`: verification command for each merge.
    pub verify: Option<String>,
    /// With `land`: verify up to this many candidates of a merge at once.
    pub verify_jobs: Option<u32>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ProgressParams {
    /// Commit PROGRESS.md to the integration branch (otherwise only render it).
    #[serde(default)]
    pub write: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct SyncParams {
    #[serde(flatten)]
    pub select: SelectParams,
    /// Undo the last sync of the selected droids instead (abort its rebase, or move the
    /// branch and worktree back).
    #[serde(default)]
    pub abort: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct CheckParams {
    pub base: Option<String>,
    pub head: Option<String>,
    pub droid: Option<String>,
    /// Dry-run the merge of a whole phase.
    pub phase: Option<u32>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct LockParams {
    /// The droid taking the lock.
    pub droid: String,
    /// Path globs, all granted or none.
    pub globs: Vec<String>,
    /// `read` (shared) or `write` (exclusive, the default).
    pub mode: Option<String>,
    /// Wait at most this long (e.g. `30s`); omit to fail at once when blocked.
    pub wait: Option<String>,
    /// Lease lifetime (default 1h).
    pub ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UnlockParams {
    /// The droid releasing its locks (omit with `force` to break any holder's).
    pub droid: Option<String>,
    /// Globs or lease ids to release.
    #[serde(default)]
    pub globs: Vec<String>,
    /// Release every lock of the droid.
    #[serde(default)]
    pub all: bool,
    /// Break locks of other (dead or stuck) holders.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct EventsParams {
    pub droid: Option<String>,
    /// Only the last N events.
    pub last: Option<usize>,
}

#[derive(Clone)]
pub struct ForgeServer {
    exe: PathBuf,
    cwd: PathBuf,
    tool_router: ToolRouter<Self>,
}

fn select_args(args: &mut Vec<String>, s: &SelectParams) {
    args.extend(s.droids.iter().cloned());
    if let Some(p) = s.phase {
        args.extend(["--phase".to_owned(), p.to_string()]);
    }
    if s.all {
        args.push("--all".to_owned());
    }
}

fn opt(args: &mut Vec<String>, flag: &str, value: &Option<String>) {
    if let Some(v) = value {
        args.extend([flag.to_owned(), v.clone()]);
    }
}

#[tool_router]
impl ForgeServer {
    pub fn new(exe: PathBuf, cwd: PathBuf) -> ForgeServer {
        ForgeServer {
            exe,
            cwd,
            tool_router: Self::tool_router(),
        }
    }

    /// Run `droidforge <args>` in the server's directory.
    async fn run(&self, args: Vec<String>) -> Result<CallToolResult, McpError> {
        let out = tokio::process::Command::new(&self.exe)
            .arg("--quiet")
            .arg("-C")
            .arg(&self.cwd)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| McpError::internal_error(format!("cannot run droidforge: {e}"), None))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(CallToolResult::success(vec![Content::text(stdout)]))
        } else {
            let body = serde_json::json!({
                "command": format!("droidforge {}", args.join(" ")),
                "exit_code": out.status.code(),
                "stdout": stdout,
                "stderr": String::from_utf8_lossy(&out.stderr),
            });
            Ok(CallToolResult::error(vec![Content::text(body.to_string())]))
        }
    }

    #[tool(
        description = "Validate the forge manifest and show phases, droids, merge order, waves and ownership overlaps (JSON)."
    )]
    async fn plan(&self, _p: Parameters<NoParams>) -> Result<CallToolResult, McpError> {
        self.run(vec!["plan".into(), "--format".into(), "json".into()])
            .await
    }

    #[tool(description = "Create a branch, a worktree and a brief for each selected droid.")]
    async fn spawn(
        &self,
        Parameters(p): Parameters<SpawnParams>,
    ) -> Result<CallToolResult, McpError> {
        let mut args = vec!["spawn".to_owned()];
        select_args(&mut args, &p.select);
        opt(&mut args, "--from", &p.from);
        args.push("--json".into());
        self.run(args).await
    }

    #[tool(
        description = "Status of every droid (or one): branch, ahead/behind, dirty files, TODO %, agent state, ready, merged."
    )]
    async fn status(
        &self,
        Parameters(p): Parameters<DroidParams>,
    ) -> Result<CallToolResult, McpError> {
        let mut args = vec!["status".to_owned()];
        args.extend(p.droid);
        args.push("--json".into());
        self.run(args).await
    }

    #[tool(description = "Mark a droid's current commit (or `rev`) ready to merge.")]
    async fn done(
        &self,
        Parameters(p): Parameters<DoneParams>,
    ) -> Result<CallToolResult, McpError> {
        let mut args = vec!["done".to_owned()];
        args.extend(p.droid);
        opt(&mut args, "--rev", &p.rev);
        args.push("--json".into());
        self.run(args).await
    }

    #[tool(
        description = "Land ready droids on the integration branch in dependency order; `dry_run` changes nothing."
    )]
    async fn merge(
        &self,
        Parameters(p): Parameters<MergeParams>,
    ) -> Result<CallToolResult, McpError> {
        let mut args = vec!["merge".to_owned()];
        select_args(&mut args, &p.select);
        if p.dry_run {
            args.push("--dry-run".into());
        }
        if p.include_unready {
            args.push("--include-unready".into());
        }
        if p.no_sync_worktrees {
            args.push("--no-sync-worktrees".into());
        }
        opt(&mut args, "--verify", &p.verify);
        if let Some(k) = p.verify_jobs {
            args.extend(["--verify-jobs".into(), k.to_string()]);
        }
        args.push("--json".into());
        self.run(args).await
    }

    #[tool(
        name = "run",
        description = "Run the selected droids' agents in their worktrees and wait for them. With `land`, carry them to merged: merge each phase as its droids finish, re-run rejected droids with the merger's verdict in their brief, and report what landed, what needs a human and why, and the next command for each."
    )]
    async fn run_agents(
        &self,
        Parameters(p): Parameters<RunParams>,
    ) -> Result<CallToolResult, McpError> {
        let mut args = vec!["run".to_owned()];
        select_args(&mut args, &p.select);
        if p.land {
            args.push("--land".into());
            if let Some(n) = p.retries {
                args.extend(["--retries".into(), n.to_string()]);
            }
            opt(&mut args, "--verify", &p.verify);
            if let Some(k) = p.verify_jobs {
                args.extend(["--verify-jobs".into(), k.to_string()]);
            }
        }
        opt(&mut args, "--agent", &p.agent);
        opt(&mut args, "--cmd", &p.cmd);
        if let Some(k) = p.jobs {
            args.extend(["--jobs".into(), k.to_string()]);
        }
        opt(&mut args, "--timeout", &p.timeout);
        args.push("--json".into());
        self.run(args).await
    }

    #[tool(
        description = "PROGRESS.md as droidforge renders it now (status per phase with attempts and next items, what is blocked, the merge log); `write` commits it to the integration branch."
    )]
    async fn progress(
        &self,
        Parameters(p): Parameters<ProgressParams>,
    ) -> Result<CallToolResult, McpError> {
        let mut args = vec!["progress".to_owned()];
        if p.write {
            args.push("--write".into());
        }
        args.push("--json".into());
        self.run(args).await
    }

    #[tool(
        description = "Bring droids' branches up to date with the integration branch. Clean: the branch and worktree move (unrelated uncommitted edits kept). Conflict (exit 3): the worktree is left mid-`git rebase` with conflict markers; the droid resolves with `git add` + `git rebase --continue`. Dirty worktrees and running agents are left alone. `abort` undoes the last sync."
    )]
    async fn sync(
        &self,
        Parameters(p): Parameters<SyncParams>,
    ) -> Result<CallToolResult, McpError> {
        let mut args = vec!["sync".to_owned()];
        select_args(&mut args, &p.select);
        if p.abort {
            args.push("--abort".into());
        }
        args.push("--json".into());
        self.run(args).await
    }

    #[tool(
        description = "Validate a droid branch (ownership, clean rebase) or dry-run a whole phase, without changing anything."
    )]
    async fn check(
        &self,
        Parameters(p): Parameters<CheckParams>,
    ) -> Result<CallToolResult, McpError> {
        let mut args = vec!["check".to_owned()];
        opt(&mut args, "--base", &p.base);
        opt(&mut args, "--head", &p.head);
        opt(&mut args, "--droid", &p.droid);
        if let Some(n) = p.phase {
            args.extend(["--phase".into(), n.to_string()]);
        }
        args.extend(["--format".into(), "json".into()]);
        self.run(args).await
    }

    #[tool(
        description = "Take an advisory lease on path globs for a droid (read = shared, write = exclusive, all or nothing). With `wait`, blocks up to that long; a wait that would deadlock fails and names the cycle."
    )]
    async fn lock(
        &self,
        Parameters(p): Parameters<LockParams>,
    ) -> Result<CallToolResult, McpError> {
        let mut args = vec!["lock".to_owned(), "--droid".into(), p.droid];
        match p.mode.as_deref() {
            Some("read") => args.push("--read".into()),
            None | Some("write") => args.push("--write".into()),
            Some(other) => {
                return Err(McpError::invalid_params(
                    format!("`mode` must be `read` or `write`, not `{other}`"),
                    None,
                ));
            }
        }
        if let Some(w) = p.wait {
            args.push(format!("--wait={w}"));
        }
        opt(&mut args, "--ttl", &p.ttl);
        args.push("--json".into());
        args.push("--".into());
        args.extend(p.globs);
        self.run(args).await
    }

    #[tool(
        description = "Release advisory leases (by glob or lease id), or break stale ones with `force`."
    )]
    async fn unlock(
        &self,
        Parameters(p): Parameters<UnlockParams>,
    ) -> Result<CallToolResult, McpError> {
        let mut args = vec!["unlock".to_owned()];
        opt(&mut args, "--droid", &p.droid);
        if p.all {
            args.push("--all".into());
        }
        if p.force {
            args.push("--force".into());
        }
        args.push("--json".into());
        args.push("--".into());
        args.extend(p.globs);
        self.run(args).await
    }

    #[tool(
        description = "The event journal (spawned, started, exited, ready, merged, conflict, lock-wait, deadlock, ...)."
    )]
    async fn events(
        &self,
        Parameters(p): Parameters<EventsParams>,
    ) -> Result<CallToolResult, McpError> {
        let mut args = vec!["events".to_owned(), "--json".into()];
        opt(&mut args, "--droid", &p.droid);
        if let Some(n) = p.last {
            args.extend(["--last".into(), n.to_string()]);
        }
        self.run(args).await
    }
}

#[tool_handler]
impl ServerHandler for ForgeServer {
    fn get_info(&self) -> ServerInfo {
        ServerInfo {
            server_info: Implementation {
                name: "droidforge".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            },
            instructions: Some(
                "Drive a droidforge forge: several coding agents (droids) on one repository, each in its own worktree and branch. Typical flow: plan, spawn, status, done, merge (dry_run first), check; or run with land to carry a plan to merged, then progress. Every tool returns the same JSON as the droidforge CLI's --json output.".into(),
            ),
            capabilities: ServerCapabilities::builder().enable_tools().build(),
            ..Default::default()
        }
    }
}

pub fn run(ctx: &Ctx, _args: &McpArgs) -> Result<i32> {
    let exe = std::env::current_exe().context("cannot find the droidforge binary")?;
    let server = ForgeServer::new(exe, ctx.cwd.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let service = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| Error::failure(format!("cannot start the MCP server: {e}")))?;
        service
            .waiting()
            .await
            .map_err(|e| Error::failure(format!("the MCP server stopped: {e}")))?;
        Ok::<_, Error>(())
    })?;
    Ok(0)
}
