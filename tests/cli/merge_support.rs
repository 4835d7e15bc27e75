//! Helpers shared by the merge tests: droid branches and worktrees made with plain git (no
//! `spawn`), JSON reports, and repository snapshots.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Output;

use crate::common::*;

/// Exclude the worktree dir so droid worktrees never show up as untracked files.
pub fn exclude_worktrees(repo: &TestRepo) {
    let exclude = repo.root.join(".git/info/exclude");
    std::fs::create_dir_all(exclude.parent().unwrap()).unwrap();
    std::fs::write(exclude, ".droidforge/worktrees/\n").unwrap();
}

/// Create `droidforge/<droid>` from `from` with a worktree in the default place.
pub fn droid_worktree(repo: &TestRepo, droid: &str, from: &str) -> PathBuf {
    exclude_worktrees(repo);
    let rel = format!(".droidforge/worktrees/{droid}");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        &format!("droidforge/{droid}"),
        &rel,
        from,
    ]);
    repo.path(&rel)
}

/// Commit files in a droid worktree (created from `main` on first use).
pub fn droid_commit(repo: &TestRepo, droid: &str, msg: &str, files: &[(&str, &str)]) -> String {
    let wt = repo.path(&format!(".droidforge/worktrees/{droid}"));
    if !wt.exists() {
        droid_worktree(repo, droid, "main");
    }
    commit_in(&wt, msg, files)
}

/// Run git in a droid's worktree.
pub fn droid_git(repo: &TestRepo, droid: &str, args: &[&str]) -> String {
    git_in(&repo.path(&format!(".droidforge/worktrees/{droid}")), args)
}

/// [`two_droid_repo`] after each droid committed one file (core-droid `src/core/a.rs`,
/// infra-droid `src/infra/b.rs`) and was marked ready: where most merge tests start.
pub fn two_ready_droids() -> TestRepo {
    let repo = two_droid_repo();
    droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    droid_commit(
        &repo,
        "infra-droid",
        "infra 1",
        &[("src/infra/b.rs", "b\n")],
    );
    done(&repo, "core-droid");
    done(&repo, "infra-droid");
    repo
}

/// Mark a droid ready (asserting success).
pub fn done(repo: &TestRepo, droid: &str) {
    repo.df_ok(&["done", droid]);
}

/// Run `merge ARGS --json` and parse the report from stdout.
pub fn merge_json(repo: &TestRepo, args: &[&str]) -> (Output, serde_json::Value) {
    let mut all: Vec<&str> = vec!["merge"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = repo.df(&all);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "merge {args:?} printed no JSON ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        )
    });
    (out, json)
}

/// The entry of one droid in a report.
pub fn droid_entry<'a>(report: &'a serde_json::Value, droid: &str) -> &'a serde_json::Value {
    report["droids"]
        .as_array()
        .expect("droids array")
        .iter()
        .find(|d| d["droid"] == droid)
        .unwrap_or_else(|| panic!("no `{droid}` in report: {report:#}"))
}

pub fn status_of(report: &serde_json::Value, droid: &str) -> String {
    droid_entry(report, droid)["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every ref with its target, one per line.
pub fn all_refs(repo: &TestRepo) -> String {
    repo.git(&["for-each-ref", "--format=%(refname) %(objectname)"])
}

/// `git count-objects -v`.
pub fn count_objects(repo: &TestRepo) -> String {
    repo.git(&["count-objects", "-v"])
}

/// A forge where each listed droid owns `<droid>/**` (plus `own` extra patterns) in phase 1.
pub fn forge_toml(droids: &[(&str, &[&str], &[&str])]) -> String {
    let mut s = String::from(
        "[forge]\nintegration = \"main\"\n\n[paths]\nshared = [\"INTERFACES.md\"]\n\n[[phase]]\nid = 1\nname = \"One\"\n",
    );
    for (name, owns, after) in droids {
        let owns: Vec<String> = owns.iter().map(|o| format!("\"{o}\"")).collect();
        let after: Vec<String> = after.iter().map(|o| format!("\"{o}\"")).collect();
        s.push_str(&format!(
            "\n[[droid]]\nname = \"{name}\"\nphases = [1]\nowns = [{}]\nafter = [{}]\n",
            owns.join(", "),
            after.join(", ")
        ));
    }
    s
}

/// A repo with `toml` as manifest and `files` committed on main.
pub fn repo_with(toml: &str, files: &[(&str, &str)]) -> TestRepo {
    let repo = TestRepo::new();
    repo.manifest(toml);
    let mut all = vec![("INTERFACES.md", "# Interfaces\n")];
    all.extend_from_slice(files);
    repo.commit("Set up forge", &all);
    exclude_worktrees(&repo);
    repo
}

/// The oracle for "no commit landed twice", by git: on `branch` of the repository at `dir`, no
/// two non-merge commits have the same `git patch-id --stable`, and no commit has the same tree
/// as its first parent (an empty duplicate).
pub fn assert_no_commit_landed_twice(dir: &std::path::Path, branch: &str) {
    let mut cmd = std::process::Command::new("sh");
    hermetic(&mut cmd);
    let out = cmd
        .current_dir(dir)
        .arg("-c")
        .arg(format!(
            "git log -p --no-merges {branch} | git patch-id --stable"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen: std::collections::HashMap<String, String> = Default::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (patch, commit) = line.split_once(' ').unwrap();
        if let Some(first) = seen.insert(patch.to_owned(), commit.to_owned()) {
            panic!(
                "commits {first} and {commit} on `{branch}` in {} carry the same patch:\n{}",
                dir.display(),
                git_in(dir, &["log", "--oneline", branch])
            );
        }
    }
    let trees: std::collections::HashMap<String, String> =
        git_in(dir, &["log", "--format=%H %T", branch])
            .lines()
            .map(|l| {
                let (c, t) = l.split_once(' ').unwrap();
                (c.to_owned(), t.to_owned())
            })
            .collect();
    for line in git_in(dir, &["log", "--format=%H %T %P", branch]).lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if let Some(parent) = f.get(2)
            && trees.get(*parent).map(String::as_str) == Some(f[1])
        {
            panic!(
                "commit {} on `{branch}` in {} is empty (same tree as its parent)",
                f[0],
                dir.display()
            );
        }
    }
}

/// Start `droidforge <args>` (a merge) paused right before its ref transaction, and return once
/// its journal is written: the child and the file whose creation lets it go on.
pub fn merge_paused_before_land(repo: &TestRepo, args: &[&str]) -> (std::process::Child, PathBuf) {
    let go = repo.path("../go");
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    let child = cmd
        .current_dir(&repo.root)
        .args(args)
        .env("DROIDFORGE_TEST_PAUSE_BEFORE_LAND", &go)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let journal = repo.path(".git/droidforge/merge-journal.json");
    while !journal.exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (child, go)
}
