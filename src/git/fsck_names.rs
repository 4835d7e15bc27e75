//! Tree entries git itself refuses: the name, mode and ordering rules of git's `fsck` (tree
//! checks in fsck.c) and of `verify_path` (path.c), which guards checkout.
//!
//! gix writes and replays trees without these checks, so a droid that crafts a tree with
//! `git mktree` or `git hash-object` (entries named `.git`, `..`, `a/b`, duplicates) would land
//! it on the integration branch, which then fails `git fsck`, cannot be checked out, and is
//! refused by any host with `transfer.fsckObjects`. The merger validates every tree a droid
//! introduces with [`Repo::invalid_entries`], and droidforge's own tree writes are re-checked
//! with [`Repo::ensure_valid_tree`].
//!
//! The `.git` rules apply on every platform (like git with `core.protectHFS` and
//! `core.protectNTFS` both on): a repository is cloned onto macOS and Windows too.

use std::collections::{HashMap, HashSet};

use super::{Oid, Repo};
use crate::error::{Error, Result};

mod dotgit;
use dotgit::*;

/// One invalid entry: where it is and why git refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEntry {
    /// Slash-joined path of the entry (its raw name may itself contain `/`).
    pub path: String,
    /// Human-readable reason, ending with git's fsck message id in parentheses.
    pub reason: String,
}

const MODE_TREE: u32 = 0o040000;
const MODE_BLOB: u32 = 0o100644;
const MODE_EXEC: u32 = 0o100755;
const MODE_LINK: u32 = 0o120000;
const MODE_GITLINK: u32 = 0o160000;

/// A parsed raw tree entry.
struct RawEntry<'a> {
    mode: u32,
    zero_padded: bool,
    name: &'a [u8],
    id: Oid,
}

/// Parse git's raw tree format (`<octal mode> SP <name> NUL <20-byte id>`)*. `None` when the
/// bytes are not a tree (git: `badTree`). Parsed by hand because gix's decoder rejects or
/// normalizes some of the very things we must see (odd modes).
fn parse_tree(data: &[u8]) -> Option<Vec<RawEntry<'_>>> {
    const HASH_LEN: usize = 20;
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let sp = rest.iter().position(|&b| b == b' ')?;
        let mode_bytes = &rest[..sp];
        if mode_bytes.is_empty() || mode_bytes.len() > 7 {
            return None;
        }
        let mut mode = 0u32;
        for &b in mode_bytes {
            if !(b'0'..=b'7').contains(&b) {
                return None;
            }
            mode = mode * 8 + u32::from(b - b'0');
        }
        rest = &rest[sp + 1..];
        let nul = rest.iter().position(|&b| b == 0)?;
        let name = &rest[..nul];
        rest = &rest[nul + 1..];
        if rest.len() < HASH_LEN {
            return None;
        }
        let id = Oid::try_from(&rest[..HASH_LEN]).ok()?;
        rest = &rest[HASH_LEN..];
        out.push(RawEntry {
            mode,
            zero_padded: mode_bytes[0] == b'0',
            name,
            id,
        });
    }
    Some(out)
}

/// Why git refuses an entry with this `name` and `mode`, if it does. Independent of where the
/// tree sits: git checks every tree object on its own.
pub fn entry_problem(name: &[u8], mode: u32) -> Option<String> {
    if is_plain_name(name) {
        return None;
    }
    name_problem(name, mode)
}

/// [`entry_problem`] without the shortcut for plain names: every rule, in order.
fn name_problem(name: &[u8], mode: u32) -> Option<String> {
    let shown = || String::from_utf8_lossy(name);
    if name.is_empty() {
        return Some("empty entry name (emptyName)".to_owned());
    }
    if name.contains(&b'/') {
        return Some(format!(
            "entry name `{}` contains `/`; git would read it as a path (fullPathname)",
            shown()
        ));
    }
    if name == b"." {
        return Some("entry named `.` (hasDot)".to_owned());
    }
    if name == b".." {
        return Some("entry named `..` escapes its directory (hasDotdot)".to_owned());
    }
    // Windows also splits at backslashes, so every `\`-separated part counts (path.c's
    // verify_path with core.protectNTFS, on by default everywhere).
    let parts = || name.split(|&b| b == b'\\');
    if name.contains(&b'\\') && parts().any(|p| p == b"." || p == b"..") {
        return Some(format!(
            "entry name `{}` has a `..` or `.` part between backslashes, a path on Windows (hasDotdot)",
            shown()
        ));
    }
    if is_hfs_dotgit(name) || parts().any(is_ntfs_dotgit) {
        return Some(format!(
            "entry `{}` is `.git` on some file system (case-insensitive, HFS+ or NTFS); git refuses to check it out (hasDotgit)",
            shown()
        ));
    }
    if is_hfs_dotgitmodules(name) || is_ntfs_dotgitmodules(name) {
        if mode == MODE_LINK {
            return Some(format!(
                "`{}` is `.gitmodules` as a symbolic link (gitmodulesSymlink)",
                shown()
            ));
        }
        if mode == MODE_TREE || mode == MODE_GITLINK {
            return Some(format!(
                "`{}` is `.gitmodules` but not a file (gitmodulesBlob)",
                shown()
            ));
        }
    }
    None
}

