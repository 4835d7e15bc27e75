//! Write leases as seen by `merge` and `check`: which changed paths another droid holds a
//! write lease on right now (a warning, never a refusal).

use serde::Serialize;

use super::{LockMode, LockStore};
use crate::forge::ownership::compile_pattern;
use crate::state::StateDir;
use crate::util::time::now;

/// A write lease of another droid on a path that `droid` changed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LockedPath {
    pub path: String,
    pub holder: String,
    pub lease: String,
    pub glob: String,
}

/// Which of `paths` (changed by `droid`) are covered by a write lease another droid holds
/// right now. For `merge` and `check` to warn; an unreadable lock file yields no warnings.
pub fn write_locks_held_by_others(
    state: &StateDir,
    droid: &str,
    paths: &[String],
) -> Vec<LockedPath> {
    let Ok(table) = LockStore::new(state).read() else {
        return Vec::new();
    };
    let at = now();
    let mut out = Vec::new();
    for lease in &table.leases {
        if lease.droid == droid || lease.mode != LockMode::Write || lease.is_expired(at) {
            continue;
        }
        for glob in &lease.globs {
            let Ok(globs) = compile_pattern(glob) else {
                continue;
            };
            let matchers: Vec<_> = globs.iter().map(|g| g.compile_matcher()).collect();
            for path in paths {
                if matchers.iter().any(|m| m.is_match(path)) {
                    out.push(LockedPath {
                        path: path.clone(),
                        holder: lease.droid.clone(),
                        lease: lease.id.clone(),
                        glob: glob.clone(),
                    });
                }
            }
        }
    }
    out
}
