//! `run`: real agent processes (scripts/fake-agent.sh) — concurrency limit, stagger, timeout,
//! stall detection, Ctrl-C cleanup, logs, leftover commit and ready mark, events.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Per-droid behaviour for the fake agent, as `.env` files in a temp dir.
pub struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    pub fn new() -> Fake {
        Fake {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Shell variable assignments for `droid` (or `default`).
    pub fn set(&self, droid: &str, env: &str) -> &Self {
        std::fs::write(self.dir.path().join(format!("{droid}.env")), env).unwrap();
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `droid` (or `default`) hangs until killed, with `extra` settings (`IGNORE_TERM=1\n`,
    /// `CHILD=1\n`), recording its pid; returns the pid file (read it with [`pids`]).
    pub fn hang(&self, droid: &str, extra: &str) -> PathBuf {
        let pid_file = self.path("pids");
        self.set(
            droid,
            &format!("HANG=1\n{extra}PID_FILE='{}'\n", pid_file.display()),
        );
        pid_file
    }

    /// The `--cmd` template that runs the fake agent.
    pub fn cmd(&self) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fake-agent.sh");
        format!(
            "bash '{}' '{}' {{droid}}",
            script.display(),
            self.dir.path().display()
        )
    }
}

/// A forge with `n` independent droids `d1..dn`, each owning `src/dK/**`.
pub fn n_droid_repo(n: usize) -> TestRepo {
    let repo = TestRepo::new();
    let mut toml = String::from("[forge]\nintegration = \"main\"\n\n[[phase]]\nid = 1\n");
    let mut files = Vec::new();
    for k in 1..=n {
        toml.push_str(&format!(
            "\n[[droid]]\nname = \"d{k}\"\nphases = [1]\nowns = [\"src/d{k}/**\"]\n"
        ));
        files.push((format!("src/d{k}/lib.rs"), format!("// d{k}\n")));
    }
    repo.manifest(&toml);
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    repo.commit("Set up forge", &files);
    repo
}

fn run_json(repo: &TestRepo, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["run", "--json"];
    all.extend_from_slice(args);
    let out = repo.df(&all);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(&out),
            stderr(&out)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

fn report<'a>(json: &'a serde_json::Value, droid: &str) -> &'a serde_json::Value {
    json["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["droid"] == droid)
        .unwrap_or_else(|| panic!("no report for {droid}: {json}"))
}

fn ref_exists(repo: &TestRepo, name: &str) -> bool {
    Command::new("git")
        .current_dir(&repo.root)
        .args(["rev-parse", "--verify", "--quiet", name])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn log_path(repo: &TestRepo, droid: &str) -> PathBuf {
    repo.path(&format!(".git/droidforge/logs/{droid}.log"))
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

fn pids(file: &Path) -> Vec<(String, u32)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, pid) = l.split_once(' ')?;
            Some((name.to_owned(), pid.trim().parse().ok()?))
        })
        .collect()
}

fn events(repo: &TestRepo) -> Vec<serde_json::Value> {
    let out = repo.df_ok(&["events", "--json"]);
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["events"]
        .as_array()
        .unwrap()
        .clone()
}

