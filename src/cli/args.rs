//! The command line: one clap-derive enum; each variant's doc comment is its help text.

use super::flags;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCandidates;

use crate::cli::candidates::{droid_candidates, phase_candidates};

mod internal;
mod merge;
pub use internal::*;
pub use merge::MergeArgs;

/// Run several AI coding agents ("droids") on one codebase in parallel: a git worktree and
/// branch per droid, an ownership manifest, and a merger that lands their work in dependency
/// order.
#[derive(Debug, Parser)]
#[command(
    name = "droidforge",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Run as if started in this directory.
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Print less: no status lines or progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(InitArgs),
    Plan(PlanArgs),
    Spawn(SpawnArgs),
    Run(RunArgs),
    Status(StatusArgs),
    Done(DoneArgs),
    Merge(MergeArgs),
    Sync(SyncArgs),
    Check(CheckArgs),
    Progress(ProgressArgs),
    Guard(GuardArgs),
    Lock(LockArgs),
    Unlock(UnlockArgs),
    Locks(LocksArgs),
    Events(EventsArgs),
    Ask(AskArgs),
    Remove(RemoveArgs),
    Prune(PruneArgs),
    Undo(UndoArgs),
    Doctor(DoctorArgs),
    Pool(PoolArgs),
    Mcp(McpArgs),
    Demo(DemoArgs),
    Completions(CompletionsArgs),
    Man(ManArgs),
    /// Internal: the scripted agent used by `demo` and the tests.
    #[command(hide = true)]
    ScriptedAgent(ScriptedAgentArgs),
    /// Internal: one worker of the lock/state stress test (real file-locked operations).
    #[command(hide = true)]
    InternalStress(InternalStressArgs),
    /// Internal: empty the trash of moved-aside checkouts (started detached by a merge run).
    #[command(hide = true)]
    InternalSweep,
}

/// Ask the droid that owns some files for a change, instead of editing them: the request goes
/// into the owner's brief (OPEN REQUESTS), the event journal and `status`. `--done ID` closes
/// one, `--list` shows the open ones.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// The droid to ask (the owner of the files); with `--list`, show only its requests.
    #[arg(value_name = "DROID", required_unless_present_any = ["done", "list"])]
    pub droid: Option<String>,
    /// What you need from it.
    #[arg(value_name = "MESSAGE", required_unless_present_any = ["done", "list"])]
    pub message: Option<String>,
    /// Who is asking: a droid or `human` (default: the droid of this worktree; `human` in the
    /// main worktree).
    #[arg(long, value_name = "DROID")]
    pub from: Option<String>,
    /// Close the open request with this id (it is done or answered).
    #[arg(long, value_name = "ID", conflicts_with_all = ["droid", "message", "list"])]
    pub done: Option<u64>,
    /// List the open requests.
    #[arg(long, conflicts_with = "message")]
    pub list: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Which droids a command acts on: names, a phase, or all.
#[derive(Debug, Args, Clone, Default)]
pub struct Selection {
    /// Droid names.
    #[arg(value_name = "DROID", add = ArgValueCandidates::new(droid_candidates))]
    pub droids: Vec<String>,
    /// Every droid working in this phase.
    #[arg(long, value_name = "N", conflicts_with = "droids", add = ArgValueCandidates::new(phase_candidates))]
    pub phase: Option<u32>,
    /// Every droid in the manifest.
    #[arg(long, conflicts_with_all = ["droids", "phase"])]
    pub all: bool,
}

/// Scaffold `.droidforge/forge.toml`, PROGRESS.md, INTERFACES.md, FILE_OWNERSHIP.md and TODO
/// files, and git-exclude the worktree directory. Never overwrites without `--force`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Create N example droids.
    #[arg(long, value_name = "N", conflicts_with = "from_seed")]
    pub droids: Option<usize>,
    /// Create the four droids of the parallel-droids workflow (core, isolation, infra, test)
    /// with phases 1-10.
    #[arg(long)]
    pub from_seed: bool,
    /// Also write a CI workflow.
    #[arg(long, value_enum, value_name = "PROVIDER")]
    pub ci: Option<CiProvider>,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
    /// The integration branch (default: the current branch).
    #[arg(long, value_name = "BRANCH")]
    pub integration: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CiProvider {
    Github,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum PlanFormat {
    #[default]
    Text,
    Mermaid,
    Dot,
    Json,
}

/// Validate the manifest and show phases, droids, merge order, waves and ownership overlaps.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Print the result as JSON on stdout (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Only validate; print nothing on success.
    #[arg(long)]
    pub check: bool,
    /// Regenerate FILE_OWNERSHIP.md from the manifest.
    #[arg(long)]
    pub write: bool,
    /// Treat overlapping ownership as an error.
    #[arg(long)]
    pub strict: bool,
}

