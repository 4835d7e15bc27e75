//! What droidforge keeps in a droid's worktree besides the checkout: the brief (written,
//! refreshed), and the `info/exclude` lines that hide it; plus path comparison helpers.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::forge::brief::{self, BRIEF_PATH, BriefContext, BriefRequest};
use crate::ops::hooks;
use crate::state::Request;
use crate::workspace::Workspace;

pub(super) fn write_brief(worktree: &Path, text: &str) -> Result<()> {
    crate::util::safe_fs::write_under(worktree, BRIEF_PATH, text)
}

/// Rewrite the brief when it is missing or the manifest changed; returns whether it wrote.
pub(super) fn refresh_brief(worktree: &Path, text: &str) -> Result<bool> {
    let path = worktree.join(BRIEF_PATH);
    if std::fs::read(&path).ok().as_deref() == Some(text.as_bytes()) {
        return Ok(false);
    }
    write_brief(worktree, text)?;
    Ok(true)
}

/// Rewrite `droid`'s brief in its worktree (after its open requests or the merger's feedback
/// changed), when the worktree exists; returns whether the brief was written.
pub fn rewrite_brief(ws: &Workspace, droid: &str) -> Result<bool> {
    let droid = ws.forge.require_droid(droid)?;
    let worktree = ws.worktree_path(&droid.name);
    if !worktree.join(".git").is_file() {
        return Ok(false);
    }
    let state = ws.state.store().read()?;
    let requests = brief_requests(&state.requests);
    let ctx = BriefContext {
        integration: &ws.integration,
        requests: &requests,
        feedback: state.feedback_of(&droid.name),
    };
    refresh_brief(&worktree, &brief::render(&ws.forge, droid, &ctx))
}

/// Stored requests as the brief shows them.
pub(super) fn brief_requests(stored: &[Request]) -> Vec<BriefRequest<'_>> {
    stored
        .iter()
        .map(|r| BriefRequest {
            id: r.id,
            to: &r.to,
            from: &r.from,
            message: &r.message,
        })
        .collect()
}

/// The lines droidforge keeps in `<common-dir>/info/exclude`: the worktree directory, the
/// brief and the agent hook settings (the file is shared by all worktrees, so these root-anchored
/// lines apply in the main worktree too).
pub fn exclude_lines(worktree_dir: &str) -> Vec<String> {
    let dir = worktree_dir.trim().trim_matches('/');
    let mut lines = vec![format!("/{dir}/"), format!("/{BRIEF_PATH}")];
    lines.extend(hooks::exclude_lines());
    lines
}

/// Make sure `<common-dir>/info/exclude` hides the worktree directory and the briefs, in every
/// worktree (the file is shared). Appends only missing lines; idempotent.
pub fn ensure_excludes(ws: &Workspace) -> Result<bool> {
    let lines = exclude_lines(&ws.forge.manifest.forge.worktree_dir);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    Ok(!ws.repo.ensure_excluded(&lines)?.is_empty())
}

/// Do two paths name the same directory (resolving symlinks where they exist)?
pub fn same_path(a: &Path, b: &Path) -> bool {
    a == b || comparable_path(a) == comparable_path(b)
}

/// The form [`same_path`] compares: the canonical path, or for a missing directory its
/// canonical parent joined with its name. Callers comparing one path with many compute this
/// once per path instead of calling `same_path` for every pair.
pub fn comparable_path(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    match (
        p.parent().and_then(|d| d.canonicalize().ok()),
        p.file_name(),
    ) {
        (Some(parent), Some(name)) => parent.join(name),
        _ => p.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_lines_are_anchored() {
        assert_eq!(
            exclude_lines(".droidforge/worktrees/"),
            vec![
                "/.droidforge/worktrees/",
                "/.droidforge/BRIEF.md",
                "/.claude/settings.local.json",
                "/.factory/settings.local.json"
            ]
        );
        assert_eq!(exclude_lines("wt")[0], "/wt/");
    }
}
