//! Crash safety: an interrupted merge (SIGKILL) leaves the old or the new integration tip, a
//! clean `git fsck`, every droid commit reachable, no commit landed twice, and
//! `merge --continue`/`--abort` recover. `DROIDFORGE_CRASH_TRIALS=100` raises the kill trials.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::merge_support::*;

const DROIDS: usize = 5;
const COMMITS: usize = 20;

/// A forge of DROIDS droids × COMMITS commits on branches (no worktrees, so it can be copied),
/// all marked ready.
fn template() -> TestRepo {
    let names: Vec<String> = (0..DROIDS).map(|i| format!("d{i}")).collect();
    let owns: Vec<[String; 1]> = names.iter().map(|n| [format!("{n}/**")]).collect();
    let owns_ref: Vec<Vec<&str>> = owns.iter().map(|o| vec![o[0].as_str()]).collect();
    let spec: Vec<(&str, &[&str], &[&str])> = names
        .iter()
        .zip(&owns_ref)
        .map(|(n, o)| (n.as_str(), o.as_slice(), &[][..]))
        .collect();
    let repo = repo_with(&forge_toml(&spec), &[("README", "r\n")]);
    for n in &names {
        repo.git(&["checkout", "-q", "-b", &format!("droidforge/{n}"), "main"]);
        for j in 0..COMMITS {
            let path = format!("{n}/f{j}.txt");
            repo.commit(&format!("{n} c{j}"), &[(&path, &format!("{n} {j}\n"))]);
        }
        repo.git(&["checkout", "-q", "main"]);
    }
    // main moves, so every droid is really rebased.
    repo.commit("main moves", &[("README", "r2\n")]);
    for n in &names {
        done(&repo, n);
    }
    repo
}

fn copy_repo(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .args(["-a"])
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(ok.success());
}

fn git_at(dir: &Path, args: &[&str]) -> String {
    git_in(dir, args)
}