/// The raw journal lines (millisecond times, which `events --json` renders as RFC 3339).
fn journal(repo: &TestRepo) -> Vec<serde_json::Value> {
    std::fs::read_to_string(repo.path(".git/droidforge/events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn exit_zero_commits_leftovers_and_marks_ready_nonzero_fails() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    fake.set(
        "core-droid",
        "WRITE='src/core/new.rs=pub fn new() {};TODO_CORE.md=- [x] one'\nPRINT='hello from core'\n",
    );
    fake.set("infra-droid", "PRINT='infra breaks'\nEXIT=3\n");
    let (code, json) = run_json(&repo, &["--all", "--cmd", &fake.cmd()]);
    assert_eq!(code, 1, "{json}");

    // Worktrees were spawned by `run`.
    let wt = repo.path(".droidforge/worktrees/core-droid");
    assert!(wt.join(".git").exists());

    let core = report(&json, "core-droid");
    assert_eq!(core["outcome"], "ready");
    assert_eq!(core["exit_code"], 0);
    assert_eq!(core["committed_leftovers"], true);
    assert_eq!(core["new_commits"], 1);
    let head = repo.rev("droidforge/core-droid");
    assert_eq!(repo.rev("refs/droidforge/ready/core-droid"), head);
    assert_eq!(core["ready_commit"], head.as_str());
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", "droidforge/core-droid"])
            .trim(),
        "droidforge: core-droid leftover changes from agent run"
    );
    let files = repo.git(&["show", "--name-only", "--format=", "droidforge/core-droid"]);
    let mut files: Vec<&str> = files.lines().collect();
    files.sort();
    // The brief is never committed; nothing outside the worktree is touched.
    assert_eq!(files, ["TODO_CORE.md", "src/core/new.rs"]);
    assert_eq!(git_in(&wt, &["status", "--porcelain"]), "");
    assert_eq!(repo.git(&["status", "--porcelain"]), "");

    let infra = report(&json, "infra-droid");
    assert_eq!(infra["outcome"], "failed");
    assert_eq!(infra["exit_code"], 3);
    assert!(!ref_exists(&repo, "refs/droidforge/ready/infra-droid"));

    // Log: header, command, stdout and stderr, footer.
    let log = std::fs::read_to_string(log_path(&repo, "core-droid")).unwrap();
    assert!(
        log.starts_with("===== droidforge run: core-droid at "),
        "{log}"
    );
    assert!(log.contains("$ bash "), "{log}");
    assert!(log.contains("hello from core\n"), "{log}");
    assert!(log.contains("to stderr\n"), "{log}");
    assert!(log.contains("marked ready ====="), "{log}");
    let infra_log = std::fs::read_to_string(log_path(&repo, "infra-droid")).unwrap();
    assert!(infra_log.contains("infra breaks"), "{infra_log}");
    assert!(infra_log.contains("exited with code 3"), "{infra_log}");

    // Text mode points at the failed droid's log; a second run appends to the log.
    let out = repo.df(&["run", "infra-droid", "--cmd", &fake.cmd()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&log_path(&repo, "infra-droid").display().to_string()),
        "{}",
        stdout(&out)
    );
    let infra_log = std::fs::read_to_string(log_path(&repo, "infra-droid")).unwrap();
    assert_eq!(
        infra_log
            .matches("===== droidforge run: infra-droid")
            .count(),
        2
    );

    // State records the agents.
    let state: serde_json::Value =
        serde_json::from_str(&repo.read(".git/droidforge/state.json")).unwrap();
    assert_eq!(state["droids"]["core-droid"]["agent"]["status"], "exited");
    assert_eq!(state["droids"]["infra-droid"]["agent"]["status"], "failed");
    assert_eq!(state["droids"]["infra-droid"]["agent"]["exit_code"], 3);
    repo.assert_fsck();
}

#[test]
fn agent_commits_are_counted_and_no_leftover_commit_is_made() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    fake.set(
        "core-droid",
        "WRITE='src/core/a.rs=a'\nCOMMIT='core: add a'\n",
    );
    let (code, json) = run_json(&repo, &["core-droid", "--cmd", &fake.cmd()]);
    assert_eq!(code, 0, "{json}");
    let core = report(&json, "core-droid");
    assert_eq!(core["outcome"], "ready");
    assert_eq!(core["new_commits"], 1);
    assert_eq!(core["committed_leftovers"], false);
    assert_eq!(
        repo.git(&[
            "log",
            "-1",
            "--format=%s",
            "refs/droidforge/ready/core-droid"
        ])
        .trim(),
        "core: add a"
    );
}

#[test]
fn exit_zero_without_work_is_its_own_outcome() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    fake.set("default", "PRINT='thinking…'\n");
    let (code, json) = run_json(&repo, &["core-droid", "--cmd", &fake.cmd()]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(report(&json, "core-droid")["outcome"], "no-work");
    assert!(!ref_exists(&repo, "refs/droidforge/ready/core-droid"));
    let out = repo.df(&["run", "core-droid", "--cmd", &fake.cmd()]);
    assert!(
        stdout(&out).contains("exited 0") && stdout(&out).contains("did nothing"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn no_commit_leaves_changes_and_does_not_mark_ready() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    fake.set("core-droid", "WRITE='src/core/x.rs=x'\n");
    let (code, json) = run_json(&repo, &["core-droid", "--no-commit", "--cmd", &fake.cmd()]);
    assert_eq!(code, 1);
    assert_eq!(report(&json, "core-droid")["outcome"], "uncommitted");
    assert!(!ref_exists(&repo, "refs/droidforge/ready/core-droid"));
    let wt = repo.path(".droidforge/worktrees/core-droid");
    assert_eq!(
        git_in(&wt, &["status", "--porcelain"]).trim(),
        "?? src/core/x.rs"
    );
}

/// Intervals `[start, end]` per droid from the fake agents' shared log.
fn intervals(file: &Path) -> Vec<(String, u128, u128)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut starts = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let t: u128 = parts[2].parse().unwrap();
        match parts[0] {
            "start" => {
                starts.insert(parts[1].to_owned(), t);
            }
            "end" => out.push((parts[1].to_owned(), starts[parts[1]], t)),
            _ => {}
        }
    }
    out
}

