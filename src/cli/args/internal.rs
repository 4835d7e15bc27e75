//! The arguments of the hidden internal commands (the demo's scripted agent, the stress
//! worker): not part of the documented command line.

use std::path::PathBuf;

use clap::Args;

/// Internal scripted agent: follows a script of steps in the current directory.
#[derive(Debug, Args)]
pub struct ScriptedAgentArgs {
    /// The script file (JSON list of steps).
    #[arg(long)]
    pub script: PathBuf,
}

/// Internal stress worker: lock/unlock cycles and state updates, each logged to `--log`.
#[derive(Debug, Args)]
pub struct InternalStressArgs {
    #[arg(long)]
    pub droid: String,
    /// Number of operations (lock + unlock + state update each).
    #[arg(long, default_value_t = 100)]
    pub ops: usize,
    /// Globs to pick from (1-2 per request).
    #[arg(long = "glob", required = true)]
    pub globs: Vec<String>,
    /// JSON lines log of grants and releases.
    #[arg(long)]
    pub log: PathBuf,
    /// Every Nth operation runs the real `droidforge lock`/`unlock` binaries (0: never).
    #[arg(long, default_value_t = 0)]
    pub binary_every: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}
