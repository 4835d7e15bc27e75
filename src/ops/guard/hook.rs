//! The pre-commit guard: a git hook that runs `droidforge guard --staged` in droid worktrees
//! only, without taking over the repository's own hooks.
//!
//! How it is scoped: droidforge writes its hooks into `<git-common-dir>/droidforge/hooks/`
//! and points each droid worktree's *worktree-scoped* `core.hooksPath` there
//! (`extensions.worktreeConfig` + `git config --worktree`). The main worktree and any other
//! worktree keep reading the user's hooks exactly as before, and droidforge never edits,
//! moves or replaces a user's hook file — so husky or the pre-commit framework regenerating
//! theirs cannot drop the guard, and uninstalling cannot damage them.
//!
//! How it chains: every hook droidforge writes ends by running the user's hook of the same
//! name from the hooks directory git would otherwise use (`core.hooksPath` from the shared
//! or global config, resolved like git does — relative to the worktree root — or
//! `<git-common-dir>/hooks`), with the same arguments and stdin. Besides `pre-commit`,
//! droidforge writes such a forwarding hook for every hook the user has at install time
//! (`spawn` and `guard --install` refresh them).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Context, Error, Result};
use crate::git::Repo;
use crate::state::HOOKS_DIR;
use crate::util::safe_fs;
use crate::util::text::shell_quote;
use crate::workspace::Workspace;

/// Marks a hook file as droidforge's.
const MARKER: &str = "# droidforge-guard-hook";
/// Present when droidforge turned `extensions.worktreeConfig` on (so uninstall turns it off).
const ENABLED_MARKER: &str = "enabled-worktree-config";

/// What [`install`] did for one worktree.
#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    pub worktree: PathBuf,
    /// The directory with droidforge's hooks (the worktree's `core.hooksPath`).
    pub hooks_dir: PathBuf,
    /// The user's hooks directory the guard chains to, as git names it.
    pub chains_to: String,
    /// The user's hooks that run after the guard (names).
    pub user_hooks: Vec<String>,
    /// The worktree did not have the guard before (a refresh is not news).
    pub fresh: bool,
}

/// The directory droidforge's hooks live in.
pub fn hooks_dir(ws: &Workspace) -> PathBuf {
    ws.state.hooks_dir()
}

/// Install (or refresh) the pre-commit guard for the droid worktree at `worktree`.
pub fn install(ws: &Workspace, worktree: &Path) -> Result<Installed> {
    ws.state.ensure()?;
    let dir = hooks_dir(ws);
    // Settings as git sees them in the main worktree (a command run from inside a droid
    // worktree would see that worktree's own `core.hooksPath`: ours).
    let opened;
    let main = if ws.repo.workdir().as_deref() == Some(ws.root.as_path()) {
        &ws.repo
    } else {
        opened = Repo::open(&ws.root)?;
        &opened
    };
    // The hooks directory the user's hooks come from: what git reads outside droid worktrees.
    let user_setting = main.config_value("core.hooksPath");
    let ours = dir.to_string_lossy().into_owned();
    let user_setting = user_setting.filter(|v| *v != ours);
    let chains_to = user_setting.clone().unwrap_or_else(|| {
        ws.repo
            .common_dir()
            .join("hooks")
            .to_string_lossy()
            .into_owned()
    });
    if main.config_value("core.worktree").is_some() {
        return Err(Error::failure(
            "cannot scope the pre-commit guard to droid worktrees: `core.worktree` is set",
        )
        .hint("the merge gate still refuses ownership violations; unset core.worktree to get the commit-time guard"));
    }
    if main
        .local_config_value("extensions.worktreeConfig")?
        .as_deref()
        != Some("true")
        && main.config_value("extensions.worktreeConfig").as_deref() != Some("true")
    {
        main.config_set_local("extensions.worktreeConfig", "true")?;
        safe_fs::write_under(
            ws.state.root(),
            Path::new(HOOKS_DIR).join(ENABLED_MARKER),
            b"",
        )?;
    }
    // Which user hooks exist (relative settings resolve against the main worktree here; at
    // run time git's rule applies: against the worktree the hook runs in).
    let user_dir = resolve_hooks_dir(&chains_to, &ws.root);
    let mut user_hooks: Vec<String> = std::fs::read_dir(&user_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".sample") && !n.starts_with('.') && is_hook_name(n))
                .collect()
        })
        .unwrap_or_default();
    user_hooks.sort();
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("cannot find the droidforge binary's own path")?;
    write_hook(ws, "pre-commit", &pre_commit_script(&exe, &chains_to))?;
    for name in user_hooks.iter().filter(|n| *n != "pre-commit") {
        write_hook(ws, name, &forward_script(&chains_to))?;
    }
    let fresh = Repo::worktree_config_get(worktree, "core.hooksPath")?.as_deref() != Some(&ours);
    if fresh {
        main.config_set_worktree(worktree, "core.hooksPath", &ours)?;
    }
    Ok(Installed {
        fresh,
        worktree: worktree.to_owned(),
        hooks_dir: dir,
        chains_to,
        user_hooks,
    })
}