#[test]
fn jobs_limits_how_many_agents_are_alive_at_once() {
    let repo = n_droid_repo(4);
    let fake = Fake::new();
    let shared = fake.path("times.log");
    fake.set(
        "default",
        &format!("SHARED_LOG='{}'\nSLEEP=0.4\n", shared.display()),
    );
    let (code, json) = run_json(&repo, &["--all", "--jobs", "2", "--cmd", &fake.cmd()]);
    // They did nothing, so they are not ready; what matters here is the overlap.
    assert_eq!(code, 1);
    assert!(
        json["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] == "no-work")
    );
    let iv = intervals(&shared);
    assert_eq!(iv.len(), 4, "{iv:?}");
    let mut max_alive = 0;
    for (_, s, _) in &iv {
        let alive = iv.iter().filter(|(_, s2, e2)| s2 <= s && s < e2).count();
        max_alive = max_alive.max(alive);
    }
    assert!(max_alive <= 2, "{max_alive} agents alive at once: {iv:?}");

    // The runner's own view agrees: never more than 2 started-but-not-exited.
    let mut alive = 0i32;
    let mut peak = 0;
    for e in events(&repo) {
        match e["kind"].as_str().unwrap() {
            "started" => alive += 1,
            "exited" => alive -= 1,
            _ => {}
        }
        peak = peak.max(alive);
    }
    assert!(peak <= 2, "peak {peak}");
    assert_eq!(alive, 0);
}

#[test]
fn stagger_spaces_starts_in_selection_order() {
    let repo = n_droid_repo(3);
    let fake = Fake::new();
    run_json(
        &repo,
        &["--all", "--stagger", "300ms", "--cmd", &fake.cmd()],
    );
    // When the runner spawned each agent process (recorded with the `started` event).
    let starts: Vec<(String, i64)> = journal(&repo)
        .iter()
        .filter(|e| e["kind"] == "started")
        .map(|e| {
            (
                e["droid"].as_str().unwrap().to_owned(),
                e["data"]["spawned_at_ms"].as_i64().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = starts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["d1", "d2", "d3"]);
    for pair in starts.windows(2) {
        let gap = pair[1].1 - pair[0].1;
        assert!(gap >= 300, "starts only {gap}ms apart: {starts:?}");
    }
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    let pid_file = fake.hang("core-droid", "IGNORE_TERM=1\nCHILD=1\n");
    let (code, json) = run_json(
        &repo,
        &[
            "core-droid",
            "--timeout",
            "700ms",
            "--grace",
            "200ms",
            "--cmd",
            &fake.cmd(),
        ],
    );
    assert_eq!(code, 1, "{json}");
    let core = report(&json, "core-droid");
    assert_eq!(core["outcome"], "timed-out");
    timer_reports_more_than_the_limit_it_enforced(core);
    let pids = pids(&pid_file);
    assert_eq!(pids.len(), 2, "{pids:?}");
    for (name, pid) in pids {
        assert!(!alive(pid), "{name} ({pid}) is still alive");
    }
    let state: serde_json::Value =
        serde_json::from_str(&repo.read(".git/droidforge/state.json")).unwrap();
    assert_eq!(
        state["droids"]["core-droid"]["agent"]["status"],
        "timed-out"
    );
}

/// Issue 11 item 12: a 700ms timeout reported "timed out after 1.0s" (the limit plus the grace
/// period of stopping an agent that ignores SIGTERM). The message names the limit it enforced.
fn timer_reports_more_than_the_limit_it_enforced(core: &serde_json::Value) {
    let message = core["message"].as_str().unwrap();
    assert!(message.starts_with("timed out after 700ms "), "{message}");
    // The measured time, grace included, is still in the report.
    assert!(core["elapsed_ms"].as_u64().unwrap() >= 700, "{core}");
}

#[test]
fn stall_is_detected_and_reported_without_killing() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    fake.set("core-droid", "SLEEP=2.5\n");
    let (_, json) = run_json(
        &repo,
        &["core-droid", "--stall", "500ms", "--cmd", &fake.cmd()],
    );
    let core = report(&json, "core-droid");
    assert_eq!(core["stalled"], true);
    // Not killed: it ran to its own end.
    assert_eq!(core["outcome"], "no-work");
    let kinds: Vec<String> = events(&repo)
        .iter()
        .filter(|e| e["droid"] == "core-droid")
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    let stalled = kinds
        .iter()
        .position(|k| k == "stalled")
        .expect("stalled event");
    let exited = kinds.iter().position(|k| k == "exited").unwrap();
    assert!(stalled < exited, "{kinds:?}");
}

#[test]
fn kill_stalled_stops_a_silent_agent_but_file_activity_is_not_a_stall() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    let pid_file = fake.hang("core-droid", "");
    // infra writes a file every 100ms but prints nothing: busy, not stalled.
    fake.set("infra-droid", "QUIET_WRITE=0.1\n");
    let (_, json) = run_json(
        &repo,
        &[
            "--all",
            "--stall",
            "1s",
            "--kill-stalled",
            "--timeout",
            "4s",
            "--grace",
            "200ms",
            "--cmd",
            &fake.cmd(),
        ],
    );
    let core = report(&json, "core-droid");
    assert_eq!(core["outcome"], "stalled", "{json}");
    for (name, pid) in pids(&pid_file) {
        assert!(!alive(pid), "{name} ({pid}) is still alive");
    }
    let infra = report(&json, "infra-droid");
    assert_eq!(infra["outcome"], "timed-out", "{json}");
    assert_eq!(infra["stalled"], false, "{json}");
}

/// Start `droidforge run` in the background.
pub fn spawn_run(repo: &TestRepo, args: &[&str]) -> std::process::Child {
    let mut cmd = Command::new(droidforge_bin());
    hermetic(&mut cmd);
    cmd.current_dir(&repo.root)
        .arg("run")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < give_up, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

pub fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let mut status = None;
    wait_for("droidforge to exit", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}

#[test]
fn sigint_stops_every_agent_and_leaves_no_process_behind() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    let pid_file = fake.hang("core-droid", "IGNORE_TERM=1\nCHILD=1\n");
    fake.set(
        "infra-droid",
        &format!("HANG=1\nCHILD=1\nPID_FILE='{}'\n", pid_file.display()),
    );
    let mut child = spawn_run(
        &repo,
        &["--all", "--json", "--grace", "300ms", "--cmd", &fake.cmd()],
    );
    wait_for("4 agent pids", || pids(&pid_file).len() == 4);
    signal(child.id(), "-INT");
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(130));
    for (name, pid) in pids(&pid_file) {
        assert!(!alive(pid), "{name} ({pid}) is still alive");
    }
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    for droid in ["core-droid", "infra-droid"] {
        assert_eq!(report(&json, droid)["outcome"], "interrupted");
    }
    let state: serde_json::Value =
        serde_json::from_str(&repo.read(".git/droidforge/state.json")).unwrap();
    assert_eq!(
        state["droids"]["core-droid"]["agent"]["status"],
        "interrupted"
    );
    assert!(
        events(&repo)
            .iter()
            .any(|e| e["kind"] == "interrupted" && e["droid"] == "core-droid")
    );
}

