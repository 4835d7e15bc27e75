//! `merge --fetch REMOTE` and `merge --push REMOTE`: bring the droid branches in before a
//! merge, and publish the integration branch after it landed — with a lease on the tip the
//! merge started from, so a push never overwrites someone else's work.

use crate::error::Result;
use crate::git::Repo;
use crate::workspace::{ManifestSource, Workspace};

use super::{MergeError, MergeEvent, MergeReport};

/// Fetch the droid branches (`refs/heads/<prefix>*`) from `remote` into the local ones. The
/// prefix comes from the manifest on the integration branch, or the default without one.
pub fn fetch(repo: &Repo, remote: &str, progress: &dyn Fn(MergeEvent)) -> Result<()> {
    let root = repo.main_workdir()?;
    let prefix = Workspace::load_with(repo.clone(), &root, ManifestSource::Integration, false)
        .map(|ws| ws.forge.branch_prefix().to_owned())
        .unwrap_or_else(|_| crate::forge::manifest::DEFAULT_BRANCH_PREFIX.to_owned());
    progress(MergeEvent::Fetching {
        prefix: &prefix,
        remote,
    });
    crate::git::remote::fetch_branches(&root, remote, &prefix).map_err(|cause| {
        MergeError::FetchFailed {
            remote: remote.to_owned(),
            cause,
        }
        .into()
    })
}

/// Push the integration branch of a landed merge to `remote`, only if the remote branch is
/// still where the merge started (`--force-with-lease=<branch>:<old tip>`).
pub fn push(
    ws: &Workspace,
    remote: &str,
    report: &MergeReport,
    progress: &dyn Fn(MergeEvent),
) -> Result<()> {
    let branch = &report.integration;
    progress(MergeEvent::Pushing { branch, remote });
    crate::git::remote::push_with_lease(&ws.root, remote, branch, report.old_tip).map_err(|cause| {
        MergeError::PushFailed {
            merge_id: report.merge_id.clone(),
            branch: branch.clone(),
            remote: remote.to_owned(),
            cause,
        }
        .into()
    })
}
