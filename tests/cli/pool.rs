//! The warm pool (`[forge] pool = N`): `pool refresh` keeps N detached worktrees at the
//! integration tip, `spawn` hands one to a new droid. Checked with the git CLI: `git worktree
//! list --porcelain`, `git status --porcelain` in the claimed worktree, `git fsck`.

use std::path::Path;
use std::process::Output;

use crate::common::*;

const POOL_DIR: &str = ".droidforge/worktrees/.pool";

/// `TWO_DROIDS` with `pool = n`, committed, plus a little source tree.
fn pool_repo(n: usize) -> TestRepo {
    let repo = TestRepo::new();
    let manifest = TWO_DROIDS.replace(
        "integration = \"main\"\n",
        &format!("integration = \"main\"\npool = {n}\n"),
    );
    repo.manifest(&manifest);
    repo.commit(
        "Set up forge",
        &[
            ("INTERFACES.md", "# Interfaces\n"),
            ("src/core/lib.rs", "pub fn core() {}\n"),
            ("src/infra/lib.rs", "pub fn infra() {}\n"),
            ("docs/old.md", "old\n"),
            ("TODO_CORE.md", "- [ ] one\n"),
            ("TODO_INFRA.md", "- [ ] one\n"),
        ],
    );
    repo
}

/// droidforge with `env` set (e.g. the background refresh switched off).
fn df_env(repo: &TestRepo, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    cmd.current_dir(&repo.root).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

const NO_BACKGROUND: &[(&str, &str)] = &[("DROIDFORGE_POOL_BACKGROUND", "0")];

/// One linked worktree as `git worktree list --porcelain` shows it.
#[derive(Debug, Clone, PartialEq)]
struct Listed {
    path: String,
    head: String,
    /// `None`: detached.
    branch: Option<String>,
}

fn listed(repo: &TestRepo) -> Vec<Listed> {
    let out = repo.git(&["worktree", "list", "--porcelain"]);
    let mut all = Vec::new();
    for block in out.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut l = Listed {
            path: String::new(),
            head: String::new(),
            branch: None,
        };
        for line in block.lines() {
            if let Some(p) = line.strip_prefix("worktree ") {
                l.path = p.to_owned();
            } else if let Some(h) = line.strip_prefix("HEAD ") {
                l.head = h.to_owned();
            } else if let Some(b) = line.strip_prefix("branch refs/heads/") {
                l.branch = Some(b.to_owned());
            }
        }
        all.push(l);
    }
    all.into_iter().skip(1).collect() // the main worktree
}

fn pool_entries(repo: &TestRepo) -> Vec<Listed> {
    let dir = repo.path(POOL_DIR).canonicalize().unwrap();
    listed(repo)
        .into_iter()
        .filter(|l| Path::new(&l.path).parent() == Some(dir.as_path()))
        .collect()
}

fn spawn_json(repo: &TestRepo, droid: &str) -> serde_json::Value {
    let out = df_env(repo, &["spawn", droid, "--json"], NO_BACKGROUND);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["droids"][0].clone()
}