#[test]
fn second_sigint_kills_at_once() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    let pid_file = fake.hang("core-droid", "IGNORE_TERM=1\n");
    // A grace period far longer than the test's patience: only the second Ctrl-C ends it.
    let mut child = spawn_run(
        &repo,
        &["core-droid", "--grace", "10m", "--cmd", &fake.cmd()],
    );
    wait_for("the agent pid", || pids(&pid_file).len() == 1);
    signal(child.id(), "-INT");
    wait_for("the stop notice", || {
        std::fs::read_to_string(log_path(&repo, "core-droid")).is_ok()
    });
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still in its grace period"
    );
    signal(child.id(), "-INT");
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(130));
    for (name, pid) in pids(&pid_file) {
        assert!(!alive(pid), "{name} ({pid}) is still alive");
    }
}

#[test]
fn queued_agents_never_start_after_an_interrupt() {
    let repo = n_droid_repo(3);
    let fake = Fake::new();
    let pid_file = fake.hang("default", "");
    let mut child = spawn_run(
        &repo,
        &["--all", "--jobs", "1", "--json", "--cmd", &fake.cmd()],
    );
    wait_for("the first agent", || pids(&pid_file).len() == 1);
    signal(child.id(), "-TERM");
    assert_eq!(wait_exit(&mut child).code(), Some(130));
    let started: Vec<String> = pids(&pid_file).into_iter().map(|(n, _)| n).collect();
    assert_eq!(started, ["d1"]);
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    for d in ["d1", "d2", "d3"] {
        assert_eq!(report(&json, d)["outcome"], "interrupted");
    }
}

