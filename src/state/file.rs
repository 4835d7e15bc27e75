//! The one reader for droidforge's JSON state files (`state.json`, `locks.json`, the merge
//! journal, `merges/<id>.json`, the manifest cache).
//!
//! State files live in `.git/droidforge/`, which anything on the machine can tamper with. A
//! plain `std::fs::read` blocks forever on a FIFO put in a file's place and reads until memory
//! runs out from a link to `/dev/zero`; a derived `Deserialize` quietly accepts `[]` for a
//! struct whose fields all have defaults. So every state file is opened without following a
//! symbolic link and without blocking, must be a regular file of at most [`MAX_STATE_FILE`]
//! bytes, and must hold a JSON object.

use std::io::Read;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The largest state file droidforge reads (64 MiB). Real ones are a few KiB to a few MiB
/// (a merge history of thousands of runs); anything larger is not ours.
pub const MAX_STATE_FILE: u64 = 64 * 1024 * 1024;

/// How to get past a state file that cannot be used; every caller names a fix.
fn unusable(path: &Path, what: &str, why: String, fix: &str) -> Error {
    Error::failure(format!("the {what} `{}` {why}", path.display())).hint(fix.to_owned())
}

/// Read a state file's bytes: `None` when it does not exist. A symbolic link, a FIFO, a
/// device or a directory in its place, or a file over [`MAX_STATE_FILE`], is an error naming
/// the file; `fix` tells the user how to get past it.
pub fn read_state_bytes(path: &Path, what: &str, fix: &str) -> Result<Option<Vec<u8>>> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            // ELOOP from O_NOFOLLOW: say what it is instead of "too many levels of links".
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(unusable(
                    path,
                    what,
                    "is a symbolic link; droidforge does not follow links in its state directory"
                        .into(),
                    fix,
                ));
            }
            return Err(
                Error::failure(format!("cannot read the {what} `{}`", path.display()))
                    .with_source(e)
                    .hint(fix.to_owned()),
            );
        }
    };
    // On platforms without O_NOFOLLOW, re-check what was opened.
    #[cfg(not(unix))]
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(unusable(
            path,
            what,
            "is a symbolic link; droidforge does not follow links in its state directory".into(),
            fix,
        ));
    }
    let meta = file.metadata().map_err(|e| {
        Error::failure(format!("cannot inspect the {what} `{}`", path.display())).with_source(e)
    })?;
    if !meta.is_file() {
        return Err(unusable(
            path,
            what,
            "is not a regular file (a FIFO, device or directory is in its place)".into(),
            fix,
        ));
    }
    if meta.len() > MAX_STATE_FILE {
        return Err(unusable(
            path,
            what,
            format!(
                "is {} bytes, over the {} MiB droidforge reads from a state file",
                meta.len(),
                MAX_STATE_FILE / (1024 * 1024)
            ),
            fix,
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The cap also holds if the file grows while we read.
    file.take(MAX_STATE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Error::failure(format!("cannot read the {what} `{}`", path.display())).with_source(e)
        })?;
    if bytes.len() as u64 > MAX_STATE_FILE {
        return Err(unusable(
            path,
            what,
            format!(
                "grew over the {} MiB droidforge reads from a state file",
                MAX_STATE_FILE / (1024 * 1024)
            ),
            fix,
        ));
    }
    Ok(Some(bytes))
}

/// Read and parse a JSON state file holding an object: `None` when it does not exist. Any
/// other JSON value (`[]`, `null`, a number) is an error, not an empty state.
pub fn read_state_json<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    fix: &str,
) -> Result<Option<T>> {
    let Some(bytes) = read_state_bytes(path, what, fix)? else {
        return Ok(None);
    };
    parse_state_json(path, what, fix, &bytes).map(Some)
}

/// Best-effort read of a JSON state file for caches and saved reports: `None` when it is
/// missing or cannot be used (the caller rebuilds or does without it; nothing is reported).
pub fn peek_state_json<T: DeserializeOwned>(path: &Path, what: &str) -> Option<T> {
    read_state_json(path, what, "").ok().flatten()
}

/// Parse state-file bytes that must hold a JSON object of type `T`.
pub fn parse_state_json<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    fix: &str,
    bytes: &[u8],
) -> Result<T> {
    // The common case, a well-formed object, in one pass. Anything else takes the checked path
    // below, for its message (a struct would also accept an array, which is not a state).
    let first = bytes.iter().find(|b| !b" \t\n\r".contains(b));
    if first == Some(&b'{')
        && let Ok(parsed) = serde_json::from_slice(bytes)
    {
        return Ok(parsed);
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::failure(format!("the {what} `{}` is corrupt", path.display()))
            .with_source(e)
            .hint(fix.to_owned())
    })?;
    if !value.is_object() {
        let found = match &value {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::Object(_) => "an object",
        };
        return Err(unusable(
            path,
            what,
            format!("is corrupt: it holds {found} where a JSON object was expected"),
            fix,
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        Error::failure(format!("the {what} `{}` is corrupt", path.display()))
            .with_source(e)
            .hint(fix.to_owned())
    })
}

/// Move an unusable state file aside as `<name>.corrupt-<epoch seconds>` (a rename: nothing
/// is opened, so a FIFO or a link moves as well). Returns the new path.
pub fn move_aside(path: &Path) -> Result<std::path::PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let aside = path.with_file_name(format!("{name}.corrupt-{}", crate::util::time::now()));
    std::fs::rename(path, &aside).map_err(|e| {
        Error::failure(format!("cannot move `{}` aside", path.display())).with_source(e)
    })?;
    Ok(aside)
}
