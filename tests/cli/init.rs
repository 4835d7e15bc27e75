//! `init`: scaffolding in fresh repositories, idempotence, `--force`, `--from-seed`, `--ci`.

use crate::common::*;

#[test]
fn init_in_repo_without_commits_on_non_main_branch() {
    let repo = TestRepo::new();
    repo.git(&["checkout", "-q", "-b", "trunk"]);
    repo.df_ok(&["init", "--from-seed"]);
    let manifest = repo.read(MANIFEST);
    assert!(manifest.contains("integration = \"trunk\""), "{manifest}");
    for f in [
        "PROGRESS.md",
        "INTERFACES.md",
        "FILE_OWNERSHIP.md",
        "TODO_CORE.md",
        "TODO_ISOLATION.md",
        "TODO_INFRA.md",
        "TODO_TEST.md",
    ] {
        assert!(repo.path(f).is_file(), "{f} missing");
    }
    for droid in ["core-droid", "isolation-droid", "infra-droid", "test-droid"] {
        assert!(
            manifest.contains(&format!("name = \"{droid}\"")),
            "{droid} missing"
        );
    }
    let exclude = std::fs::read_to_string(repo.path(".git/info/exclude")).unwrap();
    assert!(
        exclude.lines().any(|l| l == "/.droidforge/worktrees/"),
        "{exclude}"
    );
    // The scaffold is a valid forge: plan accepts it.
    repo.df_ok(&["plan", "--check"]);
}

#[test]
fn init_is_idempotent_and_never_overwrites_without_force() {
    let repo = TestRepo::new();
    repo.df_ok(&["init", "--droids", "3"]);
    repo.write(&[("INTERFACES.md", "mine\n")]);
    let out = repo.df(&["init"]);
    assert!(out.status.success());
    assert_eq!(repo.read("INTERFACES.md"), "mine\n");
    assert!(stderr(&out).contains("Kept"), "{}", stderr(&out));
    let exclude = std::fs::read_to_string(repo.path(".git/info/exclude")).unwrap();
    assert_eq!(
        exclude.matches("/.droidforge/worktrees/").count(),
        1,
        "{exclude}"
    );

    repo.df_ok(&["init", "--force"]);
    assert_ne!(repo.read("INTERFACES.md"), "mine\n");
}

#[test]
fn init_with_droid_count_creates_one_todo_per_droid() {
    let repo = TestRepo::new();
    repo.df_ok(&["init", "--droids", "3"]);
    for i in 1..=3 {
        assert!(repo.path(&format!("TODO_DROID{i}.md")).is_file());
    }
    let plan = repo.df_ok(&["plan", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(v["droids"].as_array().unwrap().len(), 3);
}

#[test]
fn init_ci_github_writes_workflow_running_check() {
    let repo = TestRepo::new();
    repo.df_ok(&["init", "--ci", "github"]);
    let wf = repo.read(".github/workflows/droidforge.yml");
    assert!(wf.contains("droidforge check --format github"), "{wf}");
    assert!(wf.contains("fetch-depth: 0"), "{wf}");
}

#[test]
fn init_outside_a_repository_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = df_in(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("is not inside a git repository"), "{err}");
    assert!(err.contains("hint: "), "{err}");
}

/// Issue 11 item 5: with a manifest that does not share INTERFACES.md, the briefs told every
/// droid to write contracts into it, and the merge then rejected that edit as a violation.
#[test]
fn init_from_seed_on_existing_manifest_writes_briefs_the_merge_rejects() {
    let repo = TestRepo::new();
    let manifest = TWO_DROIDS.replace("shared = [\"INTERFACES.md\"]", "shared = []");
    repo.manifest(&manifest);
    repo.commit("Set up forge", &[("src/core/lib.rs", "pub fn core() {}\n")]);
    repo.df_ok(&["init", "--from-seed"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "Scaffold"]);
    repo.df_ok(&["spawn", "core-droid"]);
    let brief = repo.read(".droidforge/worktrees/core-droid/.droidforge/BRIEF.md");
    assert!(
        !brief.contains("Write the contract into INTERFACES.md"),
        "the brief asks for an edit the manifest forbids:\n{brief}"
    );
    assert!(
        brief.contains("INTERFACES.md is not among the files you may change"),
        "{brief}"
    );

    // The oracle: the edit the old brief asked for is what the merge rejects (committed past
    // the pre-commit guard, which refuses it too).
    let wt = repo.path(".droidforge/worktrees/core-droid");
    write_files(&wt, &[("INTERFACES.md", "# Interfaces\n\nfn x();\n")]);
    git_in(&wt, &["add", "-A"]);
    git_in(&wt, &["commit", "-q", "--no-verify", "-m", "contract"]);
    df_in(&wt, &["done"]);
    let out = repo.df(&["merge", "core-droid"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[test]
fn seed_briefs_still_invite_contracts_in_the_shared_interfaces_file() {
    let repo = TestRepo::new();
    repo.commit("Start", &[("README.md", "x\n")]);
    repo.df_ok(&["init", "--from-seed"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "Scaffold"]);
    repo.df_ok(&["spawn", "core-droid"]);
    let brief = repo.read(".droidforge/worktrees/core-droid/.droidforge/BRIEF.md");
    assert!(
        brief.contains("Write the contract into INTERFACES.md"),
        "{brief}"
    );
}

/// A repository made with `git init <format_flag>` and one commit.
fn repo_in_format(format_flag: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let mut init = std::process::Command::new("git");
    hermetic(&mut init);
    let ok = init
        .current_dir(tmp.path())
        .args(["init", "-q", "-b", "main", format_flag, "."])
        .status()
        .unwrap();
    assert!(ok.success());
    commit_in(tmp.path(), "init", &[("README.md", "r\n")]);
    tmp
}

#[test]
fn sha256_and_reftable_repositories_are_misreported_or_silently_empty() {
    // SHA-256 was "not inside a git repository"; reftable showed no branches at all.
    for (flag, format, key) in [
        (
            "--object-format=sha256",
            "sha256",
            "extensions.objectFormat",
        ),
        ("--ref-format=reftable", "reftable", "extensions.refStorage"),
    ] {
        let tmp = repo_in_format(flag);
        for args in [&["init"][..], &["status"][..]] {
            let out = df_in(tmp.path(), args);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{flag} {args:?}: {}",
                stderr(&out)
            );
            let err = stderr(&out);
            assert!(err.contains(&format!("`{format}`")), "{err}");
            assert!(err.contains(key), "{err}");
            assert!(!err.contains("panicked"), "{err}");
        }
        // Nothing was written into the repository.
        assert!(!tmp.path().join(".droidforge").exists(), "{flag}");
    }
}
