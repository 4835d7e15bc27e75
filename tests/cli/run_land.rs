//! `run --land`: the loop that runs agents, merges what they finish, feeds the merger's
//! verdict back and re-runs them — with real agent processes (shell scripts written by each
//! test) on real repositories, `git log` as the oracle.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::merge_support::*;

/// Scripted agents: one shell script per droid (`<dir>/<droid>.sh`), run as `sh SCRIPT` in
/// the droid's worktree with droidforge's environment (`DROIDFORGE_BRIEF`, …).
pub struct Agents {
    dir: tempfile::TempDir,
}

impl Agents {
    pub fn new() -> Agents {
        Agents {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The script of `droid`. `$ATTEMPT` holds how many times it has started (1, 2, …) and
    /// `$AGENTS` the scripts' directory (for files the test reads back).
    pub fn set(&self, droid: &str, body: &str) -> &Self {
        let dir = self.dir.path().display();
        let script = format!(
            "set -u\nAGENTS='{dir}'\nATTEMPT=$(( $(cat \"$AGENTS/{droid}.count\" 2>/dev/null || echo 0) + 1 ))\necho $ATTEMPT > \"$AGENTS/{droid}.count\"\necho \"{droid} $$\" >> \"$AGENTS/pids\"\n{body}\n"
        );
        std::fs::write(self.dir.path().join(format!("{droid}.sh")), script).unwrap();
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// How many times `droid`'s agent started.
    pub fn starts(&self, droid: &str) -> u32 {
        std::fs::read_to_string(self.path(&format!("{droid}.count")))
            .map(|s| s.trim().parse().unwrap())
            .unwrap_or(0)
    }

    /// The `--cmd` template.
    pub fn cmd(&self) -> String {
        format!("sh '{}'/{{droid}}.sh", self.dir.path().display())
    }
}

fn worktree(repo: &TestRepo, droid: &str) -> PathBuf {
    repo.path(&format!(".droidforge/worktrees/{droid}"))
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            stdout(out),
            stderr(out)
        )
    })
}

fn is_mid_rebase(wt: &Path) -> bool {
    let git_dir = git_in(wt, &["rev-parse", "--absolute-git-dir"]);
    Path::new(git_dir.trim()).join("rebase-merge").exists()
}

/// A droid whose branch and the integration branch changed the same line of the shared
/// INTERFACES.md: `git rebase main` in its worktree stops on a conflict.
fn conflicting_droid(repo: &TestRepo) -> PathBuf {
    repo.df_ok(&["spawn", "core-droid"]);
    let wt = worktree(repo, "core-droid");
    commit_in(
        &wt,
        "core: contract",
        &[("INTERFACES.md", "# Interfaces\ncore v1\n")],
    );
    repo.commit(
        "main: contract",
        &[("INTERFACES.md", "# Interfaces\nmain v1\n")],
    );
    wt
}

#[test]
fn an_agent_exiting_0_mid_rebase_is_failed_and_nothing_is_committed() {
    let repo = two_droid_repo();
    let wt = conflicting_droid(&repo);
    let head = repo.rev("droidforge/core-droid");
    let agents = Agents::new();
    agents.set("core-droid", "git rebase -q main >/dev/null 2>&1; exit 0");
    let out = repo.df(&["run", "core-droid", "--json", "--cmd", &agents.cmd()]);
    let json = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{json}");
    let agent = &json["agents"][0];
    assert_eq!(agent["outcome"], "failed", "{json}");
    assert!(
        agent["message"].as_str().unwrap().contains("mid-rebase"),
        "{json}"
    );
    // Nothing committed, nothing marked ready, the rebase is still there to be resolved.
    assert!(is_mid_rebase(&wt));
    assert_eq!(repo.rev("droidforge/core-droid"), head);
    assert!(
        repo.git(&["for-each-ref", "refs/droidforge/ready/"])
            .trim()
            .is_empty()
    );
    let unmerged = git_in(&wt, &["diff", "--name-only", "--diff-filter=U"]);
    assert_eq!(unmerged.trim(), "INTERFACES.md");
    repo.assert_fsck();
}

/// Phase 1: `a` and `b`; phase 2 (after 1): `c`, and `d` after `c`. Each owns `<name>/**`.
const TWO_PHASES: &str = r#"[forge]
integration = "main"

