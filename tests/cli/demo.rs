//! `demo`: the end-to-end run; the resulting repository is checked with git.

use crate::common::*;

#[test]
fn demo_merges_clean_droids_and_rejects_the_violation_and_the_conflict() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo repo");
    let out = df_in(tmp.path(), &["demo", "--keep", dir.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{text}\nstderr:\n{}",
        stderr(&out)
    );
    let git = |args: &[&str]| git_in(&dir, args);

    // Every scripted agent ran as a real process and ended ready. The merger consumed the
    // ready marks of the droids it merged (their branches now sit on main); the rejected
    // droids keep theirs.
    for droid in ["isolation-droid", "test-droid"] {
        let ready = git(&["rev-parse", &format!("refs/droidforge/ready/{droid}")]);
        let branch = git(&["rev-parse", &format!("droidforge/{droid}")]);
        assert_eq!(ready, branch, "{droid}");
    }
    for droid in ["core-droid", "infra-droid"] {
        git(&[
            "merge-base",
            "--is-ancestor",
            &format!("droidforge/{droid}"),
            "main",
        ]);
    }
    for droid in ["core-droid", "isolation-droid", "infra-droid", "test-droid"] {
        let log =
            std::fs::read_to_string(dir.join(format!(".git/droidforge/logs/{droid}.log"))).unwrap();
        assert!(
            log.contains(&format!("{droid}: reading the brief")),
            "{log}"
        );
    }
    // infra-droid left its last changes uncommitted; the runner committed them.
    assert_eq!(
        git(&["log", "-1", "--format=%s", "droidforge/infra-droid"]).trim(),
        "droidforge: infra-droid leftover changes from agent run"
    );

    // main: the setup, core's and infra's commits (rebased), then the PROGRESS.md record.
    let subjects = git(&["log", "--format=%s", "main"]);
    for s in [
        "core: add a mutex for the ready queue",
        "core: requestNext() is async and locked; document it",
        "infra: EventBus.emit()",
        "droidforge: infra-droid leftover changes from agent run",
    ] {
        assert!(subjects.lines().any(|l| l == s), "{s} missing:\n{subjects}");
    }
    assert!(!subjects.contains("isolation:"), "{subjects}");
    assert!(!subjects.contains("test:"), "{subjects}");
    // Nothing of the rejected droids is in main's tree.
    let tree = git(&["ls-tree", "-r", "--name-only", "main"]);
    assert!(tree.contains("src/execution/synchronization.ts"));
    assert!(tree.contains("src/execution/eventBus.ts"));
    assert!(!tree.contains("staging.ts"), "{tree}");
    assert!(!tree.contains("__tests__"), "{tree}");
    let manager = git(&["show", "main:src/execution/manager.ts"]);
    assert!(!manager.contains("STAGE_BEFORE_RUN"), "{manager}");
    // Shared INTERFACES.md got core's and infra's edits, not test's.
    let interfaces = git(&["show", "main:INTERFACES.md"]);
    assert!(interfaces.contains("under the queue mutex"), "{interfaces}");
    assert!(interfaces.contains("subscribe("), "{interfaces}");
    assert!(!interfaces.contains("race.test.ts"), "{interfaces}");

    // PROGRESS.md was committed on main and names every result.
    let last_progress = git(&["log", "-1", "--format=%H", "main", "--", "PROGRESS.md"]);
    assert_ne!(
        last_progress.trim(),
        git(&["rev-list", "--max-parents=0", "main"]).trim(),
        "PROGRESS.md was never updated"
    );
    let progress = git(&["show", "main:PROGRESS.md"]);
    for want in [
        "core-droid",
        "merged",
        "violation",
        "conflict",
        "INTERFACES.md",
    ] {
        assert!(progress.contains(want), "{want}:\n{progress}");
    }

    // The output explains each droid in a sentence.
    assert!(text.contains("core-droid: merged"), "{text}");
    assert!(
        text.contains("isolation-droid: rejected — it wrote src/execution/manager.ts"),
        "{text}"
    );
    assert!(text.contains("owned by `core-droid`"), "{text}");
    assert!(
        text.contains("test-droid: rejected — textual conflict in INTERFACES.md"),
        "{text}"
    );
    assert!(text.contains("== PROGRESS.md on main =="), "{text}");

    // The main worktree is clean and the repository is sound.
    assert_eq!(git(&["status", "--porcelain"]), "");
    let fsck = std::process::Command::new("git")
        .current_dir(&dir)
        .args(["fsck", "--full", "--no-progress"])
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stderr)
    );
}

#[test]
fn demo_refuses_a_non_empty_directory() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), "keep me").unwrap();
    let out = df_in(tmp.path(), &["demo", "--keep", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("precious.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn demo_without_keep_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    let out = cmd
        .current_dir(tmp.path())
        .env("TMPDIR", tmp.path())
        .arg("demo")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn scripted_agent_follows_its_script() {
    let repo = TestRepo::new();
    repo.commit("init", &[("TODO.md", "- [ ] first\n- [ ] second\n")]);
    std::fs::write(
        repo.path("script.json"),
        r#"{"steps":[{"say":"hi"},{"write":{"path":"a/b.txt","text":"x\n"}},{"check":{"path":"TODO.md","item":"second"}},{"commit":"agent work"},{"exit":4}]}"#,
    )
    .unwrap();
    let out = repo.df(&["scripted-agent", "--script", "script.json"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("hi\n"), "{}", stdout(&out));
    assert_eq!(repo.git(&["log", "-1", "--format=%s"]).trim(), "agent work");
    assert_eq!(
        repo.git(&["show", "HEAD:TODO.md"]),
        "- [ ] first\n- [x] second\n"
    );
}
