//! Writing files safely: inside a directory tree without ever following a symbolic link out of
//! it, and atomically (temp file + rename, see [`write_atomic`]).
//!
//! Droids commit whatever they like, symlinks included: a TODO file or a brief committed as a
//! link to `/home/user/.bashrc` must not make `init` or `spawn` write there. Every file
//! droidforge writes into a repository or worktree goes through [`write_under`]: each existing
//! parent component below the root must be a real directory (not a link), and the file itself
//! is opened with `O_NOFOLLOW`, so a link at the final component fails instead of being
//! followed.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::error::{Context, Error, Result};

/// The error for a write droidforge refuses (names the path and why).
pub fn refuse(path: &Path, why: &str) -> Error {
    Error::failure(format!("refusing to write `{}`: {why}", path.display())).hint(
        "droidforge never writes through a symbolic link; replace it with a regular file (or remove it) and run the command again",
    )
}

/// Create the directories of `rel` below `root` (which must exist), refusing any component
/// that is a symbolic link or not a directory. Returns the full path.
pub fn create_dirs_under(root: &Path, rel: &Path) -> Result<PathBuf> {
    let mut cur = root.to_path_buf();
    for comp in rel.components() {
        let Component::Normal(name) = comp else {
            return Err(refuse(
                &root.join(rel),
                "the path must stay inside the repository (no `..`, no absolute path)",
            ));
        };
        cur.push(name);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(
                    &root.join(rel),
                    &format!("`{}` is a symbolic link", cur.display()),
                ));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(refuse(
                    &root.join(rel),
                    &format!("`{}` is not a directory", cur.display()),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::create_dir(&cur) {
                    Ok(()) => {}
                    // Created concurrently: fine if it is a real directory (re-checked below
                    // by the next component or the final open).
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        if std::fs::symlink_metadata(&cur)
                            .map(|m| !m.is_dir())
                            .unwrap_or(true)
                        {
                            return Err(refuse(
                                &root.join(rel),
                                &format!("`{}` is not a directory", cur.display()),
                            ));
                        }
                    }
                    Err(e) => {
                        return Err(Error::failure(format!("cannot create `{}`", cur.display()))
                            .with_source(e));
                    }
                }
            }
            Err(e) => {
                return Err(
                    Error::failure(format!("cannot inspect `{}`", cur.display())).with_source(e),
                );
            }
        }
    }
    Ok(cur)
}

/// Write `contents` to `root/rel` (creating parent directories), never following a symbolic
/// link at or below `root`: a link anywhere on the way is refused with an error naming it.
pub fn write_under(root: &Path, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let rel = rel.as_ref();
    let path = root.join(rel);
    let (Some(name), parent) = (rel.file_name(), rel.parent()) else {
        return Err(refuse(&path, "not a file path"));
    };
    let dir = create_dirs_under(root, parent.unwrap_or(Path::new("")))?;
    let target = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&target);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(refuse(&path, "it is a symbolic link"));
        }
        Err(e) => {
            return Err(Error::failure(format!("cannot write `{}`", path.display())).with_source(e));
        }
    };
    file.write_all(contents.as_ref())
        .map_err(|e| Error::failure(format!("cannot write `{}`", path.display())).with_source(e))
}

/// Replace `root/rel` atomically (a temp file in the same directory, renamed over it) with
/// permission bits `mode`, refusing like [`write_under`] when a directory on the way or the
/// file itself is a symbolic link. For files that may be in use while they are rewritten
/// (git hooks a commit elsewhere is running): readers see the old or the new file.
pub fn replace_under(
    root: &Path,
    rel: impl AsRef<Path>,
    contents: impl AsRef<[u8]>,
    mode: u32,
) -> Result<()> {
    let rel = rel.as_ref();
    let path = root.join(rel);
    let (Some(name), parent) = (rel.file_name(), rel.parent()) else {
        return Err(refuse(&path, "not a file path"));
    };
    let target = create_dirs_under(root, parent.unwrap_or(Path::new("")))?.join(name);
    if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(refuse(&path, "it is a symbolic link"));
    }
    // A rename replaces a link that appeared meanwhile instead of following it.
    write_atomic_mode(&target, contents.as_ref(), Some(mode))
}

/// Is `root/rel` (or a directory on the way) a symbolic link? For callers that skip existing
/// files: an existing link is not "a file that is already there".
pub fn is_link_under(root: &Path, rel: &Path) -> bool {
    let mut cur = root.to_path_buf();
    rel.components().any(|c| {
        cur.push(c);
        std::fs::symlink_metadata(&cur).is_ok_and(|m| m.file_type().is_symlink())
    })
}

