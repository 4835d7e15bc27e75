//! `droidforge demo`: a throwaway repository with the seed's four droids, scripted agents run
//! as real child processes through the same runner as `run`, then a phase-1 merge — one of the
//! droids writes a file it does not own, another makes a textual conflict on a shared file.
//!
//! Also the scripted agent itself ([`run_script`]): the hidden `scripted-agent --script FILE`
//! mode of the droidforge binary follows a JSON list of [`Step`]s in its current directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::agent::{self, AgentReport, Outcome, RunOptions, RunView, shell_quote};
use crate::error::{Context, Error, Result};
use crate::git::Repo;
use crate::workspace::{ManifestSource, Workspace};

/// One step of a scripted agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Print a line (it ends up in the droid's log).
    Say(String),
    /// Create or overwrite a file.
    Write {
        path: String,
        text: String,
    },
    /// Append one line to a file.
    Append {
        path: String,
        line: String,
    },
    /// Replace the first occurrence of `from` with `to` in a file.
    Replace {
        path: String,
        from: String,
        to: String,
    },
    /// Tick the TODO item whose text contains `item`: `- [ ]` becomes `- [x]`.
    Check {
        path: String,
        item: String,
    },
    SleepMs(u64),
    /// Act like a coding agent's edit tool under its hook protocol: read the recorded hook
    /// input `payload` (a file; `{{WORKTREE}}` becomes the working directory, `{{KEY}}` the
    /// value of `vars.KEY`), run every hook that the agent's settings file in the working
    /// directory registers for the tool (`sh -c`, the input on stdin), and make `writes` only
    /// when every hook allows the call: exit 2 or a JSON `deny` blocks it, as the agents do.
    HookEdit {
        agent: crate::ops::hooks::HookAgent,
        payload: PathBuf,
        #[serde(default)]
        vars: std::collections::BTreeMap<String, String>,
        writes: Vec<FileWrite>,
    },
    /// `git add -A && git commit -m MESSAGE`.
    Commit(String),
    /// Stop here with this exit code.
    Exit(i32),
}

/// One file a [`Step::HookEdit`] writes when its hooks allow it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileWrite {
    pub path: String,
    pub text: String,
}

/// A scripted agent's whole script.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Script {
    pub steps: Vec<Step>,
}

/// Follow `script` in `dir`; `say` receives what the agent prints. Returns the exit code.
pub fn run_script(dir: &Path, script: &Script, say: &dyn Fn(&str)) -> Result<i32> {
    for step in &script.steps {
        match step {
            Step::Say(text) => say(text),
            Step::Write { path, text } => {
                let p = inside(dir, path)?;
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create `{}`", parent.display()))?;
                }
                std::fs::write(&p, text)
                    .with_context(|| format!("cannot write `{}`", p.display()))?;
                say(&format!("wrote {path}"));
            }
            Step::Append { path, line } => {
                let p = inside(dir, path)?;
                let mut text = std::fs::read_to_string(&p).unwrap_or_default();
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(line);
                text.push('\n');
                std::fs::write(&p, text)
                    .with_context(|| format!("cannot write `{}`", p.display()))?;
                say(&format!("appended to {path}"));
            }
            Step::Replace { path, from, to } => {
                let p = inside(dir, path)?;
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read `{}`", p.display()))?;
                if !text.contains(from.as_str()) {
                    return Err(Error::failure(format!("`{from}` is not in `{path}`")));
                }
                std::fs::write(&p, text.replacen(from.as_str(), to, 1))
                    .with_context(|| format!("cannot write `{}`", p.display()))?;
                say(&format!("edited {path}"));
            }
            Step::Check { path, item } => {
                let p = inside(dir, path)?;
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read `{}`", p.display()))?;
                let mut found = false;
                let out: Vec<String> = text
                    .lines()
                    .map(|l| {
                        if !found && l.contains("[ ]") && l.contains(item.as_str()) {
                            found = true;
                            l.replacen("[ ]", "[x]", 1)
                        } else {
                            l.to_owned()
                        }
                    })
                    .collect();
                if !found {
                    return Err(Error::failure(format!(
                        "no open TODO item `{item}` in `{path}`"
                    )));
                }
                std::fs::write(&p, out.join("\n") + "\n")
                    .with_context(|| format!("cannot write `{}`", p.display()))?;
                say(&format!("done: {item}"));
            }
            Step::SleepMs(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Step::HookEdit {
                agent,
                payload,
                vars,
                writes,
            } => {
                let input = hook_input(dir, payload, vars)?;
                match ask_hooks(dir, *agent, &input)? {
                    Some(reason) => say(&format!("blocked by hook: {}", reason.trim_end())),
                    None => {
                        for w in writes {
                            let p = inside(dir, &w.path)?;
                            if let Some(parent) = p.parent() {
                                std::fs::create_dir_all(parent).with_context(|| {
                                    format!("cannot create `{}`", parent.display())
                                })?;
                            }
                            std::fs::write(&p, &w.text)
                                .with_context(|| format!("cannot write `{}`", p.display()))?;
                            say(&format!("wrote {} (hooks allowed it)", w.path));
                        }
                    }
                }
            }
            Step::Commit(message) => {
                Repo::git_cli(dir, &["add", "-A"])?;
                Repo::git_cli(dir, &["commit", "--quiet", "--no-verify", "-m", message])?;
                say(&format!("committed: {message}"));
            }
            Step::Exit(code) => return Ok(*code),
        }
    }
    Ok(0)
}