[[phase]]
id = 1
name = "One"

[[phase]]
id = 2
name = "Two"
after = [1]

[[droid]]
name = "a"
phases = [1]
owns = ["a/**"]

[[droid]]
name = "b"
phases = [1]
owns = ["b/**"]

[[droid]]
name = "c"
phases = [2]
owns = ["c/**"]

[[droid]]
name = "d"
phases = [2]
owns = ["d/**"]
after = ["c"]
"#;

fn two_phase_repo() -> TestRepo {
    repo_with(TWO_PHASES, &[("README.md", "hello\n")])
}

/// An agent that records which droids' work its checkout already has, then commits its own
/// file.
fn work(droid: &str) -> String {
    format!(
        "ls -d a b c d 2>/dev/null | tr '\\n' ' ' > \"$AGENTS/{droid}.saw\"\nmkdir -p {droid} && echo '{droid} work' > {droid}/lib.txt\ngit add {droid} && git commit -q -m '{droid}: work'"
    )
}

fn land_json(repo: &TestRepo, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["run", "--land", "--json"];
    all.extend_from_slice(args);
    let out = repo.df(&all);
    (out.status.code(), json_of(&out))
}

fn land_entry<'a>(json: &'a serde_json::Value, droid: &str) -> &'a serde_json::Value {
    json["droids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["droid"] == droid)
        .unwrap_or_else(|| panic!("no {droid} in {json:#}"))
}

