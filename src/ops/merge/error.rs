//! Why a merge (or `--continue`, `--abort`, `undo`, `--fetch`, `--push`) stopped as a whole.
//! Droids that are rejected are not errors: they are outcomes in the report. The advice that
//! names droidforge commands for each variant lives with the CLI (`cli/error.rs`).

use crate::error::{Error, ExitKind, Typed};
use crate::git::{Oid, short};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A journal of an earlier merge is still there: it must be finished or rolled back first.
    #[error(
        "merge `{merge_id}` was interrupted before it finished (journal in the state directory)"
    )]
    Interrupted { merge_id: String },

    /// `undo` while a merge is interrupted.
    #[error("merge `{merge_id}` was interrupted and is not finished")]
    UndoWhileInterrupted { merge_id: String },

    /// The merge journal exists but cannot be read (corrupt, a link, a FIFO): the interrupted
    /// merge can be neither finished nor rolled back.
    #[error("{}", cause.message)]
    JournalUnreadable {
        #[source]
        cause: Error,
    },

    /// Ctrl-C (or SIGTERM) while candidates were being verified: the scratch checkouts were
    /// removed and nothing landed.
    #[error("the merge was interrupted while verifying candidates; nothing landed")]
    VerifyInterrupted,

    /// Another process holds the merge lock.
    #[error("another `droidforge merge` is running in this repository")]
    Busy,

    /// The compare-and-swap of the integration branch lost: someone moved it during the merge.
    #[error(
        "the integration branch `{integration}` moved during the merge (expected {}, found {}); nothing was changed",
        short(expected),
        found.map(|f| short(f).to_string()).unwrap_or_else(|| "no branch".to_owned())
    )]
    IntegrationMoved {
        integration: String,
        expected: Oid,
        found: Option<Oid>,
    },

    /// The integration branch moved, but the follow-up work failed.
    #[error(
        "merge {merge_id} moved `{integration}` from {} to {}, but finishing it failed (ready marks, branches, checkouts or state may be stale)",
        short(old),
        short(new)
    )]
    Unfinished {
        merge_id: String,
        integration: String,
        old: Oid,
        new: Oid,
        #[source]
        cause: Error,
    },

    /// `--continue`/`--abort` without an interrupted merge.
    #[error("there is no interrupted merge to resolve")]
    NothingToResolve,

    /// `--continue` of a merge whose new tip is not in the repository any more.
    #[error(
        "the merged commit {} of the interrupted merge is missing",
        short(commit)
    )]
    MergedCommitMissing { commit: Oid },

    /// `--continue` when the integration branch is at neither end of the interrupted merge.
    #[error(
        "the integration branch `{integration}` is neither at the old ({}) nor at the new tip ({}) of merge `{merge_id}`",
        short(old),
        short(new)
    )]
    Diverged {
        merge_id: String,
        integration: String,
        old: Oid,
        new: Oid,
    },

    /// `--fetch` failed (the message is git's).
    #[error("{}", cause.message)]
    FetchFailed {
        remote: String,
        #[source]
        cause: Error,
    },

    /// `--push` failed after the merge landed locally.
    #[error("the merge landed locally, but pushing `{branch}` to `{remote}` failed")]
    PushFailed {
        merge_id: String,
        branch: String,
        remote: String,
        #[source]
        cause: Error,
    },
}

impl Typed for MergeError {
    fn exit_kind(&self) -> ExitKind {
        match self {
            MergeError::VerifyInterrupted => ExitKind::Interrupted,
            _ => ExitKind::Failure,
        }
    }
}