/// The hook input of a [`Step::HookEdit`]: the recorded payload with its placeholders filled.
fn hook_input(
    dir: &Path,
    payload: &Path,
    vars: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut text = std::fs::read_to_string(payload)
        .with_context(|| format!("cannot read the hook payload `{}`", payload.display()))?;
    // Values go inside JSON strings: escape them as JSON does.
    let escape = |v: &str| {
        let quoted = serde_json::Value::String(v.to_owned()).to_string();
        quoted[1..quoted.len() - 1].to_owned()
    };
    text = text.replace("{{WORKTREE}}", &escape(&dir.to_string_lossy()));
    for (key, value) in vars {
        text = text.replace(&format!("{{{{{key}}}}}"), &escape(value));
    }
    Ok(text.into_bytes())
}

/// Run the hooks `agent`'s settings file in `dir` registers for the tool named in `input`, the
/// way the agent does. Returns the reason when one of them blocks the call.
fn ask_hooks(
    dir: &Path,
    agent: crate::ops::hooks::HookAgent,
    input: &[u8],
) -> Result<Option<String>> {
    use std::io::Write as _;
    let payload: serde_json::Value =
        serde_json::from_slice(input).context("the hook payload is not JSON")?;
    let tool = payload["tool_name"].as_str().unwrap_or_default();
    let Some(rel) = agent.settings_path() else {
        return Ok(None);
    };
    let settings = match std::fs::read_to_string(dir.join(rel)) {
        Ok(text) => serde_json::from_str::<serde_json::Value>(&text)
            .with_context(|| format!("`{rel}` is not JSON"))?,
        Err(_) => return Ok(None),
    };
    let groups = settings["hooks"][agent.event()]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for group in groups {
        // Matchers are tool names joined by `|`; `*` or an empty matcher matches every tool.
        let matcher = group["matcher"].as_str().unwrap_or("");
        if !(matcher.is_empty() || matcher == "*" || matcher.split('|').any(|m| m == tool)) {
            continue;
        }
        for hook in group["hooks"].as_array().cloned().unwrap_or_default() {
            let Some(command) = hook["command"].as_str() else {
                continue;
            };
            let mut child = std::process::Command::new("sh")
                .args(["-c", command])
                .current_dir(dir)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .with_context(|| format!("cannot run the hook `{command}`"))?;
            if let Some(mut stdin) = child.stdin.take() {
                // A hook may exit without reading its input; that is its right.
                let _ = stdin.write_all(input);
            }
            let out = child
                .wait_with_output()
                .with_context(|| format!("cannot wait for the hook `{command}`"))?;
            if out.status.code() == Some(2) {
                return Ok(Some(String::from_utf8_lossy(&out.stderr).into_owned()));
            }
            if out.status.success()
                && let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            {
                let specific = &answer["hookSpecificOutput"];
                if specific["permissionDecision"] == "deny" || answer["decision"] == "deny" {
                    let reason = specific["permissionDecisionReason"]
                        .as_str()
                        .or(answer["reason"].as_str())
                        .unwrap_or("denied");
                    return Ok(Some(reason.to_owned()));
                }
            }
            // Any other exit code is a non-blocking hook error: the agents carry on.
        }
    }
    Ok(None)
}

