//! `droidforge completions <shell>` and `droidforge man`: generated from the clap definitions.

use clap::CommandFactory;

use super::Ctx;
use crate::cli::*;
use crate::error::{Context, Result};

pub fn completions(ctx: &Ctx, args: &CompletionsArgs) -> Result<i32> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "droidforge", &mut out);
    ctx.ui.data(&String::from_utf8_lossy(&out));
    Ok(0)
}

pub fn man(ctx: &Ctx) -> Result<i32> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("cannot render the man page")?;
    ctx.ui.data(&String::from_utf8_lossy(&out));
    Ok(0)
}
