//! `droidforge run`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &RunArgs) -> Result<i32> {
    Err(Error::failure("`run` is not implemented yet"))
}