fn inside(dir: &Path, rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(Error::usage(format!(
            "the script path `{rel}` leaves the working directory"
        )));
    }
    Ok(dir.join(p))
}

/// What the demo did.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub repo: PathBuf,
    pub agents: Vec<AgentReport>,
    /// Per droid, in merge order: `merged`, `violation`, `conflict`, …
    pub merge: Vec<DemoMerge>,
    /// One row per droid: agent outcome, TODO %, merge result.
    pub status: Vec<DemoStatus>,
    /// `droidforge status` after the merge.
    pub forge_status: crate::ops::status::StatusReport,
    /// PROGRESS.md on the integration branch after the merge.
    pub progress_md: String,
    /// One sentence per droid.
    pub explanations: Vec<String>,
    /// Everything happened the way the demo is designed (violation and conflict included).
    pub as_designed: bool,
    pub elapsed_ms: u64,
}

/// One droid's merge result, reduced to what the demo explains.
#[derive(Debug, Clone, Serialize)]
pub struct DemoMerge {
    pub droid: String,
    pub status: String,
    pub commits: usize,
    /// Offending paths with their owner (violations) or conflicting paths (conflicts).
    pub paths: Vec<(String, String)>,
    pub reason: Option<String>,
}

/// One row of the demo's status table.
#[derive(Debug, Clone, Serialize)]
pub struct DemoStatus {
    pub droid: String,
    pub agent: String,
    pub commits: usize,
    pub todo_percent: Option<u8>,
    pub merge: String,
    pub detail: String,
}

/// The droids in manifest order (the order the runner gets them).
pub const MANIFEST_ORDER: &[&str] = &["core-droid", "isolation-droid", "infra-droid", "test-droid"];

/// What the demo expects per droid: (agent outcome, merge status).
pub const EXPECTED: &[(&str, &str)] = &[
    ("core-droid", "merged"),
    ("infra-droid", "merged"),
    ("isolation-droid", "violation"),
    ("test-droid", "conflict"),
];

