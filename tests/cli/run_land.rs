//! `run --land`: the loop that runs agents, merges what they finish, feeds the merger's
//! verdict back and re-runs them — with real agent processes (shell scripts written by each
//! test) on real repositories, `git log` as the oracle.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::merge_support::*;

/// Scripted agents: one shell script per droid (`<dir>/<droid>.sh`), run as `sh SCRIPT` in
/// the droid's worktree with droidforge's environment (`DROIDFORGE_BRIEF`, …).
pub struct Agents {
    dir: tempfile::TempDir,
}

impl Agents {
    pub fn new() -> Agents {
        Agents {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The script of `droid`. `$ATTEMPT` holds how many times it has started (1, 2, …) and
    /// `$AGENTS` the scripts' directory (for files the test reads back).
    pub fn set(&self, droid: &str, body: &str) -> &Self {
        let dir = self.dir.path().display();
        let script = format!(
            "set -u\nAGENTS='{dir}'\nATTEMPT=$(( $(cat \"$AGENTS/{droid}.count\" 2>/dev/null || echo 0) + 1 ))\necho $ATTEMPT > \"$AGENTS/{droid}.count\"\necho \"{droid} $$\" >> \"$AGENTS/pids\"\n{body}\n"
        );
        std::fs::write(self.dir.path().join(format!("{droid}.sh")), script).unwrap();
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// How many times `droid`'s agent started.
    pub fn starts(&self, droid: &str) -> u32 {
        std::fs::read_to_string(self.path(&format!("{droid}.count")))
            .map(|s| s.trim().parse().unwrap())
            .unwrap_or(0)
    }

    /// The `--cmd` template.
    pub fn cmd(&self) -> String {
        format!("sh '{}'/{{droid}}.sh", self.dir.path().display())
    }
}

fn worktree(repo: &TestRepo, droid: &str) -> PathBuf {
    repo.path(&format!(".droidforge/worktrees/{droid}"))
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            stdout(out),
            stderr(out)
        )
    })
}

fn is_mid_rebase(wt: &Path) -> bool {
    let git_dir = git_in(wt, &["rev-parse", "--absolute-git-dir"]);
    Path::new(git_dir.trim()).join("rebase-merge").exists()
}

/// A droid whose branch and the integration branch changed the same line of the shared
/// INTERFACES.md: `git rebase main` in its worktree stops on a conflict.
fn conflicting_droid(repo: &TestRepo) -> PathBuf {
    repo.df_ok(&["spawn", "core-droid"]);
    let wt = worktree(repo, "core-droid");
    commit_in(
        &wt,
        "core: contract",
        &[("INTERFACES.md", "# Interfaces\ncore v1\n")],
    );
    repo.commit(
        "main: contract",
        &[("INTERFACES.md", "# Interfaces\nmain v1\n")],
    );
    wt
}

#[test]
fn an_agent_exiting_0_mid_rebase_is_failed_and_nothing_is_committed() {
    let repo = two_droid_repo();
    let wt = conflicting_droid(&repo);
    let head = repo.rev("droidforge/core-droid");
    let agents = Agents::new();
    agents.set("core-droid", "git rebase -q main >/dev/null 2>&1; exit 0");
    let out = repo.df(&["run", "core-droid", "--json", "--cmd", &agents.cmd()]);
    let json = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{json}");
    let agent = &json["agents"][0];
    assert_eq!(agent["outcome"], "failed", "{json}");
    assert!(
        agent["message"].as_str().unwrap().contains("mid-rebase"),
        "{json}"
    );
    // Nothing committed, nothing marked ready, the rebase is still there to be resolved.
    assert!(is_mid_rebase(&wt));
    assert_eq!(repo.rev("droidforge/core-droid"), head);
    assert!(
        repo.git(&["for-each-ref", "refs/droidforge/ready/"])
            .trim()
            .is_empty()
    );
    let unmerged = git_in(&wt, &["diff", "--name-only", "--diff-filter=U"]);
    assert_eq!(unmerged.trim(), "INTERFACES.md");
    repo.assert_fsck();
}
