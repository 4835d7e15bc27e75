//! `droidforge status`: numbers checked against what the git CLI did in the worktrees.

use crate::common::*;

fn status_json(repo: &TestRepo, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["status", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&repo.df_ok(&all)).unwrap()
}

#[test]
fn status_counts_commits_dirt_and_todo_on_the_branch() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    commit_in(&wt, "one", &[("src/core/a.rs", "a\n")]);
    commit_in(
        &wt,
        "two",
        &[(
            "TODO_CORE.md",
            "- [x] one\n- [~] two\n- [ ] three\n- [ ] four\n",
        )],
    );
    // Uncommitted: one modified tracked file, one untracked file, and a TODO edit that is NOT
    // committed (status reads the TODO file on the branch).
    write_files(
        &wt,
        &[("src/core/lib.rs", "changed\n"), ("notes.txt", "n\n")],
    );
    // The integration branch moves on by one commit.
    repo.commit("main moves", &[("INTERFACES.md", "# Interfaces v2\n")]);

    let v = status_json(&repo, &[]);
    assert_eq!(v["version"], 1);
    assert_eq!(v["integration"], "main");
    assert_eq!(v["integration_tip"], repo.rev("main"));
    let core = &v["droids"][0];
    assert_eq!(core["droid"], "core-droid");
    assert_eq!(core["phases"], serde_json::json!([1]));
    assert_eq!(core["branch"], "droidforge/core-droid");
    assert_eq!(core["branch_exists"], true);
    assert_eq!(core["head"], repo.rev("droidforge/core-droid"));
    assert_eq!(core["ahead"], 2);
    assert_eq!(core["behind"], 1);
    assert_eq!(core["worktree_state"], "present");
    assert_eq!(
        core["dirty"],
        serde_json::json!({"changed": 1, "untracked": 1})
    );
    assert_eq!(core["todo"]["done"], 1);
    assert_eq!(core["todo"]["in_progress"], 1);
    assert_eq!(core["todo"]["open"], 2);
    assert_eq!(core["todo"]["percent"], 37);
    assert_eq!(core["todo"]["from"], "branch");
    assert_eq!(core["agent"]["state"], "idle");
    assert_eq!(core["ready"], serde_json::Value::Null);
    assert_eq!(core["last_event"], "spawned: branch droidforge/core-droid");

    // Oracle: git agrees on ahead/behind and dirt.
    assert_eq!(
        repo.git(&[
            "rev-list",
            "--left-right",
            "--count",
            "droidforge/core-droid...main"
        ])
        .trim(),
        "2\t1"
    );
    assert_eq!(git_in(&wt, &["status", "--porcelain"]).lines().count(), 2);

    let infra = &v["droids"][1];
    assert_eq!(infra["ahead"], 0);
    assert_eq!(infra["behind"], 1);
    assert_eq!(
        infra["dirty"],
        serde_json::json!({"changed": 0, "untracked": 0})
    );
    assert_eq!(infra["todo"]["percent"], 0);

    // The text table shows the same numbers.
    let text = repo.df_ok(&["status"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("DROID"), "{text}");
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        &cols[..9],
        [
            "core-droid",
            "1",
            "droidforge/core-droid",
            "2",
            "1",
            "1M",
            "1?",
            "37%",
            "(1/4)"
        ]
    );
    assert!(lines[1].contains(".droidforge/worktrees/core-droid"));
    assert!(lines[2].contains("clean"));
}