/// Create a branch, a worktree and a brief for each droid.
#[derive(Debug, Args)]
pub struct SpawnArgs {
    #[command(flatten)]
    pub select: Selection,
    /// Start the branches from this revision instead of the integration branch.
    #[arg(long, value_name = "REV")]
    pub from: Option<String>,
    /// Start the agents right away (like `droidforge run`).
    #[arg(long)]
    pub run: bool,
    /// Check out only the paths each droid owns, reads and shares (git sparse-checkout in the
    /// new worktrees only; `git sparse-checkout disable` there brings back the full tree).
    /// Droids with `sparse = true` in the manifest are always spawned sparse.
    #[arg(long)]
    pub sparse: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Launch one coding agent per droid in its worktree, concurrently.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: Selection,
    /// Agent preset: droid, claude, codex, aider, gemini.
    #[arg(long, value_name = "PRESET", conflicts_with = "cmd")]
    pub agent: Option<String>,
    /// Command template; placeholders {brief} {droid} {worktree} {branch}.
    #[arg(long, value_name = "TEMPLATE")]
    pub cmd: Option<String>,
    /// At most this many agents at once (default: all).
    #[arg(long, value_name = "K", value_parser = flags::at_least_one)]
    pub jobs: Option<usize>,
    /// Wait this long between agent starts, e.g. `30s`.
    #[arg(long, value_name = "DURATION", value_parser = flags::duration)]
    pub stagger: Option<Duration>,
    /// Kill an agent that runs longer than this, e.g. `45m`.
    #[arg(long, value_name = "DURATION", value_parser = flags::duration)]
    pub timeout: Option<Duration>,
    /// Mark an agent stalled after this long with no output and no file change (default 5m).
    #[arg(long, value_name = "DURATION", value_parser = flags::nonzero_duration)]
    pub stall: Option<Duration>,
    /// Kill agents once they are stalled.
    #[arg(long)]
    pub kill_stalled: bool,
    /// Do not commit leftover changes when an agent exits 0.
    #[arg(long)]
    pub no_commit: bool,
    /// When stopping agents: time between SIGTERM and SIGKILL (default 5s).
    #[arg(long, value_name = "DURATION", value_parser = flags::duration)]
    pub grace: Option<Duration>,
    /// Carry the droids to merged: merge what agents finish, re-run rejected ones with the
    /// merger's verdict in their brief until they land or need a human (docs/agents.md).
    #[arg(long)]
    pub land: bool,
    /// With `--land`: re-runs of a droid's agent after its first attempt (default 2).
    #[arg(long, value_name = "N", requires = "land")]
    pub retries: Option<u32>,
    /// With `--land`: verification command for each merge (default: manifest `verify`).
    #[arg(long, value_name = "CMD", requires = "land")]
    pub verify: Option<String>,
    /// With `--land`: verify up to K candidates of a merge at once (see `merge --verify-jobs`).
    #[arg(long, value_name = "K", requires = "land", value_parser = flags::at_least_one)]
    pub verify_jobs: Option<usize>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// One row per droid: branch, ahead/behind, dirty files, TODO %, agent, ready, merged.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The droid (default: inferred from the current worktree; every droid in the main one).
    #[arg(conflicts_with = "all", add = ArgValueCandidates::new(droid_candidates))]
    pub droid: Option<String>,
    /// Every droid, also inside a droid's worktree.
    #[arg(long)]
    pub all: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Refresh every N seconds (default 2).
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2")]
    pub watch: Option<u64>,
}

