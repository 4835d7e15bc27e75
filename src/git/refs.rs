//! References: reading where refs point, listing them, and changing them with
//! compare-and-swap in one transaction ([`Expect`], [`RefMoved`] when it is lost);
//! branch-name validation.

use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};

use super::{Oid, Repo};
use crate::error::{Context, Error, Result};

/// A ref edit lost its compare-and-swap: the ref `name` was not at the expected value, or
/// existed when it must not. `found` is what it held under the lock (`None` for a symbolic
/// target). Reads as git's own message; callers match on it to say what moved.
#[derive(Debug, thiserror::Error)]
#[error("{cause}")]
pub struct RefMoved {
    pub name: String,
    pub found: Option<Oid>,
    #[source]
    cause: gix::Error,
}

impl RefMoved {
    fn of(e: &gix::Error) -> Option<(String, Option<Oid>)> {
        use gix::refs::file::transaction::prepare::{MustNotExist, ReferenceOutOfDate};
        let found = |t: &gix::refs::Target| t.try_id().map(|id| id.to_owned());
        if let Some(r) = e.downcast_any_ref::<ReferenceOutOfDate>() {
            return Some((r.full_name.to_string(), found(&r.actual)));
        }
        let r = e.downcast_any_ref::<MustNotExist>()?;
        Some((r.full_name.to_string(), found(&r.actual)))
    }
}

/// How a ref update checks the ref's previous value (compare-and-swap).
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    Any,
    MustNotExist,
    MustMatch(Oid),
}

/// Is `name` a valid branch name (`refs/heads/<name>` passes git's `check-ref-format` rules)?
pub fn valid_branch_name(name: &str) -> bool {
    let full = format!("refs/heads/{name}");
    !name.is_empty() && gix::validate::reference::name(full.as_bytes().into()).is_ok()
}

impl Repo {
    /// Where a full ref name (`refs/heads/x`) points, peeled to an object id. A ref naming a
    /// missing object yields that id (callers judge it with [`Repo::not_a_commit`]) instead of
    /// failing, so one damaged ref cannot stop work on every other one.
    pub fn ref_target(&self, full_name: &str) -> Result<Option<Oid>> {
        match self.git.try_find_reference(full_name) {
            Ok(Some(mut r)) => {
                let direct = r.target().try_id().map(|id| id.to_owned());
                match r.peel_to_id() {
                    Ok(id) => Ok(Some(id.detach())),
                    Err(e) => {
                        match direct {
                            Some(id) if !self.git.has_object(id) => Ok(Some(id)),
                            _ => Err(Error::failure(format!("cannot resolve `{full_name}`"))
                                .with_source(e)),
                        }
                    }
                }
            }
            Ok(None) => Ok(None),
            Err(e) => Err(Error::failure(format!("cannot read ref `{full_name}`")).with_source(e)),
        }
    }

    /// The object id a ref stores, without reading that object (a symbolic ref is resolved
    /// and peeled as [`Repo::ref_target`] does). For a compare-and-swap against an id the
    /// caller wrote itself: peeling reads the object, and each read of a commit in a large
    /// pack keeps a window of its pages resident for the life of the object store.
    pub fn ref_id(&self, full_name: &str) -> Result<Option<Oid>> {
        match self.git.try_find_reference(full_name) {
            Ok(Some(r)) => match r.target().try_id() {
                Some(id) => Ok(Some(id.to_owned())),
                None => self.ref_target(full_name),
            },
            Ok(None) => Ok(None),
            Err(e) => Err(Error::failure(format!("cannot read ref `{full_name}`")).with_source(e)),
        }
    }

    /// The tip of a local branch given by its short name.
    pub fn branch_tip(&self, branch: &str) -> Result<Option<Oid>> {
        self.ref_target(&format!("refs/heads/{branch}"))
    }

    /// All refs under a prefix such as `refs/droidforge/ready/`, as (full name, target).
    pub fn refs_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Oid)>> {
        let platform = self.git.references().context("cannot list refs")?;
        let iter = platform
            .prefixed(prefix)
            .with_context(|| format!("cannot list refs under `{prefix}`"))?;
        let mut out = Vec::new();
        for r in iter {
            let Ok(mut r) = r else { continue };
            let name = r.name().as_bstr().to_string();
            if let Ok(id) = r.peel_to_id() {
                out.push((name, id.detach()));
            }
        }
        Ok(out)
    }

    /// Update (or create) a ref with a compare-and-swap check on its old value.
    pub fn set_ref(&self, full_name: &str, new: Oid, expect: Expect, message: &str) -> Result<()> {
        self.edit_refs(&[(full_name.to_owned(), Some(new), expect)], message)
    }

    /// Delete a ref, optionally checking its current value.
    pub fn delete_ref(&self, full_name: &str, expect: Expect) -> Result<()> {
        self.edit_refs(
            &[(full_name.to_owned(), None, expect)],
            "droidforge: delete",
        )
    }

    /// Apply several ref updates in one transaction: all or nothing. `None` deletes.
    pub fn edit_refs(&self, edits: &[(String, Option<Oid>, Expect)], message: &str) -> Result<()> {
        let mut out = Vec::with_capacity(edits.len());
        for (name, new, expect) in edits {
            let expected = match expect {
                Expect::Any => PreviousValue::Any,
                Expect::MustNotExist => PreviousValue::MustNotExist,
                Expect::MustMatch(old) => {
                    PreviousValue::MustExistAndMatch(gix::refs::Target::Object(*old))
                }
            };
            let change = match new {
                Some(new) => Change::Update {
                    log: LogChange {
                        mode: RefLog::AndReference,
                        force_create_reflog: false,
                        message: message.into(),
                    },
                    expected,
                    new: gix::refs::Target::Object(*new),
                },
                None => Change::Delete {
                    expected,
                    log: RefLog::AndReference,
                },
            };
            out.push(RefEdit {
                change,
                name: name.as_str().try_into().map_err(|e| {
                    Error::failure(format!("`{name}` is not a valid ref name")).with_source(e)
                })?,
                deref: false,
            });
        }
        // Reflog entries need a committer; fall back to droidforge's own when git has none
        // configured (CI machines, hermetic environments).
        let committer = self.committer();
        let mut time_buf = gix::date::parse::TimeBuf::default();
        let sig = committer.to_ref(&mut time_buf);
        self.git.edit_references_as(out, Some(sig)).map_err(|e| {
            let what = Error::failure(format!(
                "cannot update {}",
                edits
                    .iter()
                    .map(|e| format!("`{}`", e.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            match RefMoved::of(&e) {
                Some((name, found)) => what.with_source(RefMoved {
                    name,
                    found,
                    cause: e,
                }),
                None => what.with_source(e),
            }
        })?;
        Ok(())
    }

    /// Create a branch at `target`; fails if it exists.
    pub fn create_branch(&self, branch: &str, target: Oid) -> Result<()> {
        self.set_ref(
            &format!("refs/heads/{branch}"),
            target,
            Expect::MustNotExist,
            "droidforge: create droid branch",
        )
    }
}
