//! The trash: `<state>/trash/`, where checkouts droidforge is done with (a merge run's scratch
//! worktrees) are moved in constant time — one `rename` on the same file system — so that
//! deleting their files, which costs as much as checking them out, is not on the user's time.
//!
//! [`sweep_later`] deletes what is in the trash from a detached process (this binary
//! re-executed as `droidforge internal-sweep`, in its own process group, as `git gc --auto`
//! detaches), so the command that filled the trash returns at once. Anything a killed sweeper
//! or a crash leaves there is deleted by the next sweep (each one empties the whole trash), and
//! reported and deleted by `doctor`. A sweep deletes nothing but the entries of the trash
//! directory, never following a symbolic link: an entry that is a link is removed itself, and a
//! trash directory that is a link (or not a directory) is refused.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{FileLock, StateDir};
use crate::error::Result;

/// The trash directory's name inside the state directory.
const TRASH_DIR: &str = "trash";
/// Set to `0` to sweep in the command itself instead of a detached process.
pub const BACKGROUND_ENV: &str = "DROIDFORGE_SWEEP_BACKGROUND";

/// Set by the droidforge binary ([`sweep_in_background`]): [`sweep_later`] may re-execute this
/// process's executable as `internal-sweep`. A program that links the library without setting
/// it sweeps in its own process (it has no such command).
static BACKGROUND: AtomicBool = AtomicBool::new(false);

/// Have [`sweep_later`] delete the trash in a detached `<this executable> internal-sweep`.
pub fn sweep_in_background() {
    BACKGROUND.store(true, Ordering::Relaxed);
}

/// What can stop a sweep.
#[derive(Debug, thiserror::Error)]
pub enum TrashError {
    /// The trash (or the state directory holding it) is a symbolic link or not a directory.
    #[error("refusing to empty `{}`: it is a symbolic link or not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("cannot read the trash `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock the trash: `{}`", path.display())]
    Lock { path: PathBuf },
}

impl crate::error::Typed for TrashError {
    fn exit_kind(&self) -> crate::error::ExitKind {
        crate::error::ExitKind::Failure
    }
}

/// What a sweep deleted and could not delete.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub removed: Vec<PathBuf>,
    pub failed: Vec<PathBuf>,
}

impl StateDir {
    /// The trash directory, created if missing: a real directory inside the state directory
    /// (a link there is refused, so nothing is ever moved out of the repository through it).
    pub fn trash_dir(&self) -> Result<PathBuf> {
        self.ensure()?;
        crate::util::safe_fs::create_dirs_under(&self.root, Path::new(TRASH_DIR))
    }

    /// The entries of the trash (none when there is no trash, or it is not a real directory).
    pub fn trash_entries(&self) -> Vec<PathBuf> {
        let trash = self.root.join(TRASH_DIR);
        if !std::fs::symlink_metadata(&trash).is_ok_and(|m| m.is_dir()) {
            return Vec::new();
        }
        let Ok(dir) = std::fs::read_dir(trash) else {
            return Vec::new();
        };
        dir.flatten().map(|e| e.path()).collect()
    }

    /// Is a sweep running right now (another process holds the trash lock)?
    pub fn sweeping(&self) -> bool {
        matches!(FileLock::try_acquire(&self.lock_path(TRASH_DIR)), Ok(None))
    }
}

/// Delete every entry of the trash, now, in this process. Waits for a sweep another process
/// is running (then deletes what that one left or what arrived meanwhile). Never follows a
/// link: the state directory and the trash must be real directories, and an entry that is a
/// link is removed itself.
pub fn sweep(state: &StateDir) -> Result<Swept> {
    let trash = state.root.join(TRASH_DIR);
    for dir in [state.root.as_path(), trash.as_path()] {
        match std::fs::symlink_metadata(dir) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => return Err(TrashError::NotADirectory { path: dir.into() }.into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Swept::default()),
            Err(source) => {
                return Err(TrashError::Read {
                    path: dir.into(),
                    source,
                }
                .into());
            }
        }
    }
    let lock_path = state.lock_path(TRASH_DIR);
    let _lock = FileLock::acquire(&lock_path).map_err(|_| TrashError::Lock { path: lock_path })?;
    let entries = std::fs::read_dir(&trash).map_err(|source| TrashError::Read {
        path: trash.clone(),
        source,
    })?;
    let mut swept = Swept::default();
    for entry in entries.flatten() {
        // `trash/<name>`: `remove_all` removes a link itself and follows none below it.
        let path = trash.join(entry.file_name());
        match crate::util::safe_fs::remove_all(&path) {
            Ok(()) => swept.removed.push(path),
            Err(_) => swept.failed.push(path),
        }
    }
    Ok(swept)
}

/// Have the trash emptied without waiting for it: by a detached `internal-sweep` process when
/// the droidforge binary allows it ([`sweep_in_background`]) and `DROIDFORGE_SWEEP_BACKGROUND` is not
/// `0`, else here and now. Nothing to do when the trash is empty. Best effort: what is not
/// deleted now is deleted by the next sweep.
pub fn sweep_later(state: &StateDir) {
    if state.trash_entries().is_empty() {
        return;
    }
    let background = BACKGROUND.load(Ordering::Relaxed)
        && std::env::var_os(BACKGROUND_ENV).is_none_or(|v| v != "0");
    if background
        && let (Ok(exe), Some(common_dir)) = (std::env::current_exe(), state.root.parent())
        && spawn_sweeper(&exe, common_dir)
    {
        return;
    }
    let _ = sweep(state);
}

/// Start `<exe> -C <common_dir> internal-sweep`, detached (the Ctrl-C that stopped a merge
/// does not stop its sweep).
fn spawn_sweeper(exe: &Path, common_dir: &Path) -> bool {
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("-C")
        .arg(common_dir)
        .args(["--quiet", "internal-sweep"]);
    crate::util::process::spawn_detached(&mut cmd)
}
