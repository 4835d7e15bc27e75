//! `droidforge merge`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &MergeArgs) -> Result<i32> {
    Err(Error::failure("`merge` is not implemented yet"))
}
