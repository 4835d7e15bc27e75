//! `droidforge init`: scaffold the forge files in the current repository.

use super::Ctx;
use crate::cli::args::{CiProvider, InitArgs};
use droidforge::error::Result;
use droidforge::forge::manifest::{Forge, MANIFEST_PATH};
use droidforge::forge::scaffold;
use droidforge::git::Repo;
use std::path::Path;

pub fn run(ctx: &Ctx, args: &InitArgs) -> Result<i32> {
    let repo = Repo::discover(&ctx.cwd)?;
    let root = repo.main_workdir()?;
    let manifest_path = root.join(MANIFEST_PATH);

    // An existing manifest is the source of truth for the other files unless --force.
    let existing = std::fs::read_to_string(&manifest_path).ok();
    let manifest = match (&existing, args.force) {
        (Some(text), false) => {
            Forge::parse(text, MANIFEST_PATH, false)
                .map_err(|e| {
                    e.hint("fix the manifest, or run `droidforge init --force` to replace it")
                })?
                .manifest
        }
        _ => {
            let integration = match &args.integration {
                Some(b) => b.clone(),
                None => Repo::open(&root)?
                    .head_branch()
                    .unwrap_or_else(|| "main".to_owned()),
            };
            if args.from_seed {
                scaffold::seed_manifest(&integration)
            } else {
                scaffold::example_manifest(args.droids.unwrap_or(2), &integration)
            }
        }
    };
    let forge_text = scaffold::manifest_text(&manifest);
    // Validate what we are about to write, so `init` never leaves a broken manifest behind.
    let forge = Forge::parse(&forge_text, MANIFEST_PATH, false)?;

    let mut files: Vec<(String, String)> = vec![
        (MANIFEST_PATH.to_owned(), forge_text),
        ("PROGRESS.md".to_owned(), scaffold::initial_progress()),
        ("INTERFACES.md".to_owned(), scaffold::interfaces_md()),
        (
            "FILE_OWNERSHIP.md".to_owned(),
            droidforge::forge::file_ownership::render(&forge),
        ),
    ];
    for d in forge.droids() {
        if let Some(todo) = &d.todo {
            files.push((todo.clone(), scaffold::todo_file(d)));
        }
    }
    if let Some(CiProvider::Github) = args.ci {
        let integration = forge.integration().unwrap_or("main");
        files.push((
            ".github/workflows/droidforge.yml".to_owned(),
            scaffold::github_workflow(integration),
        ));
    }

    if existing.is_some() && !args.force && (args.from_seed || args.droids.is_some()) {
        ctx.ui.warn(&format!(
            "{MANIFEST_PATH} already exists; using it (run with --force to replace it)"
        ));
    }
    let mut written = 0;
    let mut kept = Vec::new();
    for (rel, content) in &files {
        let path = root.join(rel);
        // A symbolic link (e.g. a TODO file a droid committed as a link) is never "an existing
        // file to keep" nor written through: `write_under` refuses it, naming the path.
        let link = droidforge::util::safe_fs::is_link_under(&root, Path::new(rel));
        if path.exists() && !link && !args.force {
            kept.push(rel.as_str());
            continue;
        }
        droidforge::util::safe_fs::write_under(&root, rel, content)?;
        ctx.ui.status("Created", rel);
        written += 1;
    }

    if !kept.is_empty() {
        ctx.ui.status(
            "Kept",
            &format!("{} (existing; --force overwrites)", kept.join(", ")),
        );
    }
    let lines = droidforge::ops::spawn::exclude_lines(&forge.manifest.forge.worktree_dir);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let added = repo.ensure_excluded(&lines)?;
    if !added.is_empty() {
        ctx.ui.status(
            "Excluded",
            &format!("{} in .git/info/exclude", added.join(", ")),
        );
    }

    if written == 0 && added.is_empty() {
        ctx.ui.status("Unchanged", "the forge is already set up");
    } else {
        // Nothing is installed in the main worktree: the guard lives in droid worktrees.
        ctx.ui.status(
            "Guard",
            "no hook installed here; `spawn` installs a pre-commit guard in each droid worktree only, chained to your own hooks (docs/guard.md)",
        );
        ctx.ui.hint(&format!(
            "review {MANIFEST_PATH}, then commit: git add -A && git commit -m \"Set up droidforge\"; then `droidforge plan` and `droidforge spawn --all`"
        ));
    }
    Ok(0)
}
