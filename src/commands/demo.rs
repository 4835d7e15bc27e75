//! `droidforge demo`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &DemoArgs) -> Result<i32> {
    Err(Error::failure("`demo` is not implemented yet"))
}

pub fn scripted_agent(_ctx: &Ctx, _args: &ScriptedAgentArgs) -> Result<i32> {
    Err(Error::failure("`demo` is not implemented yet"))
}
