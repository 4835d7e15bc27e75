//! `droidforge lock` / `unlock` / `locks`: shared and exclusive leases, all-or-nothing,
//! waiting, deadlock detection, stale holders and expiry.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn locks_json(repo: &TestRepo) -> serde_json::Value {
    serde_json::from_str(&repo.df_ok(&["locks", "--json"])).unwrap()
}

fn events(repo: &TestRepo) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(repo.path(".git/droidforge/events.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn write_locks_exclude_and_read_locks_share() {
    let repo = two_droid_repo();
    repo.df_ok(&["lock", "--droid", "core-droid", "--read", "INTERFACES.md"]);
    repo.df_ok(&["lock", "--droid", "infra-droid", "--read", "INTERFACES.md"]);
    let out = repo.df(&["lock", "--droid", "infra-droid", "--write", "*.md"]);
    // infra's own read lease does not block it, core's does.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`INTERFACES.md` is read-locked by `core-droid`"),
        "{err}"
    );
    assert!(err.contains("--wait"), "{err}");
    let v = locks_json(&repo);
    assert_eq!(v["leases"].as_array().unwrap().len(), 2);
    assert!(v["leases"][0]["stale"].is_null());
}

#[test]
fn globs_overlap_by_intersection_and_requests_are_all_or_nothing() {
    let repo = two_droid_repo();
    repo.df_ok(&["lock", "--droid", "core-droid", "src/**"]);
    // `tests/**` does not overlap `src/**`, `src/api/x.rs` does: nothing of the request is granted.
    let out = repo.df(&["lock", "--droid", "infra-droid", "tests/**", "src/api/x.rs"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`src/**` is write-locked by `core-droid`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(locks_json(&repo)["leases"].as_array().unwrap().len(), 1);
    repo.df_ok(&["lock", "--droid", "infra-droid", "tests/**"]);
    assert_eq!(locks_json(&repo)["leases"].as_array().unwrap().len(), 2);
    // Releasing by glob, then the other droid gets it.
    repo.df_ok(&["unlock", "--droid", "core-droid", "src/**"]);
    repo.df_ok(&["lock", "--droid", "infra-droid", "src/api/x.rs"]);
    let kinds: Vec<String> = events(&repo)
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "lock-acquired").count(), 3);
    assert_eq!(kinds.iter().filter(|k| *k == "lock-released").count(), 1);
}

