//! `done`, `merge`, `undo`, `progress`: landing, ordering, ownership gating, dry runs, CAS.

use crate::common::*;
use crate::merge_support::*;

#[test]
fn done_marks_the_branch_head_or_a_revision() {
    let repo = two_droid_repo();
    let first = droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    let second = droid_commit(&repo, "core-droid", "core 2", &[("src/core/b.rs", "b\n")]);
    let out = repo.df_ok(&["done", "core-droid", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["commit"], second.as_str());
    assert_eq!(json["ahead"], 2);
    assert_eq!(repo.rev("refs/droidforge/ready/core-droid"), second);
    // Inferred from the worktree, with an explicit revision.
    let wt = repo.path(".droidforge/worktrees/core-droid");
    let out = df_in(&wt, &["done", "--rev", "HEAD~1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(repo.rev("refs/droidforge/ready/core-droid"), first);
    let events = std::fs::read_to_string(repo.path(".git/droidforge/events.jsonl")).unwrap();
    assert!(events.contains("\"ready\""), "{events}");
}

#[test]
fn done_rev_refuses_unrelated_commit() {
    let repo = two_droid_repo();
    let before = all_refs(&repo);
    // An orphan commit: no history in common with `main`.
    let tree = repo.rev("main^{tree}");
    let orphan = repo.git(&["commit-tree", &tree, "-m", "orphan"]);
    let out = repo.df(&["done", "core-droid", "--rev", orphan.trim()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("shares no history with `main`"), "{err}");
    assert_eq!(all_refs(&repo), before, "no ready mark may be written");

    // The same for a droid branch that was started as an orphan.
    repo.git(&[
        "update-ref",
        "refs/heads/droidforge/core-droid",
        orphan.trim(),
    ]);
    let out = repo.df(&["done", "core-droid"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("branch `droidforge/core-droid`"),
        "{}",
        stderr(&out)
    );
    assert!(
        repo.git(&["for-each-ref", "refs/droidforge/ready"])
            .is_empty()
    );
}

#[test]
fn merge_lands_ready_work_records_progress_and_resets_the_droid() {
    let repo = two_droid_repo();
    let t0 = repo.rev("main");
    droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    droid_commit(
        &repo,
        "core-droid",
        "core 2",
        &[("TODO_CORE.md", "- [x] one\n- [ ] two\n")],
    );
    done(&repo, "core-droid");
    let (out, report) = merge_json(&repo, &["--phase", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status_of(&report, "core-droid"), "merged");
    assert_eq!(status_of(&report, "infra-droid"), "unready");
    let new_tip = report["new_tip"].as_str().unwrap();
    assert_eq!(repo.rev("main"), new_tip);
    let id = report["merge_id"].as_str().unwrap();
    assert_eq!(repo.rev(&format!("refs/droidforge/backup/{id}")), t0);
    // The record commit sits on top of the droid's work and holds PROGRESS.md.
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", "main"]).trim(),
        format!("droidforge: record merge {id}")
    );
    let progress = repo.git(&["show", "main:PROGRESS.md"]);
    assert!(
        progress.contains("| core-droid | 🟢 merged | 50% |"),
        "{progress}"
    );
    assert!(
        progress.contains("| infra-droid | 🔵 pending |"),
        "{progress}"
    );
    assert!(progress.contains(&format!("| {id} |")), "{progress}");
    // The clean main checkout was updated; the ready mark is gone; the droid branch holds
    // the merged commits.
    assert_eq!(repo.read("src/core/a.rs"), "a\n");
    assert!(repo.git(&["status", "--porcelain"]).trim().is_empty());
    assert!(
        repo.git(&["for-each-ref", "refs/droidforge/ready/"])
            .trim()
            .is_empty()
    );
    let droid_tip = repo.rev("droidforge/core-droid");
    assert_eq!(repo.rev("main~1"), droid_tip);
    let events = std::fs::read_to_string(repo.path(".git/droidforge/events.jsonl")).unwrap();
    assert!(events.contains("\"merged\"") && events.contains("\"landed\""));
    let state = std::fs::read_to_string(repo.path(".git/droidforge/state.json")).unwrap();
    assert!(state.contains(&droid_tip), "{state}");
    repo.assert_fsck();

    // A second merge appends to the log.
    droid_commit(
        &repo,
        "infra-droid",
        "infra 1",
        &[("src/infra/x.rs", "x\n")],
    );
    done(&repo, "infra-droid");
    let (out, report2) = merge_json(&repo, &["infra-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id2 = report2["merge_id"].as_str().unwrap();
    let progress = repo.git(&["show", "main:PROGRESS.md"]);
    assert!(progress.contains(&format!("| {id} |")) && progress.contains(&format!("| {id2} |")));
    assert!(
        progress.contains("| infra-droid | 🟢 merged |"),
        "{progress}"
    );
}

#[test]
fn rebased_commits_match_git_replay() {
    let repo = two_droid_repo();
    let base = repo.rev("main");
    droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    droid_commit(
        &repo,
        "core-droid",
        "core 2\n\nWith a body.",
        &[
            ("src/core/lib.rs", "pub fn core() { 1 }\n"),
            ("INTERFACES.md", "# Interfaces\nmore\n"),
        ],
    );
    droid_git(&repo, "core-droid", &["rm", "-q", "src/core/a.rs"]);
    droid_git(&repo, "core-droid", &["commit", "-q", "-m", "core 3"]);
    done(&repo, "core-droid");
    // main moves on meanwhile (a shared file, far from the droid's edit).
    repo.commit(
        "main moves",
        &[("INTERFACES.md", "head\n# Interfaces\n"), ("README", "r\n")],
    );
    let t0 = repo.rev("main");
    let replay = repo.git(&[
        "replay",
        "--onto",
        &t0,
        &format!("{base}..droidforge/core-droid"),
    ]);
    let oracle_tip = replay
        .split_whitespace()
        .nth(2)
        .expect("git replay prints `update <ref> <new> <old>`")
        .to_owned();

    let (out, report) = merge_json(&repo, &["core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let commits = droid_entry(&report, "core-droid")["commits"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(commits.len(), 3);
    let oracle: Vec<String> = repo
        .git(&["rev-list", "--reverse", &format!("{t0}..{oracle_tip}")])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(oracle.len(), 3);
    for (ours, theirs) in commits.iter().zip(&oracle) {
        let ours = ours["rewritten"].as_str().unwrap();
        for fmt in ["%T", "%an <%ae> %ad", "%B"] {
            assert_eq!(
                repo.git(&["log", "-1", &format!("--format={fmt}"), ours]),
                repo.git(&["log", "-1", &format!("--format={fmt}"), theirs]),
                "{fmt} differs for {ours} vs git replay {theirs}"
            );
        }
        assert_eq!(
            repo.git(&["log", "-1", "--format=%cn <%ce>", ours]).trim(),
            "Test Committer <committer@example.com>"
        );
    }
    repo.assert_fsck();
}

#[test]
fn dry_run_changes_nothing() {
    let repo = two_ready_droids();
    repo.commit("main moves", &[("README", "r\n")]);
    let refs = all_refs(&repo);
    let objects = count_objects(&repo);
    let state_dir = repo.path(".git/droidforge");
    let listing = |p: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(p)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_file())
                    .map(|e| {
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            std::fs::read(e.path()).unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let state_before = listing(&state_dir);
    let (out, report) = merge_json(&repo, &["--phase", "1", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report["dry_run"], true);
    assert_eq!(status_of(&report, "core-droid"), "merged");
    assert_eq!(status_of(&report, "infra-droid"), "merged");
    // Nothing moved, and no commit id the real merge would not produce is shown.
    assert_eq!(report["new_tip"], report["old_tip"]);
    assert!(droid_entry(&report, "core-droid")["tip"].is_null());
    assert_eq!(all_refs(&repo), refs);
    assert_eq!(count_objects(&repo), objects);
    assert_eq!(listing(&state_dir), state_before);
}

#[test]
fn violation_wins_over_conflict_and_nothing_of_a_rejected_droid_lands() {
    let toml = forge_toml(&[
        ("alpha", &["alpha/**"], &[]),
        ("beta", &["beta/**"], &[]),
        ("gamma", &["gamma/**"], &[]),
    ]);
    let repo = repo_with(&toml, &[("alpha/a", "1\n"), ("beta/b", "1\n")]);
    // alpha: a clean change; beta: edits INTERFACES.md (shared) in a way that conflicts with
    // main; gamma: writes into alpha's files.
    droid_commit(&repo, "alpha", "alpha", &[("alpha/a", "2\n")]);
    droid_commit(&repo, "beta", "beta", &[("INTERFACES.md", "beta's\n")]);
    droid_commit(&repo, "gamma", "gamma ok", &[("gamma/g", "g\n")]);
    droid_commit(
        &repo,
        "gamma",
        "gamma bad",
        &[("alpha/a", "gamma was here\n")],
    );
    for d in ["alpha", "beta", "gamma"] {
        done(&repo, d);
    }
    repo.commit("main edits interfaces", &[("INTERFACES.md", "main's\n")]);
    let (out, report) = merge_json(&repo, &["--phase", "1"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(status_of(&report, "alpha"), "merged");
    assert_eq!(status_of(&report, "beta"), "conflict");
    let conflicts = droid_entry(&report, "beta")["conflicts"]
        .as_array()
        .unwrap();
    assert_eq!(conflicts[0]["path"], "INTERFACES.md");
    assert_eq!(conflicts[0]["kind"], "content");
    assert_eq!(status_of(&report, "gamma"), "violation");
    let v = &droid_entry(&report, "gamma")["violations"][0];
    assert_eq!(v["path"], "alpha/a");
    assert_eq!(v["kind"], "modified");
    assert_eq!(v["owner"], "owned by `alpha`");
    // Nothing of gamma or beta landed (not even gamma's good commit).
    let files = repo.git(&["ls-tree", "-r", "--name-only", "main"]);
    assert!(!files.contains("gamma/g"), "{files}");
    assert_eq!(repo.git(&["show", "main:INTERFACES.md"]), "main's\n");
    assert_eq!(repo.git(&["show", "main:alpha/a"]), "2\n");
    let progress = repo.git(&["show", "main:PROGRESS.md"]);
    assert!(progress.contains("⛔ violation") && progress.contains("🔴 conflict"));
    assert!(
        progress.contains("alpha/a (modified): owned by `alpha`"),
        "{progress}"
    );
    // Rejected droids keep their ready marks.
    repo.rev("refs/droidforge/ready/gamma");
    repo.rev("refs/droidforge/ready/beta");

    // Text output names path and owner; exit code 3 for a conflict alone.
    let out = repo.df(&["merge", "beta"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("`INTERFACES.md` conflict (content)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_failing_middle_droid_skips_its_dependents_only() {
    let toml = forge_toml(&[
        ("a1", &["a1/**"], &[]),
        ("b2", &["b2/**"], &["a1"]),
        ("c3", &["c3/**"], &["b2"]),
        ("d4", &["d4/**"], &[]),
        ("e5", &["e5/**"], &["d4"]),
    ]);
    let repo = repo_with(&toml, &[]);
    droid_commit(&repo, "a1", "a1", &[("a1/x", "x\n")]);
    droid_commit(&repo, "b2", "b2 bad", &[("a1/y", "y\n")]);
    droid_commit(&repo, "c3", "c3", &[("c3/x", "x\n")]);
    droid_commit(&repo, "d4", "d4", &[("d4/x", "x\n")]);
    droid_commit(&repo, "e5", "e5", &[("e5/x", "x\n")]);
    for d in ["a1", "b2", "c3", "d4", "e5"] {
        done(&repo, d);
    }
    let out = repo.df(&["merge", "--phase", "1"]);
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(err.contains("Order a1 → b2 → c3 → d4 → e5"), "{err}");
    let (_, report) = merge_json(&repo, &["--phase", "1", "--dry-run"]);
    // The real run merged a1, d4, e5 already; check it from the log of main.
    let log = repo.git(&["log", "--format=%s", "main"]);
    for s in ["a1", "d4", "e5"] {
        assert!(log.lines().any(|l| l == s), "{s} missing:\n{log}");
    }
    assert!(!log.lines().any(|l| l == "c3" || l == "b2 bad"), "{log}");
    assert_eq!(status_of(&report, "b2"), "violation");
    assert_eq!(status_of(&report, "c3"), "skipped");
    let reason = droid_entry(&report, "c3")["reason"].as_str().unwrap();
    assert!(reason.contains("`b2`"), "{reason}");
    let order: Vec<&str> = report["droids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["droid"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["a1", "b2", "c3", "d4", "e5"]);
    let progress = repo.git(&["show", "main:PROGRESS.md"]);
    assert!(progress.contains("| c3 | ⏭ skipped |"), "{progress}");
}

#[test]
fn ownership_covers_every_change_kind() {
    let toml = forge_toml(&[("own", &["mine/**"], &[]), ("other", &["theirs/**"], &[])]);
    let repo = repo_with(
        &toml,
        &[
            ("mine/move-me", "content that moves\nline 2\nline 3\n"),
            ("loose.txt", "unowned\n"),
            ("theirs/script.sh", "echo hi\n"),
        ],
    );
    let wt = droid_worktree(&repo, "own", "main");
    // rename owned -> unowned
    git_in(&wt, &["mv", "mine/move-me", "moved-out"]);
    git_in(&wt, &["commit", "-q", "-m", "rename out"]);
    // delete an unowned file
    git_in(&wt, &["rm", "-q", "loose.txt"]);
    git_in(&wt, &["commit", "-q", "-m", "delete unowned"]);
    // a symlink outside its paths
    std::os::unix::fs::symlink("mine", wt.join("link")).unwrap();
    git_in(&wt, &["add", "link"]);
    git_in(&wt, &["commit", "-q", "-m", "symlink"]);
    // a mode change of another droid's file
    git_in(&wt, &["update-index", "--chmod=+x", "theirs/script.sh"]);
    git_in(&wt, &["commit", "-q", "-m", "chmod"]);
    // grant itself more paths in the manifest
    let manifest = std::fs::read_to_string(wt.join(MANIFEST)).unwrap();
    let granted = manifest.replace("owns = [\"mine/**\"]", "owns = [\"**\"]");
    commit_in(&wt, "grant", &[(MANIFEST, &granted)]);
    done(&repo, "own");
    let (out, report) = merge_json(&repo, &["own"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let entry = droid_entry(&report, "own");
    assert_eq!(entry["status"], "violation");
    let found: Vec<(String, String, String)> = entry["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["path"].as_str().unwrap().to_owned(),
                v["kind"].as_str().unwrap().to_owned(),
                v["owner"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = [
        ("moved-out", "renamed-to", "unowned"),
        ("loose.txt", "deleted", "unowned"),
        ("link", "added", "unowned"),
        ("theirs/script.sh", "mode-changed", "owned by `other`"),
        (MANIFEST, "modified", "protected"),
    ];
    for (p, k, o) in expect {
        assert!(
            found.iter().any(|f| f.0 == p && f.1 == k && f.2 == o),
            "missing ({p}, {k}, {o}) in {found:?}"
        );
    }
    // The rename source is owned: not a violation.
    assert!(!found.iter().any(|f| f.0 == "mine/move-me"), "{found:?}");
    // The manifest on main is untouched: the grant did not take effect.
    assert!(
        repo.git(&["show", &format!("main:{MANIFEST}")])
            .contains("owns = [\"mine/**\"]")
    );
}

#[test]
fn integration_moved_during_merge_fails_cleanly() {
    let repo = two_droid_repo();
    droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    done(&repo, "core-droid");
    let (child, go) = merge_paused_before_land(&repo, &["merge", "core-droid"]);
    let journal = repo.path(".git/droidforge/merge-journal.json");
    let someone = repo.commit("someone else lands", &[("README", "x\n")]);
    std::fs::write(&go, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("moved during the merge"), "{err}");
    assert_eq!(repo.rev("main"), someone);
    assert!(!journal.exists());
    assert!(
        repo.git(&["for-each-ref", "refs/droidforge/backup/"])
            .trim()
            .is_empty()
    );
    repo.rev("refs/droidforge/ready/core-droid");
    repo.assert_fsck();
    // Merging again works on the new tip.
    let (out, report) = merge_json(&repo, &["core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report["old_tip"], someone.as_str());
}

#[test]
fn a_failure_after_the_ref_update_does_not_say_the_branch_moved() {
    // Regression: when the follow-up work after the ref update failed (a full disk, a broken
    // state file), the error read like a failed merge although `main` had already moved.
    let repo = two_droid_repo();
    let t0 = repo.rev("main");
    droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    done(&repo, "core-droid");
    let (child, go) = merge_paused_before_land(&repo, &["merge", "core-droid"]);
    let journal = repo.path(".git/droidforge/merge-journal.json");
    // The state file becomes unwritable between the ref update and the follow-up work.
    let state = repo.path(".git/droidforge/state.json");
    let saved = std::fs::read(&state).unwrap_or_default();
    let _ = std::fs::remove_file(&state);
    std::fs::create_dir(&state).unwrap();
    std::fs::write(&go, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("moved `main` from"), "{err}");
    assert!(err.contains("droidforge merge --continue"), "{err}");
    let moved = repo.rev("main");
    assert_ne!(moved, t0, "the branch did move");
    assert!(journal.exists(), "the journal stays for --continue");
    // Once the cause is gone, --continue finishes the merge.
    std::fs::remove_dir(&state).unwrap();
    if !saved.is_empty() {
        std::fs::write(&state, &saved).unwrap();
    }
    let out = repo.df(&["merge", "--continue"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!journal.exists());
    assert_eq!(repo.rev("main"), moved);
    repo.assert_fsck();
}

#[test]
fn undo_restores_only_when_nothing_landed_on_top() {
    let repo = two_droid_repo();
    let t0 = repo.rev("main");
    let ready = droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    repo.commit("main moves", &[("README", "r\n")]);
    let t1 = repo.rev("main");
    done(&repo, "core-droid");
    let (_, report) = merge_json(&repo, &["core-droid"]);
    let id = report["merge_id"].as_str().unwrap().to_owned();
    assert_ne!(repo.rev("main"), t1);
    let out = repo.df_ok(&["undo", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["undone"], true);
    assert_eq!(repo.rev("main"), t1);
    assert!(
        !repo.path("src/core/a.rs").exists(),
        "checkout not restored"
    );
    // The droid is ready again at its original commit.
    assert_eq!(repo.rev("refs/droidforge/ready/core-droid"), ready);
    assert_eq!(repo.rev("droidforge/core-droid"), ready);
    let out = repo.df(&["undo", &id]);
    assert_ne!(out.status.code(), Some(0));

    // Merge again, land something on top: undo refuses and lists it.
    let (_, report) = merge_json(&repo, &["core-droid"]);
    let id2 = report["merge_id"].as_str().unwrap().to_owned();
    repo.commit("later work", &[("README", "later\n")]);
    let tip = repo.rev("main");
    let out = repo.df(&["undo", &id2]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("later work"), "{err}");
    assert_eq!(repo.rev("main"), tip);
    let _ = t0;
}

#[test]
fn merge_strategy_writes_one_merge_commit_per_droid() {
    let repo = two_droid_repo();
    droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    droid_commit(&repo, "core-droid", "core 2", &[("src/core/b.rs", "b\n")]);
    done(&repo, "core-droid");
    repo.commit("main moves", &[("README", "r\n")]);
    let ready = repo.rev("droidforge/core-droid");
    let (out, report) = merge_json(&repo, &["core-droid", "--strategy", "merge"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let tip = droid_entry(&report, "core-droid")["tip"]
        .as_str()
        .unwrap()
        .to_owned();
    let parents = repo.git(&["log", "-1", "--format=%P", &tip]);
    let parents: Vec<&str> = parents.split_whitespace().collect();
    assert_eq!(parents.len(), 2);
    assert_eq!(parents[1], ready);
    assert_eq!(repo.rev("main~1"), tip);
    repo.assert_fsck();
}

#[test]
fn verify_runs_in_a_scratch_worktree_and_rejects_on_failure() {
    let repo = two_ready_droids();
    // Passes for core (its file exists in the candidate), fails for infra (which also
    // depends on core via `after`, so it sees a.rs — make the check about b.rs instead).
    let check = "test -f src/core/a.rs && ! test -f src/infra/b.rs";
    // First as a dry run: the candidates exist only in memory, yet are verified.
    let objects = count_objects(&repo);
    let (out, report) = merge_json(&repo, &["--phase", "1", "--dry-run", "--verify", check]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(status_of(&report, "core-droid"), "merged");
    assert_eq!(status_of(&report, "infra-droid"), "verify-failed");
    assert_eq!(count_objects(&repo), objects);
    let (out, report) = merge_json(
        &repo,
        &[
            "--phase",
            "1",
            "--verify",
            "test -f src/core/a.rs && ! test -f src/infra/b.rs",
        ],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(status_of(&report, "core-droid"), "merged");
    assert_eq!(status_of(&report, "infra-droid"), "verify-failed");
    assert!(
        repo.git(&["ls-tree", "-r", "--name-only", "main"])
            .contains("src/core/a.rs")
    );
    assert!(
        !repo
            .git(&["ls-tree", "-r", "--name-only", "main"])
            .contains("src/infra/b.rs")
    );
    // No scratch worktree is left behind.
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), 3);
    repo.assert_fsck();
}

#[test]
fn phase_gate_refuses_until_earlier_phases_merged() {
    let toml = r#"[forge]
integration = "main"

[[phase]]
id = 1
[[phase]]
id = 2
after = [1]

[[droid]]
name = "first"
phases = [1]
owns = ["first/**"]

[[droid]]
name = "second"
phases = [2]
owns = ["second/**"]
"#;
    let repo = repo_with(toml, &[]);
    droid_commit(&repo, "first", "first", &[("first/x", "x\n")]);
    droid_commit(&repo, "second", "second", &[("second/x", "x\n")]);
    done(&repo, "first");
    done(&repo, "second");
    let out = repo.df(&["merge", "--phase", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`first` (phase 1)"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--force"));
    repo.df_ok(&["merge", "--phase", "1"]);
    let (out, report) = merge_json(&repo, &["--phase", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status_of(&report, "second"), "merged");
}

#[test]
fn progress_prints_and_writes_with_cas() {
    let repo = two_droid_repo();
    droid_commit(
        &repo,
        "core-droid",
        "core 1",
        &[("TODO_CORE.md", "- [x] one\n- [x] two\n")],
    );
    let out = repo.df_ok(&["progress"]);
    assert!(
        out.contains("| core-droid | 🟡 in progress | 100% |"),
        "{out}"
    );
    assert!(out.contains("## Merge log"));
    let before = repo.rev("main");
    repo.df_ok(&["progress", "--write"]);
    assert_eq!(repo.rev("main~1"), before);
    assert_eq!(repo.git(&["show", "main:PROGRESS.md"]), out);
    assert_eq!(repo.read("PROGRESS.md"), out);
    // Unchanged: no new commit.
    let tip = repo.rev("main");
    repo.df_ok(&["progress", "--write"]);
    assert_eq!(repo.rev("main"), tip);
}

#[test]
fn fetch_droid_branches_and_push_with_a_lease() {
    // A "server" with the forge; one clone does the droid's work, another merges.
    let server = two_droid_repo();
    let remote = server.path("../remote.git");
    git_in(
        &server.root,
        &["clone", "-q", "--bare", ".", remote.to_str().unwrap()],
    );
    let tmp = tempfile::tempdir().unwrap();
    let worker = tmp.path().join("worker");
    let merger = tmp.path().join("merger");
    for dir in [&worker, &merger] {
        git_in(
            tmp.path(),
            &[
                "clone",
                "-q",
                remote.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
    }
    git_in(&worker, &["checkout", "-q", "-b", "droidforge/core-droid"]);
    commit_in(&worker, "core remote", &[("src/core/remote.rs", "r\n")]);
    git_in(&worker, &["push", "-q", "origin", "droidforge/core-droid"]);

    let out = df_in(
        &merger,
        &[
            "merge",
            "core-droid",
            "--fetch",
            "origin",
            "--include-unready",
            "--push",
            "origin",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let local = git_in(&merger, &["rev-parse", "main"]);
    let pushed = git_in(&merger, &["ls-remote", "origin", "refs/heads/main"]);
    assert!(pushed.starts_with(local.trim()), "{pushed} vs {local}");
    assert!(
        git_in(&merger, &["log", "--format=%s", "origin/main"]).contains("core remote") || {
            git_in(&merger, &["fetch", "-q", "origin"]);
            git_in(&merger, &["log", "--format=%s", "origin/main"]).contains("core remote")
        }
    );

    // The lease protects a remote that moved meanwhile: the push fails, loudly.
    commit_in(&worker, "more", &[("src/core/more.rs", "m\n")]);
    git_in(&worker, &["fetch", "-q", "origin"]);
    git_in(
        &worker,
        &["push", "-q", "origin", "HEAD:refs/heads/main", "--force"],
    );
    commit_in(&merger, "local only", &[("README", "x\n")]);
    git_in(&merger, &["checkout", "-q", "droidforge/core-droid"]);
    commit_in(&merger, "core again", &[("src/core/again.rs", "a\n")]);
    git_in(&merger, &["checkout", "-q", "main"]);
    repo_done(&merger);
    let out = df_in(&merger, &["merge", "core-droid", "--push", "origin"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("landed locally"), "{}", stderr(&out));
}

fn repo_done(dir: &std::path::Path) {
    let out = df_in(dir, &["done", "core-droid"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn merge_works_from_inside_a_droid_worktree() {
    let repo = two_droid_repo();
    droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    let out = df_in(&wt, &["done"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = df_in(&wt, &["merge", "core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(repo.git(&["log", "--format=%s", "main"]).contains("core 1"));
    // Its own (clean) worktree was fast-forwarded: the branch is the merged commit.
    assert_eq!(repo.rev("droidforge/core-droid"), repo.rev("main~1"));
    assert!(git_in(&wt, &["status", "--porcelain"]).trim().is_empty());
}

#[test]
fn a_dirty_main_checkout_is_left_half_updated() {
    let repo = two_droid_repo();
    droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    done(&repo, "core-droid");
    repo.commit("main moves", &[("README", "r\n")]);
    let t0 = repo.rev("main");
    // Unrelated local edits: in the main checkout and in the droid's worktree.
    repo.write(&[("INTERFACES.md", "local edit\n")]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    write_files(&wt, &[("src/core/lib.rs", "droid still working\n")]);
    let (out, report) = merge_json(&repo, &["core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let notes = report["notes"].to_string();
    assert!(notes.contains("updated the checkout of `main`"), "{notes}");
    // git sees only the user's edit: the merge is in HEAD, the index and the files.
    assert_eq!(repo.git(&["status", "--porcelain"]), " M INTERFACES.md\n");
    assert_eq!(
        repo.git(&["diff", "HEAD", "--name-only"]),
        "INTERFACES.md\n"
    );
    assert!(repo.git(&["diff", "HEAD"]).contains("+local edit"));
    assert_eq!(repo.read("src/core/a.rs"), "a\n");
    // The droid's worktree followed its branch to the merged commit and kept its edit.
    assert_eq!(repo.rev("droidforge/core-droid"), repo.rev("main~1"));
    assert_eq!(
        git_in(&wt, &["status", "--porcelain"]),
        " M src/core/lib.rs\n"
    );
    // `undo` moves the checkout back the same way.
    repo.df_ok(&["undo"]);
    assert_eq!(repo.rev("main"), t0);
    assert_eq!(repo.git(&["status", "--porcelain"]), " M INTERFACES.md\n");
    assert!(!repo.path("src/core/a.rs").exists());
    assert_eq!(repo.read("INTERFACES.md"), "local edit\n");
    repo.assert_fsck();
}

#[test]
fn a_local_edit_to_a_merged_file_leaves_the_checkout_and_names_the_file() {
    let repo = two_droid_repo();
    let base = "1\n2\n3\n4\n5\n6\n";
    repo.commit("longer lib", &[("src/core/lib.rs", base)]);
    droid_commit(
        &repo,
        "core-droid",
        "core 1",
        &[("src/core/lib.rs", "1 droid\n2\n3\n4\n5\n6\n")],
    );
    done(&repo, "core-droid");
    let t0 = repo.rev("main");
    repo.write(&[
        ("src/core/lib.rs", "1\n2\n3\n4\n5\n6 mine\n"),
        ("INTERFACES.md", "local edit\n"),
    ]);
    let (out, report) = merge_json(&repo, &["core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let new = report["new_tip"].as_str().unwrap().to_owned();
    // The branch moved; the checkout was not touched: index and files are still at T0 plus
    // the user's edits.
    assert_eq!(repo.rev("main"), new);
    assert_eq!(
        repo.git(&["diff", &t0, "--name-only"]),
        "INTERFACES.md\nsrc/core/lib.rs\n"
    );
    assert_eq!(repo.git(&["diff", "--cached", &t0, "--name-only"]), "");
    let notes = report["notes"].as_array().unwrap();
    let note = notes
        .iter()
        .filter_map(|n| n.as_str())
        .find(|n| n.contains("was left as it was"))
        .unwrap_or_else(|| panic!("{notes:?}"));
    assert!(note.contains("`src/core/lib.rs`"), "{note}");
    assert!(!note.contains("INTERFACES.md"), "{note}");
    // The command in the note finishes the job and carries both edits over.
    let cmd = note.rsplit("run `").next().unwrap().trim_end_matches('`');
    let mut sh = std::process::Command::new("sh");
    hermetic(&mut sh);
    let run = sh
        .arg("-c")
        .arg(cmd)
        .current_dir(&repo.root)
        .output()
        .unwrap();
    assert!(run.status.success(), "{cmd}: {}", stderr(&run));
    assert_eq!(repo.rev("main"), new);
    assert_eq!(repo.git(&["rev-parse", "--abbrev-ref", "HEAD"]), "main\n");
    assert_eq!(
        repo.git(&["diff", "HEAD", "--name-only"]),
        "INTERFACES.md\nsrc/core/lib.rs\n"
    );
    assert_eq!(
        repo.read("src/core/lib.rs"),
        "1 droid\n2\n3\n4\n5\n6 mine\n"
    );
    assert_eq!(repo.read("INTERFACES.md"), "local edit\n");
}

/// A droid keeps committing after `done`; its first batch lands (rebased), then it marks the
/// later commit ready. The next merge must land only the new commit: no empty duplicate of
/// the landed ones, no spurious conflict.
#[test]
fn commits_after_done_are_not_landed_twice() {
    let repo = repo_with(
        &forge_toml(&[("alpha", &["alpha/**"], &[])]),
        &[("alpha/a.txt", "1\n2\n3\n")],
    );
    droid_commit(
        &repo,
        "alpha",
        "alpha c1",
        &[("alpha/a.txt", "1 one\n2\n3\n")],
    );
    done(&repo, "alpha");
    droid_commit(
        &repo,
        "alpha",
        "alpha c2",
        &[("alpha/a.txt", "1 one two\n2\n3\n")],
    );
    // main moves, so c1 is really rebased (a new id on main).
    repo.commit("main moves", &[("README", "r\n")]);
    let (out, report) = merge_json(&repo, &["alpha"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status_of(&report, "alpha"), "merged");

    done(&repo, "alpha");
    let (out, report) = merge_json(&repo, &["alpha"]);
    assert!(out.status.success(), "{}\n{report:#}", stderr(&out));
    assert_eq!(status_of(&report, "alpha"), "merged");
    let commits = droid_entry(&report, "alpha")["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 1, "{report:#}");
    assert_eq!(commits[0]["summary"], "alpha c2");
    let subjects = repo.git(&["log", "--format=%s", "main"]);
    assert_eq!(
        subjects.lines().filter(|s| *s == "alpha c1").count(),
        1,
        "{subjects}"
    );
    assert_eq!(repo.git(&["show", "main:alpha/a.txt"]), "1 one two\n2\n3\n");
    assert_no_commit_landed_twice(&repo.root, "main");
    repo.assert_fsck();

    // Marking the same commit ready once more lands nothing.
    repo.git(&[
        "update-ref",
        "refs/droidforge/ready/alpha",
        &repo.rev("droidforge/alpha"),
    ]);
    let before = repo.rev("main");
    let (out, report) = merge_json(&repo, &["alpha"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status_of(&report, "alpha"), "up-to-date", "{report:#}");
    assert_eq!(repo.rev("main"), before);
}

/// Clearing the ready mark after landing fails (a stale `ready/<droid>.lock`, as a SIGKILL
/// inside a ref transaction leaves it). The next merge must not replay the landed commits.
#[test]
fn stale_ready_lock_does_not_replay_landed_commits() {
    let repo = repo_with(
        &forge_toml(&[("alpha", &["alpha/**"], &[])]),
        &[("alpha/a.txt", "a\n")],
    );
    droid_commit(&repo, "alpha", "alpha c1", &[("alpha/a.txt", "a2\n")]);
    done(&repo, "alpha");
    repo.commit("main moves", &[("README", "r\n")]);
    let lock = repo.path(".git/refs/droidforge/ready/alpha.lock");
    std::fs::write(&lock, "").unwrap();
    let (out, report) = merge_json(&repo, &["alpha"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status_of(&report, "alpha"), "merged");
    // The lock stays (no merge journal owns it), so the ready mark stays too.
    assert!(
        !repo
            .git(&["for-each-ref", "refs/droidforge/ready/"])
            .is_empty()
    );

    repo.commit("main moves again", &[("README", "r2\n")]);
    let before = repo.rev("main");
    let (out, report) = merge_json(&repo, &["alpha"]);
    assert!(out.status.success(), "{}\n{report:#}", stderr(&out));
    assert_eq!(status_of(&report, "alpha"), "up-to-date", "{report:#}");
    assert_eq!(repo.rev("main"), before, "the second merge moved main");
    let subjects = repo.git(&["log", "--format=%s", "main"]);
    assert_eq!(
        subjects.lines().filter(|s| *s == "alpha c1").count(),
        1,
        "{subjects}"
    );
    assert_no_commit_landed_twice(&repo.root, "main");
    repo.assert_fsck();

    // `doctor --fix` clears the stale lock of the droidforge ref (no merge is running).
    let out = repo.df(&["doctor", "--fix", "--json"]);
    assert!(stdout(&out).contains("stale-ref-lock"), "{}", stdout(&out));
    assert!(!lock.exists(), "doctor --fix left {}", lock.display());
}

#[test]
fn an_untracked_file_in_the_way_of_a_merged_file_is_never_overwritten() {
    let repo = two_droid_repo();
    droid_commit(
        &repo,
        "core-droid",
        "core 1",
        &[("src/core/a.rs", "droid\n")],
    );
    done(&repo, "core-droid");
    repo.write(&[("src/core/a.rs", "my own untracked file\n")]);
    let (out, report) = merge_json(&repo, &["core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let notes = report["notes"].to_string();
    assert!(notes.contains("`src/core/a.rs`"), "{notes}");
    assert_eq!(repo.read("src/core/a.rs"), "my own untracked file\n");
}

/// A droid commit that is already on the integration branch under another id (a human
/// cherry-picked it) is skipped as `git rebase` skips it, not replayed as an empty duplicate.
#[test]
fn commit_already_upstream_by_cherry_pick_is_not_landed_twice() {
    let repo = repo_with(
        &forge_toml(&[("alpha", &["alpha/**"], &[])]),
        &[("alpha/a.txt", "1\n2\n3\n")],
    );
    let c1 = droid_commit(
        &repo,
        "alpha",
        "alpha c1",
        &[("alpha/a.txt", "1 one\n2\n3\n")],
    );
    droid_commit(&repo, "alpha", "alpha c2", &[("alpha/b.txt", "b\n")]);
    done(&repo, "alpha");
    repo.commit("main moves", &[("README", "r\n")]);
    repo.git(&["cherry-pick", &c1]);
    let picked = repo.rev("main");
    repo.commit("main moves again", &[("README", "r2\n")]);

    let (out, report) = merge_json(&repo, &["alpha"]);
    assert!(out.status.success(), "{}\n{report:#}", stderr(&out));
    assert_eq!(status_of(&report, "alpha"), "merged", "{report:#}");
    let commits = droid_entry(&report, "alpha")["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 1, "{report:#}");
    assert_eq!(commits[0]["summary"], "alpha c2");
    let subjects = repo.git(&["log", "--format=%s", "main"]);
    assert_eq!(
        subjects.lines().filter(|s| *s == "alpha c1").count(),
        1,
        "{subjects}"
    );
    assert!(repo.git(&["rev-list", "main"]).contains(&picked));
    assert_eq!(repo.git(&["show", "main:alpha/a.txt"]), "1 one\n2\n3\n");
    assert_eq!(repo.git(&["show", "main:alpha/b.txt"]), "b\n");
    assert_no_commit_landed_twice(&repo.root, "main");
    repo.assert_fsck();

    // Every commit upstream: nothing lands, the droid is up to date and counts as merged for
    // its dependents.
    let repo2 = repo_with(
        &forge_toml(&[
            ("alpha", &["alpha/**"], &[]),
            ("beta", &["beta/**"], &["alpha"]),
        ]),
        &[("alpha/a.txt", "1\n")],
    );
    let only = droid_commit(&repo2, "alpha", "alpha only", &[("alpha/a.txt", "2\n")]);
    done(&repo2, "alpha");
    repo2.commit("main moves", &[("README", "r\n")]);
    repo2.git(&["cherry-pick", &only]);
    let before = repo2.rev("main");
    let (out, report) = merge_json(&repo2, &["alpha"]);
    assert!(out.status.success(), "{}\n{report:#}", stderr(&out));
    assert_eq!(status_of(&report, "alpha"), "up-to-date", "{report:#}");
    assert_eq!(repo2.rev("main"), before, "nothing may land");
    droid_commit(&repo2, "beta", "beta b", &[("beta/b.txt", "b\n")]);
    done(&repo2, "beta");
    let (out, report) = merge_json(&repo2, &["beta"]);
    assert!(out.status.success(), "{}\n{report:#}", stderr(&out));
    assert_eq!(status_of(&report, "beta"), "merged", "{report:#}");
    assert_no_commit_landed_twice(&repo2.root, "main");
    repo2.assert_fsck();
}

/// A droid whose commit repeats (cherry-picks) a commit another droid landed earlier in the
/// same run: the change is recognised as upstream through the commit the run itself wrote (its
/// change set is the original's, not diffed again), so it is skipped, not landed twice.
#[test]
fn commit_landed_earlier_in_the_same_run_is_not_landed_twice() {
    let repo = repo_with(
        &forge_toml(&[
            ("alpha", &["alpha/**"], &[]),
            ("beta", &["beta/**"], &["alpha"]),
        ]),
        &[("alpha/a.txt", "a\n")],
    );
    let shared = droid_commit(
        &repo,
        "alpha",
        "interfaces",
        &[("INTERFACES.md", "# Interfaces\nfn x()\n")],
    );
    droid_commit(&repo, "alpha", "alpha a", &[("alpha/a.txt", "a2\n")]);
    done(&repo, "alpha");
    droid_commit(&repo, "beta", "beta b", &[("beta/b.txt", "b\n")]);
    droid_git(&repo, "beta", &["cherry-pick", &shared]);
    done(&repo, "beta");
    repo.commit("main moves", &[("README", "r\n")]);

    let (out, report) = merge_json(&repo, &["alpha", "beta"]);
    assert!(out.status.success(), "{}\n{report:#}", stderr(&out));
    assert_eq!(status_of(&report, "alpha"), "merged", "{report:#}");
    assert_eq!(status_of(&report, "beta"), "merged", "{report:#}");
    let commits = droid_entry(&report, "beta")["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 1, "{report:#}");
    assert_eq!(commits[0]["summary"], "beta b");
    let subjects = repo.git(&["log", "--format=%s", "main"]);
    assert_eq!(
        subjects.lines().filter(|s| *s == "interfaces").count(),
        1,
        "{subjects}"
    );
    assert_eq!(
        repo.git(&["show", "main:INTERFACES.md"]),
        "# Interfaces\nfn x()\n"
    );
    assert_no_commit_landed_twice(&repo.root, "main");
    repo.assert_fsck();
}
