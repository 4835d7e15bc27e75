//! Gates and messages that must be true: what "merged" means for dependents and phases, how
//! already-merged droids are reported, dry runs that speak in the conditional, `done` warnings,
//! merge attempts that land nothing, and `undo` after droidforge's own record commits.

use crate::common::*;
use crate::merge_support::*;

/// `droid-2` comes after `droid-1`; both in phase 1.
fn chain_repo() -> TestRepo {
    repo_with(
        &forge_toml(&[
            ("droid-1", &["droid-1/**"], &[]),
            ("droid-2", &["droid-2/**"], &["droid-1"]),
        ]),
        &[],
    )
}

/// Phase 2 comes after phase 1; `early` is in phase 1 and `late` in phase 2.
const TWO_PHASES: &str = r#"[forge]
integration = "main"

[[phase]]
id = 1
name = "One"

[[phase]]
id = 2
name = "Two"
after = [1]

[[droid]]
name = "early"
phases = [1]
owns = ["early/**"]

[[droid]]
name = "late"
phases = [2]
owns = ["late/**"]
"#;

fn spawn(repo: &TestRepo, droid: &str) {
    repo.df_ok(&["spawn", droid]);
}

#[test]
fn spawned_droid_without_ready_mark_blocks_dependents() {
    let repo = chain_repo();
    let t0 = repo.rev("main");
    droid_commit(&repo, "droid-2", "two", &[("droid-2/a.txt", "a\n")]);
    done(&repo, "droid-2");
    // droid-1 spawned, no commits, no ready mark: not merged, so droid-2 waits.
    spawn(&repo, "droid-1");
    let (out, report) = merge_json(&repo, &["droid-2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status_of(&report, "droid-2"), "skipped", "{report:#}");
    assert_eq!(repo.rev("main"), t0, "nothing may land");
    // `done` with nothing ahead records "finished, nothing to merge"; then droid-2 lands.
    let out = repo.df_ok(&["done", "droid-1"]);
    assert!(out.is_empty() || !out.contains("error"), "{out}");
    let (out, report) = merge_json(&repo, &["droid-2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status_of(&report, "droid-2"), "merged", "{report:#}");
    assert_eq!(repo.git(&["show", "main:droid-2/a.txt"]), "a\n");
    let progress = repo.git(&["show", "main:PROGRESS.md"]);
    assert!(
        progress.contains("| droid-1 | 🟢 finished, nothing to merge |"),
        "{progress}"
    );
    repo.assert_fsck();
}

/// Regression: with `--include-unready`, a spawned droid with no commits was reported
/// `up-to-date` ("… is already on `main`") and counted as merged, so its dependents landed
/// first. Without a ready mark it is not merged (only `done` records "finished, nothing to
/// merge"): it is unready, says there is nothing to merge, and its dependents wait.
#[test]
fn include_unready_treats_a_droid_without_commits_as_merged() {
    let repo = chain_repo();
    let t0 = repo.rev("main");
    spawn(&repo, "droid-1");
    droid_commit(&repo, "droid-2", "two", &[("droid-2/a.txt", "a\n")]);
    let (out, report) = merge_json(&repo, &["--all", "--include-unready"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status_of(&report, "droid-1"), "unready", "{report:#}");
    let reason = droid_entry(&report, "droid-1")["reason"].as_str().unwrap();
    assert!(reason.contains("no commits"), "{reason}");
    assert_eq!(status_of(&report, "droid-2"), "skipped", "{report:#}");
    assert_eq!(
        droid_entry(&report, "droid-2")["reason"],
        "depends on `droid-1`, which is not ready"
    );
    assert_eq!(repo.rev("main"), t0, "nothing may land");
    // Once `done` records droid-1 as finished with nothing to merge, droid-2 lands.
    repo.df_ok(&["done", "droid-1"]);
    let (out, report) = merge_json(&repo, &["--all", "--include-unready"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status_of(&report, "droid-2"), "merged", "{report:#}");
    assert_eq!(repo.git(&["show", "main:droid-2/a.txt"]), "a\n");
    repo.assert_fsck();
}

#[test]
fn spawned_droid_without_ready_mark_blocks_later_phase() {
    let repo = repo_with(TWO_PHASES, &[]);
    let t0 = repo.rev("main");
    droid_commit(&repo, "late", "late", &[("late/a.txt", "a\n")]);
    done(&repo, "late");
    spawn(&repo, "early");
    let out = repo.df(&["merge", "--phase", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`early` (phase 1)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.rev("main"), t0);
    repo.df_ok(&["done", "early"]);
    let (out, report) = merge_json(&repo, &["--phase", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status_of(&report, "late"), "merged");
}

#[test]
fn done_with_nothing_ahead_says_finished_nothing_to_merge() {
    let repo = chain_repo();
    spawn(&repo, "droid-1");
    let out = repo.df(&["done", "droid-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("finished, nothing to merge"),
        "done must say what it records: {err}"
    );
    let state = std::fs::read_to_string(repo.path(".git/droidforge/state.json")).unwrap();
    assert!(state.contains("\"finished_empty\""), "{state}");
    let status = repo.df_ok(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&status).unwrap();
    let row = json["droids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["droid"] == "droid-1")
        .unwrap()
        .clone();
    assert_eq!(row["merged"]["result"], "nothing-to-merge", "{row:#}");
}

#[test]
fn done_warns_about_uncommitted_changes() {
    let repo = chain_repo();
    spawn(&repo, "droid-1");
    let wt = repo.path(".droidforge/worktrees/droid-1");
    commit_in(&wt, "one", &[("droid-1/a.txt", "a\n")]);
    write_files(
        &wt,
        &[("droid-1/a.txt", "edited\n"), ("droid-1/new.txt", "n\n")],
    );
    let out = df_in(&wt, &["done"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("uncommitted") && err.contains("droid-1/a.txt"),
        "{err}"
    );
    // --strict refuses, with exit 1, and leaves the ready mark where it was.
    let before = repo.rev("refs/droidforge/ready/droid-1");
    git_in(&wt, &["commit", "-q", "--allow-empty", "-m", "two"]);
    let out = df_in(&wt, &["done", "--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("uncommitted"), "{}", stderr(&out));
    assert_eq!(repo.rev("refs/droidforge/ready/droid-1"), before);
    // Clean worktree: no warning.
    git_in(&wt, &["add", "-A"]);
    git_in(&wt, &["commit", "-q", "-m", "three"]);
    let out = df_in(&wt, &["done", "--strict"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("uncommitted"), "{}", stderr(&out));
}

#[test]
fn merged_droid_is_not_reported_unready() {
    let repo = two_droid_repo();
    droid_commit(&repo, "core-droid", "core", &[("src/core/a.rs", "a\n")]);
    done(&repo, "core-droid");
    repo.df_ok(&["merge", "core-droid"]);
    let unready_advice = |text: &str| {
        assert!(
            !text.contains("done core-droid") && !text.contains("spawn core-droid"),
            "{text}"
        );
    };
    let check_merged = |report: &serde_json::Value| {
        assert_eq!(status_of(report, "core-droid"), "up-to-date", "{report:#}");
        assert_eq!(
            droid_entry(report, "core-droid")["reason"],
            "merged (nothing new)"
        );
    };
    let (_, report) = merge_json(&repo, &["--all", "--dry-run"]);
    check_merged(&report);
    let out = repo.df(&["merge", "--all", "--dry-run"]);
    unready_advice(&format!("{}{}", stdout(&out), stderr(&out)));
    assert!(
        stdout(&out).contains("merged (nothing new)"),
        "{}",
        stdout(&out)
    );
    let out = repo.df(&["merge"]);
    unready_advice(&format!("{}{}", stdout(&out), stderr(&out)));

    let summary = repo.root.join("summary.md");
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    let out = cmd
        .current_dir(&repo.root)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["check", "--phase", "1", "--format", "github"])
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    unready_advice(&text);
    let summary = std::fs::read_to_string(&summary).unwrap();
    unready_advice(&summary);
    assert!(!summary.contains("core-droid | 🔵"), "{summary}");
    let out = repo.df(&["check", "--phase", "1"]);
    unready_advice(&format!("{}{}", stdout(&out), stderr(&out)));

    // Without its worktree and branch, it is still merged.
    repo.df_ok(&["remove", "core-droid", "--delete-branch"]);
    let (_, report) = merge_json(&repo, &["--all", "--dry-run"]);
    check_merged(&report);
    let out = repo.df(&["merge", "--all", "--dry-run"]);
    unready_advice(&format!("{}{}", stdout(&out), stderr(&out)));
}

#[test]
fn dry_run_says_would_merge() {
    let repo = two_droid_repo();
    let t0 = repo.rev("main");
    droid_commit(&repo, "core-droid", "core", &[("src/core/a.rs", "a\n")]);
    done(&repo, "core-droid");
    let out = repo.df(&["merge", "core-droid", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("would merge"), "{text}");
    assert!(
        !text.contains("✓ merged") && !text.contains("🟢 merged"),
        "{text}"
    );
    // The progress lines on stderr speak in the conditional too.
    let err = stderr(&out);
    assert!(err.contains("core-droid: would merge"), "{err}");
    assert!(!err.contains("core-droid: merged"), "{err}");
    let (_, dry) = merge_json(&repo, &["core-droid", "--dry-run"]);
    // The real merge, later (another committer date): every hash the dry run printed must be
    // the one the merge produces, or the dry run printed none.
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    let real = cmd
        .current_dir(&repo.root)
        .env("GIT_COMMITTER_DATE", "2026-02-02T00:00:00Z")
        .args(["merge", "core-droid", "--json"])
        .output()
        .unwrap();
    assert!(real.status.success(), "{}", stderr(&real));
    let real: serde_json::Value = serde_json::from_slice(&real.stdout).unwrap();
    let printed: Vec<String> = text
        .split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| w.len() >= 7)
        .map(str::to_owned)
        .collect();
    let real_text = real.to_string();
    for h in &printed {
        assert!(
            real_text.contains(h.as_str()) || t0.starts_with(h.as_str()),
            "dry run printed {h}, which the merge did not produce: {text}"
        );
    }
    let core = droid_entry(&dry, "core-droid");
    assert!(core["tip"].is_null(), "{dry:#}");
    for c in core["commits"].as_array().unwrap() {
        assert!(c["rewritten"].is_null(), "{dry:#}");
    }
}

#[test]
fn failed_merge_attempt_makes_no_commit() {
    let repo = two_droid_repo();
    let t0 = repo.rev("main");
    droid_commit(
        &repo,
        "core-droid",
        "steal",
        &[("src/infra/lib.rs", "mine\n")],
    );
    done(&repo, "core-droid");
    let out = repo.df(&["merge", "core-droid"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(repo.rev("main"), t0, "a rejected merge must not commit");
    assert!(
        !format!("{}{}", stdout(&out), stderr(&out)).contains("Recorded"),
        "{}",
        stderr(&out)
    );
    let events = std::fs::read_to_string(repo.path(".git/droidforge/events.jsonl")).unwrap();
    assert!(events.contains("\"violation\""), "{events}");
    let state = std::fs::read_to_string(repo.path(".git/droidforge/state.json")).unwrap();
    assert!(state.contains("\"violation\""), "{state}");
    // `progress --write` renders the failed attempt into the merge log.
    repo.df_ok(&["progress", "--write"]);
    let progress = repo.git(&["show", "main:PROGRESS.md"]);
    assert!(
        progress.contains("| core-droid | 0 |")
            || progress.contains("| core-droid | 1 | ⛔ violation"),
        "{progress}"
    );
    assert!(progress.contains("⛔ violation"), "{progress}");
    // Written once: a second write changes nothing.
    let tip = repo.rev("main");
    repo.df_ok(&["progress", "--write"]);
    assert_eq!(repo.rev("main"), tip);
    repo.assert_fsck();
}

#[test]
fn undo_sees_through_progress_write_commit() {
    let repo = two_droid_repo();
    let t0 = repo.rev("main");
    droid_commit(&repo, "core-droid", "core", &[("src/core/a.rs", "a\n")]);
    done(&repo, "core-droid");
    repo.df_ok(&["merge", "core-droid"]);
    // Something for progress --write to change: a TODO tick on the droid's branch.
    droid_commit(
        &repo,
        "core-droid",
        "tick",
        &[("TODO_CORE.md", "- [x] one\n- [x] two\n")],
    );
    repo.df_ok(&["progress", "--write"]);
    assert_ne!(repo.git(&["log", "-1", "--format=%s", "main"]).trim(), "");
    let out = repo.df(&["undo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(repo.rev("main"), t0);
    assert!(repo.git(&["status", "--porcelain"]).trim().is_empty());
    repo.assert_fsck();
}

#[test]
fn undo_hint_is_a_command_that_works() {
    let repo = two_droid_repo();
    droid_commit(&repo, "core-droid", "core", &[("src/core/a.rs", "a\n")]);
    done(&repo, "core-droid");
    let (_, report) = merge_json(&repo, &["core-droid"]);
    let before_merge = report["old_tip"].as_str().unwrap().to_owned();
    // A human commit on top: undo refuses, and its hint must work on the checked-out branch.
    repo.commit("human", &[("notes.txt", "n\n")]);
    let out = repo.df(&["undo"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let hint = err
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|cmd| cmd.starts_with("git ") && (cmd.contains("reset") || cmd.contains("branch -f")))
        .unwrap_or_else(|| panic!("no git command in the hint: {err}"))
        .to_owned();
    let words: Vec<&str> = hint.split_whitespace().collect();
    assert_eq!(words[0], "git");
    git_in(&repo.root, &words[1..]);
    assert_eq!(repo.rev("main"), before_merge);
    assert!(repo.git(&["status", "--porcelain"]).trim().is_empty());
}

/// A merge that could not reset the droid's branch (its worktree had uncommitted edits) leaves
/// the original commits on the branch; a repeated `done` marks them ready again. They are
/// recorded as landed (rewritten on `main`), so the droid is merged and its dependents land.
#[test]
fn droid_marked_ready_again_after_landing_counts_as_merged_for_dependents() {
    let repo = chain_repo();
    let original = droid_commit(&repo, "droid-1", "one", &[("droid-1/a.txt", "a\n")]);
    done(&repo, "droid-1");
    // main moves, so droid-1 lands rebased (its original commit is not on main).
    repo.commit("main moves", &[("INTERFACES.md", "# Interfaces\n\nv2\n")]);
    let wt = repo.path(".droidforge/worktrees/droid-1");
    // An uncommitted edit to a file the move to the rebased commit changes (main changed
    // INTERFACES.md) keeps the branch where it is.
    std::fs::write(wt.join("INTERFACES.md"), "local edit\n").unwrap();
    let (out, report) = merge_json(&repo, &["droid-1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status_of(&report, "droid-1"), "merged", "{report:#}");
    assert_eq!(
        droid_git(&repo, "droid-1", &["rev-parse", "HEAD"]).trim(),
        original,
        "the dirty worktree's branch stays where it was"
    );
    assert!(
        !repo.git(&["rev-list", "main"]).contains(&original),
        "the original commit must not be on main (it was rebased)"
    );
    // The droid says it is finished again: its ready mark is the original, already landed.
    done(&repo, "droid-1");
    assert_eq!(
        repo.git(&["rev-parse", "refs/droidforge/ready/droid-1"])
            .trim(),
        original
    );
    droid_commit(&repo, "droid-2", "two", &[("droid-2/b.txt", "b\n")]);
    done(&repo, "droid-2");
    let (out, report) = merge_json(&repo, &["droid-2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status_of(&report, "droid-2"), "merged", "{report:#}");
    assert_eq!(repo.git(&["show", "main:droid-2/b.txt"]), "b\n");
    assert_eq!(repo.git(&["show", "main:droid-1/a.txt"]), "a\n");
    assert_no_commit_landed_twice(&repo.root, "main");
    repo.assert_fsck();
}