#[test]
fn unlock_of_a_lock_not_held_fails_and_bad_globs_are_usage_errors() {
    let repo = two_droid_repo();
    let out = repo.df(&["unlock", "--droid", "core-droid", "src/**"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no lock on `src/**` held by `core-droid`"),
        "{}",
        stderr(&out)
    );
    let out = repo.df(&["lock", "--droid", "core-droid", "../outside"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = repo.df(&["lock", "--droid", "no-such-droid", "src/**"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

fn spawn_df(repo: &TestRepo, args: &[&str]) -> std::process::Child {
    let mut cmd = Command::new(droidforge_bin());
    hermetic(&mut cmd);
    cmd.current_dir(&repo.root)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn wait_is_granted_after_release() {
    let repo = two_droid_repo();
    repo.df_ok(&["lock", "--droid", "core-droid", "src/x.rs"]);
    let waiter = spawn_df(
        &repo,
        &[
            "lock",
            "--droid",
            "infra-droid",
            "--wait",
            "--json",
            "src/*.rs",
        ],
    );
    wait_until("the wait edge", || {
        locks_json(&repo)["waits"].as_array().unwrap().len() == 1
    });
    assert_eq!(locks_json(&repo)["waits"][0]["waiter"], "infra-droid");
    repo.df_ok(&["unlock", "--droid", "core-droid", "--all"]);
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "granted");
    assert_eq!(v["lease"]["droid"], "infra-droid");
    let v = locks_json(&repo);
    assert!(v["waits"].as_array().unwrap().is_empty());
    assert!(events(&repo).iter().any(|e| e["kind"] == "lock-wait"));
}

#[test]
fn wait_with_a_limit_times_out() {
    let repo = two_droid_repo();
    repo.df_ok(&["lock", "--droid", "core-droid", "src/x.rs"]);
    let out = repo.df(&["lock", "--droid", "infra-droid", "--wait=300ms", "src/x.rs"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("timed out waiting to lock src/x.rs"),
        "{}",
        stderr(&out)
    );
    assert!(locks_json(&repo)["waits"].as_array().unwrap().is_empty());
}

#[test]
fn a_wait_that_closes_a_cycle_fails_at_once_and_names_it() {
    let repo = two_droid_repo();
    repo.df_ok(&["lock", "--droid", "core-droid", "src/x.rs"]);
    repo.df_ok(&["lock", "--droid", "infra-droid", "src/y.rs"]);
    let mut waiter = spawn_df(
        &repo,
        &["lock", "--droid", "core-droid", "--wait", "src/y.rs"],
    );
    wait_until("core's wait edge", || {
        locks_json(&repo)["waits"].as_array().unwrap().len() == 1
    });
    let started = Instant::now();
    let out = repo.df(&["lock", "--droid", "infra-droid", "--wait", "src/x.rs"]);
    let elapsed = started.elapsed();
    waiter.kill().unwrap();
    waiter.wait().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("waiting would deadlock: infra-droid → (src/x.rs) → core-droid → (src/y.rs) → infra-droid"),
        "{err}"
    );
    // It did not wait (the other waiter would have been there forever).
    assert!(elapsed < Duration::from_secs(20));
    let dl: Vec<_> = events(&repo)
        .into_iter()
        .filter(|e| e["kind"] == "deadlock")
        .collect();
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["droid"], "infra-droid");
    // The killed waiter's edge is not shown any more.
    assert!(locks_json(&repo)["waits"].as_array().unwrap().is_empty());
}

#[test]
fn leases_of_dead_holders_are_stale_and_broken_by_force() {
    let repo = two_droid_repo();
    // The lease belongs to droidforge's parent: here a shell that exits right away.
    let bin = droidforge_bin();
    let mut cmd = Command::new("sh");
    hermetic(&mut cmd);
    let status = cmd
        .current_dir(&repo.root)
        .arg("-c")
        .arg(format!(
            "'{}' lock --droid core-droid src/x.rs",
            bin.display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let v = locks_json(&repo);
    let stale = v["leases"][0]["stale"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(stale.contains("is gone"), "{v}");
    let out = repo.df(&["lock", "--droid", "infra-droid", "src/x.rs"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unlock --force L1"),
        "{}",
        stderr(&out)
    );
    let text = repo.df_ok(&["locks"]);
    assert!(text.contains("stale: holder pid"), "{text}");
    repo.df_ok(&["unlock", "--force"]);
    assert!(locks_json(&repo)["leases"].as_array().unwrap().is_empty());
    repo.df_ok(&["lock", "--droid", "infra-droid", "src/x.rs"]);
}

#[test]
fn expired_leases_are_broken_by_the_next_lock() {
    let repo = two_droid_repo();
    repo.df_ok(&["lock", "--droid", "core-droid", "--ttl", "0s", "src/x.rs"]);
    assert_eq!(locks_json(&repo)["leases"][0]["stale"], "expired");
    repo.df_ok(&["lock", "--droid", "infra-droid", "src/x.rs"]);
    let v = locks_json(&repo);
    assert_eq!(v["leases"].as_array().unwrap().len(), 1);
    assert_eq!(v["leases"][0]["droid"], "infra-droid");
    assert!(events(&repo).iter().any(
        |e| e["kind"] == "lock-released" && e["message"].as_str().unwrap().contains("expired")
    ));
}

#[test]
fn the_droid_is_inferred_inside_its_worktree_and_shared_writes_are_reported() {
    let repo = two_droid_repo();
    // A checkout of the droid branch stands in for a spawned worktree.
    repo.git(&["checkout", "-q", "-b", "droidforge/core-droid"]);
    repo.df_ok(&["lock", "INTERFACES.md"]);
    let v = locks_json(&repo);
    assert_eq!(v["leases"][0]["droid"], "core-droid");
    let ws = droidforge::workspace::Workspace::load(
        &repo.root,
        droidforge::workspace::ManifestSource::WorkingTree,
        false,
    )
    .unwrap();
    let held = droidforge::state::locks::write_locks_held_by_others(
        &ws.state,
        "infra-droid",
        &["INTERFACES.md".to_owned(), "src/infra/lib.rs".to_owned()],
    );
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].path, "INTERFACES.md");
    assert_eq!(held[0].holder, "core-droid");
    assert!(
        droidforge::state::locks::write_locks_held_by_others(
            &ws.state,
            "core-droid",
            &["INTERFACES.md".to_owned()]
        )
        .is_empty()
    );
}

/// Run `droidforge <args>` from a short-lived `sh` in `dir`, the way an agent runs every
/// command in a fresh shell: the shell (droidforge's parent) is gone when this returns.
pub fn df_in_fresh_shell(dir: &std::path::Path, args: &str) -> std::process::Output {
    let mut cmd = Command::new("sh");
    hermetic(&mut cmd);
    cmd.current_dir(dir)
        .arg("-c")
        .arg(format!("'{}' {args}", droidforge_bin().display()))
        .output()
        .unwrap()
}

/// A droid's agent started by `droidforge run` in the background: a real process, alive
/// until [`Agent::stop`] (or the end of the test, even a failing one).
pub struct Agent {
    _ctl: tempfile::TempDir,
    stop: std::path::PathBuf,
    run: std::process::Child,
}

impl Agent {
    pub fn start(repo: &TestRepo, droid: &str) -> Agent {
        let ctl = tempfile::tempdir().unwrap();
        let stop = ctl.path().join("stop");
        let cmd = format!("while [ ! -e '{}' ]; do sleep 0.05; done", stop.display());
        let run = crate::run::spawn_run(repo, &[droid, "--cmd", &cmd]);
        crate::run::wait_for("the agent to be recorded as running", || {
            agent_status(repo, droid) == "running"
        });
        Agent {
            _ctl: ctl,
            stop,
            run,
        }
    }

    /// Let the agent exit and wait for `run` to finish.
    pub fn stop(&mut self) {
        std::fs::write(&self.stop, "").unwrap();
        crate::run::wait_exit(&mut self.run);
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.stop, "");
        let _ = self.run.wait();
    }
}

fn agent_status(repo: &TestRepo, droid: &str) -> serde_json::Value {
    std::fs::read_to_string(repo.path(".git/droidforge/state.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map(|s| s["droids"][droid]["agent"]["status"].clone())
        .unwrap_or_default()
}

/// Issue 11 item 4: a lease recorded the pid of the shell that ran `droidforge lock`; agents
/// run every command in a fresh shell, so the next `locks` called the lease stale and
/// `doctor --fix` broke it. A lease taken inside a droid's worktree belongs to the droid and
/// lives as long as the droid's running agent (and its TTL).
#[test]
fn lock_taken_by_an_agent_shell_is_not_stale_while_its_agent_runs() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    let mut agent = Agent::start(&repo, "core-droid");

    // One shell takes the lock (the droid is inferred from the worktree) and exits.
    let out = df_in_fresh_shell(&wt, "lock INTERFACES.md");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Another process looks: held by the droid, not stale.
    let v = locks_json(&repo);
    assert_eq!(v["leases"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["leases"][0]["droid"], "core-droid", "{v}");
    assert_eq!(v["leases"][0]["holder"], "droid", "{v}");
    let state: serde_json::Value =
        serde_json::from_str(&repo.read(".git/droidforge/state.json")).unwrap();
    assert_eq!(
        v["leases"][0]["agent_pid"], state["droids"]["core-droid"]["agent"]["pid"],
        "{v}"
    );
    assert!(v["leases"][0]["stale"].is_null(), "{v}");
    let text = repo.df_ok(&["locks"]);
    assert!(
        text.contains("droid (agent ") && !text.contains("stale"),
        "{text}"
    );
    // `doctor --fix` finds nothing to break, and another droid is still kept out.
    let out = repo.df(&["doctor", "--fix", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!doc.to_string().contains("stale-lock"), "{doc}");
    assert_eq!(locks_json(&repo)["leases"].as_array().unwrap().len(), 1);
    let out = repo.df(&["lock", "--droid", "infra-droid", "INTERFACES.md"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("stale"), "{}", stderr(&out));

    // `unlock` from yet another shell of the droid releases it.
    let out = df_in_fresh_shell(&wt, "unlock INTERFACES.md");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(locks_json(&repo)["leases"].as_array().unwrap().is_empty());

    // Taken again, then the agent exits: the lease dies with it.
    let out = df_in_fresh_shell(&wt, "lock INTERFACES.md");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(locks_json(&repo)["leases"][0]["stale"].is_null());
    agent.stop();
    let v = locks_json(&repo);
    let why = v["leases"][0]["stale"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(why.contains("agent"), "{v}");
    let (code, doc) = crate::doctor::doctor(&repo, true);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(crate::doctor::finding(&doc, "stale-lock").len(), 1, "{doc}");
    assert!(locks_json(&repo)["leases"].as_array().unwrap().is_empty());

    // With no agent running, a lease of the droid lives until its TTL, whoever took it.
    let out = df_in_fresh_shell(&wt, "lock INTERFACES.md");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = df_in_fresh_shell(&wt, "lock --ttl 0s src/core/lib.rs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = locks_json(&repo);
    assert!(v["leases"][0]["stale"].is_null(), "{v}");
    assert_eq!(v["leases"][1]["stale"], "expired", "{v}");
}
