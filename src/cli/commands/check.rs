//! `droidforge check`: the CI job. Renders a [`CheckReport`] as text, JSON or GitHub
//! annotations (plus a step summary).

use super::Ctx;
use crate::cli::args::{CheckArgs, CheckFormat};
use crate::cli::render::check::{render_github, render_summary, render_text};
use droidforge::error::{Context, Result};
use droidforge::ops::check::{CheckEnv, CheckOptions, run_check};

pub fn run(ctx: &Ctx, args: &CheckArgs) -> Result<i32> {
    let opts = CheckOptions {
        base: args.base.clone(),
        head: args.head.clone(),
        droid: args.droid.clone(),
        phase: args.phase,
        require_droid: args.require_droid,
        verify: args.verify.clone(),
    };
    let report = run_check(&ctx.cwd, &opts, &CheckEnv::from_process())?;
    let format = if args.json {
        CheckFormat::Json
    } else {
        args.format
    };
    match format {
        CheckFormat::Text => ctx.ui.data(&render_text(&report)),
        CheckFormat::Json => ctx.ui.json(&report),
        CheckFormat::Github => {
            ctx.ui.data(&render_github(&report));
            if let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY")
                && !path.trim().is_empty()
            {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .with_context(|| format!("cannot open the step summary `{path}`"))?;
                f.write_all(render_summary(&report).as_bytes())
                    .with_context(|| format!("cannot write the step summary `{path}`"))?;
            }
        }
    }
    Ok(report.exit_code)
}
