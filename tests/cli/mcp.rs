//! `droidforge mcp`: a real MCP client session over stdio (raw JSON-RPC lines): initialize,
//! tools/list, tools/call — the tools answer with the CLI's own JSON.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::common::*;

struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Session {
    fn start(repo: &TestRepo) -> Session {
        let mut cmd = Command::new(droidforge_bin());
        hermetic(&mut cmd);
        let mut child = cmd
            .current_dir(&repo.root)
            .arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Session {
            child,
            stdin,
            stdout,
            next_id: 1,
        }
    }

    /// [`start`](Self::start) and the MCP handshake; returns the `initialize` result too.
    fn open(repo: &TestRepo) -> (Session, serde_json::Value) {
        let mut s = Session::start(repo);
        let init = s.request(
            "initialize",
            serde_json::json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "droidforge-test", "version": "0"}
            }),
        );
        s.send(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        (s, init)
    }

    fn send(&mut self, msg: serde_json::Value) {
        let mut line = msg.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn request(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        );
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "the server closed stdout while we waited for {method}"
            );
            let msg: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not JSON-RPC on stdout ({e}): {line}"));
            if msg["id"] == id {
                assert!(msg.get("error").is_none(), "{method} failed: {msg}");
                return msg["result"].clone();
            }
        }
    }

    fn call(&mut self, tool: &str, args: serde_json::Value) -> serde_json::Value {
        self.request(
            "tools/call",
            serde_json::json!({"name": tool, "arguments": args}),
        )
    }
}

fn text_of(result: &serde_json::Value) -> String {
    result["content"][0]["text"].as_str().unwrap().to_owned()
}

#[test]
fn an_mcp_client_lists_and_calls_the_forge_tools() {
    let repo = two_droid_repo();
    let (mut s, init) = Session::open(&repo);
    assert_eq!(init["serverInfo"]["name"], "droidforge");
    assert!(init["capabilities"]["tools"].is_object(), "{init}");

    let tools = s.request("tools/list", serde_json::json!({}));
    let mut names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "check", "done", "events", "lock", "merge", "plan", "progress", "run", "spawn",
            "status", "sync", "unlock"
        ]
    );
    let merge = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "merge")
        .unwrap();
    assert!(
        merge["inputSchema"]["properties"]["dry_run"].is_object(),
        "{merge}"
    );
    // `verify_jobs` reaches the CLI flag: 0 is refused there as a usage error.
    let refused = s.call(
        "merge",
        serde_json::json!({"dry_run": true, "verify": "true", "verify_jobs": 0}),
    );
    assert_eq!(refused["isError"], true, "{refused}");
    let err: serde_json::Value = serde_json::from_str(&text_of(&refused)).unwrap();
    assert_eq!(err["exit_code"], 2, "{err}");
    let dry = s.call(
        "merge",
        serde_json::json!({"dry_run": true, "verify": "true", "verify_jobs": 2}),
    );
    let cli = repo.df(&[
        "merge",
        "--dry-run",
        "--verify",
        "true",
        "--verify-jobs",
        "2",
        "--json",
    ]);
    assert_eq!(dry["isError"] == true, !cli.status.success(), "{dry}");

    // `status` answers exactly what the CLI answers (or fails the way the CLI fails).
    let result = s.call("status", serde_json::json!({}));
    let cli = repo.df(&["status", "--json"]);
    if cli.status.success() {
        assert_ne!(result["isError"], true, "{result}");
        assert_eq!(text_of(&result), stdout(&cli));
    } else {
        assert_eq!(result["isError"], true, "{result}");
        let err: serde_json::Value = serde_json::from_str(&text_of(&result)).unwrap();
        assert_eq!(err["exit_code"], cli.status.code().unwrap());
    }

    // Locks through MCP: granted with the CLI's JSON, visible to the CLI, refused for others.
    let result = s.call(
        "lock",
        serde_json::json!({"droid": "core-droid", "globs": ["INTERFACES.md"]}),
    );
    assert_ne!(result["isError"], true, "{result}");
    let granted: serde_json::Value = serde_json::from_str(&text_of(&result)).unwrap();
    assert_eq!(granted["outcome"], "granted");
    assert_eq!(granted["lease"]["droid"], "core-droid");
    // The lease belongs to the MCP server process, which is alive: not stale.
    let locks: serde_json::Value = serde_json::from_str(&repo.df_ok(&["locks", "--json"])).unwrap();
    assert_eq!(locks["leases"][0]["pid"], s.child.id());
    assert!(locks["leases"][0]["stale"].is_null());

    let refused = s.call(
        "lock",
        serde_json::json!({"droid": "infra-droid", "globs": ["*.md"], "mode": "read"}),
    );
    assert_eq!(refused["isError"], true);
    let err: serde_json::Value = serde_json::from_str(&text_of(&refused)).unwrap();
    assert_eq!(err["exit_code"], 1);
    assert!(
        err["stderr"]
            .as_str()
            .unwrap()
            .contains("write-locked by `core-droid`"),
        "{err}"
    );

    let released = s.call(
        "unlock",
        serde_json::json!({"droid": "core-droid", "all": true}),
    );
    let released: serde_json::Value = serde_json::from_str(&text_of(&released)).unwrap();
    assert_eq!(
        released["released"][0]["lease"]["id"],
        granted["lease"]["id"]
    );

    drop(s.stdin);
    let status = s.child.wait().unwrap();
    assert!(
        status.success(),
        "the server did not exit cleanly when stdin closed: {status}"
    );
}