fn assert_clean_droid_at(repo: &TestRepo, droid: &str, tip: &str) {
    let wt = repo.path(&format!(".droidforge/worktrees/{droid}"));
    let branch = format!("droidforge/{droid}");
    assert_eq!(
        git_in(&wt, &["symbolic-ref", "HEAD"]).trim(),
        format!("refs/heads/{branch}")
    );
    assert_eq!(repo.rev(&branch), tip);
    assert_eq!(git_in(&wt, &["rev-parse", "HEAD"]).trim(), tip);
    assert_eq!(
        git_in(&wt, &["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    // The index is the commit's tree, exactly.
    assert_eq!(git_in(&wt, &["diff", "--cached", "--stat", tip]), "");
    let canonical = wt.canonicalize().unwrap().to_string_lossy().into_owned();
    let entry = listed(repo)
        .into_iter()
        .find(|l| l.path == canonical)
        .unwrap();
    assert_eq!(entry.branch.as_deref(), Some(branch.as_str()));
    assert_eq!(entry.head, tip);
}

#[test]
fn spawn_takes_a_pool_worktree_at_the_integration_tip() {
    let repo = pool_repo(2);
    let tip = repo.rev("main");
    repo.df_ok(&["pool", "refresh"]);
    let entries = pool_entries(&repo);
    assert_eq!(entries.len(), 2, "{entries:?}");
    for e in &entries {
        assert_eq!((e.head.as_str(), e.branch.as_deref()), (tip.as_str(), None));
        assert_eq!(git_in(Path::new(&e.path), &["status", "--porcelain"]), "");
    }

    let outcome = spawn_json(&repo, "core-droid");
    assert_eq!(outcome["status"], "created");
    assert_eq!(outcome["pooled"], true, "{outcome}");
    assert_eq!(outcome["branch_created"], true);
    assert_clean_droid_at(&repo, "core-droid", &tip);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    assert_eq!(
        std::fs::read_to_string(wt.join("src/core/lib.rs")).unwrap(),
        "pub fn core() {}\n"
    );
    assert!(wt.join(".droidforge/BRIEF.md").is_file());
    assert!(wt.join(".claude/settings.local.json").is_file());
    // The pre-commit guard is the worktree's own hooks path, as for any spawn.
    assert!(git_in(&wt, &["config", "--worktree", "core.hooksPath"]).contains("droidforge/hooks"));
    // One entry left, still detached at the tip; the main worktree sees nothing.
    assert_eq!(pool_entries(&repo).len(), 1);
    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    // Pool worktrees are neither droids nor orphans.
    let status: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["status", "--json"])).unwrap();
    assert_eq!(status["orphans"], serde_json::json!([]), "{status}");
    repo.assert_fsck();
    // The claimed worktree is an ordinary droid worktree: `remove` takes it away.
    repo.df_ok(&["remove", "core-droid"]);
    assert!(!wt.exists());
    assert_eq!(pool_entries(&repo).len(), 1);
}

#[test]
fn a_pool_worktree_behind_the_tip_is_moved_to_it_before_it_is_handed_out() {
    let repo = pool_repo(1);
    repo.df_ok(&["pool", "refresh"]);
    let old = repo.rev("main");
    assert_eq!(pool_entries(&repo)[0].head, old);
    // A merge moves the integration tip: a change, a new file in a new directory, a deletion.
    std::fs::remove_file(repo.path("docs/old.md")).unwrap();
    let tip = repo.commit(
        "Moved on",
        &[
            ("src/core/lib.rs", "pub fn core() { 2 }\n"),
            ("src/new/mod.rs", "pub mod x;\n"),
        ],
    );
    let outcome = spawn_json(&repo, "infra-droid");
    assert_eq!(outcome["pooled"], true, "{outcome}");
    assert_eq!(outcome["base"], tip.as_str());
    assert_clean_droid_at(&repo, "infra-droid", &tip);
    let wt = repo.path(".droidforge/worktrees/infra-droid");
    assert_eq!(
        std::fs::read_to_string(wt.join("src/core/lib.rs")).unwrap(),
        "pub fn core() { 2 }\n"
    );
    assert!(wt.join("src/new/mod.rs").is_file());
    assert!(
        !wt.join("docs").exists(),
        "the emptied directory is gone, as with git"
    );
    repo.assert_fsck();
}

#[test]
fn a_pool_worktree_with_local_changes_is_never_handed_out() {
    let repo = pool_repo(1);
    let tip = repo.rev("main");
    repo.df_ok(&["pool", "refresh"]);
    let entry = pool_entries(&repo)[0].path.clone();
    write_files(
        Path::new(&entry),
        &[("src/core/lib.rs", "edited\n"), ("stray.txt", "x\n")],
    );

    let outcome = spawn_json(&repo, "core-droid");
    assert_eq!(outcome["pooled"], false, "{outcome}");
    assert_clean_droid_at(&repo, "core-droid", &tip);
    // The entry is untouched, and doctor names it; --fix drops it.
    assert_eq!(
        std::fs::read_to_string(Path::new(&entry).join("stray.txt")).unwrap(),
        "x\n"
    );
    let out = repo.df(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["broken-pool-worktree"], "{report}");
    assert_eq!(out.status.code(), Some(1));
    let out = repo.df(&["doctor", "--fix", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["fixed"], 1, "{report}");
    assert_eq!(pool_entries(&repo), vec![]);
    assert!(!Path::new(&entry).exists());
    repo.assert_fsck();
    // And the next refresh fills the pool again.
    repo.df_ok(&["pool", "refresh"]);
    assert_eq!(pool_entries(&repo).len(), 1);
}

#[test]
fn a_pool_of_zero_drains_the_pool_and_sparse_droids_skip_it() {
    let repo = pool_repo(2);
    repo.df_ok(&["pool", "refresh"]);
    let out = df_env(
        &repo,
        &["spawn", "core-droid", "--sparse", "--json"],
        NO_BACKGROUND,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["droids"][0]["pooled"], false);
    assert!(v["droids"][0]["sparse"].is_array());
    assert_eq!(pool_entries(&repo).len(), 2);
    let manifest = repo.read(MANIFEST).replace("pool = 2", "pool = 0");
    repo.commit("No pool", &[(MANIFEST, &manifest)]);
    let report: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["pool", "refresh", "--json"])).unwrap();
    assert_eq!(report["dropped"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(pool_entries(&repo), vec![]);
    repo.assert_fsck();
}

/// Dropping pool worktrees deletes no checked-out file on the command's time: `pool refresh`
/// moves each dropped entry into the trash in constant time and drops its registration, and a
/// detached sweep deletes its files later (as it does a merge run's scratch checkouts).
#[test]
fn a_dropped_pool_worktree_goes_to_the_trash_instead_of_being_deleted_in_place() {
    let repo = pool_repo(2);
    repo.df_ok(&["pool", "refresh"]);
    let before: Vec<String> = pool_entries(&repo).into_iter().map(|l| l.path).collect();
    assert_eq!(before.len(), 2);
    let manifest = repo.read(MANIFEST).replace("pool = 2", "pool = 0");
    repo.commit("No pool", &[(MANIFEST, &manifest)]);
    let lock = hold_trash_lock(&repo); // a sweep busy elsewhere: the trash stays as filled
    let report: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["pool", "refresh", "--json"])).unwrap();
    assert_eq!(report["dropped"].as_array().unwrap().len(), 2, "{report}");
    // Gone from git (no stale registration either) and from the pool directory.
    assert_eq!(listed(&repo), vec![]);
    assert!(before.iter().all(|p| !Path::new(p).exists()), "{before:?}");
    let trash = trash_entries(&repo);
    assert_eq!(trash.len(), 2, "{trash:?}");
    for entry in &trash {
        assert!(entry.join("src/core/lib.rs").is_file(), "{trash:?}");
    }
    drop(lock);
    wait_for_sweep(&repo);
    repo.assert_fsck();
}

