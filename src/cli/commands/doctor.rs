//! `droidforge doctor [--fix] [--json]`: render the findings of [`droidforge::ops::doctor`].

use super::Ctx;
use crate::cli::args::*;
use droidforge::error::Result;
use droidforge::ops::doctor::{Severity, diagnose};
use droidforge::workspace::{ManifestSource, Workspace};

/// Exit 0 when nothing of warning or error severity is left, 1 otherwise.
pub fn run(ctx: &Ctx, args: &DoctorArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    let report = diagnose(&ws, args.fix)?;
    let code = i32::from(report.remaining > 0);
    if args.json {
        ctx.ui.json(&report);
        return Ok(code);
    }
    if report.findings.is_empty() {
        ctx.ui.status("Checked", "no stale state found");
        return Ok(0);
    }
    let mut text = String::new();
    for f in &report.findings {
        let mark = match (f.fixed, f.severity) {
            (true, _) => "fixed",
            (false, Severity::Info) => "info",
            (false, Severity::Warning) => "warning",
            (false, Severity::Error) => "error",
        };
        text.push_str(&format!("{mark}[{}]: {}\n", f.code, f.message));
        text.push_str(&format!("    why: {}\n", f.explanation));
        if !f.fixed {
            if let Some(fix) = &f.fix {
                text.push_str(&format!("    --fix: {fix}\n"));
            }
            if let Some(action) = &f.action {
                text.push_str(&format!("    to do: {action}\n"));
            }
        }
    }
    ctx.ui.data(&text);
    let fixable = report
        .findings
        .iter()
        .filter(|f| !f.fixed && f.fix.is_some())
        .count();
    if report.fixed > 0 {
        ctx.ui.status(
            "Fixed",
            &droidforge::util::text::count(report.fixed, "finding"),
        );
    }
    if !args.fix && fixable > 0 {
        ctx.ui.hint(&format!(
            "`droidforge doctor --fix` repairs {fixable} of these safely"
        ));
    }
    Ok(code)
}
