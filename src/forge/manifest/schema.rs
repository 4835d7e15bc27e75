//! The serde schema of `.droidforge/forge.toml` (documented in README.md, "The manifest"). Unknown keys are errors.

use serde::{Deserialize, Serialize};

pub const DEFAULT_BRANCH_PREFIX: &str = "droidforge/";
pub const DEFAULT_WORKTREE_DIR: &str = ".droidforge/worktrees";

/// Paths droidforge always protects, whatever the manifest says: the manifest itself and the
/// files only droidforge writes.
pub const BUILTIN_PROTECTED: &[&str] = &[".droidforge/**", "PROGRESS.md", "FILE_OWNERSHIP.md"];

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub forge: ForgeSection,
    #[serde(default)]
    pub paths: PathsSection,
    #[serde(default, rename = "phase", skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    #[serde(default, rename = "droid", skip_serializing_if = "Vec::is_empty")]
    pub droids: Vec<Droid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ForgeSection {
    /// The branch that merges land on. When absent: the branch checked out in the main worktree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<String>,
    #[serde(default = "default_prefix")]
    pub branch_prefix: String,
    #[serde(default = "default_worktree_dir")]
    pub worktree_dir: String,
    /// Agent preset (`droid`, `claude`, `codex`, `aider`) or a command template for `run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Default `--verify` command for `merge` and `check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<String>,
    /// Default `--verify-jobs` of `merge`: how many candidates are verified at once
    /// (speculatively, on the chain of the candidates before them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_jobs: Option<std::num::NonZeroUsize>,
    /// When `droidforge guard` allows a droid's edit of a shared path, take (or refresh) the
    /// droid's write lease on it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_lock: bool,
    /// Worktrees kept checked out at the integration tip for `spawn` to hand out (docs/pool.md).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pool: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for ForgeSection {
    fn default() -> Self {
        ForgeSection {
            integration: None,
            branch_prefix: default_prefix(),
            worktree_dir: default_worktree_dir(),
            agent: None,
            verify: None,
            verify_jobs: None,
            auto_lock: false,
            pool: 0,
        }
    }
}

fn default_prefix() -> String {
    DEFAULT_BRANCH_PREFIX.to_owned()
}

fn default_worktree_dir() -> String {
    DEFAULT_WORKTREE_DIR.to_owned()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PathsSection {
    /// Anyone may edit these; concurrent edits must merge cleanly.
    #[serde(default)]
    pub shared: Vec<String>,
    /// Nobody but droidforge (and humans on the integration branch) may edit these.
    #[serde(default)]
    pub protected: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub id: u32,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Droid {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role: String,
    #[serde(default)]
    pub phases: Vec<u32>,
    #[serde(default)]
    pub owns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub todo: Option<String>,
    /// Droids whose work must merge before this one.
    #[serde(default)]
    pub after: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<String>,
    /// Per-droid agent override for `run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Check out only the paths the droid owns, reads and shares (git sparse-checkout).
    #[serde(default, skip_serializing_if = "is_false")]
    pub sparse: bool,
}

impl Droid {
    /// The lowest phase the droid works in; droids without phases sort last.
    pub fn first_phase(&self) -> u32 {
        self.phases.iter().copied().min().unwrap_or(u32::MAX)
    }
}
