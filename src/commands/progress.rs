//! `droidforge progress`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &ProgressArgs) -> Result<i32> {
    Err(Error::failure("`progress` is not implemented yet"))
}