/// Remove a file, link or whole directory tree at `path` without following any symbolic link
/// (a link is removed itself, never what it points to), giving the owner write access to
/// read-only directories on the way (a build may leave some, which `remove_dir_all` cannot
/// empty). A missing `path` is already removed.
pub fn remove_all(path: &Path) -> Result<()> {
    let md = match std::fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::failure(format!("cannot read `{}`", path.display())).with_source(e));
        }
    };
    let removed = if md.is_dir() {
        make_removable(path);
        // `remove_dir_all` does not follow links below `path` either.
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::failure(format!("cannot remove `{}`", path.display())).with_source(e))
        }
        _ => Ok(()),
    }
}

/// `dir/<name>.<pid>.<n>`: a path in `dir` that no other call, in this process or another
/// one, is given (for moving things into a shared directory without a clash).
pub fn unique_entry(dir: &Path, name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!("{name}.{}.{n}", std::process::id()))
}

/// Give the owner write access to every directory under `dir` (links are not followed).
pub fn make_removable(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(md) = std::fs::symlink_metadata(dir) else {
            return;
        };
        if !md.is_dir() {
            return;
        }
        let mode = md.permissions().mode();
        if mode & 0o700 != 0o700 {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700));
        }
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    make_removable(&e.path());
                }
            }
        }
    }
}

/// Write `bytes` to `path` atomically: a uniquely named temp file in the same directory,
/// fsync, then rename over the target. Readers see the old or the new file, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, None)
}

/// [`write_atomic`], with the file's permission bits set before it appears under its name
/// (a hook is never seen without its executable bit).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    replace_file(path, bytes, mode, true)
}

/// [`write_atomic`] without the fsync: readers still see the old or the new file, never a
/// mix, but a power loss right after may leave the old one (or, on file systems that do not
/// order a rename after the data it replaces, an empty one). For files that only repeat what
/// git already holds without fsyncing it either (a spawn's branch, base and time: `git
/// worktree add` fsyncs nothing), where an fsync would cost more than the rest of the command.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<()> {
    replace_file(path, bytes, None, false)
}

/// Write `value` as pretty JSON (the bytes `serde_json::to_vec_pretty` makes) to `path`
/// atomically, like [`write_atomic`] (`sync`) or [`write_atomic_unsynced`], streaming it into
/// the temp file: a merge's journal, report and state list every commit it landed, and a copy
/// of them as one buffer would make the process's peak memory grow with the commits.
pub fn write_json_atomic<T: serde::Serialize + ?Sized>(
    path: &Path,
    value: &T,
    sync: bool,
) -> Result<()> {
    replace_file_with(path, None, sync, |file| {
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
        out.flush()
    })
}

fn replace_file(path: &Path, bytes: &[u8], mode: Option<u32>, sync: bool) -> Result<()> {
    replace_file_with(path, mode, sync, |file| file.write_all(bytes))
}

/// The temp file + rename of [`write_atomic`], with `write` filling the temp file.
fn replace_file_with(
    path: &Path,
    mode: Option<u32>,
    sync: bool,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temp file in `{}`", dir.display()))?;
    write(tmp.as_file_mut())
        .and_then(|_| {
            if sync {
                tmp.as_file().sync_all()
            } else {
                Ok(())
            }
        })
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the permissions of `{}`", path.display()))?;
    }
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace `{}`", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed JSON write leaves exactly the bytes `to_vec_pretty` makes (the state,
    /// the merge journal and the merge reports keep their format), replacing the old file.
    #[test]
    fn write_json_atomic_writes_what_to_vec_pretty_makes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("state.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "old contents that are longer than the new ones").unwrap();
        let value = serde_json::json!({"a": [1, 2, {"b": "c\"d"}], "e": null, "é": "ü"});
        for sync in [true, false] {
            write_json_atomic(&path, &value, sync).unwrap();
            assert_eq!(
                std::fs::read(&path).unwrap(),
                serde_json::to_vec_pretty(&value).unwrap()
            );
        }
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file is left behind");
    }

    #[test]
    fn refuses_links_anywhere_on_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::os::unix::fs::symlink(outside.path().join("x"), root.join("todo.md")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("sub")).unwrap();
        let err = write_under(root, "todo.md", "a").unwrap_err();
        assert!(err.message.contains("todo.md"), "{}", err.message);
        assert!(write_under(root, "sub/y.md", "a").is_err());
        assert!(write_under(root, "../z.md", "a").is_err());
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        write_under(root, "a/b/c.md", "ok").unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("a/b/c.md")).unwrap(),
            "ok"
        );
        write_under(root, "a/b/c.md", "again").unwrap();
        assert!(replace_under(root, "todo.md", "a", 0o755).is_err());
        assert!(replace_under(root, "sub/y", "a", 0o755).is_err());
        replace_under(root, "a/hook", "#!/bin/sh\n", 0o755).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join("a/hook"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        assert_eq!(
            std::fs::read_to_string(root.join("a/b/c.md")).unwrap(),
            "again"
        );
    }
}