#[test]
fn events_of_a_run_come_in_order() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    fake.set("core-droid", "WRITE='src/core/b.rs=b'\n");
    repo.df_ok(&["run", "core-droid", "--cmd", &fake.cmd()]);
    let kinds: Vec<String> = events(&repo)
        .iter()
        .filter(|e| e["droid"] == "core-droid")
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["spawned", "started", "committed", "exited", "ready"]
    );
}

#[test]
fn presets_and_templates_are_checked_before_anything_is_spawned() {
    let repo = two_droid_repo();
    let out = repo.df(&["run", "--all", "--agent", "claud"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unknown agent preset `claud`"), "{err}");
    assert!(err.contains("`claude`"), "{err}");
    assert!(!repo.path(".droidforge/worktrees").exists());

    let out = repo.df(&["run", "--all", "--jobs", "0", "--cmd", "true"]);
    assert_eq!(out.status.code(), Some(2));
    let out = repo.df(&["run", "--all", "--stall", "soon", "--cmd", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`soon` is not a duration"));
}

#[test]
fn manifest_agent_template_is_used_with_quoted_placeholders() {
    let repo = TestRepo::with_dir_name("repo with space");
    repo.manifest(
        "[forge]\nintegration = \"main\"\nagent = \"printf '%s|%s|%s' {droid} {branch} {brief} > out.txt\"\n\n[[phase]]\nid = 1\n\n[[droid]]\nname = \"core-droid\"\nphases = [1]\nowns = [\"**\"]\n",
    );
    repo.commit("forge", &[]);
    let (code, json) = run_json(&repo, &["--all"]);
    assert_eq!(code, 0, "{json}");
    let out = git_in(
        &repo.root,
        &["show", "refs/droidforge/ready/core-droid:out.txt"],
    );
    let brief = repo.path(".droidforge/worktrees/core-droid/.droidforge/BRIEF.md");
    assert_eq!(
        out,
        format!("core-droid|droidforge/core-droid|{}", brief.display())
    );
}

#[test]
fn a_droid_with_a_live_agent_is_not_started_twice() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    let pid_file = fake.hang("core-droid", "");
    let mut first = spawn_run(
        &repo,
        &["core-droid", "--grace", "200ms", "--cmd", &fake.cmd()],
    );
    wait_for("the agent to be recorded as running", || {
        std::fs::read_to_string(repo.path(".git/droidforge/state.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|s| s["droids"]["core-droid"]["agent"]["status"] == "running")
    });
    wait_for("the agent pid", || pids(&pid_file).len() == 1);
    let out = repo.df(&["run", "core-droid", "--cmd", &fake.cmd()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already has an agent running"),
        "{}",
        stderr(&out)
    );
    signal(first.id(), "-INT");
    assert_eq!(wait_exit(&mut first).code(), Some(130));
    assert_eq!(pids(&pid_file).len(), 1, "the second run started nothing");
}

#[test]
fn spawn_run_spawns_then_runs_the_manifest_agent() {
    let repo = TestRepo::new();
    repo.manifest(
        "[forge]\nintegration = \"main\"\nagent = \"echo done > {droid}.txt\"\n\n[[phase]]\nid = 1\n\n[[droid]]\nname = \"core-droid\"\nphases = [1]\nowns = [\"**\"]\n",
    );
    repo.commit("forge", &[]);
    let out = repo.df(&["spawn", "core-droid", "--run", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report(&json, "core-droid")["outcome"], "ready");
    assert_eq!(
        repo.git(&["show", "refs/droidforge/ready/core-droid:core-droid.txt"]),
        "done\n"
    );
}

#[test]
fn a_bare_run_starts_every_droid() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    fake.set("default", "WRITE='x.txt=x'\n");
    // In the main worktree a bare `run` starts nothing and says how to select.
    let out = repo.df(&["run", "--cmd", &fake.cmd()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--all")
            && err.contains("--phase")
            && err.contains("droidforge run core-droid"),
        "{err}"
    );
    assert_eq!(repo.git(&["branch", "--list", "droidforge/*"]), "");
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), 1);
    // Inside a droid's worktree it runs that droid only.
    repo.df_ok(&["spawn", "core-droid", "infra-droid"]);
    let inside = repo.path(".droidforge/worktrees/core-droid");
    let out = df_in(&inside, &["run", "--json", "--cmd", &fake.cmd()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = json.to_string();
    assert!(
        text.contains("core-droid") && !text.contains("infra-droid"),
        "{text}"
    );
    assert!(
        repo.git(&["show-ref"])
            .contains("refs/droidforge/ready/core-droid")
    );
    assert!(
        !repo
            .git(&["show-ref"])
            .contains("refs/droidforge/ready/infra-droid")
    );
}

#[test]
fn a_missing_agent_program_fails_every_droid_with_127_and_a_log() {
    let repo = two_droid_repo();
    let out = repo.df(&[
        "run",
        "--all",
        "--cmd",
        "no-such-agent-for-droidforge {brief}",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(
        err.matches("no-such-agent-for-droidforge").count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("is not on PATH") && err.contains("--cmd"),
        "{err}"
    );
    // Nothing started: no worktree, no branch, no log.
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), 1);
    assert_eq!(repo.git(&["branch", "--list", "droidforge/*"]), "");
    // A command the shell has to resolve is run (with a warning that it was not checked).
    let out = repo.df(&[
        "run",
        "core-droid",
        "--no-commit",
        "--cmd",
        "AGENT_VAR=1 true",
    ]);
    assert!(
        stderr(&out).contains("cannot check that the agent program exists"),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), 2);
}

/// The runner and `done` marked ready in two ways; the runner's overwrote whatever the ready
/// ref held, so a mark set while the agent ran (here: on its first commit only) was lost.
#[test]
fn the_runner_clobbered_a_ready_mark_that_moved_under_it() {
    let repo = two_droid_repo();
    // The agent commits `a`, marks exactly that commit ready, then leaves `b` uncommitted.
    let cmd = "echo a > src/core/a.rs && git add -A && git commit -qm 'core: a' \
               && git update-ref refs/droidforge/ready/core-droid HEAD \
               && echo b > src/core/b.rs";
    let (code, json) = run_json(&repo, &["core-droid", "--cmd", cmd]);
    assert_eq!(code, 1, "{json}");
    let core = report(&json, "core-droid");
    assert_eq!(core["outcome"], "error", "{json}");
    let message = core["message"].as_str().unwrap();
    assert!(message.contains("moved"), "{message}");
    // The mark set during the run is kept; the leftover commit is on the branch, not marked.
    let first = repo.rev("droidforge/core-droid~1");
    assert_eq!(repo.rev("refs/droidforge/ready/core-droid"), first);
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", "droidforge/core-droid"])
            .trim(),
        "droidforge: core-droid leftover changes from agent run"
    );
    assert!(core["ready_commit"].is_null(), "{json}");

    // An agent that marks its own head ready (`droidforge done`) agrees with the runner.
    let done = format!(
        "echo c > src/core/c.rs && git add -A && git commit -qm 'core: c' && '{}' done",
        droidforge_bin().display()
    );
    let (code, json) = run_json(&repo, &["core-droid", "--cmd", &done]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(report(&json, "core-droid")["outcome"], "ready");
    assert_eq!(
        repo.rev("refs/droidforge/ready/core-droid"),
        repo.rev("droidforge/core-droid")
    );
    repo.assert_fsck();
}

/// `done` on a droid with nothing ahead records "finished, nothing to merge", which lets its
/// dependents merge. The runner's own ready mark did not clear that record, so after an agent
/// run with new work the droid still counted as merged and its dependents landed first.
#[test]
fn a_run_after_done_with_nothing_to_merge_left_the_droid_counted_as_merged() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid", "infra-droid"]);
    repo.df_ok(&["done", "core-droid"]);
    let fake = Fake::new();
    fake.set("core-droid", "WRITE='src/core/a.rs=a'\n");
    fake.set("infra-droid", "WRITE='src/infra/b.rs=b'\n");
    let (code, json) = run_json(&repo, &["--all", "--cmd", &fake.cmd()]);
    assert_eq!(code, 0, "{json}");
    let main_before = repo.rev("main");
    // infra-droid comes after core-droid, whose ready work is not on main: it must wait.
    let out = repo.df(&["merge", "infra-droid"]);
    assert_eq!(
        repo.rev("main"),
        main_before,
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let status = repo.df_ok(&["status", "core-droid", "--json"]);
    assert!(!status.contains("nothing-to-merge"), "{status}");
}

/// droidforge run with no git identity anywhere (`user.useConfigOnly`: git must not guess one
/// from the host either).
fn df_without_identity(repo: &TestRepo, args: &[&str]) -> std::process::Output {
    repo.git(&["config", "user.useConfigOnly", "true"]);
    let mut cmd = Command::new(droidforge_bin());
    hermetic(&mut cmd);
    for var in [
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ] {
        cmd.env_remove(var);
    }
    cmd.current_dir(&repo.root).args(args).output().unwrap()
}

#[test]
fn leftover_changes_are_committed_as_droidforge_without_an_identity() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    let fake = Fake::new();
    fake.set("core-droid", "WRITE='src/core/a.rs=a'\n");
    let out = df_without_identity(&repo, &["run", "core-droid", "--cmd", &fake.cmd()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        repo.git(&[
            "log",
            "-1",
            "--format=%an <%ae>|%cn <%ce>",
            "droidforge/core-droid"
        ])
        .trim(),
        "droidforge <droidforge@localhost>|droidforge <droidforge@localhost>"
    );
    assert_eq!(
        repo.rev("refs/droidforge/ready/core-droid"),
        repo.rev("droidforge/core-droid")
    );
}

/// gix writes the reflog of a new worktree's HEAD and needs a committer for it; without a
/// configured identity `spawn` (and `run`, which spawns) failed instead of using droidforge's.
#[test]
fn spawn_without_a_git_identity_failed_writing_the_worktree_reflog() {
    let repo = two_droid_repo();
    let out = df_without_identity(&repo, &["spawn", "core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let wt = repo.path(".droidforge/worktrees/core-droid");
    assert_eq!(
        git_in(&wt, &["branch", "--show-current"]).trim(),
        "droidforge/core-droid"
    );
    repo.assert_fsck();
}

/// A bare `run` in the main worktree refuses and says how to select; `spawn --run` with no
/// selection started every droid's agent.
#[test]
fn spawn_run_without_a_selection_started_every_droid() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    fake.set("default", "WRITE='x.txt=x'\n");
    repo.manifest(&TWO_DROIDS.replace(
        "[forge]\nintegration = \"main\"\n",
        &format!(
            "[forge]\nintegration = \"main\"\nagent = \"{}\"\n",
            fake.cmd().replace('\\', "\\\\").replace('"', "\\\"")
        ),
    ));
    repo.commit("agent", &[]);
    let out = repo.df(&["spawn", "--run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("say which droids to run") && err.contains("--all"),
        "{err}"
    );
    // Nothing spawned, nothing ran.
    assert_eq!(repo.git(&["branch", "--list", "droidforge/*"]), "");
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), 1);
    assert!(!repo.git(&["show-ref"]).contains("refs/droidforge/ready/"));
    // Inside a droid's worktree it runs that droid only, like `run`.
    repo.df_ok(&["spawn", "core-droid", "infra-droid"]);
    let inside = repo.path(".droidforge/worktrees/core-droid");
    let out = df_in(&inside, &["spawn", "--run", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let refs = repo.git(&["show-ref"]);
    assert!(refs.contains("refs/droidforge/ready/core-droid"), "{refs}");
    assert!(
        !refs.contains("refs/droidforge/ready/infra-droid"),
        "{refs}"
    );
}
