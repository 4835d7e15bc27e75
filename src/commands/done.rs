//! `droidforge done`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &DoneArgs) -> Result<i32> {
    Err(Error::failure("`done` is not implemented yet"))
}