#[test]
fn an_orchestrator_lands_a_plan_through_mcp_run_and_reads_progress() {
    let repo = two_droid_repo();
    let agents = crate::run_land::Agents::new();
    agents.set(
        "core-droid",
        "echo 'pub fn core() { 1 }' > src/core/lib.rs && git commit -qam 'core: work'",
    );
    agents.set(
        "infra-droid",
        "echo 'pub fn infra() { 2 }' > src/infra/lib.rs && git commit -qam 'infra: work'",
    );
    let mut s = Session::open(&repo).0;
    let result = s.call(
        "run",
        serde_json::json!({"all": true, "land": true, "retries": 1, "cmd": agents.cmd()}),
    );
    assert_ne!(result["isError"], true, "{result}");
    let report: serde_json::Value = serde_json::from_str(&text_of(&result)).unwrap();
    assert_eq!(report["retries"], 1, "{report:#}");
    for d in report["droids"].as_array().unwrap() {
        assert_eq!(d["status"], "landed", "{report:#}");
        assert_eq!(d["attempts"], 1, "{report:#}");
    }
    assert_eq!(
        repo.git(&["log", "--format=%s", "--no-merges", "main"])
            .lines()
            .filter(|l| l.ends_with(": work"))
            .collect::<Vec<_>>(),
        ["infra: work", "core: work"]
    );

    // `progress` answers the CLI's document: PROGRESS.md as it is now.
    let result = s.call("progress", serde_json::json!({}));
    assert_ne!(result["isError"], true, "{result}");
    assert_eq!(text_of(&result), repo.df_ok(&["progress", "--json"]));
    let progress: serde_json::Value = serde_json::from_str(&text_of(&result)).unwrap();
    assert_eq!(progress["written"], false);
    let text = progress["text"].as_str().unwrap();
    assert!(text.contains("| core-droid | 🟢 merged |"), "{text}");
    assert!(text.contains("Nothing is blocked."), "{text}");

    drop(s.stdin);
    assert!(s.child.wait().unwrap().success());
}

/// The `sync` tool: the CLI's `sync --json`, a conflict as a tool error with exit code 3 and
/// the worktree left mid-rebase, and `abort` putting the branch back.
#[test]
fn the_sync_tool_syncs_reports_conflicts_and_aborts() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    let core = repo.path(".droidforge/worktrees/core-droid");
    let infra = repo.path(".droidforge/worktrees/infra-droid");
    let old = commit_in(
        &infra,
        "infra: interfaces",
        &[("INTERFACES.md", "# Interfaces\nI\n")],
    );
    commit_in(
        &core,
        "core: interfaces",
        &[("INTERFACES.md", "# Interfaces\nC\n")],
    );
    repo.df_ok(&["done", "core-droid"]);
    repo.df_ok(&["merge", "core-droid"]);

    let (mut s, _) = Session::open(&repo);
    let result = s.call("sync", serde_json::json!({"droids": ["infra-droid"]}));
    assert_eq!(result["isError"], true, "{result}");
    let err: serde_json::Value = serde_json::from_str(&text_of(&result)).unwrap();
    assert_eq!(err["exit_code"], 3, "{err}");
    let report: serde_json::Value = serde_json::from_str(err["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(report["droids"][0]["status"], "conflict", "{report}");
    assert!(git_in(&infra, &["status"]).contains("rebas"));

    let result = s.call(
        "sync",
        serde_json::json!({"droids": ["infra-droid"], "abort": true}),
    );
    assert_ne!(result["isError"], true, "{result}");
    assert_eq!(repo.rev("droidforge/infra-droid"), old);
    assert_eq!(git_in(&infra, &["status", "--porcelain"]), "");
    drop(s.stdin);
    s.child.wait().unwrap();
}
