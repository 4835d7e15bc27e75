//! `droidforge check`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &CheckArgs) -> Result<i32> {
    Err(Error::failure("`check` is not implemented yet"))
}
