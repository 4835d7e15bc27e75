//! The droid brief (`<worktree>/.droidforge/BRIEF.md`): the seed's assignment prompt — who you
//! are, READ, YOUR FILES, SHARED, DO NOT MODIFY, TASKS, FINISH — rendered from the manifest.
//!
//! Rendering is pure and deterministic: the same manifest gives the same bytes, so a re-spawn
//! can tell whether the brief changed.

use std::fmt::Write;

use crate::forge::manifest::{Droid, Forge};
use crate::util::text::one_line;

/// Where the brief lives inside a droid's worktree.
pub const BRIEF_PATH: &str = ".droidforge/BRIEF.md";

/// The file every droid reads for shared contracts.
pub const INTERFACES_FILE: &str = "INTERFACES.md";

/// What a brief needs to know besides the manifest.
#[derive(Debug, Clone)]
pub struct BriefContext<'a> {
    /// Short name of the integration branch.
    pub integration: &'a str,
    /// Open requests (`droidforge ask`); the brief lists those addressed to its droid.
    pub requests: &'a [BriefRequest<'a>],
    /// What the merger said about the droid's rejected attempts (shown first, newest first).
    pub feedback: &'a [crate::forge::feedback::Feedback],
}

/// An open request as a brief shows it: plain data, so the model does not depend on where
/// requests are stored.
#[derive(Debug, Clone, Copy)]
pub struct BriefRequest<'a> {
    pub id: u64,
    /// The droid asked.
    pub to: &'a str,
    /// The asking droid, or `human`.
    pub from: &'a str,
    pub message: &'a str,
}

/// Render the brief for `droid`.
pub fn render(forge: &Forge, droid: &Droid, ctx: &BriefContext<'_>) -> String {
    let mut s = String::new();
    let branch = forge.branch_of(&droid.name);
    // `writeln!` into a String cannot fail.
    let mut line = |text: &str| {
        s.push_str(text);
        s.push('\n');
    };

    line(&format!("# Brief: {}", droid.name));
    line("");
    if droid.role.trim().is_empty() {
        line(&format!("You are {}.", droid.name));
    } else {
        line(&format!(
            "You are {}, {}.",
            droid.name,
            droid.role.trim().trim_end_matches('.')
        ));
    }
    line("");
    let phases = if droid.phases.is_empty() {
        String::new()
    } else {
        let mut ids = droid.phases.clone();
        ids.sort_unstable();
        ids.dedup();
        let names: Vec<String> = ids
            .iter()
            .map(|id| match forge.phase(*id) {
                Some(p) if !p.name.trim().is_empty() => format!("{id} ({})", p.name.trim()),
                _ => id.to_string(),
            })
            .collect();
        format!(
            " You work on phase{} {}.",
            if ids.len() == 1 { "" } else { "s" },
            names.join(", ")
        )
    };
    line(&format!(
        "You work in your own git worktree on branch `{branch}`, which started from `{}`.{phases}",
        ctx.integration
    ));
    if !droid.after.is_empty() {
        let deps: Vec<String> = droid.after.iter().map(|d| format!("`{d}`")).collect();
        line(&format!(
            "Your work merges after the work of {}.",
            deps.join(", ")
        ));
    }
    line("");

    // A rejected droid must see why before anything else.
    if !ctx.feedback.is_empty() {
        s.push_str(&crate::forge::feedback::render(
            &droid.name,
            ctx.feedback,
            ctx.requests,
        ));
    }
    let mut line = |text: &str| {
        s.push_str(text);
        s.push('\n');
    };

    line("READ:");
    let mut reads: Vec<&str> = Vec::new();
    for r in droid
        .reads
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(INTERFACES_FILE))
    {
        if !reads.contains(&r) {
            reads.push(r);
        }
    }
    for r in &reads {
        line(&format!("- {r}"));
    }
    line("");

    line("YOUR FILES (you own these, modify freely):");
    if droid.owns.is_empty() && droid.todo.is_none() {
        line("- (none: ask the human which files you may change)");
    }
    for o in &droid.owns {
        line(&format!("- {o}"));
    }
    if let Some(todo) = &droid.todo {
        line(&format!("- {todo} (your TODO file)"));
    }
    line("");

    let shared = &forge.manifest.paths.shared;
    if !shared.is_empty() {
        line("SHARED (any droid may edit these; your changes must merge cleanly):");
        for p in shared {
            line(&format!("- {p}"));
        }
        line("⚠️ Ask before modifying a shared path: `droidforge lock <path>` takes a lease,");
        line("`droidforge unlock <path>` releases it. Keep edits small and additive.");
        line("");
    }

    line("DO NOT MODIFY:");
    line("- Any other file. An edit outside YOUR FILES and SHARED is refused when you make it,");
    line("  a commit touching one is refused, and the merger rejects it. Need a change there?");
    line("  Ask its owner: `droidforge ask <droid> \"<what you need>\"`, or write the contract");
    line(&format!(
        "  into {INTERFACES_FILE}. Never work around a refusal."
    ));
    let others: Vec<&Droid> = forge
        .droids()
        .iter()
        .filter(|d| d.name != droid.name && (!d.owns.is_empty() || d.todo.is_some()))
        .collect();
    for d in others {
        let mut owned: Vec<&str> = d.owns.iter().map(String::as_str).collect();
        if let Some(t) = &d.todo {
            owned.push(t);
        }
        line(&format!("- {} (owned by {})", owned.join(", "), d.name));
    }
    for p in forge.protected_patterns() {
        let note = match p.as_str() {
            "PROGRESS.md" => " (protected: only droidforge writes it, when your work merges)",
            "FILE_OWNERSHIP.md" => " (protected: generated from the manifest)",
            ".droidforge/**" => " (protected: the forge manifest and droidforge's files)",
            _ => " (protected)",
        };
        line(&format!("- {p}{note}"));
    }
    line("");

    let mine: Vec<&BriefRequest> = ctx.requests.iter().filter(|r| r.to == droid.name).collect();
    if !mine.is_empty() {
        line("OPEN REQUESTS (others need these from you; do them or answer in INTERFACES.md,");
        line("then close each with `droidforge ask --done <id>`):");
        for r in mine {
            line(&format!(
                "- #{} from {}: {}",
                r.id,
                r.from,
                one_line(r.message)
            ));
        }
        line("");
    }

    line("TASKS:");
    let mut n = 0;
    let mut task = |text: &str| {
        n += 1;
        let _ = writeln!(s, "{n}. {text}");
    };
    if let Some(todo) = &droid.todo {
        task(&format!(
            "Work through {todo}: mark an item `- [~]` when you start it and `- [x]` when it is done."
        ));
    }
    for t in &droid.tasks {
        // A task the human wrote may name a file this droid may not change: say so, so that
        // the brief never asks for an edit the merger would reject.
        let forbidden = forbidden_paths_in(forge, droid, t);
        if forbidden.is_empty() {
            task(t.trim());
        } else {
            let names: Vec<String> = forbidden.iter().map(|p| format!("`{p}`")).collect();
            task(&format!(
                "{} (read only: {} {} not among the files you may change)",
                t.trim(),
                names.join(", "),
                if names.len() == 1 { "is" } else { "are" }
            ));
        }
    }
    task("Run the tests before you mark anything done.");
    if may_change(forge, droid, INTERFACES_FILE) {
        task(&format!(
            "Need something from another droid? Write the contract into {INTERFACES_FILE} and `droidforge ask <droid> \"<message>\"`."
        ));
    } else {
        task(&format!(
            "Need something from another droid? `droidforge ask <droid> \"<message>\"`; {INTERFACES_FILE} is not among the files you may change."
        ));
    }
    s.push('\n');

    let mut line = |text: &str| {
        s.push_str(text);
        s.push('\n');
    };
    line("FINISH:");
    line(&format!(
        "1. Commit your work on branch `{branch}` (`git add -A && git commit -m \"...\"`)."
    ));
    line("2. Run `droidforge done` in this worktree to mark your commit ready to merge.");
    line("You may keep working afterwards; run `droidforge done` again for a newer checkpoint.");
    s
}

