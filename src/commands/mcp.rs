//! `droidforge mcp`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &McpArgs) -> Result<i32> {
    Err(Error::failure("`mcp` is not implemented yet"))
}