/// Subjects of the droids' own commits on main, oldest first.
fn landed_subjects(repo: &TestRepo) -> Vec<String> {
    repo.git(&["log", "--reverse", "--format=%s", "main"])
        .lines()
        .filter(|s| s.contains(": ") && !s.starts_with("droidforge:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_two_phase_plan_lands_wave_by_wave_in_order() {
    let repo = two_phase_repo();
    let agents = Agents::new();
    for d in ["a", "b", "c", "d"] {
        agents.set(d, &work(d));
    }
    let (code, json) = land_json(&repo, &["--all", "--cmd", &agents.cmd()]);
    assert_eq!(code, Some(0), "{json:#}");
    for d in ["a", "b", "c", "d"] {
        let e = land_entry(&json, d);
        assert_eq!(e["status"], "landed", "{json:#}");
        assert_eq!(e["attempts"], 1, "{json:#}");
        assert_eq!(agents.starts(d), 1);
    }
    // Waves: phase 2 started from an integration branch that had all of phase 1, and `d`
    // from one that had `c`.
    let saw = |d: &str| std::fs::read_to_string(agents.path(&format!("{d}.saw"))).unwrap();
    assert_eq!(saw("a").trim(), "");
    assert_eq!(saw("b").trim(), "");
    assert_eq!(saw("c").trim(), "a b");
    assert_eq!(saw("d").trim(), "a b c");
    // git log: every droid's commit once, phase 1 before `c` before `d`.
    let subjects = landed_subjects(&repo);
    assert_eq!(subjects.len(), 4, "{subjects:?}");
    let pos = |s: &str| subjects.iter().position(|x| x == s).unwrap();
    assert!(pos("a: work") < pos("c: work") && pos("b: work") < pos("c: work"));
    assert!(pos("c: work") < pos("d: work"));
    assert_no_commit_landed_twice(&repo.root, "main");
    for d in ["a", "b", "c", "d"] {
        assert_eq!(
            repo.git(&["show", &format!("main:{d}/lib.txt")]),
            format!("{d} work\n")
        );
    }
    repo.assert_fsck();
}

fn pid_of(agents: &Agents, droid: &str) -> Option<u32> {
    std::fs::read_to_string(agents.path("pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .rfind(|(d, _)| *d == droid)
        .and_then(|(_, p)| p.trim().parse().ok())
}

#[test]
fn interrupt_then_rerun_continues_without_duplicating_landed_work() {
    let repo = two_phase_repo();
    let agents = Agents::new();
    for d in ["a", "b", "d"] {
        agents.set(d, &work(d));
    }
    // `c` hangs on its first start (until Ctrl-C stops it) and works on the next.
    agents.set(
        "c",
        &format!(
            "if [ \"$ATTEMPT\" = 1 ]; then while true; do sleep 1; done; fi\n{}",
            work("c")
        ),
    );
    let mut child = crate::run::spawn_run(
        &repo,
        &[
            "--land",
            "--all",
            "--json",
            "--grace",
            "1s",
            "--cmd",
            &agents.cmd(),
        ],
    );
    crate::run::wait_for("c's agent", || pid_of(&agents, "c").is_some());
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = crate::run::wait_exit(&mut child);
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert_eq!(status.code(), Some(130), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["interrupted"], true);
    assert_eq!(land_entry(&json, "a")["status"], "landed");
    assert_eq!(land_entry(&json, "b")["status"], "landed");
    assert_eq!(land_entry(&json, "c")["status"], "interrupted");
    // The interrupted attempt does not count; `d` never started.
    assert_eq!(land_entry(&json, "c")["attempts"], 0);
    assert_eq!(agents.starts("d"), 0);
    assert!(!is_alive(pid_of(&agents, "c").unwrap()));
    // `a` and `b` (phase 1) land in the order their agents finish.
    let before = landed_subjects(&repo);
    let mut sorted = before.clone();
    sorted.sort();
    assert_eq!(sorted, ["a: work", "b: work"]);

    // Again: only `c` and `d` run; nothing lands twice.
    let (code, json) = land_json(&repo, &["--all", "--cmd", &agents.cmd()]);
    assert_eq!(code, Some(0), "{json:#}");
    for d in ["a", "b", "c", "d"] {
        assert_eq!(land_entry(&json, d)["status"], "landed", "{json:#}");
    }
    assert_eq!(agents.starts("a"), 1);
    assert_eq!(agents.starts("b"), 1);
    assert_eq!(agents.starts("c"), 2);
    assert_eq!(agents.starts("d"), 1);
    let after = landed_subjects(&repo);
    assert_eq!(after[..2], before[..]);
    assert_eq!(after[2..], ["c: work", "d: work"]);
    assert_no_commit_landed_twice(&repo.root, "main");
    repo.assert_fsck();
}

/// Alive and not a zombie.
fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// core-droid's work, plus (when `hack`) a file of infra-droid's, in one commit (past the
/// pre-commit guard, as an agent that ignores it would).
fn core_work(hack: bool) -> String {
    let hack = if hack {
        "mkdir -p src/infra && echo \"hack $ATTEMPT\" > src/infra/hack.rs\n"
    } else {
        ""
    };
    format!(
        "{hack}echo \"pub fn core() {{ /* $ATTEMPT */ }}\" > src/core/lib.rs\ngit add -A src && git commit -q --no-verify -m 'core: work'"
    )
}

#[test]
fn a_repeated_violation_stops_for_a_human_with_the_reason_and_next_command() {
    let repo = two_droid_repo();
    let agents = Agents::new();
    agents.set("core-droid", &core_work(true));
    agents.set(
        "infra-droid",
        "echo 'pub fn infra() {}' > src/infra/lib.rs && git commit -qam 'infra: work'",
    );
    let out = repo.df(&["run", "--land", "--all", "--cmd", &agents.cmd()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "{text}\n{}", stderr(&out));
    // Two attempts, both rejected for the same path: no third one.
    assert_eq!(agents.starts("core-droid"), 2, "{text}");
    assert_eq!(agents.starts("infra-droid"), 0, "{text}");
    assert!(text.contains("needs a human"), "{text}");
    assert!(
        text.contains("repeated its ownership violation: src/infra/hack.rs"),
        "{text}"
    );
    assert!(text.contains("Next:"), "{text}");
    assert!(
        text.contains("core-droid: undo the change to those paths in "),
        "{text}"
    );
    assert!(
        text.contains("`droidforge run --land core-droid`"),
        "{text}"
    );
    // Its dependent is blocked and says on what.
    assert!(
        text.contains("waits for `core-droid` (`core-droid` needs a human)"),
        "{text}"
    );
    // Nothing landed.
    assert_eq!(landed_subjects(&repo), Vec::<String>::new());
    let state: serde_json::Value =
        serde_json::from_str(&repo.read(".git/droidforge/land.json")).unwrap();
    let core = &state["droids"]["core-droid"];
    assert_eq!(core["status"], "needs-human");
    assert_eq!(core["attempts"], 2);
    assert_eq!(core["last_rejection"]["kind"], "violation");
    assert_eq!(state["droids"]["infra-droid"]["status"], "blocked");
    // Journaled: each attempt and the give-up.
    let journal = repo.read(".git/droidforge/events.jsonl");
    assert_eq!(
        journal.matches("\"attempt-started\"").count(),
        2,
        "{journal}"
    );
    assert_eq!(journal.matches("\"gave-up\"").count(), 1, "{journal}");
    // Every attempt has its header in the log.
    let log = repo.read(".git/droidforge/logs/core-droid.log");
    assert!(log.contains("===== droidforge run --land: core-droid attempt 1 of 3 ====="));
    assert!(log.contains("===== droidforge run --land: core-droid attempt 2 of 3 after violation"));

    // `status` shows the attempts and the reason; PROGRESS.md too, with what is blocked and
    // each droid's next TODO item.
    let status = repo.df_ok(&["status"]);
    assert!(status.contains("needs-human (2)"), "{status}");
    assert!(
        status.contains("core-droid needs a human: repeated its ownership violation"),
        "{status}"
    );
    assert!(status.contains("  next: undo the change"), "{status}");
    assert!(
        status.contains("infra-droid is blocked: waits for `core-droid`"),
        "{status}"
    );
    let json: serde_json::Value = serde_json::from_str(&repo.df_ok(&["status", "--json"])).unwrap();
    let core = &json["droids"][0];
    assert_eq!(core["land"]["attempts"], 2, "{json:#}");
    assert_eq!(core["land"]["status"], "needs-human", "{json:#}");
    assert_eq!(core["todo"]["next"], "one", "{json:#}");
    let progress = repo.df_ok(&["progress"]);
    assert!(
        progress.contains("| core-droid | 🙋 needs a human | 0% | one | 2 | – | repeated its ownership violation: src/infra/hack.rs"),
        "{progress}"
    );
    assert!(progress.contains("Next: undo the change"), "{progress}");
    assert!(
        progress.contains("## Blocked\n\n- `infra-droid` waits for `core-droid` (needs a human)\n"),
        "{progress}"
    );
    repo.assert_fsck();
}

#[test]
fn an_agent_exiting_0_mid_rebase_is_a_failed_attempt_of_the_loop() {
    let repo = two_droid_repo();
    let wt = conflicting_droid(&repo);
    let head = repo.rev("droidforge/core-droid");
    let agents = Agents::new();
    agents.set(
        "core-droid",
        "git rebase -q main >/dev/null 2>&1; echo resolved > src/core/notes.txt; exit 0",
    );
    let (code, json) = land_json(
        &repo,
        &["core-droid", "--retries", "1", "--cmd", &agents.cmd()],
    );
    assert_eq!(code, Some(1), "{json:#}");
    let core = land_entry(&json, "core-droid");
    assert_eq!(core["status"], "needs-human", "{json:#}");
    assert_eq!(core["attempts"], 2, "{json:#}");
    assert_eq!(agents.starts("core-droid"), 2);
    let reason = core["reason"].as_str().unwrap();
    assert!(
        reason.contains("did not resolve the conflict")
            && reason.contains("mid-rebase with 1 unmerged path (INTERFACES.md)"),
        "{reason}"
    );
    assert!(
        core["next"]
            .as_str()
            .unwrap()
            .contains("git rebase --continue"),
        "{json:#}"
    );
    // Nothing was committed or marked ready; the conflict is still there for a human.
    assert!(is_mid_rebase(&wt));
    assert_eq!(repo.rev("droidforge/core-droid"), head);
    assert!(
        repo.git(&["for-each-ref", "refs/droidforge/ready/"])
            .trim()
            .is_empty()
    );
    assert_eq!(landed_subjects(&repo), ["main: contract"]);
}

#[test]
fn a_droid_waiting_only_for_the_stagger_still_starts_when_no_agent_runs() {
    // `d` comes after `c`; when `c` lands nothing runs, and `d` may only start once the
    // stagger since `c`'s start has passed: the loop must wait for it, not end.
    let repo = two_phase_repo();
    let agents = Agents::new();
    for d in ["a", "b", "c", "d"] {
        agents.set(d, &work(d));
    }
    let (code, json) = land_json(
        &repo,
        &["c", "d", "--stagger", "1s", "--cmd", &agents.cmd()],
    );
    // `c` and `d` wait for phase 1, which is not selected: nothing runs, both blocked.
    assert_eq!(code, Some(1), "{json:#}");
    assert_eq!(land_entry(&json, "c")["status"], "blocked", "{json:#}");
    assert_eq!(
        land_entry(&json, "c")["next"],
        "droidforge run --land a",
        "{json:#}"
    );
    let (code, json) = land_json(&repo, &["--all", "--stagger", "1s", "--cmd", &agents.cmd()]);
    assert_eq!(code, Some(0), "{json:#}");
    assert_eq!(agents.starts("d"), 1);
    // Phase 1 in the order its agents finished, then `c`, then `d`.
    assert_eq!(landed_subjects(&repo)[2..], ["c: work", "d: work"]);
}

/// A start deferred for `--stagger` whose wait ran out before the loop went to sleep (a
/// loaded machine) made the loop sleep "until the next start is allowed": forever, with no
/// agent left to wake it. Tiny staggers make that window likely; a watchdog turns the hang
/// into a failure instead of a stuck test.
#[test]
fn a_stagger_that_ran_out_before_the_loop_slept_hung_the_loop() {
    for stagger in ["1ms", "2ms", "3ms", "5ms", "8ms", "13ms", "21ms"] {
        let repo = two_phase_repo();
        let agents = Agents::new();
        for d in ["a", "b", "c", "d"] {
            agents.set(d, &work(d));
        }
        let mut cmd = std::process::Command::new(droidforge_bin());
        hermetic(&mut cmd);
        let cmdline = agents.cmd();
        let mut child = cmd
            .current_dir(&repo.root)
            .args([
                "run",
                "--land",
                "--all",
                "--stagger",
                stagger,
                "--cmd",
                &cmdline,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("run --land --stagger {stagger} hung");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(status.success(), "--stagger {stagger}: {status:?}");
        assert_eq!(landed_subjects(&repo).len(), 4, "--stagger {stagger}");
    }
}

#[test]
fn a_failed_verification_is_retried_and_lands_when_the_agent_fixes_it() {
    let repo = repo_with(&forge_toml(&[("a", &["a/**"], &[])]), &[]);
    let agents = Agents::new();
    // The check wants a/ok; the first attempt forgets it, the second adds it.
    agents.set(
        "a",
        "mkdir -p a && echo \"try $ATTEMPT\" > a/work.txt\n[ \"$ATTEMPT\" -ge 2 ] && echo ok > a/ok\ngit add a && git commit -q -m \"a: try $ATTEMPT\"",
    );
    let (code, json) = land_json(
        &repo,
        &["a", "--verify", "test -f a/ok", "--cmd", &agents.cmd()],
    );
    assert_eq!(code, Some(0), "{json:#}");
    let a = land_entry(&json, "a");
    assert_eq!(a["status"], "landed");
    assert_eq!(a["attempts"], 2);
    assert_eq!(a["last_rejection"]["kind"], "verify-failed", "{json:#}");
    assert_eq!(repo.git(&["show", "main:a/ok"]), "ok\n");
    // Both attempts' commits are the droid's history; each landed once.
    assert_eq!(landed_subjects(&repo), ["a: try 1", "a: try 2"]);
    assert_no_commit_landed_twice(&repo.root, "main");

    // Out of retries: `--retries 0` stops after the first rejection, exit 5.
    let repo = repo_with(&forge_toml(&[("a", &["a/**"], &[])]), &[]);
    let agents = Agents::new();
    agents.set(
        "a",
        "mkdir -p a && echo x > a/work.txt && git add a && git commit -q -m 'a: work'",
    );
    let (code, json) = land_json(
        &repo,
        &[
            "a",
            "--retries",
            "0",
            "--verify",
            "false",
            "--cmd",
            &agents.cmd(),
        ],
    );
    assert_eq!(code, Some(5), "{json:#}");
    let a = land_entry(&json, "a");
    assert_eq!(a["status"], "needs-human");
    assert!(
        a["reason"].as_str().unwrap().contains("no retries left"),
        "{json:#}"
    );
    assert!(
        a["next"].as_str().unwrap().contains("--retries 1"),
        "{json:#}"
    );
    assert_eq!(agents.starts("a"), 1);
}

#[test]
fn a_violation_the_agent_fixes_from_its_feedback_brief_lands() {
    let repo = two_droid_repo();
    let agents = Agents::new();
    // First attempt: core-droid also writes a file of infra-droid's. Next: it reads the
    // merger's verdict in its brief and takes the foreign file out of its commit.
    agents.set(
        "core-droid",
        &format!(
            "if grep -q 'What the merger said' \"$DROIDFORGE_BRIEF\"; then\n  cp \"$DROIDFORGE_BRIEF\" \"$AGENTS/core-brief-$ATTEMPT.md\"\n  git rm -q src/infra/hack.rs && git commit -q --amend --no-edit --no-verify\nelse\n{}\nfi",
            core_work(true)
        ),
    );
    agents.set(
        "infra-droid",
        "echo 'pub fn infra() { 2 }' > src/infra/lib.rs && git commit -qam 'infra: work'",
    );
    let (code, json) = land_json(&repo, &["--all", "--cmd", &agents.cmd()]);
    assert_eq!(code, Some(0), "{json:#}");
    assert_eq!(land_entry(&json, "core-droid")["status"], "landed");
    assert_eq!(land_entry(&json, "core-droid")["attempts"], 2);
    assert_eq!(land_entry(&json, "infra-droid")["attempts"], 1);
    // The second attempt saw the path and its owner in its brief.
    let brief = std::fs::read_to_string(agents.path("core-brief-2.md")).unwrap();
    assert!(
        brief.contains("What the merger said (attempt 1)"),
        "{brief}"
    );
    assert!(brief.contains("src/infra/hack.rs"), "{brief}");
    assert!(brief.contains("infra-droid"), "{brief}");
    // git: both droids' work once, the foreign file never on main.
    assert_eq!(landed_subjects(&repo), ["core: work", "infra: work"]);
    assert!(
        repo.git(&["log", "--format=%H", "main", "--", "src/infra/hack.rs"])
            .trim()
            .is_empty()
    );
    assert_no_commit_landed_twice(&repo.root, "main");
    let journal = repo.read(".git/droidforge/events.jsonl");
    assert_eq!(
        journal.matches("\"feedback-written\"").count(),
        1,
        "{journal}"
    );
    repo.assert_fsck();
}

#[test]
fn a_conflict_the_agent_resolves_after_sync_lands_after_one_retry() {
    // Two independent droids append to the same place of the shared INTERFACES.md: the one
    // merged second conflicts. After the sync its worktree is mid-rebase with conflict
    // markers; its agent keeps both lines and continues the rebase.
    let repo = repo_with(
        &forge_toml(&[("a", &["a/**"], &[]), ("b", &["b/**"], &[])]),
        &[],
    );
    let agents = Agents::new();
    for d in ["a", "b"] {
        agents.set(
            d,
            &format!(
                "if [ -d \"$(git rev-parse --git-path rebase-merge)\" ]; then\n  grep -q '^<<<<<<<' INTERFACES.md || exit 9\n  grep -v '^[<=>]\\{{7\\}}' INTERFACES.md > resolved && mv resolved INTERFACES.md\n  git add INTERFACES.md && GIT_EDITOR=true git rebase --continue >/dev/null\nelse\n  mkdir -p {d} && echo {d} > {d}/x && echo '{d} contract' >> INTERFACES.md\n  git add -A {d} INTERFACES.md && git commit -q -m '{d}: contract'\nfi"
            ),
        );
    }
    let (code, json) = land_json(&repo, &["--all", "--cmd", &agents.cmd()]);
    assert_eq!(code, Some(0), "{json:#}");
    // One of them needed a second attempt.
    assert_eq!(agents.starts("a") + agents.starts("b"), 3, "{json:#}");
    let interfaces = repo.git(&["show", "main:INTERFACES.md"]);
    assert!(
        interfaces.contains("a contract") && interfaces.contains("b contract"),
        "{interfaces}"
    );
    assert!(!interfaces.contains("<<<<<<<"), "{interfaces}");
    assert_eq!(landed_subjects(&repo).len(), 2);
    assert_no_commit_landed_twice(&repo.root, "main");
    repo.assert_fsck();
}
