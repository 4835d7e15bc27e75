//! `droidforge sync` (docs/merge.md, "Sync") and the merger's feedback in a rejected droid's
//! brief: real repositories and worktrees, the `git` CLI as the oracle (`git status`, the
//! branch tips, `git fsck`, the files on disk).

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::merge_support::*;

/// Droids `a` (owns `a/**`) and `b` (owns `b/**`); `INTERFACES.md` is shared.
fn ab_repo() -> TestRepo {
    repo_with(
        &forge_toml(&[("a", &["a/**"], &[]), ("b", &["b/**"], &[])]),
        &[
            ("a/x.txt", "a1\n"),
            ("a/local.txt", "local\n"),
            ("b/y.txt", "b1\n"),
        ],
    )
}

fn wt(repo: &TestRepo, droid: &str) -> PathBuf {
    repo.path(&format!(".droidforge/worktrees/{droid}"))
}

/// `sync ARGS --json`: the output and the parsed report.
fn sync_json(repo: &TestRepo, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let mut all = vec!["sync"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = repo.df(&all);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "sync {args:?}: no JSON ({e}); exit {:?}\n{}\n{}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        )
    });
    (out, v)
}

fn entry<'a>(v: &'a serde_json::Value, droid: &str) -> &'a serde_json::Value {
    v["droids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["droid"] == droid)
        .unwrap_or_else(|| panic!("no {droid} in {v:#}"))
}

/// `b` lands a change to `b/y.txt` (and, with `interfaces`, to the shared INTERFACES.md).
fn land_b(repo: &TestRepo, interfaces: Option<&str>) {
    let mut files = vec![("b/y.txt", "b2\n")];
    if let Some(text) = interfaces {
        files.push(("INTERFACES.md", text));
    }
    droid_commit(repo, "b", "b: second version", &files);
    done(repo, "b");
    let (out, report) = merge_json(repo, &["b"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
}

fn porcelain(dir: &Path) -> String {
    git_in(dir, &["status", "--porcelain"])
}

#[test]
fn clean_sync_moves_branch_and_worktree_and_keeps_an_unrelated_local_edit() {
    let repo = ab_repo();
    let old = droid_commit(&repo, "a", "a: work", &[("a/x.txt", "a2\n")]);
    land_b(&repo, None);
    // An uncommitted edit to a file the sync does not change.
    std::fs::write(wt(&repo, "a").join("a/local.txt"), "edited\n").unwrap();

    let (out, v) = sync_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(0), "{v:#}\n{}", stderr(&out));
    let e = entry(&v, "a");
    assert_eq!(e["status"], "synced", "{v:#}");
    assert_eq!(e["from"], old.as_str());
    let tip = repo.rev("droidforge/a");
    assert_eq!(e["to"], tip.as_str());
    // git: the branch sits on main with exactly its one commit, the same change as before.
    repo.git(&["merge-base", "--is-ancestor", "main", "droidforge/a"]);
    assert_eq!(
        repo.git(&["rev-list", "--count", "main..droidforge/a"])
            .trim(),
        "1"
    );
    assert_eq!(
        repo.git(&["diff", "--name-only", "main", "droidforge/a"])
            .trim(),
        "a/x.txt"
    );
    // The worktree followed (b's change is there) and kept the local edit, nothing else.
    let dir = wt(&repo, "a");
    assert_eq!(git_in(&dir, &["rev-parse", "HEAD"]).trim(), tip);
    assert_eq!(
        std::fs::read_to_string(dir.join("b/y.txt")).unwrap(),
        "b2\n"
    );
    assert_eq!(porcelain(&dir), " M a/local.txt\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("a/local.txt")).unwrap(),
        "edited\n"
    );
    // Journaled; a second sync has nothing to do.
    let events = repo.df_ok(&["events", "--all", "--json"]);
    assert!(events.contains("\"synced\""), "{events}");
    let (out, v) = sync_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(entry(&v, "a")["status"], "up-to-date", "{v:#}");
    repo.assert_fsck();
}

/// A conflict on the shared INTERFACES.md: `a` and `b` both append to it, `b` lands first.
fn conflicting_a(repo: &TestRepo) -> String {
    let old = droid_commit(
        repo,
        "a",
        "a: document the a API",
        &[
            ("INTERFACES.md", "# Interfaces\nA: a()\n"),
            ("a/x.txt", "a2\n"),
        ],
    );
    land_b(repo, Some("# Interfaces\nB: b()\n"));
    old
}

#[test]
fn conflict_leaves_a_rebase_in_progress_that_git_finishes_and_merge_lands() {
    let repo = ab_repo();
    conflicting_a(&repo);
    let (out, v) = sync_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(3), "{v:#}\n{}", stderr(&out));
    let e = entry(&v, "a");
    assert_eq!(e["status"], "conflict", "{v:#}");
    assert_eq!(e["conflicts"][0]["path"], "INTERFACES.md", "{v:#}");
    assert_eq!(e["stopped_at"]["summary"], "a: document the a API", "{v:#}");

    // git's own state: a rebase in progress, the file unmerged, with markers.
    let dir = wt(&repo, "a");
    let status = git_in(&dir, &["status"]);
    assert!(status.contains("rebas"), "{status}");
    assert!(
        porcelain(&dir).contains("UU INTERFACES.md"),
        "{}",
        porcelain(&dir)
    );
    let text = std::fs::read_to_string(dir.join("INTERFACES.md")).unwrap();
    assert!(
        text.contains("<<<<<<<") && text.contains(">>>>>>>"),
        "{text}"
    );
    // A second sync leaves it alone.
    let (out, v) = sync_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(1), "{v:#}");
    assert_eq!(entry(&v, "a")["status"], "in-progress", "{v:#}");

    // Resolve with ordinary git.
    std::fs::write(dir.join("INTERFACES.md"), "# Interfaces\nB: b()\nA: a()\n").unwrap();
    git_in(&dir, &["add", "INTERFACES.md"]);
    let mut cmd = std::process::Command::new("git");
    hermetic(&mut cmd);
    let cont = cmd
        .current_dir(&dir)
        .args(["rebase", "--continue"])
        .env("GIT_EDITOR", "true")
        .output()
        .unwrap();
    assert!(
        cont.status.success(),
        "{}",
        String::from_utf8_lossy(&cont.stderr)
    );
    assert_eq!(porcelain(&dir), "");
    repo.git(&["merge-base", "--is-ancestor", "main", "droidforge/a"]);

    // The merger lands it (a fast-forward: it sits on main).
    done(&repo, "a");
    let (out, report) = merge_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(status_of(&report, "a"), "merged");
    assert_eq!(
        repo.git(&["show", "main:INTERFACES.md"]),
        "# Interfaces\nB: b()\nA: a()\n"
    );
    assert_no_commit_landed_twice(&repo.root, "main");
    repo.assert_fsck();
}

