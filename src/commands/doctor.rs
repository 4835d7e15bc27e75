//! `droidforge doctor`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &DoctorArgs) -> Result<i32> {
    Err(Error::failure("`doctor` is not implemented yet"))
}