/// Mark a droid's commit ready to merge (the droid is inferred inside its worktree).
#[derive(Debug, Args)]
pub struct DoneArgs {
    /// The droid (default: inferred from the current worktree).
    #[arg(add = ArgValueCandidates::new(droid_candidates))]
    pub droid: Option<String>,
    /// Mark this revision instead of the branch head.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Refuse (exit 1) when the droid's worktree has uncommitted changes, instead of warning.
    #[arg(long)]
    pub strict: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Rebase droid branches onto the integration branch: clean → branch and worktree move;
/// conflict → the worktree is left mid-`git rebase` with conflict markers (docs/merge.md).
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Which droids (default: the droid of the current worktree).
    #[command(flatten)]
    pub select: Selection,
    /// Undo the last sync: abort its rebase, or move the branch and worktree back.
    #[arg(long)]
    pub abort: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum CheckFormat {
    #[default]
    Text,
    Json,
    Github,
}

/// Validate a droid branch or a whole phase without changing anything (the CI job).
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The trusted base (default: the integration branch, or $GITHUB_BASE_REF).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// What to check (default: HEAD).
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// The droid the head belongs to (default: inferred from the branch name).
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(droid_candidates), conflicts_with = "phase")]
    pub droid: Option<String>,
    /// Dry-run the merge of a whole phase.
    #[arg(long, value_name = "N", add = ArgValueCandidates::new(phase_candidates))]
    pub phase: Option<u32>,
    /// Fail when the head is not a droid branch.
    #[arg(long)]
    pub require_droid: bool,
    /// Run this command on the candidate in a scratch worktree.
    #[arg(long, value_name = "CMD")]
    pub verify: Option<String>,
    /// Output format; `github` prints workflow annotations and writes $GITHUB_STEP_SUMMARY.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Print the result as JSON on stdout (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

/// Render PROGRESS.md from state and each droid's TODO checkboxes.
#[derive(Debug, Args)]
pub struct ProgressArgs {
    /// Commit the result to the integration branch (otherwise print it).
    #[arg(long)]
    pub write: bool,
    /// Print the result as JSON on stdout (`path`, `text`, `written`, `commit`).
    #[arg(long)]
    pub json: bool,
}

/// May this droid change these paths? Exit 0 when every path is the droid's or shared, 4
/// (ownership violation) when one is not, naming its owner and what to do instead. Agent
/// hooks and the pre-commit hook run it on every edit and commit.
#[derive(Debug, Args)]
pub struct GuardArgs {
    /// Paths, absolute or relative to the current directory.
    #[arg(value_name = "PATH", required_unless_present_any = ["staged", "install", "uninstall", "hook"])]
    pub paths: Vec<PathBuf>,
    /// The droid (default: inferred from the worktree).
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(droid_candidates))]
    pub droid: Option<String>,
    /// Check the paths staged for commit against HEAD (what the pre-commit hook runs); outside
    /// a droid worktree there is nothing to guard.
    #[arg(long, conflicts_with_all = ["paths", "install", "uninstall"])]
    pub staged: bool,
    /// (Re)install the pre-commit hook in every spawned droid worktree.
    #[arg(long, conflicts_with_all = ["paths", "uninstall"])]
    pub install: bool,
    /// Remove the pre-commit hook from every droid worktree; the user's own hooks stay as they were.
    #[arg(long, conflicts_with = "paths")]
    pub uninstall: bool,
    /// Act as an agent's pre-tool hook: read the tool call as JSON on stdin and block an edit
    /// outside the droid's files with exit 2 and the reason on stderr (docs/agents.md).
    #[arg(
        long,
        value_enum,
        value_name = "AGENT",
        conflicts_with_all = ["paths", "staged", "install", "uninstall", "json"]
    )]
    pub hook: Option<droidforge::ops::hooks::HookAgent>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Take an advisory lease on paths (read = shared, write = exclusive).
