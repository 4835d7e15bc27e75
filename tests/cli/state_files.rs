//! Hostile state files in `.git/droidforge/`: a FIFO, a symbolic link, an oversized file, a
//! wrong JSON type, an unreadable merge journal. Each gets an error naming the file and the
//! way out, never a hang, an out-of-memory read or a silent empty state.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Run droidforge in `repo`; a run still going after a minute is killed and fails the test
/// (the defect under test is a read that never returns).
fn df_watchdog(repo: &TestRepo, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(droidforge_bin());
    hermetic(&mut cmd);
    let mut child = cmd
        .current_dir(&repo.root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("droidforge {args:?} hung on a hostile state file");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn state_dir(repo: &TestRepo) -> std::path::PathBuf {
    let dir = repo.path(".git/droidforge");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_state_file_replaced_by_a_fifo_blocks_forever() {
    let repo = two_droid_repo();
    let path = state_dir(&repo).join("state.json");
    let made = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(made.success());
    let out = df_watchdog(&repo, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("state.json"), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    assert!(err.contains("doctor --fix"), "{err}");
    // The way out works on a FIFO too.
    let fixed = df_watchdog(&repo, &["doctor", "--fix"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", stderr(&fixed));
    repo.df_ok(&["status"]);
}

#[test]
fn a_state_file_symlinked_elsewhere_is_followed() {
    // A link to `/dev/zero` read until memory ran out; any link is now refused (tested with a
    // link to a regular file so the test cannot exhaust memory before the fix).
    let repo = two_droid_repo();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("elsewhere.json");
    std::fs::write(&target, "{\"version\":1}").unwrap();
    std::os::unix::fs::symlink(&target, state_dir(&repo).join("state.json")).unwrap();
    let out = df_watchdog(&repo, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("state.json"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    std::fs::remove_file(state_dir(&repo).join("state.json")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", state_dir(&repo).join("state.json")).unwrap();
    let out = df_watchdog(&repo, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
}

#[test]
fn an_oversized_state_file_is_read_whole() {
    let repo = two_droid_repo();
    let path = state_dir(&repo).join("locks.json");
    // Sparse: no disk space, but 65 MiB to a reader.
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(65 * 1024 * 1024).unwrap();
    let out = df_watchdog(&repo, &["locks"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("locks.json"), "{err}");
    assert!(err.contains("64 MiB"), "{err}");
}

#[test]
fn a_state_file_holding_an_array_is_treated_as_empty() {
    let repo = two_droid_repo();
    std::fs::write(state_dir(&repo).join("state.json"), "[]").unwrap();
    let out = df_watchdog(&repo, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("state.json"), "{err}");
    assert!(
        err.contains("an array where a JSON object was expected"),
        "{err}"
    );
    assert!(err.contains("doctor --fix"), "{err}");
    let fixed = df_watchdog(&repo, &["doctor", "--fix"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", stderr(&fixed));
    repo.df_ok(&["status"]);
}

#[test]
fn a_corrupt_merge_journal_sends_doctor_and_continue_in_a_circle() {
    let repo = two_droid_repo();
    let journal = state_dir(&repo).join("merge-journal.json");
    std::fs::write(&journal, "{\"merge_id\": ").unwrap();
    // doctor says what is wrong and does not send the user to `--continue`.
    let out = df_watchdog(&repo, &["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"corrupt-merge-journal"), "{v}");
    assert!(!codes.contains(&"interrupted-merge"), "{v}");
    // `--continue` cannot finish it and points at the way out, not back at doctor.
    let out = df_watchdog(&repo, &["merge", "--continue"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("merge --abort"), "{err}");
    assert!(err.contains("refs/droidforge/backup/"), "{err}");
    // `--abort` moves it aside, says where, and how to check the branch.
    let before = repo.rev("main");
    let out = df_watchdog(&repo, &["merge", "--abort"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("merge-journal.json.corrupt-"), "{err}");
    assert!(err.contains("refs/droidforge/backup/"), "{err}");
    assert!(!journal.exists());
    assert_eq!(repo.rev("main"), before);
    // Nothing is pending any more.
    let out = df_watchdog(&repo, &["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_corrupt_merge_journal_is_moved_aside_by_doctor_fix() {
    let repo = two_droid_repo();
    let journal = state_dir(&repo).join("merge-journal.json");
    std::fs::write(&journal, "[]").unwrap();
    let out = df_watchdog(&repo, &["doctor", "--fix", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "corrupt-merge-journal")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(f["fixed"], true, "{v}");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("merge-journal.json.corrupt-"), "{msg}");
    assert!(msg.contains("refs/droidforge/backup/"), "{msg}");
    assert!(!journal.exists());
}

#[test]
fn doctor_fix_on_corrupt_state_drops_the_merge_history() {
    use crate::merge_support::{done, droid_commit, merge_json};
    let repo = two_droid_repo();
    let t0 = repo.rev("main");
    droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    done(&repo, "core-droid");
    let (_, report) = merge_json(&repo, &["core-droid"]);
    let id = report["merge_id"].as_str().unwrap().to_owned();
    assert_ne!(repo.rev("main"), t0);
    std::fs::write(state_dir(&repo).join("state.json"), "{ torn").unwrap();
    let out = repo.df(&["doctor", "--fix"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let state: serde_json::Value =
        serde_json::from_str(&repo.read(".git/droidforge/state.json")).unwrap();
    let merges = state["merges"].as_array().unwrap();
    assert_eq!(merges.len(), 1, "{state}");
    assert_eq!(merges[0]["id"], id.as_str());
    assert_eq!(merges[0]["old_tip"], t0.as_str());
    assert_eq!(merges[0]["droids"][0], "core-droid");
    // The rebuilt history is usable: undo restores the integration branch.
    repo.df_ok(&["undo"]);
    assert_eq!(repo.rev("main"), t0);
    repo.assert_fsck();
}

#[test]
fn doctor_fix_rebuilds_merge_history_from_backup_refs_alone() {
    use crate::merge_support::{done, droid_commit, merge_json};
    let repo = two_droid_repo();
    let t0 = repo.rev("main");
    droid_commit(&repo, "core-droid", "core 1", &[("src/core/a.rs", "a\n")]);
    done(&repo, "core-droid");
    let (_, report) = merge_json(&repo, &["core-droid"]);
    let id = report["merge_id"].as_str().unwrap().to_owned();
    std::fs::remove_dir_all(state_dir(&repo).join("merges")).unwrap();
    std::fs::write(state_dir(&repo).join("state.json"), "[]").unwrap();
    repo.df_ok(&["doctor", "--fix"]);
    let state: serde_json::Value =
        serde_json::from_str(&repo.read(".git/droidforge/state.json")).unwrap();
    assert_eq!(state["merges"][0]["id"], id.as_str(), "{state}");
    assert_eq!(state["merges"][0]["old_tip"], t0.as_str());
    // Its new tip is unknown: undo refuses, naming the backup ref and the old tip.
    let out = repo.df(&["undo"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("refs/droidforge/backup/{id}")),
        "{err}"
    );
    assert!(err.contains(&t0), "{err}");
    assert_ne!(repo.rev("main"), t0);
}
