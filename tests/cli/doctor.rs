//! `droidforge doctor`: each kind of stale state is found, explained, and fixed only when safe.

use std::process::{Command, Stdio};

use crate::common::*;

pub fn doctor(repo: &TestRepo, fix: bool) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["doctor", "--json"];
    if fix {
        args.push("--fix");
    }
    let out = repo.df(&args);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    (out.status.code(), v)
}

pub fn finding<'a>(v: &'a serde_json::Value, code: &str) -> Vec<&'a serde_json::Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .collect()
}

fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn a_clean_forge_has_no_findings() {
    let repo = two_droid_repo();
    let out = repo.df(&["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("no stale state"));
}

#[test]
fn a_worktree_deleted_by_hand_is_pruned_and_its_branch_kept() {
    let repo = two_droid_repo();
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "droidforge/core-droid",
        ".droidforge/worktrees/core-droid",
    ]);
    std::fs::remove_dir_all(repo.path(".droidforge/worktrees/core-droid")).unwrap();
    let (code, v) = doctor(&repo, false);
    assert_eq!(code, Some(1));
    let f = finding(&v, "missing-worktree");
    assert_eq!(f.len(), 1, "{v}");
    assert!(
        f[0]["explanation"]
            .as_str()
            .unwrap()
            .contains("deleted by hand")
    );
    let text = stdout(&repo.df(&["doctor"]));
    assert!(
        text.contains("warning[missing-worktree]") && text.contains("why:"),
        "{text}"
    );

    let (code, v) = doctor(&repo, true);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(finding(&v, "missing-worktree")[0]["fixed"], true);
    assert!(!repo.git(&["worktree", "list"]).contains("core-droid"));
    repo.rev("droidforge/core-droid");
    // What is left is information only: the branch has no worktree.
    let (code, v) = doctor(&repo, false);
    assert_eq!(code, Some(0));
    assert_eq!(
        finding(&v, "branch-without-worktree")[0]["subject"],
        "core-droid"
    );
}

#[test]
fn an_unregistered_worktree_directory_is_reported_never_deleted() {
    let repo = two_droid_repo();
    write_files(
        &repo.root,
        &[(".droidforge/worktrees/stray/notes.txt", "precious\n")],
    );
    let (code, v) = doctor(&repo, true);
    assert_eq!(code, Some(1));
    assert_eq!(finding(&v, "unregistered-worktree").len(), 1, "{v}");
    assert_eq!(
        repo.read(".droidforge/worktrees/stray/notes.txt"),
        "precious\n"
    );
}

#[test]
fn ready_marks_off_the_branch_are_deleted_only_when_merged() {
    let repo = two_droid_repo();
    let base = repo.rev("HEAD");
    // core: a ready commit that was reset away from its branch and is on no other branch.
    repo.git(&["checkout", "-q", "-b", "droidforge/core-droid"]);
    let lost = repo.commit("core work", &[("src/core/a.rs", "a\n")]);
    repo.git(&["update-ref", "refs/droidforge/ready/core-droid", &lost]);
    repo.git(&["reset", "-q", "--hard", &base]);
    repo.git(&["checkout", "-q", "main"]);
    // infra: the ready commit is on main, the branch was reset behind it.
    let merged = repo.commit("infra work landed", &[("src/infra/b.rs", "b\n")]);
    repo.git(&["branch", "droidforge/infra-droid", &base]);
    repo.git(&["update-ref", "refs/droidforge/ready/infra-droid", &merged]);

    let (code, v) = doctor(&repo, true);
    assert_eq!(code, Some(1), "{v}");
    let stale = finding(&v, "stale-ready-mark");
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0]["fixed"], true);
    let unmerged = finding(&v, "unmerged-ready-mark");
    assert_eq!(unmerged.len(), 1);
    assert!(
        unmerged[0]["action"]
            .as_str()
            .unwrap()
            .contains("git branch keep-core-droid")
    );
    let refs = repo.git(&["for-each-ref", "refs/droidforge/ready/"]);
    assert!(
        refs.contains("ready/core-droid") && refs.contains(&lost),
        "{refs}"
    );
    assert!(!refs.contains("ready/infra-droid"), "{refs}");
}

#[test]
fn running_agents_whose_pid_is_gone_are_marked_exited() {
    let repo = two_droid_repo();
    let pid = dead_pid();
    let state = format!(
        r#"{{"version":1,"droids":{{"core-droid":{{"agent":{{"status":"running","pid":{pid}}}}},"infra-droid":{{"agent":{{"status":"running","pid":{}}}}}}}}}"#,
        std::process::id()
    );
    write_files(&repo.root, &[(".git/droidforge/state.json", &state)]);
    let (code, v) = doctor(&repo, false);
    assert_eq!(code, Some(1));
    let f = finding(&v, "dead-agent");
    assert_eq!(f.len(), 1, "{v}");
    assert_eq!(f[0]["subject"], "core-droid");
    let (code, _) = doctor(&repo, true);
    assert_eq!(code, Some(0));
    let s: serde_json::Value =
        serde_json::from_str(&repo.read(".git/droidforge/state.json")).unwrap();
    assert_eq!(s["droids"]["core-droid"]["agent"]["status"], "exited");
    assert_eq!(s["droids"]["infra-droid"]["agent"]["status"], "running");
}

#[test]
fn locks_of_dead_holders_are_broken() {
    let repo = two_droid_repo();
    let status = Command::new("sh")
        .current_dir(&repo.root)
        .arg("-c")
        .arg(format!(
            "'{}' lock --droid core-droid src/x.rs",
            droidforge_bin().display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    repo.df_ok(&["lock", "--droid", "infra-droid", "docs/**"]);
    let (code, v) = doctor(&repo, true);
    assert_eq!(code, Some(0), "{v}");
    let f = finding(&v, "stale-lock");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["fixed"], true);
    let locks: serde_json::Value = serde_json::from_str(&repo.df_ok(&["locks", "--json"])).unwrap();
    assert_eq!(locks["leases"].as_array().unwrap().len(), 1);
    assert_eq!(locks["leases"][0]["droid"], "infra-droid");
}

#[test]
fn an_interrupted_merge_is_reported_and_left_alone() {
    use crate::merge_support::{done, droid_commit, merge_paused_before_land};
    let repo = two_droid_repo();
    // A real journal: pause a merge right before it lands, keep a copy of its journal, kill it.
    droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    done(&repo, "core-droid");
    let (mut child, _go) = merge_paused_before_land(&repo, &["merge", "core-droid"]);
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, v) = doctor(&repo, true);
    assert_eq!(code, Some(1));
    let f = finding(&v, "interrupted-merge");
    assert!(
        f[0]["action"]
            .as_str()
            .unwrap()
            .contains("merge --continue")
    );
    assert!(repo.path(".git/droidforge/merge-journal.json").exists());
}

#[test]
fn a_corrupt_state_file_is_moved_aside_and_rebuilt() {
    let repo = two_droid_repo();
    write_files(&repo.root, &[(".git/droidforge/state.json", "{ not json")]);
    let (code, v) = doctor(&repo, false);
    assert_eq!(code, Some(1));
    assert_eq!(finding(&v, "corrupt-state").len(), 1);
    let (code, v) = doctor(&repo, true);
    assert_eq!(code, Some(0), "{v}");
    let s: serde_json::Value =
        serde_json::from_str(&repo.read(".git/droidforge/state.json")).unwrap();
    assert_eq!(s["version"], 1);
    let aside: Vec<_> = std::fs::read_dir(repo.path(".git/droidforge"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("state.json.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read_to_string(aside[0].path()).unwrap(),
        "{ not json"
    );
}