///
/// Inside a droid's worktree the lease belongs to the droid: it lives as long as the droid's
/// running agent (or until its TTL), and any shell of the droid can unlock it. From the main
/// worktree it belongs to the process that ran droidforge.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Path globs (relative to the repository root).
    #[arg(required = true, value_name = "GLOB")]
    pub globs: Vec<String>,
    /// A shared lease: other readers may hold it too.
    #[arg(long, conflicts_with = "write")]
    pub read: bool,
    /// An exclusive lease (the default).
    #[arg(long)]
    pub write: bool,
    /// Block until granted (`--wait=5m`: at most that long). A wait that would deadlock
    /// fails at once and names the cycle.
    #[arg(
        long,
        value_name = "DURATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "forever",
        value_parser = flags::wait
    )]
    pub wait: Option<droidforge::state::locks::WaitPolicy>,
    /// The droid taking the lock (default: inferred from the worktree).
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(droid_candidates))]
    pub droid: Option<String>,
    /// Release the lock automatically after this long (default 1h).
    #[arg(long, value_name = "DURATION", value_parser = flags::duration)]
    pub ttl: Option<Duration>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Release advisory leases (named by glob or lease id).
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Path globs (relative to the repository root).
    #[arg(value_name = "GLOB")]
    pub globs: Vec<String>,
    /// The droid (default: inferred from the current worktree).
    #[arg(long, value_name = "NAME", add = ArgValueCandidates::new(droid_candidates))]
    pub droid: Option<String>,
    /// Break locks held by another (dead or stuck) holder.
    #[arg(long)]
    pub force: bool,
    /// Release every lock the droid holds.
    #[arg(long)]
    pub all: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// List advisory leases.
#[derive(Debug, Args)]
pub struct LocksArgs {
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Show the event journal.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Keep printing new events.
    #[arg(long, short)]
    pub follow: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The droid (default: inferred from the current worktree; every droid in the main one).
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "all",
        add = ArgValueCandidates::new(droid_candidates)
    )]
    pub droid: Option<String>,
    /// Events of every droid, also inside a droid's worktree.
    #[arg(long)]
    pub all: bool,
    /// Only the last N events.
    #[arg(long, short = 'n', value_name = "N", conflicts_with = "limit")]
    pub last: Option<usize>,
    /// Only the first N events (of those `--since` and the droid filter keep).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Only events of the last DURATION (`10m`, `2h`, `1d`).
    #[arg(long, value_name = "DURATION", value_parser = flags::duration)]
    pub since: Option<std::time::Duration>,
}

/// Remove a droid's worktree (and its branch with --delete-branch).
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Droid names.
    #[arg(required = true, value_name = "DROID", add = ArgValueCandidates::new(droid_candidates))]
    pub droids: Vec<String>,
    /// Also delete the droid's branch (refused if it has unmerged commits, unless --force).
    #[arg(long)]
    pub delete_branch: bool,
    /// Discard uncommitted changes and unmerged commits.
    #[arg(long)]
    pub force: bool,
}

/// Forget worktrees whose directories are gone and remove worktrees of droids no longer in the manifest.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Show what would be removed.
    #[arg(long)]
    pub dry_run: bool,
}

/// Restore the integration branch from before a merge.
#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The merge to undo (default: the last one).
    pub merge_id: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Find stale state and fix what is safe.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Fix what is safe to fix.
    #[arg(long)]
    pub fix: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Keep the warm pool (`[forge] pool = N`) at N clean worktrees at the integration tip:
/// move stale ones by their changed paths, drop broken ones, add missing ones (docs/pool.md).
/// `spawn` runs this in the background after it took from the pool.
#[derive(Debug, Args)]
pub struct PoolArgs {
    #[command(subcommand)]
    pub action: PoolAction,
}

#[derive(Debug, Subcommand)]
pub enum PoolAction {
    /// Refresh the pool now (waits for a refresh already running).
    Refresh {
        /// Print nothing (the background refresh).
        #[arg(long, short)]
        quiet: bool,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// Serve the forge over MCP (stdio) for an orchestrating agent.
#[derive(Debug, Args)]
pub struct McpArgs {}

/// The end-to-end demo: a throwaway repo, four scripted droids, a phase merge.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo repository in DIR instead of a temp dir.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// Print the man page (roff) to stdout, or write one page per command to a directory.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write droidforge.1 and droidforge-<command>.1 for every command into DIR.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Print the shell script that enables completion (commands, options, droid names and phase
/// ids from the manifest). Bash: `source <(droidforge completions bash)`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
