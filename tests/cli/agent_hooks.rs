//! Agent edit hooks, end to end: `spawn` installs them, a fake agent (the scripted agent, a
//! real process) feeds recorded payloads of each agent's hook protocol to the command it finds
//! in its worktree's settings file and writes only what the hook allows.

use std::path::{Path, PathBuf};

use crate::common::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hooks")
        .join(name)
}

/// Run the fake agent in `dir` with one `hook_edit` step; returns (exit code, its output).
fn fake_agent(
    dir: &Path,
    agent: &str,
    payload: &str,
    vars: &[(&str, &str)],
    writes: &[(&str, &str)],
) -> (Option<i32>, String) {
    let vars: serde_json::Map<String, serde_json::Value> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::json!(v)))
        .collect();
    let writes: Vec<serde_json::Value> = writes
        .iter()
        .map(|(p, t)| serde_json::json!({"path": p, "text": t}))
        .collect();
    let script = serde_json::json!({"steps": [{"hook_edit": {
        "agent": agent,
        "payload": fixture(payload),
        "vars": vars,
        "writes": writes,
    }}]});
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script.to_string()).unwrap();
    let out = df_in(
        dir,
        &["scripted-agent", "--script", &file.path().to_string_lossy()],
    );
    (
        out.status.code(),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

/// Run droidforge in `dir` with `input` on stdin, as an agent runs its hook command.
fn df_stdin(dir: &Path, args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    let mut child = cmd
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run droidforge");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().expect("wait for droidforge")
}

fn spawned_core() -> (TestRepo, PathBuf) {
    let repo = two_droid_repo();
    let out = repo.df(&["spawn", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let wt = repo.path(".droidforge/worktrees/core-droid");
    (repo, wt)
}

fn porcelain(dir: &Path) -> String {
    git_in(dir, &["status", "--porcelain", "--untracked-files=all"])
}

#[test]
fn claude_and_factory_hooks_refuse_edits_outside_the_droids_files_and_allow_its_own() {
    let (_repo, wt) = spawned_core();
    // The settings files exist and git does not see them.
    for f in [
        ".claude/settings.local.json",
        ".factory/settings.local.json",
    ] {
        assert!(wt.join(f).is_file(), "{f} missing");
    }
    assert_eq!(porcelain(&wt), "");
    let cases = [
        ("claude", "claude-write.json"),
        ("claude", "claude-edit.json"),
        ("claude", "claude-multiedit.json"),
        ("factory", "factory-create.json"),
        ("factory", "factory-edit.json"),
    ];
    for (agent, payload) in cases {
        // Another droid's file: refused, nothing written, the owner named.
        let (code, out) = fake_agent(
            &wt,
            agent,
            payload,
            &[("FILE", "src/infra/lib.rs")],
            &[("src/infra/lib.rs", "stolen\n")],
        );
        assert_eq!(code, Some(0), "{payload}: {out}");
        assert!(out.contains("blocked by hook"), "{payload}: {out}");
        assert!(
            out.contains("infra-droid"),
            "{payload}: the owner is named: {out}"
        );
        assert!(
            out.contains("droidforge ask"),
            "{payload}: what to do instead: {out}"
        );
        assert_eq!(
            std::fs::read_to_string(wt.join("src/infra/lib.rs")).unwrap(),
            "pub fn infra() {}\n",
            "{payload}"
        );
        assert_eq!(porcelain(&wt), "", "{payload}: nothing changed");

        // Its own file: allowed and written.
        let text = format!("// {payload}\npub fn core() {{}}\n");
        let (code, out) = fake_agent(
            &wt,
            agent,
            payload,
            &[("FILE", "src/core/lib.rs")],
            &[("src/core/lib.rs", &text)],
        );
        assert_eq!(code, Some(0), "{payload}: {out}");
        assert!(!out.contains("blocked"), "{payload}: {out}");
        assert_eq!(
            std::fs::read_to_string(wt.join("src/core/lib.rs")).unwrap(),
            text
        );
        assert_eq!(porcelain(&wt), " M src/core/lib.rs\n", "{payload}");
        git_in(&wt, &["checkout", "--", "src/core/lib.rs"]);
    }
}

#[test]
fn an_apply_patch_touching_one_foreign_file_is_refused_whole() {
    let (_repo, wt) = spawned_core();
    let (_, out) = fake_agent(
        &wt,
        "factory",
        "factory-applypatch.json",
        &[("FILE", "src/core/lib.rs"), ("FILE2", "src/infra/new.rs")],
        &[
            ("src/core/lib.rs", "patched\n"),
            ("src/infra/new.rs", "new\n"),
        ],
    );
    assert!(out.contains("blocked by hook"), "{out}");
    assert!(
        out.contains("src/infra/new.rs") && out.contains("infra-droid"),
        "{out}"
    );
    assert_eq!(porcelain(&wt), "");
    let (_, out) = fake_agent(
        &wt,
        "factory",
        "factory-applypatch.json",
        &[("FILE", "src/core/lib.rs"), ("FILE2", "src/core/new.rs")],
        &[
            ("src/core/lib.rs", "patched\n"),
            ("src/core/new.rs", "new\n"),
        ],
    );
    assert!(!out.contains("blocked"), "{out}");
    assert_eq!(porcelain(&wt), " M src/core/lib.rs\n?? src/core/new.rs\n");
}

#[test]
fn the_gemini_payload_is_judged_by_guard_hook_gemini() {
    let (_repo, wt) = spawned_core();
    let payload = std::fs::read_to_string(fixture("gemini-write_file.json"))
        .unwrap()
        .replace("{{WORKTREE}}", &wt.to_string_lossy())
        .replace("{{FILE}}", "src/infra/lib.rs");
    let out = df_stdin(&wt, &["guard", "--hook", "gemini"], payload.as_bytes());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("infra-droid"), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "",
        "nothing but the verdict: stdout stays empty"
    );
}

#[test]
fn an_unreadable_tool_call_blocks_the_edit_and_other_tools_pass() {
    let (_repo, wt) = spawned_core();
    let out = df_stdin(&wt, &["guard", "--hook", "claude"], b"{not json");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not JSON"), "{}", stderr(&out));
    let read = br#"{"tool_name":"Read","tool_input":{"file_path":"/etc/passwd"}}"#;
    let out = df_stdin(&wt, &["guard", "--hook", "claude"], read);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn existing_settings_local_json_survives_spawn_and_run() {
    let (repo, wt) = spawned_core();
    let settings = wt.join(".claude/settings.local.json");
    // The user's own settings, added after the first spawn.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    v["permissions"] = serde_json::json!({"allow": ["Bash(cargo test:*)"]});
    v["hooks"]["PreToolUse"]
        .as_array_mut()
        .unwrap()
        .insert(
            0,
            serde_json::json!({"matcher": "Bash", "hooks": [{"type": "command", "command": "/usr/local/bin/audit"}]}),
        );
    v["hooks"]["Stop"] =
        serde_json::json!([{"hooks": [{"type": "command", "command": "notify-send done"}]}]);
    let user_text = serde_json::to_string_pretty(&v).unwrap();
    std::fs::write(&settings, &user_text).unwrap();

    let check = |when: &str| {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
        assert_eq!(v["permissions"]["allow"][0], "Bash(cargo test:*)", "{when}");
        assert_eq!(
            v["hooks"]["Stop"][0]["hooks"][0]["command"], "notify-send done",
            "{when}"
        );
        let pre = v["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(
            pre[0]["hooks"][0]["command"], "/usr/local/bin/audit",
            "{when}"
        );
        let ours: Vec<&serde_json::Value> = pre
            .iter()
            .filter(|g| {
                g["hooks"][0]["command"]
                    .as_str()
                    .is_some_and(|c| c.ends_with(" guard --hook claude"))
            })
            .collect();
        assert_eq!(ours.len(), 1, "{when}: exactly one droidforge entry: {v}");
        assert_eq!(ours[0]["matcher"], "Write|Edit|MultiEdit|NotebookEdit");
    };
    check("as the user wrote it");
    repo.df_ok(&["spawn", "core-droid"]);
    check("after a second spawn");
    let after_spawn = std::fs::read_to_string(&settings).unwrap();
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), r#"{"steps": [{"say": "hi"}]}"#).unwrap();
    let cmd = format!(
        "{} scripted-agent --script {}",
        droidforge_bin().display(),
        script.path().display()
    );
    let out = repo.df(&["run", "core-droid", "--cmd", &cmd, "--no-commit"]);
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    check("after run");
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        after_spawn,
        "a refresh that changes nothing leaves the file as it was"
    );
    assert_eq!(porcelain(&wt), "");
}

#[test]
fn invalid_settings_json_is_refused_and_left_unchanged() {
    let (repo, wt) = spawned_core();
    let settings = wt.join(".factory/settings.local.json");
    std::fs::write(&settings, "{ \"hooks\": oops").unwrap();
    let out = repo.df(&["spawn", "core-droid"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("not valid JSON") && err.contains("settings.local.json"),
        "{err}"
    );
    assert!(err.contains("left it unchanged"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        "{ \"hooks\": oops"
    );
}

/// Issue 12 follow-up: the agent hook settings were written with a plain write that follows
/// symbolic links, so a droid branch committing `.claude` as a link to a directory outside
/// the worktree made `spawn` write droidforge's settings there.
#[test]
fn spawn_refuses_to_write_agent_hooks_through_a_symlinked_claude_dir() {
    let repo = two_droid_repo();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path(".claude")).unwrap();
    repo.git(&["add", ".claude"]);
    repo.git(&["commit", "-q", "-m", "claude settings elsewhere"]);
    let out = repo.df(&["spawn", "core-droid"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(".claude"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(
        std::fs::read_dir(outside.path()).unwrap().next().is_none(),
        "droidforge wrote outside the worktree"
    );
}
