//! Errors at the edge: the exit code and the hints for an error coming out of the library.
//!
//! Library modules return typed errors (an enum per module, see `droidforge::error::Typed`)
//! that say what went wrong; this is the one place that turns them into advice naming
//! droidforge commands, so that the library never has to know how it is invoked.

use droidforge::agent::{AgentError, PRESETS};
use droidforge::error::Error;
use droidforge::ops::lock::LockError;
use droidforge::ops::merge::{CHECK_BY_HAND, MergeError};
use droidforge::ops::ready::ReadyError;
use droidforge::ops::run::RunError;
use droidforge::ops::sync::SyncError;
use droidforge::workspace::WorkspaceError;

/// Hints for `err`: the library's own, then those this layer adds for the typed causes it
/// recognizes (a module error found anywhere in the chain).
pub fn hints(err: &Error) -> Vec<String> {
    let mut hints = err.hints.clone();
    for hint in command_hints(err) {
        if !hints.contains(&hint) {
            hints.push(hint);
        }
    }
    if let Some(err) = err.find::<droidforge::ops::land_loop::LandError>() {
        hints.push(match err {
            droidforge::ops::land_loop::LandError::AlreadyRunning => {
                "wait for it (`droidforge status` shows its droids' attempts), or stop it with Ctrl-C; then run it again to continue".to_owned()
            }
        });
    }
    hints
}

fn merge_hints(err: &MergeError) -> Option<String> {
    Some(match err {
        MergeError::Interrupted { .. } => "run `droidforge merge --continue` to finish it, or `droidforge merge --abort` to roll it back".to_owned(),
        MergeError::UndoWhileInterrupted { .. } => {
            "run `droidforge merge --abort` to roll it back instead".to_owned()
        }
        MergeError::JournalUnreadable { .. } => format!(
            "run `droidforge merge --abort` (or `droidforge doctor --fix`): it moves the journal aside as `merge-journal.json.corrupt-<time>`. {CHECK_BY_HAND}"
        ),
        MergeError::IntegrationMoved { .. } => {
            "run the merge again to merge onto the new tip".to_owned()
        }
        MergeError::Unfinished { .. } => "fix the cause, then run `droidforge merge --continue` to finish the merge (safe to repeat)".to_owned(),
        MergeError::NothingToResolve => {
            "`droidforge merge --continue`/`--abort` only act on a merge that was interrupted"
                .to_owned()
        }
        MergeError::MergedCommitMissing { .. } => {
            "run `droidforge merge --abort`, then merge again".to_owned()
        }
        MergeError::Diverged { .. } => {
            "run `droidforge merge --abort` to drop the interrupted merge, then merge again"
                .to_owned()
        }
        MergeError::FetchFailed { .. } => "branches checked out in a droid worktree cannot be fetched into; commit there or remove the worktree".to_owned(),
        MergeError::PushFailed {
            merge_id, remote, ..
        } => format!(
            "someone else pushed to `{remote}`; fetch, run `droidforge undo {merge_id}` and merge again, or push by hand"
        ),
        MergeError::Busy => return None,
        MergeError::VerifyInterrupted => "run the merge again".to_owned(),
    })
}

/// The process exit code documented in the README ("Exit codes").
pub fn exit_code(err: &Error) -> i32 {
    err.kind.code()
}

/// Advice that names droidforge commands, keyed by the typed error a module returned.
/// Each module's error enum gets an arm here when it has variants a command can fix.
fn command_hints(err: &Error) -> Vec<String> {
    let mut hints = Vec::new();
    if let Some(err) = err.find::<WorkspaceError>() {
        hints.push(match err {
            WorkspaceError::NoManifest { .. } => "run `droidforge init` to create one".to_owned(),
        });
    }
    if let Some(err) = err.find::<ReadyError>() {
        hints.push(match err {
            ReadyError::Moved { droid, .. } => format!(
                "see where it points with `droidforge status {droid}`, then run `droidforge done {droid}` again"
            ),
            ReadyError::NoBranch { droid, .. } => {
                format!("create it with `droidforge spawn {droid}`")
            }
            ReadyError::Unrelated {
                droid, integration, ..
            } => format!(
                "commit the work on a branch started from `{integration}` (e.g. `droidforge spawn {droid}`) and mark that ready"
            ),
            ReadyError::Uncommitted { droid, branch, .. } => format!(
                "commit them on `{branch}` (or discard them), then run `droidforge done {droid}` again"
            ),
        });
    }
    if let Some(err) = err.find::<LockError>() {
        hints.push(match err {
            LockError::NothingNamed => "pass globs or lease ids, `--all` for every lock of the droid, or `--force` to break stale locks".to_owned(),
            LockError::NoLock { .. } => "`droidforge locks` lists the current leases; `--force` breaks another droid's".to_owned(),
        });
    }
    if let Some(err) = err.find::<RunError>() {
        hints.push(match err {
            RunError::NoSelection => "name them (`droidforge run core-droid`), pick a phase (`--phase 1`), or run every droid with `--all`".to_owned(),
            RunError::AlreadyRunning { pid, .. } => format!(
                "wait for it, or stop it with `kill -TERM -- -{pid}` (its process group)"
            ),
        });
    }
    if let Some(err) = err.find::<AgentError>() {
        match err {
            AgentError::CustomNeedsTemplate => {
                hints.push("pass `--cmd 'my-agent --prompt-file {brief}'`".to_owned())
            }
            AgentError::UnknownPreset { similar, .. } => {
                if let Some(similar) = similar {
                    hints.push(format!("a preset with a similar name exists: `{similar}`"));
                }
                let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
                hints.push(format!(
                    "presets: {}; or give a command template with `--cmd '… {{brief}} …'`",
                    names.join(", ")
                ));
            }
            AgentError::EmptyCommand { .. } => hints.push(
                "give a command template such as `my-agent --prompt-file {brief}`".to_owned(),
            ),
            AgentError::ProgramNotFound { .. } => hints.push(
                "install it, or choose another agent with `--agent PRESET` or `--cmd TEMPLATE` (or `agent` in the manifest)".to_owned(),
            ),
            AgentError::Start { .. } | AgentError::NoPid => {}
        }
    }
    if let Some(err) = err.find::<MergeError>() {
        hints.extend(merge_hints(err));
    }
    if let Some(err) = err.find::<SyncError>() {
        hints.push(match err {
            SyncError::NoMergeBase { droid, integration, .. } => format!(
                "move its work onto `{integration}` by hand (`git rebase --root --onto {integration}` in its worktree), or start over with `droidforge remove {droid} --delete-branch` and `droidforge spawn {droid}`"
            ),
            SyncError::NothingToAbort { droid } => format!(
                "`droidforge sync {droid}` records the tip it moves from; only that can be aborted"
            ),
            SyncError::MovedOn { from, worktree, .. } => format!(
                "to go back anyway and drop those commits: `git -C {} reset --keep {from}`",
                droidforge::util::text::shell_quote(&worktree.display().to_string())
            ),
            SyncError::AbortBlocked { droid, .. } => format!(
                "commit or stash those changes, then run `droidforge sync --abort {droid}` again"
            ),
            SyncError::OtherOperation { operation, .. } => format!(
                "finish or abort it with git (`git {operation} --continue` / `git {operation} --abort`)"
            ),
        });
    }
    hints
}