/// A name no rule of [`entry_problem`] or of the `.gitmodules`/`.gitattributes` content checks
/// can apply to, told from its first byte: every special name starts with `.` (after HFS+-ignored
/// code points, which are not ASCII), `g`/`G` (NTFS short names `git~1`, `gitmod~1`, `gi7eba~1`,
/// …) or `~` (a short name `~1…`), or holds a `/` or `\` (or is empty). Almost every entry of
/// a real tree is plain, and the rules below cost an allocation and a UTF-8 decoding each.
fn is_plain_name(name: &[u8]) -> bool {
    match name.first() {
        None | Some(b'.' | b'g' | b'G' | b'~') => false,
        Some(&c) if !c.is_ascii() => false,
        Some(_) => !name.iter().any(|&b| b == b'/' || b == b'\\'),
    }
}

/// Why git refuses this mode, if it does (`badFilemode`).
fn mode_problem(mode: u32, zero_padded: bool) -> Option<String> {
    if zero_padded {
        return Some(format!(
            "zero-padded file mode 0{mode:o} (zeroPaddedFilemode)"
        ));
    }
    match mode {
        MODE_TREE | MODE_BLOB | MODE_EXEC | MODE_LINK | MODE_GITLINK => None,
        _ => Some(format!("invalid file mode {mode:o} (badFilemode)")),
    }
}

/// git's tree order: names compared bytewise, a directory as if it ended in `/`. Returns
/// `Err(true)` for a duplicate name, `Err(false)` for a wrong order.
fn verify_ordered(m1: u32, n1: &[u8], m2: u32, n2: &[u8]) -> std::result::Result<(), bool> {
    let len = n1.len().min(n2.len());
    match n1[..len].cmp(&n2[..len]) {
        std::cmp::Ordering::Less => return Ok(()),
        std::cmp::Ordering::Greater => return Err(false),
        std::cmp::Ordering::Equal => {}
    }
    let next = |n: &[u8], m: u32| match n.get(len) {
        Some(&c) => c,
        None if m == MODE_TREE => b'/',
        None => 0,
    };
    if n1.len() == len && n2.len() == len {
        return Err(true);
    }
    if next(n1, m1) < next(n2, m2) {
        Ok(())
    } else {
        Err(false)
    }
}

/// The error of a tree droidforge refuses to write.
fn refused_tree(path: &str, reason: &str) -> Error {
    Error::failure(format!(
        "refusing to write a tree git would reject: `{path}`: {reason}"
    ))
}