/// Build the demo repository in `dir` (must not exist or be empty), run the scripted agents
/// with `exe` (the droidforge binary) through the runner, merge phase 1.
pub fn run_demo(
    dir: &Path,
    exe: &Path,
    view: Arc<dyn RunView>,
    progress: &dyn Fn(&str),
    merge_progress: &dyn Fn(crate::ops::merge::MergeEvent),
) -> Result<DemoReport> {
    let start = Instant::now();
    create_repo(dir)?;
    progress(&format!("created the demo repository at {}", dir.display()));

    let ws = Workspace::load(dir, ManifestSource::WorkingTree, false)?;
    let scripts_dir = ws.state.demo_scripts_dir();
    std::fs::create_dir_all(&scripts_dir)
        .with_context(|| format!("cannot create `{}`", scripts_dir.display()))?;
    for (droid, script) in scripts() {
        let text = serde_json::to_string_pretty(&script).context("cannot serialize a script")?;
        let path = scripts_dir.join(format!("{droid}.json"));
        std::fs::write(&path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    let template = format!(
        "{} scripted-agent --script {}/{{droid}}.json",
        shell_quote(&exe.to_string_lossy()),
        shell_quote(&scripts_dir.to_string_lossy())
    );
    let droids = ws.forge.select(&[], Some(1), false)?;
    let prepared = agent::prepare(&ws, &droids, None, Some(&template))?;
    progress(&format!(
        "spawned {} worktrees: {}",
        prepared.spawned.len(),
        prepared.spawned.join(", ")
    ));
    let opts = RunOptions {
        jobs: 4,
        stagger: Duration::ZERO,
        timeout: Some(Duration::from_secs(60)),
        stall: Duration::from_secs(30),
        kill_stalled: true,
        commit: true,
        grace: Duration::from_secs(1),
    };
    let agents = agent::run_agents(&ws, prepared.jobs, &opts, view)?;
    drop(ws);

    let ws = Workspace::load(dir, ManifestSource::Integration, false)?;
    let merge = merge_phase_one(&ws, merge_progress)?;
    let tip = ws.integration_tip()?;
    let progress_md = ws
        .repo
        .read_file_at(tip, "PROGRESS.md")?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let explanations = explain(&agents, &merge);
    let status = agents
        .iter()
        .map(|a| {
            let m = merge.iter().find(|m| m.droid == a.droid);
            let todo_percent = ws
                .forge
                .droid(&a.droid)
                .and_then(|d| d.todo.as_ref())
                .and_then(|t| std::fs::read_to_string(ws.worktree_path(&a.droid).join(t)).ok())
                .and_then(|text| crate::forge::progress::parse_todo(&text).percent());
            DemoStatus {
                droid: a.droid.clone(),
                agent: a.outcome.label().to_owned(),
                commits: a.new_commits,
                todo_percent,
                merge: m
                    .map(|m| m.status.clone())
                    .unwrap_or_else(|| "-".to_owned()),
                detail: m
                    .map(|m| {
                        m.paths
                            .iter()
                            .map(|(p, what)| format!("{p}: {what}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    let agents_ok = agents.iter().all(|a| a.outcome == Outcome::Ready);
    let merged_ok = EXPECTED
        .iter()
        .all(|(droid, want)| merge.iter().any(|m| m.droid == *droid && m.status == *want));
    let forge_status = crate::ops::status::status(&ws, &[])?;
    Ok(DemoReport {
        forge_status,
        repo: dir.to_owned(),
        agents,
        merge,
        status,
        progress_md,
        explanations,
        as_designed: agents_ok && merged_ok,
        elapsed_ms: start.elapsed().as_millis() as u64,
    })
}

/// `merge --phase 1` through the merger library.
fn merge_phase_one(
    ws: &Workspace,
    progress: &dyn Fn(crate::ops::merge::MergeEvent),
) -> Result<Vec<DemoMerge>> {
    let opts = crate::ops::merge::MergeOptions {
        phase: Some(1),
        ..Default::default()
    };
    let report = crate::ops::merge::run_merge(ws, &opts, progress)?;
    let merged = report
        .droids
        .iter()
        .map(|d| {
            let mut paths: Vec<(String, String)> = d
                .violations
                .iter()
                .map(|v| (v.path.clone(), v.owner.clone()))
                .collect();
            paths.extend(d.conflicts.iter().map(|c| (c.path.clone(), c.kind.clone())));
            DemoMerge {
                droid: d.droid.clone().unwrap_or_default(),
                status: d.status.as_str().to_owned(),
                commits: d.commits.len(),
                paths,
                reason: d.reason.clone(),
            }
        })
        .collect();
    Ok(merged)
}

fn explain(agents: &[AgentReport], merge: &[DemoMerge]) -> Vec<String> {
    let mut out = Vec::new();
    for a in agents {
        let m = merge.iter().find(|m| m.droid == a.droid);
        let sentence = match (a.outcome, m) {
            (Outcome::Ready, Some(m)) => match m.status.as_str() {
                "merged" => format!(
                    "{}: merged — {} commit{} landed on the integration branch.",
                    a.droid,
                    m.commits,
                    if m.commits == 1 { "" } else { "s" }
                ),
                "violation" => {
                    let what: Vec<String> = m
                        .paths
                        .iter()
                        .map(|(p, owner)| format!("{p} ({owner})"))
                        .collect();
                    format!(
                        "{}: rejected — it wrote {}, outside its own files; nothing of it landed.",
                        a.droid,
                        what.join(", ")
                    )
                }
                "conflict" => {
                    let paths: Vec<&str> = m.paths.iter().map(|(p, _)| p.as_str()).collect();
                    format!(
                        "{}: rejected — textual conflict in {}: a droid merged before it changed the same lines differently; it has to rebase onto main and resolve.",
                        a.droid,
                        paths.join(", ")
                    )
                }
                other => format!(
                    "{}: {other}{}.",
                    a.droid,
                    m.reason
                        .as_deref()
                        .map(|r| format!(" — {r}"))
                        .unwrap_or_default()
                ),
            },
            _ => format!("{}: {} — {}.", a.droid, a.outcome.label(), a.message),
        };
        out.push(sentence);
    }
    out
}

fn create_repo(dir: &Path) -> Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read `{}`", dir.display()))?
            .next()
            .is_none();
        if !empty {
            return Err(
                Error::usage(format!("`{}` exists and is not empty", dir.display()))
                    .hint("give `--keep` a new or empty directory"),
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    Repo::git_cli(dir, &["init", "--quiet", "--initial-branch=main"])?;
    for (key, value) in [
        ("user.name", "droidforge demo"),
        ("user.email", "demo@droidforge.invalid"),
        ("commit.gpgsign", "false"),
        ("core.hooksPath", "/dev/null"),
    ] {
        Repo::git_cli(dir, &["config", key, value])?;
    }
    for (path, text) in project_files() {
        crate::util::safe_fs::write_under(dir, path, text)?;
    }
    Repo::git_cli(dir, &["add", "-A"])?;
    Repo::git_cli(
        dir,
        &[
            "commit",
            "--quiet",
            "-m",
            "Set up the forge: four droids, phase 1",
        ],
    )?;
    Ok(())
}

const MANIFEST: &str = r#"# The demo forge: the four droids of the parallel-droids workflow, all in phase 1.
[forge]
integration = "main"

[paths]
shared = ["INTERFACES.md"]
protected = [".droidforge/**", "PROGRESS.md", "FILE_OWNERSHIP.md"]

[[phase]]
id = 1
name = "Synchronization, staging, events, tests"

[[droid]]
name = "core-droid"
role = "Concurrency expert"
phases = [1]
owns = ["src/execution/manager.ts", "src/execution/synchronization.ts", "TODO_CORE.md"]
reads = ["INTERFACES.md"]
todo = "TODO_CORE.md"
tasks = ["Implement Phase 1 (synchronization) now."]

[[droid]]
name = "isolation-droid"
role = "File system expert"
phases = [1]
owns = ["src/execution/staging.ts", "src/execution/merger.ts", "TODO_ISOLATION.md"]
reads = ["INTERFACES.md"]
todo = "TODO_ISOLATION.md"
after = ["core-droid"]
tasks = ["Implement staging isolation now."]

[[droid]]
name = "infra-droid"
role = "Infrastructure expert"
phases = [1]
owns = ["src/execution/eventBus.ts", "src/execution/metrics.ts", "TODO_INFRA.md"]
reads = ["INTERFACES.md"]
todo = "TODO_INFRA.md"
tasks = ["Implement the EventBus now."]

[[droid]]
name = "test-droid"
role = "Testing expert"
phases = [1]
owns = ["src/execution/__tests__/**", "TODO_TEST.md"]
reads = ["INTERFACES.md", "src/execution/**"]
todo = "TODO_TEST.md"
after = ["core-droid"]
tasks = ["Create the test harness and write concurrency tests now."]
"#;

const INTERFACES: &str = "# Interfaces

Shared contracts between droids. Any droid may edit this file; edits must merge cleanly.

## ExecutionManager (core-droid)
- `requestNext(): NodeId | undefined` — the next runnable node
- `completeNode(id: NodeId): void` — mark a node done

## Staging (isolation-droid)
- `createStaging(node: NodeId): StagingArea`

## EventBus (infra-droid)
- `emit(event: ExecutionEvent): void`
";

fn project_files() -> Vec<(&'static str, String)> {
    vec![
        (".droidforge/forge.toml", MANIFEST.to_owned()),
        (
            "README.md",
            "# DroidForge demo\n\nA tiny execution engine built by four droids in parallel.\n"
                .to_owned(),
        ),
        ("INTERFACES.md", INTERFACES.to_owned()),
        (
            "PROGRESS.md",
            "# Progress\n\nWritten by droidforge after each merge.\n".to_owned(),
        ),
        (
            "FILE_OWNERSHIP.md",
            "# File ownership\n\n\
             | droid | owns |\n|---|---|\n\
             | core-droid | src/execution/manager.ts, src/execution/synchronization.ts |\n\
             | isolation-droid | src/execution/staging.ts, src/execution/merger.ts |\n\
             | infra-droid | src/execution/eventBus.ts, src/execution/metrics.ts |\n\
             | test-droid | src/execution/__tests__/** |\n\
             \nShared: INTERFACES.md. Protected: .droidforge/**, PROGRESS.md, FILE_OWNERSHIP.md.\n"
                .to_owned(),
        ),
        (
            "src/execution/manager.ts",
            "export type NodeId = string;\n\n\
             export class ExecutionManager {\n\
             \x20 private ready: NodeId[] = [];\n\n\
             \x20 requestNext(): NodeId | undefined {\n\
             \x20   return this.ready.shift();\n\
             \x20 }\n\n\
             \x20 completeNode(id: NodeId): void {}\n\
             }\n"
            .to_owned(),
        ),
        (
            "TODO_CORE.md",
            "# core-droid — Phase 1: synchronization\n\n\
             - [ ] Add a mutex around the ready queue\n\
             - [ ] Make requestNext() wait for a free slot\n\
             - [ ] Document the contract in INTERFACES.md\n"
                .to_owned(),
        ),
        (
            "TODO_ISOLATION.md",
            "# isolation-droid — staging\n\n\
             - [ ] createStaging()\n\
             - [ ] collectChanges()\n\
             - [ ] Hook staging into the manager\n"
                .to_owned(),
        ),
        (
            "TODO_INFRA.md",
            "# infra-droid — event bus\n\n\
             - [ ] EventBus.emit()\n\
             - [ ] Subscriptions\n\
             - [ ] Document events in INTERFACES.md\n"
                .to_owned(),
        ),
        (
            "TODO_TEST.md",
            "# test-droid — tests\n\n\
             - [ ] Test harness\n\
             - [ ] Race test for requestNext()\n\
             - [ ] Note the tested contract in INTERFACES.md\n"
                .to_owned(),
        ),
    ]
}

const REQUEST_NEXT_LINE: &str = "- `requestNext(): NodeId | undefined` — the next runnable node";

fn s(text: &str) -> String {
    text.to_owned()
}

/// The four droids' scripts.
pub fn scripts() -> Vec<(&'static str, Script)> {
    use Step::*;
    let core = vec![
        Say(s("core-droid: reading the brief and INTERFACES.md")),
        SleepMs(150),
        Write {
            path: s("src/execution/synchronization.ts"),
            text: s(
                "export class Mutex {\n  private locked = false;\n  async lock(): Promise<void> {}\n  unlock(): void { this.locked = false; }\n}\n",
            ),
        },
        Check {
            path: s("TODO_CORE.md"),
            item: s("mutex"),
        },
        Commit(s("core: add a mutex for the ready queue")),
        SleepMs(200),
        Replace {
            path: s("src/execution/manager.ts"),
            from: s("  requestNext(): NodeId | undefined {"),
            to: s(
                "  // Callers hold the queue mutex (see synchronization.ts).\n  async requestNext(): Promise<NodeId | undefined> {",
            ),
        },
        Check {
            path: s("TODO_CORE.md"),
            item: s("requestNext"),
        },
        Replace {
            path: s("INTERFACES.md"),
            from: s(REQUEST_NEXT_LINE),
            to: s(
                "- `requestNext(): Promise<NodeId | undefined>` — the next runnable node, under the queue mutex",
            ),
        },
        Check {
            path: s("TODO_CORE.md"),
            item: s("contract"),
        },
        Commit(s("core: requestNext() is async and locked; document it")),
        Say(s("core-droid: phase 1 done")),
    ];
    let isolation = vec![
        Say(s("isolation-droid: reading the brief")),
        SleepMs(100),
        Write {
            path: s("src/execution/staging.ts"),
            text: s(
                "export interface StagingArea { dir: string }\n\nexport function createStaging(node: string): StagingArea {\n  return { dir: `.staging/${node}` };\n}\n",
            ),
        },
        Check {
            path: s("TODO_ISOLATION.md"),
            item: s("createStaging"),
        },
        Commit(s("isolation: createStaging()")),
        SleepMs(200),
        Write {
            path: s("src/execution/merger.ts"),
            text: s("export function collectChanges(dir: string): string[] {\n  return [];\n}\n"),
        },
        Check {
            path: s("TODO_ISOLATION.md"),
            item: s("collectChanges"),
        },
        // The mistake the demo is about: a file owned by core-droid.
        Append {
            path: s("src/execution/manager.ts"),
            line: s(
                "// isolation-droid: stage every node before it runs\nexport const STAGE_BEFORE_RUN = true;",
            ),
        },
        Check {
            path: s("TODO_ISOLATION.md"),
            item: s("Hook staging"),
        },
        Commit(s(
            "isolation: collectChanges() and hook staging into the manager",
        )),
        Say(s("isolation-droid: done")),
    ];
    let infra = vec![
        Say(s("infra-droid: reading the brief")),
        SleepMs(120),
        Write {
            path: s("src/execution/eventBus.ts"),
            text: s(
                "export type ExecutionEvent = { kind: string; node?: string };\n\nexport class EventBus {\n  private subs: ((e: ExecutionEvent) => void)[] = [];\n  emit(event: ExecutionEvent): void { this.subs.forEach((s) => s(event)); }\n}\n",
            ),
        },
        Check {
            path: s("TODO_INFRA.md"),
            item: s("emit"),
        },
        Commit(s("infra: EventBus.emit()")),
        SleepMs(200),
        Replace {
            path: s("src/execution/eventBus.ts"),
            from: s("  emit(event"),
            to: s(
                "  subscribe(f: (e: ExecutionEvent) => void): void { this.subs.push(f); }\n  emit(event",
            ),
        },
        Check {
            path: s("TODO_INFRA.md"),
            item: s("Subscriptions"),
        },
        Replace {
            path: s("INTERFACES.md"),
            from: s("- `emit(event: ExecutionEvent): void`"),
            to: s(
                "- `emit(event: ExecutionEvent): void`\n- `subscribe(f: (e: ExecutionEvent) => void): void`",
            ),
        },
        Check {
            path: s("TODO_INFRA.md"),
            item: s("Document"),
        },
        // No final commit: the runner commits the leftovers when the agent exits 0.
        Say(s(
            "infra-droid: done (changes left for droidforge to commit)",
        )),
    ];
    let test = vec![
        Say(s("test-droid: reading the brief")),
        SleepMs(80),
        Write {
            path: s("src/execution/__tests__/harness.test.ts"),
            text: s(
                "import { ExecutionManager } from '../manager';\n\nexport function manager(): ExecutionManager {\n  return new ExecutionManager();\n}\n",
            ),
        },
        Check {
            path: s("TODO_TEST.md"),
            item: s("harness"),
        },
        Commit(s("test: harness")),
        SleepMs(250),
        Write {
            path: s("src/execution/__tests__/race.test.ts"),
            text: s(
                "import { manager } from './harness.test';\n\ntest('two callers never get the same node', () => {\n  const m = manager();\n  expect(m.requestNext()).toBeUndefined();\n});\n",
            ),
        },
        Check {
            path: s("TODO_TEST.md"),
            item: s("Race test"),
        },
        // The same line core-droid rewrites, rewritten differently: a textual conflict.
        Replace {
            path: s("INTERFACES.md"),
            from: s(REQUEST_NEXT_LINE),
            to: s(
                "- `requestNext(): NodeId | undefined` — the next runnable node; never the same node twice (race.test.ts)",
            ),
        },
        Check {
            path: s("TODO_TEST.md"),
            item: s("contract"),
        },
        Commit(s("test: race test for requestNext(); note the contract")),
        Say(s("test-droid: done")),
    ];
    vec![
        ("core-droid", Script { steps: core }),
        ("isolation-droid", Script { steps: isolation }),
        ("infra-droid", Script { steps: infra }),
        ("test-droid", Script { steps: test }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_round_trip_as_json() {
        for (_, script) in scripts() {
            let text = serde_json::to_string(&script).unwrap();
            let back: Script = serde_json::from_str(&text).unwrap();
            assert_eq!(back, script);
        }
    }

    #[test]
    fn script_paths_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script {
            steps: vec![Step::Write {
                path: "../escape".into(),
                text: "x".into(),
            }],
        };
        assert!(run_script(dir.path(), &script, &|_| {}).is_err());
    }

    #[test]
    fn check_ticks_one_box() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("T.md"), "- [ ] a\n- [ ] b\n").unwrap();
        let script = Script {
            steps: vec![
                Step::Check {
                    path: "T.md".into(),
                    item: "b".into(),
                },
                Step::Exit(7),
            ],
        };
        assert_eq!(run_script(dir.path(), &script, &|_| {}).unwrap(), 7);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("T.md")).unwrap(),
            "- [ ] a\n- [x] b\n"
        );
    }
}
