//! `droidforge undo`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &UndoArgs) -> Result<i32> {
    Err(Error::failure("`undo` is not implemented yet"))
}