#[test]
fn spawn_refills_the_pool_in_the_background() {
    let repo = pool_repo(1);
    let tip = repo.rev("main");
    repo.df_ok(&["pool", "refresh"]);
    let out = repo.df(&["spawn", "core-droid", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_clean_droid_at(&repo, "core-droid", &tip);
    // The background refresh holds the pool lock from start to end, so the entries are read
    // while holding that lock: never half-way through a refresh (read outside it, a listing
    // taken while the entry was being registered could pair with a lock seen free later).
    let lock = repo.path(".git/droidforge/pool.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let held = std::fs::File::open(&lock)
            .ok()
            .filter(|f| f.try_lock().is_ok());
        if let Some(held) = held {
            let entries = pool_entries(&repo);
            drop(held);
            if entries.len() == 1 {
                assert_eq!(entries[0].head, tip);
                assert_eq!(entries[0].branch, None);
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pool was not refilled: {:?}",
            pool_entries(&repo)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    repo.assert_fsck();
}

#[test]
fn a_locked_pool_worktree_is_left_alone() {
    let repo = pool_repo(1);
    let tip = repo.rev("main");
    repo.df_ok(&["pool", "refresh"]);
    let entry = pool_entries(&repo)[0].path.clone();
    repo.git(&["worktree", "lock", &entry]);
    let outcome = spawn_json(&repo, "core-droid");
    assert_eq!(outcome["pooled"], false, "{outcome}");
    assert_clean_droid_at(&repo, "core-droid", &tip);
    // Still registered where it was, still locked, and refresh does not touch it either.
    assert_eq!(pool_entries(&repo).len(), 1);
    assert!(
        repo.git(&["worktree", "list", "--porcelain"])
            .contains("\nlocked")
    );
    let report: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["pool", "refresh", "--json"])).unwrap();
    assert_eq!(report["skipped"][0]["path"], entry.as_str(), "{report}");
    repo.assert_fsck();
}

/// git's definition of "racily clean": a file not older (in whole seconds) than the index that
/// records it, so every status must read its contents. A claim checks the pool worktree's status;
/// after a refresh that must be stat calls only.
#[test]
fn a_refreshed_pool_worktree_is_not_racily_clean() {
    use std::os::unix::fs::MetadataExt;
    let repo = pool_repo(1);
    repo.df_ok(&["pool", "refresh"]);
    let entry = pool_entries(&repo)[0].path.clone();
    let admin = git_in(Path::new(&entry), &["rev-parse", "--absolute-git-dir"]);
    let index = std::fs::metadata(Path::new(admin.trim()).join("index")).unwrap();
    let files = git_in(Path::new(&entry), &["ls-files"]);
    for file in files.lines() {
        let md = std::fs::metadata(Path::new(&entry).join(file)).unwrap();
        assert!(md.mtime() < index.mtime(), "{file} is racily clean");
    }
}
