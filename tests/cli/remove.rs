//! `droidforge remove` and `prune`: refuse to lose work, say what would be lost, `--force`.

use crate::common::*;
use crate::spawn::linked_worktrees;

fn wt(repo: &TestRepo, droid: &str) -> std::path::PathBuf {
    repo.path(&format!(".droidforge/worktrees/{droid}"))
}

#[test]
fn remove_clean_worktree_keeps_the_branch() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    let out = repo.df(&["remove", "core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "     Removed worktree of core-droid at .droidforge/worktrees/core-droid\nhint: the branch droidforge/core-droid is kept; `droidforge spawn core-droid` brings the worktree back\n"
    );
    assert!(!wt(&repo, "core-droid").exists());
    let wts = linked_worktrees(&repo);
    assert_eq!(wts.len(), 1);
    assert_eq!(wts[0].1, "droidforge/infra-droid");
    assert_eq!(repo.rev("droidforge/core-droid"), repo.rev("main"));
    let events = std::fs::read_to_string(repo.path(".git/droidforge/events.jsonl")).unwrap();
    assert!(events.contains("\"kind\":\"removed\""));
    // Re-spawn brings it back on the same branch.
    repo.df_ok(&["spawn", "core-droid"]);
    assert_eq!(linked_worktrees(&repo).len(), 2);
    repo.assert_fsck();
}

