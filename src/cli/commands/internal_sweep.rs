//! `droidforge internal-sweep` (hidden): empty the trash of the repository at `-C` (see
//! [`droidforge::state::trash`]); started detached by the command that filled it, so that
//! deleting a scratch checkout's files is not on the user's time.

use super::Ctx;
use droidforge::error::Result;

/// Exit 0 when everything in the trash was deleted, 1 otherwise (nobody reads it: the next
/// sweep tries again, and `doctor` reports what stays).
pub fn run(ctx: &Ctx) -> Result<i32> {
    let repo = droidforge::git::Repo::discover(&ctx.cwd)?;
    let state = droidforge::state::StateDir::new(&repo.common_dir());
    let swept = droidforge::state::trash::sweep(&state)?;
    Ok(i32::from(!swept.failed.is_empty()))
}
