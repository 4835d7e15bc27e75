//! `droidforge demo`: a throwaway repository with the seed's four droids, scripted agents run
//! as real child processes through the same runner as `run`, then a phase-1 merge — one of the
//! droids writes a file it does not own, another makes a textual conflict on a shared file.
//!
//! - [`script`]: the scripted agent (`scripted-agent --script FILE`) the droids run;
//! - [`fixtures`]: the project they start from and their scripts (text files compiled in).

pub mod fixtures;
pub mod script;

pub use fixtures::scripts;
pub use script::{FileWrite, Script, Step, run_script};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::agent::{self, AgentReport, Outcome, RunOptions, RunView};
use crate::error::{Context, Error, Result};
use crate::git::Repo;
use crate::util::text::shell_quote;
use crate::workspace::{ManifestSource, Workspace};

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
    for (path, text) in fixtures::project_files() {
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