#[test]
fn remove_refuses_uncommitted_and_untracked_changes() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    let dir = wt(&repo, "core-droid");
    write_files(
        &dir,
        &[
            ("src/core/lib.rs", "changed\n"),
            ("b.txt", "b\n"),
            ("a.txt", "a\n"),
        ],
    );
    let out = repo.df(&["remove", "core-droid"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: the worktree of `core-droid` has 1 file with uncommitted changes and 2 untracked files: `src/core/lib.rs`, `a.txt`, `b.txt`\nhint: commit them on the droid branch, or run `droidforge remove core-droid --force` to discard them\n"
    );
    assert_eq!(std::fs::read_to_string(dir.join("a.txt")).unwrap(), "a\n");
    assert_eq!(linked_worktrees(&repo).len(), 1);

    let out = repo.df(&["remove", "core-droid", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("warning: discarded 1 changed file and 2 untracked files of `core-droid`")
    );
    assert!(!dir.exists());
    assert_eq!(linked_worktrees(&repo).len(), 0);
    repo.assert_fsck();
}

#[test]
fn many_dirty_paths_are_summarised() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    let files: Vec<(String, String)> = (0..8)
        .map(|i| (format!("u{i}.txt"), "x".to_owned()))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    write_files(&wt(&repo, "core-droid"), &refs);
    let out = repo.df(&["remove", "core-droid"]);
    assert!(
        stderr(&out).starts_with("error: the worktree of `core-droid` has 8 untracked files: `u0.txt`, `u1.txt`, `u2.txt`, `u3.txt`, `u4.txt`, and 3 more\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn delete_branch_refuses_unmerged_commits() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    commit_in(&wt(&repo, "core-droid"), "one", &[("src/core/a.rs", "a\n")]);
    commit_in(&wt(&repo, "core-droid"), "two", &[("src/core/b.rs", "b\n")]);
    let out = repo.df(&["remove", "core-droid", "--delete-branch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: branch `droidforge/core-droid` has 2 commits not on `main`\nhint: merge it first (`droidforge done core-droid` then `droidforge merge core-droid`), or keep the branch by dropping `--delete-branch`, or run `droidforge remove core-droid --delete-branch --force` to discard the commits\n"
    );
    // Nothing happened: both worktrees and the branch are still there.
    assert_eq!(linked_worktrees(&repo).len(), 2);
    repo.rev("droidforge/core-droid");

    // One refusal among several droids removes nothing.
    let out = repo.df(&["remove", "infra-droid", "core-droid", "--delete-branch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(linked_worktrees(&repo).len(), 2);

    // Without --delete-branch the commits are safe on the branch: allowed.
    repo.df_ok(&["remove", "core-droid"]);
    // Now delete the branch too, forced.
    repo.git(&[
        "update-ref",
        "refs/droidforge/ready/core-droid",
        "droidforge/core-droid",
    ]);
    let out = repo.df(&["remove", "core-droid", "--delete-branch", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "     Deleted branch droidforge/core-droid\nwarning: dropped 2 commits of `droidforge/core-droid` that were not on `main`\n"
    );
    assert_eq!(repo.git(&["branch", "--list", "droidforge/core-droid"]), "");
    assert_eq!(repo.git(&["for-each-ref", "refs/droidforge/ready/"]), "");
    repo.assert_fsck();
}

#[test]
fn delete_branch_accepts_merged_and_rebased_work() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    // core-droid's commit lands on main by fast-forward: reachable, so nothing is lost.
    let c = commit_in(
        &wt(&repo, "core-droid"),
        "core work",
        &[("src/core/a.rs", "a\n")],
    );
    repo.git(&["merge", "-q", "--ff-only", &c]);
    repo.df_ok(&["remove", "core-droid", "--delete-branch"]);
    assert_eq!(repo.git(&["branch", "--list", "droidforge/core-droid"]), "");

    // infra-droid's commit lands rebased (new id, same author/date/message): also not lost.
    commit_in(
        &wt(&repo, "infra-droid"),
        "infra work",
        &[("src/infra/a.rs", "a\n")],
    );
    repo.git(&["cherry-pick", "droidforge/infra-droid"]);
    assert_ne!(repo.rev("main"), repo.rev("droidforge/infra-droid"));
    let out = repo.df(&["remove", "infra-droid", "--delete-branch"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(linked_worktrees(&repo).len(), 0);
    repo.assert_fsck();
}

#[test]
fn remove_without_worktree_or_of_foreign_dir() {
    let repo = two_droid_repo();
    let out = repo.df(&["remove", "core-droid"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: droid `core-droid` has no worktree\nhint: spawn it with `droidforge spawn core-droid`\n"
    );
    repo.write(&[(".droidforge/worktrees/core-droid/mine.txt", "mine\n")]);
    let out = repo.df(&["remove", "core-droid", "--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not a registered worktree of `core-droid`; not touching it"));
    assert_eq!(
        repo.read(".droidforge/worktrees/core-droid/mine.txt"),
        "mine\n"
    );
}

#[test]
fn remove_from_inside_another_droid_worktree() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    let out = df_in(&wt(&repo, "infra-droid"), &["remove", "core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(linked_worktrees(&repo).len(), 1);
}

#[test]
fn prune_forgets_missing_worktrees_and_removes_clean_orphans() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    // core-droid's directory vanishes.
    std::fs::remove_dir_all(wt(&repo, "core-droid")).unwrap();
    // infra-droid leaves the manifest, clean and with nothing unmerged.
    repo.manifest(&TWO_DROIDS.replace("name = \"infra-droid\"", "name = \"other-droid\""));

    let out = repo.df(&["prune", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        " Would prune .droidforge/worktrees/core-droid: the directory is gone\nWould remove .droidforge/worktrees/infra-droid: no droid of that name in the manifest; clean and fully merged\n"
    );
    assert_eq!(linked_worktrees(&repo).len(), 2);

    let out = repo.df(&["prune"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(linked_worktrees(&repo).len(), 0);
    assert!(!wt(&repo, "infra-droid").exists());
    let out = repo.df(&["prune"]);
    assert_eq!(
        stderr(&out),
        "       Clean no stale or orphaned worktrees\n"
    );
    repo.assert_fsck();
}

#[test]
fn prune_keeps_orphans_with_work() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    commit_in(
        &wt(&repo, "infra-droid"),
        "work",
        &[("src/infra/x.rs", "x\n")],
    );
    write_files(&wt(&repo, "infra-droid"), &[("scratch.txt", "s\n")]);
    repo.manifest(&TWO_DROIDS.replace("name = \"infra-droid\"", "name = \"other-droid\""));
    let out = repo.df(&["prune"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "        Kept .droidforge/worktrees/infra-droid: no droid of that name in the manifest, but 1 untracked file: `scratch.txt`; branch `droidforge/infra-droid` has 1 commit not on `main`\n"
    );
    assert_eq!(linked_worktrees(&repo).len(), 2);
}

/// `remove --delete-branch` deleted a droid branch that another worktree had checked out.
#[test]
fn remove_delete_branch_refuses_a_branch_checked_out_in_another_worktree() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    repo.df_ok(&["remove", "core-droid"]);
    let other = tempfile::tempdir().unwrap();
    let other_path = other.path().join("elsewhere");
    repo.git(&[
        "worktree",
        "add",
        other_path.to_str().unwrap(),
        "droidforge/core-droid",
    ]);
    let tip = repo.rev("droidforge/core-droid");
    let out = repo.df(&["remove", "core-droid", "--delete-branch"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("branch `droidforge/core-droid` is checked out in the worktree `")
            && err.contains("elsewhere`"),
        "{err}"
    );
    assert_eq!(repo.rev("droidforge/core-droid"), tip);
    repo.assert_fsck();
}
