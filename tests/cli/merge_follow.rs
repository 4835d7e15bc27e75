//! After a landing: the merged droids' branches and worktrees follow their merged commits (all
//! worktrees moved at once, each by its changed paths only, notes in merge order), or stay as
//! they were with `merge --no-sync-worktrees`, while the integration checkout always follows.
//! git is the oracle: `rev-parse`, `status --porcelain`, `diff`.

use crate::common::*;
use crate::merge_support::*;

/// Four droids in one phase (merge order alpha, bravo, charlie, delta), each with a worktree
/// and one ready commit adding `<droid>/work.txt`; main then moves on `INTERFACES.md`, so
/// every droid's worktree has files to take from the merge.
fn four_ready_droids() -> TestRepo {
    let droids = ["alpha", "bravo", "charlie", "delta"];
    let table: Vec<(&str, &[&str], &[&str])> = droids
        .iter()
        .map(|d| (*d, &[] as &[&str], &[] as &[&str]))
        .collect();
    let mut toml = forge_toml(&table);
    for d in droids {
        toml = toml.replace(
            &format!("name = \"{d}\"\nphases = [1]\nowns = []"),
            &format!("name = \"{d}\"\nphases = [1]\nowns = [\"{d}/**\"]"),
        );
    }
    let repo = repo_with(&toml, &[]);
    for d in droids {
        droid_commit(
            &repo,
            d,
            &format!("{d} 1"),
            &[(&format!("{d}/work.txt"), d)],
        );
        done(&repo, d);
    }
    repo.commit("interfaces", &[("INTERFACES.md", "# Interfaces v2\n")]);
    repo
}

fn worktree(repo: &TestRepo, droid: &str) -> std::path::PathBuf {
    repo.path(&format!(".droidforge/worktrees/{droid}"))
}