/// What [`uninstall`] did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Uninstalled {
    /// Worktrees whose `core.hooksPath` pointed at droidforge's hooks.
    pub worktrees: Vec<PathBuf>,
    /// Whether `extensions.worktreeConfig` was turned off again (droidforge had turned it on).
    pub worktree_config_disabled: bool,
}

/// Remove the guard from every worktree of the repository and delete droidforge's hooks.
/// The user's hooks were never touched, so they are exactly as they were.
pub fn uninstall(ws: &Workspace) -> Result<Uninstalled> {
    let dir = hooks_dir(ws);
    let ours = dir.to_string_lossy().into_owned();
    let mut out = Uninstalled::default();
    for info in ws.repo.worktrees()? {
        if !info.present {
            continue;
        }
        let wt = info.path;
        if Repo::worktree_config_get(&wt, "core.hooksPath")?.as_deref() == Some(ours.as_str()) {
            ws.repo.config_unset_worktree(&wt, "core.hooksPath")?;
            out.worktrees.push(wt);
        }
    }
    // Sparse worktrees keep their sparse-checkout settings in their `config.worktree`, which git
    // reads only while `extensions.worktreeConfig` is on.
    let sparse_worktree = ws.repo.worktrees()?.iter().any(|info| {
        info.present
            && Repo::worktree_config_get(&info.path, "core.sparseCheckout")
                .ok()
                .flatten()
                .is_some_and(|v| v == "true")
    });
    if dir.join(ENABLED_MARKER).exists() && !sparse_worktree {
        ws.repo.config_unset_local("extensions.worktreeConfig")?;
        out.worktree_config_disabled = true;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove `{}`", dir.display()))?;
    }
    Ok(out)
}

/// The directory a `core.hooksPath` value names, seen from `worktree` (git: `~/` is the home
/// directory, a relative path is relative to the worktree root).
fn resolve_hooks_dir(setting: &str, worktree: &Path) -> PathBuf {
    if let (Some(rest), Some(home)) = (setting.strip_prefix("~/"), std::env::var_os("HOME")) {
        return PathBuf::from(home).join(rest);
    }
    worktree.join(setting)
}

/// Names git runs as hooks: lowercase words with dashes (skips editor backups and notes).
fn is_hook_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
}

/// Write droidforge's hook `name` (executable, replaced atomically: a commit in another
/// worktree may be running it), never through a symbolic link.
fn write_hook(ws: &Workspace, name: &str, script: &str) -> Result<()> {
    let rel = Path::new(HOOKS_DIR).join(name);
    // Every spawn refreshes the hooks, and each write is an fsync: leave an identical,
    // executable hook (not reached through a link) as it is.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = ws.state.root().join(&rel);
        let same = !safe_fs::is_link_under(ws.state.root(), &rel)
            && std::fs::metadata(&path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o777 == 0o755)
            && std::fs::read(&path).is_ok_and(|b| b == script.as_bytes());
        if same {
            return Ok(());
        }
    }
    safe_fs::replace_under(ws.state.root(), rel, script, 0o755)
}

/// The shell lines that run the user's hook of the same name, if there is one.
fn chain_lines(chains_to: &str) -> String {
    format!(
        r#"user_hooks={q}
case "$user_hooks" in "~/"*) user_hooks="$HOME/${{user_hooks#"~/"}}" ;; esac
user_hook="$user_hooks/$(basename "$0")"
if [ -f "$user_hook" ] && [ -x "$user_hook" ]; then
  exec "$user_hook" "$@"
fi
exit 0
"#,
        q = shell_quote(chains_to)
    )
}

fn forward_script(chains_to: &str) -> String {
    format!(
        "#!/bin/sh\n{MARKER}\n# Installed by droidforge in droid worktrees: runs the repository's own hook of\n# this name. `droidforge guard --uninstall` removes it.\n{}",
        chain_lines(chains_to)
    )
}

fn pre_commit_script(exe: &Path, chains_to: &str) -> String {
    format!(
        r#"#!/bin/sh
{MARKER}
# Installed by droidforge in droid worktrees: refuses a commit that changes paths the
# droid does not own, then runs the repository's own pre-commit hook.
# `droidforge guard --uninstall` removes it.
droidforge={exe}
if [ ! -x "$droidforge" ]; then
  if command -v droidforge >/dev/null 2>&1; then
    echo "droidforge pre-commit hook: $droidforge is gone; using droidforge from PATH (refresh with: droidforge guard --install)" >&2
    droidforge=droidforge
  else
    echo "droidforge pre-commit hook: the droidforge binary is gone from $droidforge and none is on PATH: this commit's ownership is NOT checked (merge still checks it). Reinstall droidforge, then run: droidforge guard --install" >&2
    droidforge=
  fi
fi
if [ -n "$droidforge" ]; then
  "$droidforge" guard --staged || exit $?
fi
{}"#,
        chain_lines(chains_to),
        exe = shell_quote(&exe.to_string_lossy()),
    )
}