fn join(prefix: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    if prefix.is_empty() {
        name.into_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

impl Repo {
    /// Entries git would refuse in `tree` and every subtree of it that is not also in one of
    /// `old` (the same subtree at the same path): only what is new relative to `old` is read.
    /// `clean` caches trees found valid (validity does not depend on a tree's location), so a
    /// caller checking many commits reads each tree once.
    pub fn invalid_entries(
        &self,
        tree: Oid,
        old: &[Oid],
        clean: &mut HashSet<Oid>,
    ) -> Result<Vec<InvalidEntry>> {
        let mut out = Vec::new();
        self.check_tree(tree, old.to_vec(), "", clean, &mut out)?;
        Ok(out)
    }

    /// Refuse to use a tree droidforge itself wrote if it holds an entry git would reject
    /// (every droid tree is validated before it is replayed, so this is a last line of defence
    /// that keeps such a tree off the integration branch).
    pub fn ensure_valid_tree(&self, tree: Oid, old: &[Oid]) -> Result<()> {
        let bad = self.invalid_entries(tree, old, &mut HashSet::new())?;
        match bad.first() {
            None => Ok(()),
            Some(e) => Err(refused_tree(&e.path, &e.reason)),
        }
    }

    /// Content rules for the two files git's fsck reads: `.gitmodules` and `.gitattributes`
    /// (any of their HFS+/NTFS spellings).
    fn blob_problem(&self, name: &[u8], id: Oid) -> Result<Option<String>> {
        if is_plain_name(name) {
            return Ok(None);
        }
        let modules = is_gitmodules(name);
        if !modules && !is_gitattributes(name) {
            return Ok(None);
        }
        let id_prefix = if modules {
            "gitmodules"
        } else {
            "gitattributes"
        };
        let Some((kind, data)) = self.raw_tree(id)? else {
            return Ok(Some(format!(
                "`{}` is missing ({id_prefix}Missing)",
                String::from_utf8_lossy(name)
            )));
        };
        if kind != gix::object::Kind::Blob {
            return Ok(Some(format!(
                "`{}` is a {kind}, not a blob ({id_prefix}Blob)",
                String::from_utf8_lossy(name)
            )));
        }
        Ok(if modules {
            gitmodules_problem(&data)
        } else {
            gitattributes_problem(&data)
        })
    }

    fn raw_tree(&self, id: Oid) -> Result<Option<(gix::object::Kind, Vec<u8>)>> {
        match self.git.try_find_object(id) {
            Ok(Some(obj)) => Ok(Some((obj.kind, obj.detach().data))),
            Ok(None) => Ok(None),
            Err(e) => Err(Error::failure(format!("cannot read object {id}")).with_source(e)),
        }
    }

    /// Why git refuses the entry `e` of a tree whose previous entry was `previous` (mode,
    /// name), if it does: its name, mode and id, its place in the order, and the contents of a
    /// `.gitmodules` or `.gitattributes` blob. What sits below a directory entry is not looked at.
    fn problem_in_tree(
        &self,
        e: &RawEntry<'_>,
        previous: Option<(u32, &[u8])>,
    ) -> Result<Option<String>> {
        let mut problem = entry_problem(e.name, e.mode)
            .or_else(|| mode_problem(e.mode, e.zero_padded))
            .or_else(|| {
                e.id.is_null()
                    .then(|| "entry points at the null object id (nullSha1)".to_owned())
            });
        if problem.is_none()
            && let Some((pm, pn)) = previous
        {
            problem = match verify_ordered(pm, pn, e.mode, e.name) {
                Ok(()) => None,
                Err(true) => Some(format!(
                    "duplicate entry `{}` in one directory (duplicateEntries)",
                    String::from_utf8_lossy(e.name)
                )),
                Err(false) => Some("tree entries are not sorted (treeNotSorted)".to_owned()),
            };
        }
        if problem.is_none() && (e.mode == MODE_BLOB || e.mode == MODE_EXEC) {
            problem = self.blob_problem(e.name, e.id)?;
        }
        Ok(problem)
    }

    /// Refuse a tree droidforge is about to write (`entries`, in the order they will be
    /// written) if git would reject one of its entries. Only this tree's own entries are
    /// checked: a subtree it names is either one written the same way or taken whole, by id,
    /// from a tree that was checked before (a droid's commit) or is already on the integration
    /// branch. So a replayed commit costs a check of the trees it creates, not a read of the
    /// whole directories around them.
    pub(crate) fn ensure_valid_new_tree(
        &self,
        entries: &[gix::objs::tree::EntryRef<'_>],
    ) -> Result<()> {
        let mut previous: Option<(u32, &[u8])> = None;
        for e in entries {
            let raw = RawEntry {
                mode: u32::from(e.mode.value()),
                zero_padded: false,
                name: e.filename,
                id: e.oid.to_owned(),
            };
            if let Some(reason) = self.problem_in_tree(&raw, previous)? {
                return Err(refused_tree(&String::from_utf8_lossy(e.filename), &reason));
            }
            previous = Some((raw.mode, raw.name));
        }
        Ok(())
    }

    fn check_tree(
        &self,
        tree: Oid,
        old: Vec<Oid>,
        prefix: &str,
        clean: &mut HashSet<Oid>,
        out: &mut Vec<InvalidEntry>,
    ) -> Result<()> {
        if clean.contains(&tree) || old.contains(&tree) {
            return Ok(());
        }
        let here = if prefix.is_empty() { "(root)" } else { prefix };
        let Some((kind, data)) = self.raw_tree(tree)? else {
            out.push(InvalidEntry {
                path: here.to_owned(),
                reason: format!("tree {tree} is missing (missingTree)"),
            });
            return Ok(());
        };
        if kind != gix::object::Kind::Tree {
            out.push(InvalidEntry {
                path: here.to_owned(),
                reason: format!("a directory entry points at a {kind}, not a tree (badType)"),
            });
            return Ok(());
        }
        let Some(entries) = parse_tree(&data) else {
            out.push(InvalidEntry {
                path: here.to_owned(),
                reason: "tree object cannot be parsed (badTree)".to_owned(),
            });
            return Ok(());
        };
        // The same path's subtrees in the old trees, to skip what did not change.
        let mut old_subtrees: HashMap<Vec<u8>, Vec<Oid>> = HashMap::new();
        for &o in &old {
            if let Some((gix::object::Kind::Tree, odata)) = self.raw_tree(o)?
                && let Some(oentries) = parse_tree(&odata)
            {
                for e in oentries.into_iter().filter(|e| e.mode == MODE_TREE) {
                    old_subtrees.entry(e.name.to_vec()).or_default().push(e.id);
                }
            }
        }
        let before = out.len();
        let mut previous: Option<(u32, &[u8])> = None;
        for e in &entries {
            let problem = self.problem_in_tree(e, previous)?;
            previous = Some((e.mode, e.name));
            if let Some(reason) = problem {
                out.push(InvalidEntry {
                    path: join(prefix, e.name),
                    reason,
                });
                continue;
            }
            if e.mode == MODE_TREE {
                let olds = old_subtrees.remove(e.name).unwrap_or_default();
                self.check_tree(e.id, olds, &join(prefix, e.name), clean, out)?;
            }
        }
        if out.len() == before {
            clean.insert(tree);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
