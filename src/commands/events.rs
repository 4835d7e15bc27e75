//! `droidforge events`.

use super::Ctx;
use crate::cli::*;
use crate::error::{Error, Result};

pub fn run(_ctx: &Ctx, _args: &EventsArgs) -> Result<i32> {
    Err(Error::failure("`events` is not implemented yet"))
}
