//! `TestRepo`: a real git repository in a temp dir with a hermetic git environment (fixed
//! author and dates, no system or global config), plus helpers to run droidforge and git.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// Path of the droidforge binary under test.
pub fn droidforge_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("droidforge")
}

pub const MANIFEST: &str = ".droidforge/forge.toml";

/// Environment that makes git deterministic and ignores the user's config.
pub fn hermetic(cmd: &mut std::process::Command) {
    cmd.env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", "/nonexistent-droidforge-test-home")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_BASE_REF")
        .env_remove("GITHUB_HEAD_REF")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_ACTIONS");
}

pub struct TestRepo {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
}

impl TestRepo {
    /// An empty repository on branch `main` (no commits).
    pub fn new() -> TestRepo {
        Self::with_dir_name("repo")
    }

    /// Like [`new`](Self::new) but the repository directory has this name (spaces, non-ASCII…).
    pub fn with_dir_name(name: &str) -> TestRepo {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().join(name);
        std::fs::create_dir_all(&root).unwrap();
        let repo = TestRepo { _tmp: tmp, root };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// Write files relative to the root (creating directories).
    pub fn write(&self, files: &[(&str, &str)]) -> &Self {
        write_files(&self.root, files);
        self
    }

    /// Write files and commit them all (`git add -A`) on the current branch; returns the commit.
    pub fn commit(&self, msg: &str, files: &[(&str, &str)]) -> String {
        commit_in(&self.root, msg, files)
    }

    /// Write the manifest (and commit it with everything else when `commit` is true).
    pub fn manifest(&self, toml: &str) -> &Self {
        self.write(&[(MANIFEST, toml)])
    }

    /// Run git in the repo root; panics on failure; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(&self.root, args)
    }

    /// Run droidforge in the repo root.
    pub fn df(&self, args: &[&str]) -> Output {
        df_in(&self.root, args)
    }

    /// Run droidforge in the repo root and assert it exits 0; returns stdout.
    pub fn df_ok(&self, args: &[&str]) -> String {
        let out = self.df(args);
        assert!(
            out.status.success(),
            "droidforge {args:?} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// `git rev-parse REV`.
    pub fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", rev]).trim().to_owned()
    }

    /// Assert `git fsck --full` reports no problems.
    pub fn assert_fsck(&self) {
        let out = std::process::Command::new("git")
            .current_dir(&self.root)
            .args(["fsck", "--full", "--no-progress"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git fsck failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
    }
}

pub fn commit_in(dir: &Path, msg: &str, files: &[(&str, &str)]) -> String {
    write_files(dir, files);
    git_in(dir, &["add", "-A"]);
    git_in(dir, &["commit", "-q", "--allow-empty", "-m", msg]);
    git_in(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let mut cmd = std::process::Command::new("git");
    hermetic(&mut cmd);
    let out = cmd.current_dir(dir).args(args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed in {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn df_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    cmd.current_dir(dir)
        .args(args)
        .output()
        .expect("run droidforge")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A small two-droid manifest used across tests.
pub const TWO_DROIDS: &str = r#"[forge]
integration = "main"

[paths]
shared = ["INTERFACES.md"]

[[phase]]
id = 1
name = "One"

[[droid]]
name = "core-droid"
role = "Core"
phases = [1]
owns = ["src/core/**"]
todo = "TODO_CORE.md"

[[droid]]
name = "infra-droid"
role = "Infra"
phases = [1]
owns = ["src/infra/**"]
todo = "TODO_INFRA.md"
after = ["core-droid"]
"#;

/// A repo with `TWO_DROIDS` committed on main plus a little source tree.
pub fn two_droid_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.manifest(TWO_DROIDS);
    repo.commit(
        "Set up forge",
        &[
            ("INTERFACES.md", "# Interfaces\n"),
            ("src/core/lib.rs", "pub fn core() {}\n"),
            ("src/infra/lib.rs", "pub fn infra() {}\n"),
            ("TODO_CORE.md", "- [ ] one\n- [ ] two\n"),
            ("TODO_INFRA.md", "- [ ] one\n"),
        ],
    );
    repo
}

/// The entries of the repository's trash (`.git/droidforge/trash`).
pub fn trash_entries(repo: &TestRepo) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(repo.path(".git/droidforge/trash"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Wait until the detached sweep has emptied the trash (a deadlock guard of 60 s, not a
/// timing threshold).
pub fn wait_for_sweep(repo: &TestRepo) {
    for _ in 0..1200 {
        if trash_entries(repo).is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the trash was never emptied: {:?}", trash_entries(repo));
}

/// Hold the trash lock, as a sweep busy deleting does, until the file is dropped.
pub fn hold_trash_lock(repo: &TestRepo) -> std::fs::File {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(repo.path(".git/droidforge/trash.lock"))
        .unwrap();
    lock.lock().unwrap();
    lock
}
