//! `droidforge plan`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &PlanArgs) -> Result<i32> {
    Err(Error::failure("`plan` is not implemented yet"))
}
