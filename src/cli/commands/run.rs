//! `droidforge run`: flags -> `ops::run` options, start the agents behind a live view, render
//! the summary. The rules (what a bare `run` selects, refusing a droid whose agent is alive)
//! live in `ops::run`.

use std::sync::Arc;

use super::Ctx;
use crate::cli::args::*;
use crate::cli::ui::live::LiveView;
use droidforge::agent::{AgentReport, Outcome, RunView};
use droidforge::error::Result;
use droidforge::forge::manifest::Droid;
use droidforge::ops::run::{self as ops_run, RunOptions};
use droidforge::workspace::{ManifestSource, Workspace};

pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<i32> {
    // `--land` merges, and merges trust the integration branch's manifest.
    let source = if args.land {
        ManifestSource::Integration
    } else {
        ManifestSource::WorkingTree
    };
    let ws = Workspace::load(&ctx.cwd, source, false)?;
    let droids = ops_run::select(&ws, &args.select.to_ops())?;
    if args.land {
        return land(ctx, &ws, &droids, args);
    }
    run_droids(ctx, &ws, &droids, args)
}

/// `run --land`: the loop in `ops::land_loop`, a status line per step, one summary at the end.
fn land(ctx: &Ctx, ws: &Workspace, droids: &[&Droid], args: &RunArgs) -> Result<i32> {
    use droidforge::ops::land_loop;
    let opts = land_loop::LandOptions {
        droids: droids.iter().map(|d| d.name.clone()).collect(),
        retries: args.retries.unwrap_or(2),
        run: options(args),
        verify: args.verify.clone(),
        verify_jobs: args.verify_jobs,
        strategy: Default::default(),
    };
    // Status lines, not live bars: the loop starts agents one runner call at a time.
    let view = Arc::new(LiveView::lines(&ctx.ui, &opts.droids));
    let report = land_loop::land(
        ws,
        &opts,
        &droidforge::ops::feedback::Fixer,
        view.clone(),
        view as Arc<dyn RunView>,
    )?;
    if args.json {
        ctx.ui.json(&report);
    } else {
        ctx.ui.data(&crate::cli::render::land::summary(&report));
    }
    Ok(crate::cli::render::land::exit_code(&report))
}

/// Run agents for these droids (also used by `spawn --run`); returns the exit code:
/// 0 when every droid ended ready, 130 when interrupted, 1 otherwise.
pub fn run_droids(ctx: &Ctx, ws: &Workspace, droids: &[&Droid], args: &RunArgs) -> Result<i32> {
    let opts = options(args);
    let prepared = ops_run::prepare(ws, droids, &opts)?;
    for note in &prepared.notes {
        ctx.ui.warn(note);
    }
    for name in &prepared.spawned {
        ctx.ui.status(
            "Spawned",
            &format!("{name} at {}", ws.worktree_path(name).display()),
        );
    }
    let names: Vec<String> = prepared.jobs.iter().map(|j| j.droid.clone()).collect();
    let view = Arc::new(LiveView::new(&ctx.ui, &names));
    let reports = ops_run::start(ws, prepared, &opts, view.clone() as Arc<dyn RunView>)?;
    view.finish();
    if args.json {
        ctx.ui.json(&serde_json::json!({ "agents": reports }));
    } else {
        crate::cli::render::run::render(&ctx.ui, &reports);
    }
    Ok(exit_code(&reports))
}

/// The flags as options (their values were checked when they were parsed).
fn options(args: &RunArgs) -> RunOptions {
    RunOptions {
        agent: args.agent.clone(),
        cmd: args.cmd.clone(),
        jobs: args.jobs,
        stagger: args.stagger,
        timeout: args.timeout,
        stall: args.stall,
        kill_stalled: args.kill_stalled,
        no_commit: args.no_commit,
        grace: args.grace,
    }
}

pub fn exit_code(reports: &[AgentReport]) -> i32 {
    if reports.iter().any(|r| r.outcome == Outcome::Interrupted) {
        130
    } else if reports.iter().all(|r| r.outcome == Outcome::Ready) {
        0
    } else {
        1
    }
}
