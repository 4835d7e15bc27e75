//! `droidforge spawn`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &SpawnArgs) -> Result<i32> {
    Err(Error::failure("`spawn` is not implemented yet"))
}
