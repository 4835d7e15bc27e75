//! `droidforge init`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &InitArgs) -> Result<i32> {
    Err(Error::failure("`init` is not implemented yet"))
}
