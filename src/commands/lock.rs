//! `droidforge lock`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn lock(_ctx: &Ctx, _args: &LockArgs) -> Result<i32> {
    Err(Error::failure("`lock` is not implemented yet"))
}

pub fn unlock(_ctx: &Ctx, _args: &UnlockArgs) -> Result<i32> {
    Err(Error::failure("`lock` is not implemented yet"))
}

pub fn locks(_ctx: &Ctx, _args: &LocksArgs) -> Result<i32> {
    Err(Error::failure("`lock` is not implemented yet"))
}
