//! `droidforge demo` and the hidden `scripted-agent` mode it runs as each droid's agent.

use std::sync::Arc;

use super::Ctx;
use crate::cli::args::*;
use crate::cli::ui::live::LiveView;
use droidforge::agent::RunView;
use droidforge::demo::{self, DemoReport};
use droidforge::error::{Context, Error, Result};

pub fn run(ctx: &Ctx, args: &DemoArgs) -> Result<i32> {
    let exe = std::env::current_exe().context("cannot find the droidforge binary")?;
    let (_tmp, dir) = match &args.keep {
        Some(dir) => (None, ctx.cwd.join(dir)),
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("droidforge-demo-")
                .tempdir()
                .context("cannot create a temp directory")?;
            let dir = tmp.path().join("demo");
            (Some(tmp), dir)
        }
    };
    let ui = &ctx.ui;
    ui.data("droidforge demo: four droids build one project in parallel, each in its own worktree; then phase 1 merges.\n");
    let order: Vec<String> = demo::MANIFEST_ORDER
        .iter()
        .map(|d| (*d).to_owned())
        .collect();
    let view = Arc::new(LiveView::new(ui, &order));
    let report = demo::run_demo(
        &dir,
        &exe,
        view.clone() as Arc<dyn RunView>,
        &|line| ui.status("Demo", line),
        &|event| match crate::cli::render::merge::event_line(&event) {
            Some(("Order", line)) => ui.status("Demo", &format!("order: {line}")),
            Some((_, line)) => ui.status("Demo", &line),
            None => {}
        },
    );
    view.finish();
    let report = report?;
    render(ctx, &report, args.keep.is_some());
    Ok(if report.as_designed { 0 } else { 1 })
}

fn render(ctx: &Ctx, r: &DemoReport, kept: bool) {
    let ui = &ctx.ui;
    ui.data("== droidforge status ==");
    ui.data(&crate::cli::render::status::render_table(
        &r.forge_status,
        &r.repo,
        crate::cli::ui::stdout_width(),
    ));
    ui.data("== merge --phase 1 ==");
    let rows: Vec<Vec<String>> = r
        .status
        .iter()
        .map(|s| {
            vec![
                s.droid.clone(),
                s.agent.clone(),
                s.commits.to_string(),
                s.todo_percent
                    .map(|p| format!("{p}%"))
                    .unwrap_or_else(|| "-".to_owned()),
                s.merge.clone(),
                s.detail.clone(),
            ]
        })
        .collect();
    ui.data(&crate::cli::ui::table(
        &["DROID", "AGENT RUN", "COMMITS", "TODO", "MERGE", "DETAILS"],
        &rows,
    ));
    ui.data("== PROGRESS.md on main ==");
    ui.data(&r.progress_md);
    ui.data("== what happened ==");
    for line in &r.explanations {
        ui.data(line);
    }
    ui.data("");
    let secs = r.elapsed_ms as f64 / 1000.0;
    if r.as_designed {
        ui.data(&format!(
            "The demo behaved as designed in {secs:.1}s: the violation and the conflict were caught, the clean work landed."
        ));
    } else {
        ui.warn("the demo did not end the way it is designed to; see the results above");
    }
    if kept {
        ui.data(&format!(
            "The repository is kept at {}: try `droidforge -C {} status` or `git -C {} log --oneline --all`.",
            r.repo.display(),
            r.repo.display(),
            r.repo.display()
        ));
    } else {
        ui.hint("run `droidforge demo --keep DIR` to keep the demo repository and look around");
    }
}

pub fn scripted_agent(ctx: &Ctx, args: &ScriptedAgentArgs) -> Result<i32> {
    let path = ctx.cwd.join(&args.script);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the script `{}`", path.display()))?;
    let script: demo::Script = serde_json::from_str(&text).map_err(|e| {
        Error::usage(format!("`{}` is not a valid agent script", path.display())).with_source(e)
    })?;
    let ui = ctx.ui.clone();
    demo::run_script(&ctx.cwd, &script, &|line| ui.data(line))
}
