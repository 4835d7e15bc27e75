//! git's own housekeeping after droidforge wrote many objects. A merge writes every replayed
//! commit and tree as a loose object (git's replay and rebase do too); git's porcelain runs
//! `git gc --auto` after such work, which packs them once there are more than `gc.auto` (6,700)
//! and writes the commit-graph. Without it every later history walk opens one file per commit:
//! `droidforge status` after a merge of 40,000 commits took 1.8 s, and 0.08 s after a `git gc`.
//! gix has no API that packs a repository, so this is the `git` binary.

use super::Repo;

impl Repo {
    /// Start `git gc --auto --quiet` detached, as git's porcelain does after writing objects:
    /// it does nothing below git's thresholds, honours `gc.auto = 0` and the rest of the
    /// user's gc configuration, and never delays the command that started it. Best effort:
    /// whether it could be started.
    pub fn gc_auto_later(&self) -> bool {
        let mut cmd = std::process::Command::new("git");
        cmd.arg("--git-dir")
            .arg(self.git.git_dir())
            .args(["gc", "--auto", "--quiet"]);
        crate::util::process::spawn_detached(&mut cmd)
    }
}