/// May `droid` change `path` under the manifest's ownership rules (owned, its TODO file, or
/// shared, and not protected)?
pub fn may_change(forge: &Forge, droid: &Droid, path: &str) -> bool {
    let Some(idx) = forge.rules.droid_index(&droid.name) else {
        return false;
    };
    forge.rules.classify(path).allows(idx)
}

/// The repository paths that `text` names (`src/x.rs`, `INTERFACES.md`, `src/core/`) and that
/// `droid` may not change, in order of appearance. A directory counts when a file in it would be
/// forbidden; globs and URLs are not paths.
pub fn forbidden_paths_in(forge: &Forge, droid: &Droid, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in text.split_whitespace() {
        let path = token.trim_matches(|c: char| "`'\"()[]{},;:!?<>".contains(c));
        let path = path.trim_end_matches('.');
        if !looks_like_path(path) {
            continue;
        }
        let probe = if path.ends_with('/') {
            format!("{path}file")
        } else {
            path.to_owned()
        };
        if !may_change(forge, droid, &probe) && !out.iter().any(|p| p == path) {
            out.push(path.to_owned());
        }
    }
    out
}

/// A relative repository path: contains a `/`, or is a file name with a common source or
/// document extension (so that "e.g." or "v1.2" are not paths); no glob or URL syntax.
fn looks_like_path(s: &str) -> bool {
    const EXTENSIONS: &[&str] = &[
        "md", "txt", "rs", "toml", "lock", "json", "yaml", "yml", "ts", "tsx", "js", "jsx", "py",
        "go", "c", "h", "cc", "cpp", "hpp", "java", "kt", "rb", "sh", "sql", "html", "css",
    ];
    if s.is_empty() || s.starts_with(['/', '-', '.']) && !s.starts_with(".droidforge/") {
        return false;
    }
    if s.contains("://") || !s.chars().all(|c| c.is_alphanumeric() || "/._-".contains(c)) {
        return false;
    }
    if s.contains('/') {
        return s.split('/').any(|c| !c.is_empty() && c != "." && c != "..");
    }
    s.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && EXTENSIONS.contains(&ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"[forge]
integration = "main"

[paths]
shared = ["INTERFACES.md", "Cargo.lock"]

[[phase]]
id = 1
name = "Synchronization"

[[phase]]
id = 2
name = "Resource locks"
after = [1]

[[droid]]
name = "core-droid"
role = "concurrency expert"
phases = [2, 1]
owns = ["src/execution/manager.rs", "src/execution/sync/**"]
reads = ["docs/ROADMAP.md", "INTERFACES.md"]
todo = "TODO_CORE.md"
tasks = ["Implement Phase 1 (synchronization) now."]

[[droid]]
name = "test-droid"
phases = [2]
owns = ["tests/**"]
after = ["core-droid"]
"#;

    fn forge() -> Forge {
        Forge::parse(MANIFEST, "forge.toml", false).expect("valid manifest")
    }

    #[test]
    fn brief_has_the_seed_shape() {
        let f = forge();
        let d = f.droid("core-droid").unwrap();
        let text = render(
            &f,
            d,
            &BriefContext {
                integration: "main",
                requests: &[],
                feedback: &[],
            },
        );
        let expected = r#"# Brief: core-droid

You are core-droid, concurrency expert.

You work in your own git worktree on branch `droidforge/core-droid`, which started from `main`. You work on phases 1 (Synchronization), 2 (Resource locks).

READ:
- docs/ROADMAP.md
- INTERFACES.md

YOUR FILES (you own these, modify freely):
- src/execution/manager.rs
- src/execution/sync/**
- TODO_CORE.md (your TODO file)

SHARED (any droid may edit these; your changes must merge cleanly):
- INTERFACES.md
- Cargo.lock
⚠️ Ask before modifying a shared path: `droidforge lock <path>` takes a lease,
`droidforge unlock <path>` releases it. Keep edits small and additive.

DO NOT MODIFY:
- Any other file. An edit outside YOUR FILES and SHARED is refused when you make it,
  a commit touching one is refused, and the merger rejects it. Need a change there?
  Ask its owner: `droidforge ask <droid> "<what you need>"`, or write the contract
  into INTERFACES.md. Never work around a refusal.
- tests/** (owned by test-droid)
- .droidforge/** (protected: the forge manifest and droidforge's files)
- PROGRESS.md (protected: only droidforge writes it, when your work merges)
- FILE_OWNERSHIP.md (protected: generated from the manifest)

TASKS:
1. Work through TODO_CORE.md: mark an item `- [~]` when you start it and `- [x]` when it is done.
2. Implement Phase 1 (synchronization) now.
3. Run the tests before you mark anything done.
4. Need something from another droid? Write the contract into INTERFACES.md and `droidforge ask <droid> "<message>"`.

FINISH:
1. Commit your work on branch `droidforge/core-droid` (`git add -A && git commit -m "..."`).
2. Run `droidforge done` in this worktree to mark your commit ready to merge.
You may keep working afterwards; run `droidforge done` again for a newer checkpoint.
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn brief_without_role_or_todo_and_with_dependencies() {
        let f = forge();
        let d = f.droid("test-droid").unwrap();
        let text = render(
            &f,
            d,
            &BriefContext {
                integration: "trunk",
                requests: &[],
                feedback: &[],
            },
        );
        assert!(text.contains("\nYou are test-droid.\n"));
        assert!(text.contains("which started from `trunk`. You work on phase 2 (Resource locks)."));
        assert!(text.contains("Your work merges after the work of `core-droid`."));
        assert!(text.contains(
            "- src/execution/manager.rs, src/execution/sync/**, TODO_CORE.md (owned by core-droid)"
        ));
        assert!(text.contains("TASKS:\n1. Run the tests before you mark anything done.\n"));
    }

    #[test]
    fn rendering_is_deterministic() {
        let f = forge();
        let d = f.droid("core-droid").unwrap();
        let ctx = BriefContext {
            integration: "main",
            requests: &[],
            feedback: &[],
        };
        assert_eq!(render(&f, d, &ctx), render(&f, d, &ctx));
    }

    #[test]
    fn open_requests_to_the_droid_are_listed_and_others_are_not() {
        let f = forge();
        let requests = [
            BriefRequest {
                id: 3,
                to: "core-droid",
                from: "test-droid",
                message: "export\n  `Manager::new`",
            },
            BriefRequest {
                id: 4,
                to: "test-droid",
                from: "human",
                message: "not for core",
            },
        ];
        let ctx = BriefContext {
            integration: "main",
            requests: &requests,
            feedback: &[],
        };
        let text = render(&f, f.droid("core-droid").unwrap(), &ctx);
        assert!(text.contains("OPEN REQUESTS"), "{text}");
        assert!(
            text.contains("- #3 from test-droid: export `Manager::new`\n"),
            "{text}"
        );
        assert!(!text.contains("not for core"), "{text}");
        let none = BriefContext {
            integration: "main",
            requests: &[],
            feedback: &[],
        };
        assert!(!render(&f, f.droid("core-droid").unwrap(), &none).contains("OPEN REQUESTS"));
    }
}
