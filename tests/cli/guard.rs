//! `droidforge guard`: ownership asked at edit and commit time, on real worktrees.

use crate::common::*;

/// A two-droid repo with both droids spawned; returns the repo and core-droid's worktree.
fn spawned() -> (TestRepo, std::path::PathBuf) {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    (repo, wt)
}

#[test]
fn guard_allows_a_path_the_droid_owns() {
    let (_repo, wt) = spawned();
    let out = df_in(&wt, &["guard", "src/core/lib.rs", "src/core/new/file.rs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Absolute paths inside the worktree are fine too.
    let abs = wt.join("src/core/lib.rs");
    let out = df_in(&wt, &["guard", abs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn guard_refuses_another_droids_file_and_names_the_owner() {
    let (_repo, wt) = spawned();
    let out = df_in(&wt, &["guard", "src/infra/lib.rs"]);
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(err.contains("owned by `infra-droid`"), "{err}");
    assert!(err.contains("droidforge ask infra-droid"), "{err}");
}

#[test]
fn guard_refuses_protected_and_unowned_paths() {
    let (_repo, wt) = spawned();
    let out = df_in(&wt, &["guard", "PROGRESS.md"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("is protected"), "{}", stderr(&out));
    let out = df_in(&wt, &["guard", "README.md"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("is unowned"), "{}", stderr(&out));
}

#[test]
fn guard_refuses_paths_that_escape_the_worktree() {
    let (repo, wt) = spawned();
    // `..` out of the worktree, even when it climbs back into the main worktree's copy of
    // the droid's own files.
    for path in ["../", "../../../src/core/lib.rs", "src/core/../../../x"] {
        let out = df_in(&wt, &["guard", path]);
        assert_eq!(out.status.code(), Some(4), "{path}: {}", stderr(&out));
        assert!(stderr(&out).contains("outside the worktree"), "{path}");
    }
    let outside = repo.path("src/core/lib.rs");
    for path in [outside.to_str().unwrap(), "/etc/passwd"] {
        let out = df_in(&wt, &["guard", path]);
        assert_eq!(out.status.code(), Some(4), "{path}: {}", stderr(&out));
        assert!(stderr(&out).contains("outside the worktree"), "{path}");
    }
}

#[cfg(unix)]
#[test]
fn guard_judges_a_symlink_by_its_target() {
    let (_repo, wt) = spawned();
    // Inside the droid's own directory, pointing into another droid's files.
    std::os::unix::fs::symlink("../infra/lib.rs", wt.join("src/core/sneaky.rs")).unwrap();
    let out = df_in(&wt, &["guard", "src/core/sneaky.rs"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("owned by `infra-droid`"),
        "{}",
        stderr(&out)
    );
    // A dangling link is followed too: writing through it would create the target.
    std::os::unix::fs::symlink("../infra/new.rs", wt.join("src/core/dangling.rs")).unwrap();
    let out = df_in(&wt, &["guard", "src/core/dangling.rs"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    // A directory link out of the worktree.
    std::os::unix::fs::symlink("/tmp", wt.join("src/core/tmp")).unwrap();
    let out = df_in(&wt, &["guard", "src/core/tmp/x"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("outside the worktree"),
        "{}",
        stderr(&out)
    );
    // A link of another droid's directory pointing into this droid's files: the link path
    // itself is not this droid's.
    std::os::unix::fs::symlink("../core/lib.rs", wt.join("src/infra/alias.rs")).unwrap();
    let out = df_in(&wt, &["guard", "src/infra/alias.rs"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[test]
fn guard_allows_a_shared_path_and_warns_when_another_droid_holds_its_write_lease() {
    let (repo, wt) = spawned();
    let out = df_in(&wt, &["guard", "INTERFACES.md"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("write-locked"), "{}", stderr(&out));
    repo.df_ok(&["lock", "--droid", "infra-droid", "INTERFACES.md"]);
    let out = df_in(&wt, &["guard", "INTERFACES.md"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("write-locked by `infra-droid`"), "{err}");
    assert!(err.contains("droidforge lock INTERFACES.md"), "{err}");
}

#[test]
fn guard_infers_nothing_in_the_main_worktree_without_droid() {
    let (repo, _wt) = spawned();
    let out = repo.df(&["guard", "src/core/lib.rs"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = repo.df(&["guard", "--droid", "core-droid", "src/core/lib.rs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn guard_json_lists_a_verdict_per_path() {
    let (_repo, wt) = spawned();
    let out = df_in(
        &wt,
        &[
            "guard",
            "--json",
            "src/core/lib.rs",
            "INTERFACES.md",
            "src/infra/lib.rs",
        ],
    );
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    let verdicts: Vec<&str> = v["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["allowed", "allowed-shared", "refused"]);
    assert_eq!(v["paths"][2]["owners"][0], "infra-droid");
}

#[test]
fn guard_reads_the_manifest_from_the_integration_branch_not_the_worktree() {
    let (_repo, wt) = spawned();
    // The droid grants itself infra's files in its own checkout: ignored.
    let text = std::fs::read_to_string(wt.join(MANIFEST)).unwrap();
    std::fs::write(
        wt.join(MANIFEST),
        text.replace(
            "owns = [\"src/core/**\"]",
            "owns = [\"src/core/**\", \"src/infra/**\"]",
        ),
    )
    .unwrap();
    // The pre-commit guard would refuse this commit; a droid can skip hooks.
    git_in(&wt, &["commit", "-q", "--no-verify", "-am", "grab"]);
    let out = df_in(&wt, &["guard", "src/infra/lib.rs"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[test]
fn guard_sees_a_new_manifest_version_on_the_integration_branch() {
    let (repo, wt) = spawned();
    assert_eq!(df_in(&wt, &["guard", "docs/a.md"]).status.code(), Some(4));
    // The cache is keyed by the manifest blob: a committed change takes effect at once.
    let text = repo.read(MANIFEST);
    repo.commit(
        "give docs to core",
        &[(
            MANIFEST,
            &text.replace(
                "owns = [\"src/core/**\"]",
                "owns = [\"src/core/**\", \"docs/**\"]",
            ),
        )],
    );
    let out = df_in(&wt, &["guard", "docs/a.md"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Commit everything in `dir`; returns git's output (success or not).
pub fn try_commit(dir: &std::path::Path, msg: &str, all: bool) -> std::process::Output {
    let mut cmd = std::process::Command::new("git");
    hermetic(&mut cmd);
    let mut args = vec!["commit", "-q", "-m", msg];
    if all {
        args.push("-a");
    }
    cmd.current_dir(dir).args(&args).output().unwrap()
}

/// A user hook that appends `marker` to `log` (absolute) whenever it runs.
#[cfg(unix)]
fn user_hook(path: &std::path::Path, log: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!("#!/bin/sh\necho \"$PWD\" >> '{}'\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn commit_of_another_droids_file_is_refused_in_the_droid_worktree_but_not_in_main() {
    let (repo, wt) = spawned();
    write_files(&wt, &[("src/infra/lib.rs", "pub fn stolen() {}\n")]);
    git_in(&wt, &["add", "-A"]);
    let before = git_in(&wt, &["rev-parse", "HEAD"]);
    let out = try_commit(&wt, "steal", false);
    assert!(!out.status.success(), "the commit went through");
    let err = stderr(&out);
    assert!(err.contains("owned by `infra-droid`"), "{err}");
    assert_eq!(git_in(&wt, &["rev-parse", "HEAD"]), before);
    // `git commit -a` commits from a temporary index: also checked.
    git_in(&wt, &["reset", "-q"]);
    let out = try_commit(&wt, "steal", true);
    assert!(!out.status.success(), "commit -a went through");
    // Its own files commit fine.
    git_in(&wt, &["checkout", "--", "src/infra/lib.rs"]);
    write_files(&wt, &[("src/core/lib.rs", "pub fn mine() {}\n")]);
    let out = try_commit(&wt, "mine", true);
    assert!(out.status.success(), "{}", stderr(&out));
    // The same change in the main worktree is the human's business.
    write_files(&repo.root, &[("src/infra/lib.rs", "pub fn human() {}\n")]);
    let out = try_commit(&repo.root, "human", true);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn the_users_pre_commit_hook_still_runs_in_every_worktree_and_uninstall_restores_it() {
    let repo = two_droid_repo();
    let log = repo.root.parent().unwrap().join("hook.log");
    let hook = repo.path(".git/hooks/pre-commit");
    user_hook(&hook, &log);
    let original = std::fs::read(&hook).unwrap();
    let out = repo.df(&["spawn", "--all"]);
    assert!(
        stderr(&out).contains("Guarded core-droid"),
        "{}",
        stderr(&out)
    );
    let wt = repo.path(".droidforge/worktrees/core-droid");
    write_files(&wt, &[("src/core/lib.rs", "pub fn a() {}\n")]);
    assert!(try_commit(&wt, "a", true).status.success());
    write_files(&repo.root, &[("README.md", "hi\n")]);
    git_in(&repo.root, &["add", "-A"]);
    assert!(try_commit(&repo.root, "b", false).status.success());
    let ran = std::fs::read_to_string(&log).unwrap();
    assert_eq!(ran.lines().count(), 2, "{ran}");
    // A refused commit stops before the user's hook.
    write_files(&wt, &[("src/infra/lib.rs", "x\n")]);
    assert!(!try_commit(&wt, "c", true).status.success());
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
    git_in(&wt, &["checkout", "--", "src/infra/lib.rs"]);

    let out = repo.df(&["guard", "--uninstall"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&hook).unwrap(), original);
    assert!(!repo.path(".git/droidforge/hooks").exists());
    // Unguarded now, and the user's hook runs as before.
    write_files(&wt, &[("src/infra/lib.rs", "y\n")]);
    assert!(try_commit(&wt, "d", true).status.success());
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 3);
    let cfg = repo.git(&["config", "--list", "--show-scope"]);
    assert!(!cfg.contains("worktreeconfig"), "{cfg}");
}

#[cfg(unix)]
#[test]
fn a_core_hooks_path_hook_still_runs_in_droid_worktrees() {
    let repo = two_droid_repo();
    let log = repo.root.parent().unwrap().join("hook.log");
    // A tracked hooks directory, as husky-style setups use (relative to each worktree).
    user_hook(&repo.path("githooks/pre-commit"), &log);
    repo.commit("hooks", &[]);
    repo.git(&["config", "core.hooksPath", "githooks"]);
    repo.df_ok(&["spawn", "--all"]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    write_files(&wt, &[("src/core/lib.rs", "pub fn a() {}\n")]);
    let out = try_commit(&wt, "a", true);
    assert!(out.status.success(), "{}", stderr(&out));
    let ran = std::fs::read_to_string(&log).unwrap();
    let wt_canon = wt.canonicalize().unwrap();
    assert!(
        ran.lines()
            .any(|l| std::path::Path::new(l).canonicalize().ok() == Some(wt_canon.clone())),
        "{ran}"
    );
    // The guard still refuses first.
    write_files(&wt, &[("src/infra/lib.rs", "x\n")]);
    let out = try_commit(&wt, "b", true);
    assert!(
        stderr(&out).contains("owned by `infra-droid`"),
        "{}",
        stderr(&out)
    );
    // Main worktree: the user's hook, no guard.
    write_files(&repo.root, &[("src/infra/lib.rs", "z\n")]);
    assert!(try_commit(&repo.root, "c", true).status.success());
    assert_eq!(repo.git(&["config", "core.hooksPath"]).trim(), "githooks");
    repo.df_ok(&["guard", "--uninstall"]);
    assert_eq!(repo.git(&["config", "core.hooksPath"]).trim(), "githooks");
}

#[test]
fn status_counts_the_edits_and_commits_the_guard_refused() {
    let (repo, wt) = spawned();
    assert_eq!(
        df_in(&wt, &["guard", "src/infra/lib.rs"]).status.code(),
        Some(4)
    );
    assert_eq!(df_in(&wt, &["guard", "README.md"]).status.code(), Some(4));
    write_files(&wt, &[("src/infra/lib.rs", "x\n")]);
    assert!(!try_commit(&wt, "x", true).status.success());
    let v: serde_json::Value = serde_json::from_str(&repo.df_ok(&["status", "--json"])).unwrap();
    let core = v["droids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["droid"] == "core-droid")
        .unwrap();
    assert_eq!(core["guard_refused"]["edits"], 2);
    assert_eq!(core["guard_refused"]["commits"], 1);
    let table = repo.df_ok(&["status"]);
    assert!(table.contains("REFUSED E/C"), "{table}");
    assert!(table.contains("2/1"), "{table}");
}

/// `two_droid_repo` with `[forge] auto_lock = true` committed.
fn auto_lock_repo() -> TestRepo {
    let repo = two_droid_repo();
    let text = repo.read(MANIFEST);
    repo.commit(
        "auto_lock",
        &[(
            MANIFEST,
            &text.replace(
                "integration = \"main\"",
                "integration = \"main\"\nauto_lock = true",
            ),
        )],
    );
    repo
}

#[test]
fn auto_lock_takes_the_droids_write_lease_on_a_shared_path_it_edits() {
    let repo = auto_lock_repo();
    repo.df_ok(&["spawn", "--all"]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    let out = df_in(&wt, &["guard", "INTERFACES.md"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let locks: serde_json::Value = serde_json::from_str(&repo.df_ok(&["locks", "--json"])).unwrap();
    let text = locks.to_string();
    assert!(
        text.contains("core-droid") && text.contains("INTERFACES.md"),
        "{text}"
    );
    // Asking again refreshes the same lease instead of piling up new ones.
    df_in(&wt, &["guard", "INTERFACES.md"]);
    let again: serde_json::Value = serde_json::from_str(&repo.df_ok(&["locks", "--json"])).unwrap();
    assert_eq!(again.to_string().matches("\"write\"").count(), 1, "{again}");
    // The other droid now sees the lock.
    let other = repo.path(".droidforge/worktrees/infra-droid");
    let out = df_in(&other, &["guard", "INTERFACES.md"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("write-locked by `core-droid`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn auto_lock_must_be_a_boolean() {
    let repo = two_droid_repo();
    let text = repo.read(MANIFEST);
    repo.manifest(&text.replace(
        "integration = \"main\"",
        "integration = \"main\"\nauto_lock = \"yes\"",
    ));
    let out = repo.df(&["plan", "--check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("expected a boolean"),
        "{}",
        stderr(&out)
    );
}

/// Issue 12 item 4 follow-up: the lease `auto_lock` takes recorded the guard's parent (the
/// agent's short-lived hook shell), so it was stale as soon as the hook returned. It belongs
/// to the droid: held while the droid's agent runs, and within its TTL.
#[test]
fn auto_lock_lease_is_held_by_the_droid_after_the_guard_process_exits() {
    let repo = auto_lock_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    let locks = || -> serde_json::Value {
        serde_json::from_str(&repo.df_ok(&["locks", "--json"])).unwrap()
    };

    // No agent running: the lease lives until its TTL, though the hook's shell is gone.
    let out = crate::locks::df_in_fresh_shell(&wt, "guard INTERFACES.md");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = locks();
    assert_eq!(v["leases"][0]["droid"], "core-droid", "{v}");
    assert_eq!(v["leases"][0]["holder"], "droid", "{v}");
    assert!(v["leases"][0]["stale"].is_null(), "{v}");
    repo.df_ok(&["unlock", "--droid", "core-droid", "--all"]);

    // The droid's agent runs: the lease lives with it, `doctor --fix` leaves it alone.
    let mut agent = crate::locks::Agent::start(&repo, "core-droid");
    let out = crate::locks::df_in_fresh_shell(&wt, "guard INTERFACES.md");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = locks();
    assert_eq!(v["leases"][0]["holder"], "droid", "{v}");
    assert!(v["leases"][0]["agent_pid"].is_u64(), "{v}");
    assert!(v["leases"][0]["stale"].is_null(), "{v}");
    let (code, doc) = crate::doctor::doctor(&repo, true);
    assert_eq!(code, Some(0), "{doc}");
    assert!(
        crate::doctor::finding(&doc, "stale-lock").is_empty(),
        "{doc}"
    );
    assert_eq!(locks()["leases"].as_array().unwrap().len(), 1);
    // When the agent exits, so does its lease.
    agent.stop();
    let v = locks();
    assert!(
        v["leases"][0]["stale"]
            .as_str()
            .is_some_and(|w| w.contains("agent")),
        "{v}"
    );
}

/// Issue 12 item 3 follow-up: `run` refreshed the agent hooks of an existing worktree but not
/// the git pre-commit guard (only `spawn` and `guard --install` wrote it), so a deleted hook
/// stayed deleted and the droid's commits went unchecked.
#[test]
fn run_restores_a_deleted_pre_commit_guard_and_agent_hooks() {
    let (repo, wt) = spawned();
    let hook = repo.path(".git/droidforge/hooks/pre-commit");
    let settings = wt.join(".claude/settings.local.json");
    assert!(hook.exists() && settings.exists());
    std::fs::remove_file(&hook).unwrap();
    std::fs::remove_file(&settings).unwrap();
    git_in(&wt, &["config", "--worktree", "--unset", "core.hooksPath"]);

    let out = repo.df(&["run", "core-droid", "--cmd", "true"]);
    assert!(
        !stderr(&out).contains("guard"),
        "run warned about the guard: {}",
        stderr(&out)
    );
    assert!(hook.exists(), "run did not restore the pre-commit hook");
    assert!(
        std::fs::read_to_string(&settings)
            .unwrap()
            .contains("guard --hook claude")
    );
    // git runs it again: a commit of another droid's file is refused in the worktree.
    write_files(&wt, &[("src/infra/lib.rs", "pub fn stolen() {}\n")]);
    git_in(&wt, &["add", "-A"]);
    let out = try_commit(&wt, "steal", false);
    assert!(!out.status.success(), "the commit went through");
    assert!(
        stderr(&out).contains("owned by `infra-droid`"),
        "{}",
        stderr(&out)
    );
}
