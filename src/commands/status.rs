//! `droidforge status`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &StatusArgs) -> Result<i32> {
    Err(Error::failure("`status` is not implemented yet"))
}