fn tree_without_progress(dir: &Path, rev: &str) -> String {
    git_at(dir, &["ls-tree", "-r", rev])
        .lines()
        .filter(|l| !l.ends_with("\tPROGRESS.md"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn fsck(dir: &Path) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["fsck", "--full", "--no-progress"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git fsck failed in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn all_droid_work_reachable(dir: &Path) {
    let subjects = git_at(dir, &["log", "--all", "--format=%s"]);
    for i in 0..DROIDS {
        for j in 0..COMMITS {
            let s = format!("d{i} c{j}");
            assert!(
                subjects.lines().any(|l| l == s),
                "commit `{s}` is no longer reachable in {}",
                dir.display()
            );
        }
    }
}

fn df_at(dir: &Path, args: &[&str]) -> std::process::Output {
    df_in(dir, args)
}

fn spawn_merge(dir: &Path, pause: Option<&Path>) -> std::process::Child {
    let mut cmd = Command::new(droidforge_bin());
    hermetic(&mut cmd);
    cmd.current_dir(dir)
        .args(["merge", "--phase", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(p) = pause {
        cmd.env("DROIDFORGE_TEST_PAUSE_BEFORE_LAND", p);
    }
    cmd.spawn().unwrap()
}

/// Kill the merge right before its ref transaction (journal written), then resolve it.
#[test]
fn interrupted_merge_is_refused_then_continued_or_aborted() {
    let tpl = template();
    let t0 = tpl.rev("main");
    for resolve in ["--continue", "--abort"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        copy_repo(&tpl.root, &dir);
        let never = tmp.path().join("never");
        let mut child = spawn_merge(&dir, Some(&never));
        let journal = dir.join(".git/droidforge/merge-journal.json");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !journal.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(journal.exists(), "the merge never wrote its journal");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(git_at(&dir, &["rev-parse", "main"]).trim(), t0);

        let out = df_at(&dir, &["merge", "--phase", "1"]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains("merge --continue") && err.contains("merge --abort"),
            "{err}"
        );

        let out = df_at(&dir, &["merge", resolve]);
        assert!(out.status.success(), "{resolve}: {}", stderr(&out));
        assert!(!journal.exists());
        let tip = git_at(&dir, &["rev-parse", "main"]).trim().to_owned();
        if resolve == "--continue" {
            assert_ne!(tip, t0);
            let files = git_at(&dir, &["ls-tree", "-r", "--name-only", "main"]);
            assert!(files.contains("d4/f19.txt"), "{files}");
            assert!(
                git_at(&dir, &["for-each-ref", "refs/droidforge/ready/"])
                    .trim()
                    .is_empty()
            );
        } else {
            assert_eq!(tip, t0);
            assert_eq!(
                git_at(&dir, &["for-each-ref", "refs/droidforge/ready/"])
                    .lines()
                    .count(),
                DROIDS
            );
        }
        fsck(&dir);
        all_droid_work_reachable(&dir);
    }
}

/// Number of kill trials: `DROIDFORGE_CRASH_TRIALS` (e.g. 100 for the full campaign), 30 by
/// default so CI stays fast.
fn crash_trials() -> usize {
    std::env::var("DROIDFORGE_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

/// SIGKILL at random moments over many trials.
#[test]
fn kill_9_at_random_points_keeps_the_repository_consistent() {
    let tpl = template();
    let t0 = tpl.rev("main");
    // A reference run, unkilled, for the expected tree and the duration.
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    copy_repo(&tpl.root, &reference);
    let started = Instant::now();
    let out = df_at(&reference, &["merge", "--phase", "1"]);
    let full = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let expected_tree = tree_without_progress(&reference, "main");

    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut landed_or_not = [0usize; 2];
    for trial in 0..crash_trials() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let span = full.as_micros() as u64 * 12 / 10 + 1;
        let delay = Duration::from_micros((seed >> 33) % span);
        let dir = tmp.path().join(format!("trial-{trial}"));
        copy_repo(&tpl.root, &dir);
        let mut child = spawn_merge(&dir, None);
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();

        fsck(&dir);
        all_droid_work_reachable(&dir);
        let tip = git_at(&dir, &["rev-parse", "main"]).trim().to_owned();
        let is_new = tip != t0;
        if is_new {
            assert_eq!(
                tree_without_progress(&dir, "main"),
                expected_tree,
                "trial {trial}: main moved to an unexpected tree"
            );
        }
        landed_or_not[usize::from(is_new)] += 1;

        let journal = dir.join(".git/droidforge/merge-journal.json");
        if journal.exists() {
            let resolve = if trial % 2 == 0 {
                "--continue"
            } else {
                "--abort"
            };
            let out = df_at(&dir, &["merge", resolve]);
            assert!(
                out.status.success(),
                "trial {trial} {resolve}: {}",
                stderr(&out)
            );
            assert!(!journal.exists());
            let tip = git_at(&dir, &["rev-parse", "main"]).trim().to_owned();
            if resolve == "--abort" {
                assert_eq!(tip, t0, "trial {trial}: abort did not restore main");
            } else {
                assert_eq!(tree_without_progress(&dir, "main"), expected_tree);
            }
        }
        // Whatever state we are in, a plain merge now finishes the job.
        let tip = git_at(&dir, &["rev-parse", "main"]).trim().to_owned();
        if tip == t0 {
            let out = df_at(&dir, &["merge", "--phase", "1"]);
            assert!(out.status.success(), "trial {trial}: {}", stderr(&out));
        }
        assert_eq!(
            tree_without_progress(&dir, "main"),
            expected_tree,
            "trial {trial}"
        );
        fsck(&dir);
        all_droid_work_reachable(&dir);
        // Whatever was interrupted and resolved, no droid commit landed twice.
        assert_no_commit_landed_twice(&dir, "main");
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Not a timing assertion: just make the spread visible when the test fails elsewhere.
    eprintln!(
        "kill trials: {} before landing, {} after",
        landed_or_not[0], landed_or_not[1]
    );
}
