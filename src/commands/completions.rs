//! `droidforge completions`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn completions(_ctx: &Ctx, _args: &CompletionsArgs) -> Result<i32> {
    Err(Error::failure("`completions` is not implemented yet"))
}

pub fn man(_ctx: &Ctx) -> Result<i32> {
    Err(Error::failure("`man` is not implemented yet"))
}