#[test]
fn sync_abort_restores_the_exact_tip_and_files_after_a_conflict() {
    let repo = ab_repo();
    let old = conflicting_a(&repo);
    let dir = wt(&repo, "a");
    let before = std::fs::read_to_string(dir.join("INTERFACES.md")).unwrap();
    let (out, _) = sync_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(3));

    let out = repo.df(&["sync", "--abort", "a"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(repo.rev("droidforge/a"), old);
    assert_eq!(git_in(&dir, &["rev-parse", "HEAD"]).trim(), old);
    assert_eq!(
        git_in(&dir, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/droidforge/a"
    );
    assert_eq!(porcelain(&dir), "");
    assert_eq!(
        std::fs::read_to_string(dir.join("INTERFACES.md")).unwrap(),
        before
    );
    // Nothing left to abort.
    let out = repo.df(&["sync", "--abort", "a"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no sync to abort"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn sync_abort_moves_a_clean_sync_back_and_keeps_local_edits() {
    let repo = ab_repo();
    let old = droid_commit(&repo, "a", "a: work", &[("a/x.txt", "a2\n")]);
    land_b(&repo, None);
    let dir = wt(&repo, "a");
    std::fs::write(dir.join("a/local.txt"), "edited\n").unwrap();
    let (out, _) = sync_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(0));
    assert_ne!(repo.rev("droidforge/a"), old);

    let out = repo.df(&["sync", "--abort", "a"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(repo.rev("droidforge/a"), old);
    assert_eq!(
        std::fs::read_to_string(dir.join("b/y.txt")).unwrap(),
        "b1\n"
    );
    assert_eq!(porcelain(&dir), " M a/local.txt\n");
}

#[test]
fn dirty_worktrees_are_left_alone_and_only_an_error_when_named() {
    let repo = ab_repo();
    let old = droid_commit(&repo, "a", "a: work", &[("a/x.txt", "a2\n")]);
    land_b(&repo, None);
    // An uncommitted edit on a path the sync changes.
    let dir = wt(&repo, "a");
    std::fs::write(dir.join("b/y.txt"), "mine\n").unwrap();

    let (out, v) = sync_json(&repo, &["--all"]);
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(entry(&v, "a")["status"], "dirty", "{v:#}");
    assert_eq!(entry(&v, "a")["paths"][0], "b/y.txt", "{v:#}");
    let (out, v) = sync_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(1), "{v:#}");
    assert_eq!(repo.rev("droidforge/a"), old);
    assert_eq!(porcelain(&dir), " M b/y.txt\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("b/y.txt")).unwrap(),
        "mine\n"
    );

    // On a conflict any uncommitted change keeps it untouched (git rebase needs a clean tree).
    let repo = ab_repo();
    let old = conflicting_a(&repo);
    let dir = wt(&repo, "a");
    std::fs::write(dir.join("a/local.txt"), "edited\n").unwrap();
    let (out, v) = sync_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(1), "{v:#}");
    assert_eq!(entry(&v, "a")["status"], "dirty", "{v:#}");
    assert_eq!(repo.rev("droidforge/a"), old);
    assert_eq!(porcelain(&dir), " M a/local.txt\n");
}

#[test]
fn a_droid_whose_agent_runs_is_left_alone() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    let dir = wt(&repo, "core-droid");
    let old = commit_in(
        &dir,
        "core work",
        &[("src/core/lib.rs", "pub fn core2() {}\n")],
    );
    repo.commit("main moves", &[("README.md", "hello\n")]);
    let mut agent = crate::locks::Agent::start(&repo, "core-droid");
    let (out, v) = sync_json(&repo, &["--all"]);
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(entry(&v, "core-droid")["status"], "agent-running", "{v:#}");
    assert_eq!(repo.rev("droidforge/core-droid"), old);
    agent.stop();
    let (out, v) = sync_json(&repo, &["core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(entry(&v, "core-droid")["status"], "synced", "{v:#}");
}

#[test]
fn hostile_branches_give_a_clear_error() {
    // A droid branch with no merge base: an orphan history in its worktree.
    let repo = ab_repo();
    droid_worktree(&repo, "a", "main");
    let dir = wt(&repo, "a");
    git_in(&dir, &["checkout", "-q", "--orphan", "tmp"]);
    commit_in(&dir, "orphan", &[("a/x.txt", "other\n")]);
    git_in(&dir, &["branch", "-f", "droidforge/a", "tmp"]);
    git_in(&dir, &["checkout", "-q", "droidforge/a"]);
    let out = repo.df(&["sync", "a"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("shares no history with `main`"), "{text}");

    // A branch whose worktree is gone.
    let repo = ab_repo();
    droid_commit(&repo, "a", "a: work", &[("a/x.txt", "a2\n")]);
    std::fs::remove_dir_all(wt(&repo, "a")).unwrap();
    let (out, v) = sync_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(1), "{v:#}");
    assert_eq!(entry(&v, "a")["status"], "no-worktree", "{v:#}");
    assert!(
        entry(&v, "a")["reason"]
            .as_str()
            .unwrap()
            .contains("is missing"),
        "{v:#}"
    );
    // With --all it is reported, not an error; a droid never spawned too.
    let (out, v) = sync_json(&repo, &["--all"]);
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(entry(&v, "b")["status"], "not-spawned", "{v:#}");
}

#[test]
fn merge_sync_syncs_the_droids_that_did_not_merge() {
    let repo = ab_repo();
    let old = droid_commit(&repo, "a", "a: work", &[("a/x.txt", "a2\n")]);
    droid_commit(&repo, "b", "b: second version", &[("b/y.txt", "b2\n")]);
    done(&repo, "b");
    let (out, v) = merge_json(&repo, &["b", "--sync"]);
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(status_of(&v, "b"), "merged");
    let a = v["sync"]["droids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["droid"] == "a")
        .unwrap();
    assert_eq!(a["status"], "synced", "{v:#}");
    assert!(
        !v["sync"]["droids"].to_string().contains("\"b\""),
        "merged droids are not synced again: {v:#}"
    );
    assert_ne!(repo.rev("droidforge/a"), old);
    repo.git(&["merge-base", "--is-ancestor", "main", "droidforge/a"]);
}

fn brief(repo: &TestRepo, droid: &str) -> String {
    std::fs::read_to_string(wt(repo, droid).join(".droidforge/BRIEF.md")).unwrap_or_default()
}

#[test]
fn a_conflict_feedback_names_paths_the_landed_droid_and_subject_newest_attempt_first() {
    let repo = ab_repo();
    let mine = conflicting_a(&repo);
    let theirs = repo.rev("droidforge/b");
    done(&repo, "a");
    let (out, _) = merge_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(3));
    let text = brief(&repo, "a");
    assert!(text.contains("What the merger said (attempt 1)"), "{text}");
    assert!(
        text.contains(&format!(
            "Your commit {} \"a: document the a API\" conflicts",
            &mine[..7]
        )),
        "{text}"
    );
    // The landed commit on main that changed the file is b's (rebased, or fast-forwarded).
    let landed = repo
        .git(&["log", "-1", "--format=%h", "main", "--", "INTERFACES.md"])
        .trim()
        .to_owned();
    assert!(
        text.contains(&format!(
            "- `INTERFACES.md` (content): landed by `b` in {landed} \"b: second version\""
        )),
        "{text}\n(b was {theirs})"
    );
    assert!(text.contains("droidforge sync"), "{text}");
    // The brief's own sections are still there, after the feedback.
    assert!(text.find("What the merger said").unwrap() < text.find("READ:").unwrap());

    // A second rejection: attempt 2 comes first, attempt 1 is kept.
    let (out, _) = merge_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(3));
    let text = brief(&repo, "a");
    let two = text.find("What the merger said (attempt 2)").expect(&text);
    let one = text.find("What the merger said (attempt 1)").expect(&text);
    assert!(two < one, "{text}");
    let events = repo.df_ok(&["events", "--all", "--json"]);
    assert_eq!(
        events.matches("\"feedback-written\"").count(),
        2,
        "{events}"
    );

    // Resolved and landed: the feedback goes away.
    let (out, _) = sync_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(3));
    let dir = wt(&repo, "a");
    std::fs::write(dir.join("INTERFACES.md"), "# Interfaces\nB: b()\nA: a()\n").unwrap();
    git_in(&dir, &["add", "INTERFACES.md"]);
    let mut cmd = std::process::Command::new("git");
    hermetic(&mut cmd);
    assert!(
        cmd.current_dir(&dir)
            .args(["rebase", "--continue"])
            .env("GIT_EDITOR", "true")
            .status()
            .unwrap()
            .success()
    );
    done(&repo, "a");
    let (out, report) = merge_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert!(!brief(&repo, "a").contains("What the merger said"));
}

#[test]
fn a_violation_feedback_names_each_path_its_owner_and_what_to_do_instead() {
    let repo = ab_repo();
    droid_commit(&repo, "a", "a: touch b", &[("b/y.txt", "mine\n")]);
    done(&repo, "a");
    let (out, _) = merge_json(&repo, &["a"]);
    assert_eq!(out.status.code(), Some(4));
    let text = brief(&repo, "a");
    assert!(text.contains("What the merger said (attempt 1)"), "{text}");
    assert!(text.contains("OWNERSHIP VIOLATION"), "{text}");
    assert!(text.contains("- `b/y.txt` (modified in "), "{text}");
    assert!(text.contains("): owned by `b`"), "{text}");
    assert!(
        text.contains("git restore --source=\"$B\" --staged --worktree -- b/y.txt"),
        "{text}"
    );
    assert!(
        text.contains("`droidforge ask b \"<what you need>\"`"),
        "{text}"
    );
    assert!(text.contains("into a file you own"), "{text}");
}

#[test]
fn a_failed_verify_feedback_shows_the_command_and_the_last_60_lines() {
    let repo = ab_repo();
    droid_commit(&repo, "a", "a: work", &[("a/x.txt", "a2\n")]);
    done(&repo, "a");
    let (out, _) = merge_json(&repo, &["a", "--verify", "seq 1 100; exit 1"]);
    assert_eq!(out.status.code(), Some(5));
    let text = brief(&repo, "a");
    assert!(
        text.contains("VERIFY FAILED: `seq 1 100; exit 1` failed"),
        "{text}"
    );
    assert!(text.contains("The last 60 lines of its output:"), "{text}");
    let fenced: Vec<&str> = text
        .split("```text\n")
        .nth(1)
        .expect(&text)
        .split("\n```")
        .next()
        .unwrap()
        .lines()
        .collect();
    let expected: Vec<String> = (41..=100).map(|i| i.to_string()).collect();
    assert_eq!(fenced, expected, "{text}");
}
