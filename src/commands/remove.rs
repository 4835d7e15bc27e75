//! `droidforge remove`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn remove(_ctx: &Ctx, _args: &RemoveArgs) -> Result<i32> {
    Err(Error::failure("`remove` is not implemented yet"))
}

pub fn prune(_ctx: &Ctx, _args: &PruneArgs) -> Result<i32> {
    Err(Error::failure("`remove` is not implemented yet"))
}
