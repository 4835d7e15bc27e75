//! `droidforge merge`'s flags (kept apart from `args.rs`, which holds every other command's).

use super::Selection;
use crate::cli::flags;
use clap::Args;
use droidforge::ops::merge::Strategy;

/// Land ready droids on the integration branch in dependency order.
#[derive(Debug, Args)]
pub struct MergeArgs {
    #[command(flatten)]
    pub select: Selection,
    /// Do everything in memory and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run this command in a scratch worktree of each candidate; non-zero rejects the droid.
    #[arg(long, value_name = "CMD")]
    pub verify: Option<String>,
    /// Verify up to K candidates at once, each on the tip the ones before it would make
    /// (default: manifest `verify_jobs`, else 1).
    #[arg(long, value_name = "K", value_parser = flags::at_least_one)]
    pub verify_jobs: Option<usize>,
    /// Rebase each droid's commits (linear history) or write one merge commit per droid.
    #[arg(long, value_enum, default_value_t = Strategy::Rebase)]
    pub strategy: Strategy,
    /// Merge droids' branch heads even without a ready mark.
    #[arg(long)]
    pub include_unready: bool,
    /// Merge a phase even when earlier phases have unmerged droids.
    #[arg(long)]
    pub force: bool,
    /// Then sync every droid that did not merge onto the new tip (see `droidforge sync`).
    #[arg(long, conflicts_with = "dry_run")]
    pub sync: bool,
    /// Leave merged droids' branches and worktrees on their original commits (`droidforge
    /// sync` moves them later); the integration branch's checkout still follows the merge.
    #[arg(long)]
    pub no_sync_worktrees: bool,
    /// Finish an interrupted merge.
    #[arg(long = "continue", conflicts_with = "abort")]
    pub continue_: bool,
    /// Roll back an interrupted merge.
    #[arg(long)]
    pub abort: bool,
    /// Fetch `droidforge/*` branches from this remote first.
    #[arg(long, value_name = "REMOTE")]
    pub fetch: Option<String>,
    /// Push the integration branch (with a lease) afterwards.
    #[arg(long, value_name = "REMOTE", num_args = 0..=1, default_missing_value = "origin")]
    pub push: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}
