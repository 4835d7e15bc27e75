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
    commit_in(&wt, "grab", &[]);
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