#[test]
fn droid_worktrees_follow_together_and_blocked_ones_are_reported_in_merge_order() {
    let repo = four_ready_droids();
    // bravo and delta have uncommitted edits to a file the merge changes for them; alpha and
    // charlie have an unrelated untracked file that must survive.
    write_files(
        &worktree(&repo, "bravo"),
        &[("INTERFACES.md", "bravo's notes\n")],
    );
    write_files(
        &worktree(&repo, "delta"),
        &[("INTERFACES.md", "delta's notes\n")],
    );
    write_files(
        &worktree(&repo, "alpha"),
        &[("alpha/scratch.txt", "mine\n")],
    );
    write_files(
        &worktree(&repo, "charlie"),
        &[("charlie/scratch.txt", "mine\n")],
    );
    let ready: Vec<String> = ["alpha", "bravo", "charlie", "delta"]
        .iter()
        .map(|d| repo.rev(&format!("droidforge/{d}")))
        .collect();
    let (out, report) = merge_json(&repo, &["--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let order: Vec<&str> = report["droids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["droid"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["alpha", "bravo", "charlie", "delta"]);
    for d in &order {
        assert_eq!(status_of(&report, d), "merged");
    }
    for (i, d) in ["alpha", "charlie"].iter().enumerate() {
        let wt = worktree(&repo, d);
        let tip = droid_entry(&report, d)["tip"].as_str().unwrap().to_owned();
        assert_eq!(repo.rev(&format!("droidforge/{d}")), tip, "{d}");
        assert_eq!(git_in(&wt, &["rev-parse", "HEAD"]).trim(), tip, "{d}");
        // Index and files are the merged commit's, plus the droid's own untracked file.
        assert_eq!(
            git_in(&wt, &["status", "--porcelain"]),
            format!("?? {d}/scratch.txt\n"),
            "{d}"
        );
        assert_eq!(
            std::fs::read_to_string(wt.join("INTERFACES.md")).unwrap(),
            "# Interfaces v2\n"
        );
        // charlie's worktree also got alpha's and bravo's work, landed before it.
        if i == 1 {
            assert!(wt.join("alpha/work.txt").exists() && wt.join("bravo/work.txt").exists());
        }
    }
    for (d, ready) in [("bravo", &ready[1]), ("delta", &ready[3])] {
        let wt = worktree(&repo, d);
        assert_eq!(&repo.rev(&format!("droidforge/{d}")), ready, "{d} moved");
        assert_eq!(
            git_in(&wt, &["status", "--porcelain"]),
            " M INTERFACES.md\n"
        );
        assert_eq!(
            std::fs::read_to_string(wt.join("INTERFACES.md")).unwrap(),
            format!("{d}'s notes\n")
        );
    }
    let notes: Vec<&str> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    let blocked: Vec<&&str> = notes
        .iter()
        .filter(|n| n.contains("still holds the original commits"))
        .collect();
    assert_eq!(blocked.len(), 2, "{notes:#?}");
    assert!(blocked[0].starts_with("`bravo`'s worktree"), "{notes:#?}");
    assert!(blocked[1].starts_with("`delta`'s worktree"), "{notes:#?}");
    assert!(blocked.iter().all(|n| n.contains("`INTERFACES.md`")));
    repo.assert_fsck();
}

#[test]
fn no_sync_worktrees_leaves_droid_branches_and_worktrees_but_moves_the_integration_checkout() {
    let repo = four_ready_droids();
    let before: Vec<(String, String)> = ["alpha", "bravo", "charlie", "delta"]
        .iter()
        .map(|d| {
            let wt = worktree(&repo, d);
            (
                repo.rev(&format!("droidforge/{d}")),
                git_in(&wt, &["ls-files", "-s"]),
            )
        })
        .collect();
    let (out, report) = merge_json(&repo, &["--all", "--no-sync-worktrees"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let new = report["new_tip"].as_str().unwrap().to_owned();
    assert_eq!(repo.rev("main"), new);
    for (d, (rev, index)) in ["alpha", "bravo", "charlie", "delta"].iter().zip(&before) {
        let wt = worktree(&repo, d);
        assert_eq!(status_of(&report, d), "merged");
        assert_eq!(&repo.rev(&format!("droidforge/{d}")), rev, "{d} moved");
        assert_eq!(git_in(&wt, &["rev-parse", "HEAD"]).trim(), rev);
        assert_eq!(
            &git_in(&wt, &["ls-files", "-s"]),
            index,
            "{d}'s index changed"
        );
        assert_eq!(git_in(&wt, &["status", "--porcelain"]), "", "{d}");
        // The ready mark is gone: the work landed.
        assert_eq!(
            repo.git(&["for-each-ref", &format!("refs/droidforge/ready/{d}")]),
            ""
        );
    }
    // The integration branch's own checkout followed: git sees no change in it.
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert_eq!(repo.read("delta/work.txt"), "delta");
    let notes = report["notes"].to_string();
    assert!(notes.contains("updated the checkout of `main`"), "{notes}");
    // The droids count as merged, and `sync` brings a droid onto the merged work later.
    let status = repo.df_ok(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let droids = status["droids"].as_array().unwrap();
    assert!(
        droids.iter().all(|d| d["merged"]["result"] == "merged"),
        "{status:#}"
    );
    repo.df_ok(&["sync", "bravo"]);
    assert!(
        repo.git(&["merge-base", "--is-ancestor", &new, "droidforge/bravo"])
            .is_empty()
    );
    assert_eq!(
        git_in(&worktree(&repo, "bravo"), &["status", "--porcelain"]),
        ""
    );
    assert_no_commit_landed_twice(&repo.root, "droidforge/bravo");
    repo.assert_fsck();
}

/// The flag lives in the merge journal: a `--no-sync-worktrees` merge killed after its journal
/// was written and finished by `merge --continue` still leaves the droids where they were.
#[test]
fn no_sync_worktrees_survives_a_crash_and_continue() {
    let repo = two_ready_droids();
    let core = repo.rev("droidforge/core-droid");
    let (mut child, _go) =
        merge_paused_before_land(&repo, &["merge", "--all", "--no-sync-worktrees"]);
    child.kill().unwrap();
    child.wait().unwrap();
    let journal = std::fs::read_to_string(repo.path(".git/droidforge/merge-journal.json")).unwrap();
    assert!(journal.contains("\"no_sync_worktrees\": true"), "{journal}");
    repo.df_ok(&["merge", "--continue"]);
    assert!(!repo.path(".git/droidforge/merge-journal.json").exists());
    assert!(repo.git(&["log", "--format=%s", "main"]).contains("core 1"));
    assert_eq!(repo.rev("droidforge/core-droid"), core);
    assert_eq!(
        git_in(&worktree(&repo, "core-droid"), &["status", "--porcelain"]),
        ""
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

/// Only the changed paths are looked at, so an untracked directory standing where the merge
/// writes a file is found by walking that directory alone: it blocks, and nothing in it is lost.
#[test]
fn an_untracked_directory_where_the_merge_writes_a_file_blocks_the_checkout_update() {
    let repo = two_droid_repo();
    droid_commit(
        &repo,
        "core-droid",
        "core 1",
        &[("src/core/gen", "generated\n")],
    );
    done(&repo, "core-droid");
    repo.write(&[("src/core/gen/out.txt", "my build output\n")]);
    let (out, report) = merge_json(&repo, &["core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let notes = report["notes"].to_string();
    assert!(notes.contains("was left as it was"), "{notes}");
    assert!(notes.contains("`src/core/gen`"), "{notes}");
    assert_eq!(repo.read("src/core/gen/out.txt"), "my build output\n");
    // An ignored directory there is expendable, as for git: the update goes through.
    let repo = two_droid_repo();
    droid_commit(
        &repo,
        "core-droid",
        "core 1",
        &[("src/core/gen", "generated\n")],
    );
    done(&repo, "core-droid");
    repo.write(&[("src/core/gen/out.txt", "build output\n")]);
    std::fs::write(
        repo.path(".git/info/exclude"),
        ".droidforge/worktrees/\nsrc/core/gen/\n",
    )
    .unwrap();
    let (out, report) = merge_json(&repo, &["core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let notes = report["notes"].to_string();
    assert!(!notes.contains("`src/core/gen`"), "{notes}");
    assert!(notes.contains("updated the checkout of `main`"), "{notes}");
    assert_eq!(repo.read("src/core/gen"), "generated\n");
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

/// Commits reachable from `main` that are still loose objects.
fn loose_commits(repo: &TestRepo) -> Vec<String> {
    repo.git(&["rev-list", "main"])
        .lines()
        .filter(|id| {
            repo.path(&format!(".git/objects/{}/{}", &id[..2], &id[2..]))
                .exists()
        })
        .map(str::to_owned)
        .collect()
}

/// A merge leaves every commit it replayed as a loose object, and nothing packed them: each
/// later history walk opened one file per commit (`status` after a merge of 40,000 commits:
/// 1.8 s, 0.08 s once packed). Like git's porcelain, a landing starts `git gc --auto`; here
/// it finds two packs, over the limit of one, and packs what the merge wrote.
#[test]
fn a_landing_starts_gits_auto_gc_in_the_background() {
    let repo = four_ready_droids();
    repo.git(&["config", "gc.autoPackLimit", "1"]);
    repo.git(&["repack", "-q", "-d"]);
    repo.commit("more interfaces", &[("INTERFACES.md", "# Interfaces v3\n")]);
    repo.git(&["repack", "-q", "-d"]);
    assert!(loose_commits(&repo).is_empty());

    repo.df_ok(&["merge", "--phase", "1"]);
    assert!(
        !loose_commits(&repo).is_empty(),
        "the merge wrote loose commits"
    );
    // It runs detached: wait for it (a minute at most on a loaded machine).
    let start = std::time::Instant::now();
    let busy = || !loose_commits(&repo).is_empty() || repo.path(".git/gc.pid").exists();
    while busy() && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        loose_commits(&repo),
        Vec::<String>::new(),
        "git gc --auto packed them"
    );
    for d in ["alpha", "bravo", "charlie", "delta"] {
        assert_eq!(repo.git(&["show", &format!("main:{d}/work.txt")]), d);
    }
    repo.git(&["fsck", "--strict", "--no-dangling"]);
}