#[test]
fn status_of_one_droid_and_of_unspawned_droids() {
    let repo = two_droid_repo();
    let v = status_json(&repo, &["infra-droid"]);
    let droids = v["droids"].as_array().unwrap();
    assert_eq!(droids.len(), 1);
    assert_eq!(droids[0]["droid"], "infra-droid");
    assert_eq!(droids[0]["branch_exists"], false);
    assert_eq!(droids[0]["worktree_state"], "none");
    assert_eq!(droids[0]["dirty"], serde_json::Value::Null);
    // Not spawned: the TODO file is read from the integration branch.
    assert_eq!(droids[0]["todo"]["from"], "integration");
    assert_eq!(droids[0]["todo"]["open"], 1);
    let text = repo.df_ok(&["status", "infra-droid"]);
    assert!(text.contains("droidforge/infra-droid (none)"), "{text}");

    let out = repo.df(&["status", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: no droid named `nope` in .droidforge/forge.toml\n"));
}

#[test]
fn status_shows_missing_worktrees_ready_marks_and_dead_agents() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    let first = commit_in(&wt, "one", &[("src/core/a.rs", "a\n")]);
    // A ready mark at an older commit than the head.
    repo.git(&["update-ref", "refs/droidforge/ready/core-droid", &first]);
    commit_in(&wt, "two", &[("src/core/b.rs", "b\n")]);
    std::fs::remove_dir_all(repo.path(".droidforge/worktrees/infra-droid")).unwrap();

    // An agent recorded as running whose process is gone, and a recorded merge result.
    let state_path = repo.path(".git/droidforge/state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state["droids"]["core-droid"]["agent"] =
        serde_json::json!({"status": "running", "pid": 4_000_000_000u32});
    state["droids"]["infra-droid"]["last_merge"] = serde_json::json!("conflict");
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();

    let v = status_json(&repo, &[]);
    let core = &v["droids"][0];
    assert_eq!(core["ready"]["commit"], first);
    assert_eq!(core["ready"]["at_head"], false);
    assert_eq!(core["agent"]["state"], "dead");
    assert_eq!(core["agent"]["pid"], 4_000_000_000u32);
    let infra = &v["droids"][1];
    assert_eq!(infra["worktree_state"], "missing");
    assert_eq!(infra["dirty"], serde_json::Value::Null);
    assert_eq!(infra["merged"]["result"], "conflict");

    let text = repo.df_ok(&["status"]);
    assert!(text.contains("dead (pid 4000000000)"), "{text}");
    assert!(
        text.contains(&format!("yes ({}, not head)", &first[..7])),
        "{text}"
    );
    assert!(text.contains("missing"), "{text}");
    assert!(text.contains("conflict"), "{text}");
}

#[test]
fn status_works_from_inside_a_droid_worktree() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    let out = df_in(
        &repo.path(".droidforge/worktrees/core-droid/src"),
        &["status", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    // Inside a droid's worktree `status` shows that droid (see the test below).
    assert_eq!(v["droids"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["droids"][0]["worktree_state"], "present");
}

#[test]
fn status_and_events_inside_a_worktree_list_every_droid_although_help_says_inferred() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    let inside = repo.path(".droidforge/worktrees/core-droid/src");
    let names = |args: &[&str]| -> Vec<String> {
        let out = df_in(&inside, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        v["droids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["droid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&["status", "--json"]), ["core-droid"]);
    assert_eq!(
        names(&["status", "--json", "--all"]),
        ["core-droid", "infra-droid"]
    );
    assert_eq!(names(&["status", "--json", "infra-droid"]), ["infra-droid"]);
    // From the main worktree nothing is inferred: every droid.
    let v = status_json(&repo, &[]);
    assert_eq!(v["droids"].as_array().unwrap().len(), 2);

    let events = |args: &[&str]| {
        let out = df_in(&inside, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let own = events(&["events"]);
    assert!(own.contains("core-droid"), "{own}");
    assert!(!own.contains("infra-droid"), "{own}");
    let all = events(&["events", "--all"]);
    assert!(
        all.contains("core-droid") && all.contains("infra-droid"),
        "{all}"
    );
    // The help says what happens.
    let help = stdout(&repo.df(&["status", "--help"]));
    assert!(help.contains("--all"), "{help}");
    let help = stdout(&repo.df(&["events", "--help"]));
    assert!(help.contains("--all"), "{help}");
}

#[test]
fn status_lists_orphan_worktrees() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    // infra-droid leaves the manifest; its worktree stays.
    repo.manifest(&TWO_DROIDS.replace(
        "\n[[droid]]\nname = \"infra-droid\"\nrole = \"Infra\"\nphases = [1]\nowns = [\"src/infra/**\"]\ntodo = \"TODO_INFRA.md\"\nafter = [\"core-droid\"]\n",
        "",
    ));
    let v = status_json(&repo, &[]);
    assert_eq!(v["droids"].as_array().unwrap().len(), 1);
    let orphans = v["orphans"].as_array().unwrap();
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0]["branch"], "droidforge/infra-droid");
    let text = repo.df_ok(&["status"]);
    assert!(text.contains(
        "orphan worktree .droidforge/worktrees/infra-droid (droidforge/infra-droid) belongs to no droid in the manifest"
    ), "{text}");
}

#[test]
fn status_with_many_droids() {
    // 40 droids, all spawned: every row is computed (in parallel) and consistent.
    let repo = TestRepo::new();
    let mut toml = String::from("[[phase]]\nid = 1\n");
    for i in 0..40 {
        toml.push_str(&format!(
            "[[droid]]\nname = \"d{i:02}\"\nphases = [1]\nowns = [\"d{i:02}/**\"]\ntodo = \"d{i:02}/TODO.md\"\n"
        ));
    }
    repo.manifest(&toml);
    let files: Vec<(String, String)> = (0..40)
        .map(|i| (format!("d{i:02}/TODO.md"), "- [x] a\n- [ ] b\n".to_owned()))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    repo.commit("forge", &refs);
    repo.df_ok(&["spawn", "--all"]);
    let v = status_json(&repo, &[]);
    let droids = v["droids"].as_array().unwrap();
    assert_eq!(droids.len(), 40);
    for (i, d) in droids.iter().enumerate() {
        assert_eq!(d["droid"], format!("d{i:02}"));
        assert_eq!(d["worktree_state"], "present");
        assert_eq!(d["todo"]["percent"], 50);
        assert_eq!(d["dirty"]["changed"], 0);
    }
    repo.assert_fsck();
}

#[test]
fn watch_redraws_and_stops_when_the_reader_goes_away() {
    use std::io::Read;
    let repo = two_droid_repo();
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    let mut child = cmd
        .current_dir(&repo.root)
        .args(["status", "--watch", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // Read two full redraws (two header lines), then close the pipe.
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while seen.matches("DROID").count() < 2 {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "watch exited early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("core-droid") && seen.contains("infra-droid"));
    drop(stdout);
    // The next redraw hits the closed pipe and the process ends on its own (exit 0).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("`status --watch` kept running after its reader went away");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

/// Issue 11 item 12: the table cut the last event at 40 characters even when piped, where no
/// terminal width applies and a script reads every column.
#[test]
fn status_table_cuts_columns_when_piped() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    let long = "src/core/a/very/long/path/that/goes/on/and/on/contract.rs";
    repo.df_ok(&["lock", "--droid", "core-droid", long]);
    let text = repo.df_ok(&["status"]);
    let row = text
        .lines()
        .find(|l| l.starts_with("core-droid"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains(long), "{text}");
    assert!(!row.contains('…'), "{text}");
}

/// Issue 15: every `status` rewrote (and so locked) the index of every worktree, even with no
/// stale stat data to refresh: an agent's `git add` running at the same time failed on
/// `index.lock`, and 100 droids cost 100 index writes per call.
#[test]
fn status_does_not_rewrite_clean_worktree_indexes() {
    use std::os::unix::fs::MetadataExt;
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    write_files(&wt, &[("notes.txt", "n\n")]);
    // Files checked out in the same second as their index was written are "racily clean"
    // (re-hashed, and refreshed, on every call within that second): date the worktree's files
    // a minute back so the first call refreshes their stat data once and nothing is stale after.
    let out = std::process::Command::new("sh")
        .current_dir(&wt)
        .args([
            "-c",
            "find . -path ./.git -prune -o -type f -exec touch -d '-1 minute' {} +",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    status_json(&repo, &[]);
    let index = repo.path(".git/worktrees/core-droid/index");
    let before = std::fs::metadata(&index).unwrap();
    for _ in 0..2 {
        let v = status_json(&repo, &[]);
        assert_eq!(
            v["droids"][0]["dirty"],
            serde_json::json!({"changed": 0, "untracked": 1})
        );
    }
    let after = std::fs::metadata(&index).unwrap();
    assert_eq!(
        (before.ino(), before.mtime(), before.mtime_nsec()),
        (after.ino(), after.mtime(), after.mtime_nsec()),
        "status rewrote a clean worktree's index"
    );
    assert_eq!(git_in(&wt, &["status", "--porcelain"]), "?? notes.txt\n");
}

/// Issue 15: "nothing staged" is now decided by hashing the index's trees instead of diffing
/// HEAD against the index; staged work (added, modified, deleted, a conflict-free mix with
/// unstaged edits) is still counted, path by path, as `git status` lists it.
#[test]
fn status_counts_staged_changes_like_git_status() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    write_files(
        &wt,
        &[
            ("src/core/new.rs", "new\n"),
            ("src/core/lib.rs", "staged\n"),
        ],
    );
    git_in(&wt, &["add", "src/core/new.rs", "src/core/lib.rs"]);
    git_in(&wt, &["rm", "-q", "TODO_CORE.md"]);
    // Staged and then edited again: one path, not two.
    write_files(&wt, &[("src/core/lib.rs", "staged, then edited\n")]);
    let porcelain = git_in(&wt, &["status", "--porcelain"]);
    assert_eq!(porcelain.lines().count(), 3, "{porcelain}");
    let v = status_json(&repo, &[]);
    assert_eq!(
        v["droids"][0]["dirty"],
        serde_json::json!({"changed": 3, "untracked": 0}),
        "{porcelain}"
    );
    // Unstaging everything brings the fast path back: only the worktree edits remain.
    git_in(&wt, &["reset", "-q"]);
    let v = status_json(&repo, &[]);
    assert_eq!(
        v["droids"][0]["dirty"],
        serde_json::json!({"changed": 2, "untracked": 1}),
        "{}",
        git_in(&wt, &["status", "--porcelain"])
    );
}
