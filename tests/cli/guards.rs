//! Source guards: architectural rules that are easy to break by accident.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn only_the_git_layer_uses_gix() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, text)| !rel.starts_with("src/git/") && text.contains("gix::"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "gix used outside src/git/: {offenders:?}"
    );
}

#[test]
fn only_the_git_layer_runs_git() {
    // Spelled in pieces so that this file does not match itself.
    let spawn_git = concat!("Command::new(", "\"git\")");
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, text)| !rel.starts_with("src/git/") && text.contains(spawn_git))
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "the git binary run outside src/git/: {offenders:?}"
    );
}

#[test]
fn terminal_output_goes_through_ui() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, text)| {
            !rel.starts_with("src/cli/ui/")
                && (text.contains("println!(") || text.contains("eprintln!("))
        })
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "raw println!/eprintln! outside src/cli/ui/: {offenders:?}"
    );
}

#[test]
fn every_source_file_says_what_it_is_for() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "files without a leading //! doc: {offenders:?}"
    );
}

#[test]
fn no_todo_macros_in_reachable_code() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.contains("todo!(") || text.contains("unimplemented!("))
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "todo!/unimplemented! in src: {offenders:?}"
    );
}

#[test]
fn no_command_is_a_stub() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.contains("is not implemented yet"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(offenders.is_empty(), "stub commands left: {offenders:?}");
}

/// Every file under `dir` (recursively), with its path relative to the crate root.
fn text_files(rel: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut stack = vec![root.join(rel)];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, text));
        }
    }
    out
}

/// GitHub's anchor for a Markdown heading: lowercase, punctuation dropped, spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn generated_files_point_users_at_documents_they_cannot_use() {
    // Spelled in pieces so that this file does not match itself.
    let banned = [concat!("DES", "IGN"), concat!("STY", "LE.md")];
    let mut offenders = Vec::new();
    for dir in ["src", "docs", "README.md", "scripts", ".ci"] {
        for (rel, text) in text_files(dir) {
            for (n, line) in text.lines().enumerate() {
                if banned.iter().any(|b| line.contains(b)) {
                    offenders.push(format!("{rel}:{}: {line}", n + 1));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "references to documents that are not part of droidforge:\n{}",
        offenders.join("\n")
    );

    // Links droidforge writes (`{DOCS_URL}/path#anchor`) name a real file and heading.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (rel, text) in text_files("src") {
        for (_, rest) in text
            .match_indices("{DOCS_URL}/")
            .map(|(i, _)| ((), &text[i + 11..]))
        {
            let link: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '\\')
                .collect();
            let (file, frag) = link.split_once('#').unwrap_or((&link, ""));
            let doc = std::fs::read_to_string(root.join(file))
                .unwrap_or_else(|_| panic!("{rel}: link to missing `{file}`"));
            if !frag.is_empty() {
                assert!(
                    doc.lines()
                        .filter(|l| l.starts_with('#'))
                        .any(|l| anchor(l.trim_start_matches('#')) == frag),
                    "{rel}: `{file}` has no heading for `#{frag}`"
                );
            }
        }
    }
}

/// docs/json.md: machine output has explicit nulls, so no reported field may vanish when empty
/// (the manifest's TOML, which has no null, is the exception).
#[test]
fn machine_output_keeps_explicit_nulls() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, text)| {
            !rel.starts_with("src/forge/manifest/")
                && text.contains(concat!("skip_serializing_if = \"Option::", "is_none\""))
        })
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "optional fields left out of JSON instead of null: {offenders:?}"
    );
}

/// The top-level library modules a source file names (`crate::ops::…`, `crate::{state, util}`),
/// ignoring comments.
fn crate_modules_used(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a, b::c};` (one line, as rustfmt writes short groups).
                for item in group.split([',', '}']) {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
        }
    }
    out
}

/// Files under `dir` that name a library module outside `allowed` (besides their own).
fn layer_offenders(dir: &str, allowed: &[&str]) -> Vec<String> {
    let own = dir.trim_start_matches("src/").trim_end_matches('/');
    sources()
        .into_iter()
        .filter(|(rel, _)| rel.starts_with(dir))
        .flat_map(|(rel, text)| {
            crate_modules_used(&text)
                .into_iter()
                .filter(|m| m != own && !allowed.contains(&m.as_str()))
                .map(move |m| format!("{rel} uses crate::{m}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_crate_module_scanner_sees_paths_and_groups() {
    let used = crate_modules_used(
        "use crate::{ops::x, state};\nfn f() { crate::util::time::now(); } // crate::agent\n",
    );
    let used: Vec<&str> = used.iter().map(String::as_str).collect();
    assert_eq!(used, ["ops", "state", "util"]);
}

/// forge/ is the pure model: manifests, ownership, progress files, briefs. It may use git/'s
/// pure name checks (gix owns the ref-name rules), never operations, state or agents.
#[test]
fn forge_is_the_pure_model() {
    let offenders = layer_offenders("src/forge/", &["error", "util", "git"]);
    assert!(offenders.is_empty(), "{offenders:#?}");
    let git_uses: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, _)| rel.starts_with("src/forge/"))
        .flat_map(|(rel, text)| {
            text.match_indices("crate::git::")
                .map(|(i, _)| {
                    let name: String = text[i + "crate::git::".len()..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    (rel.clone(), name)
                })
                .collect::<Vec<_>>()
        })
        .filter(|(_, name)| name != "valid_branch_name")
        .map(|(rel, name)| format!("{rel} uses crate::git::{name}"))
        .collect();
    assert!(
        git_uses.is_empty(),
        "forge/ may only use git's pure name checks: {git_uses:#?}"
    );
}

/// git/ is the bottom layer above util: it knows nothing of manifests, state or operations.
#[test]
fn git_uses_only_error_and_util() {
    let offenders = layer_offenders("src/git/", &["error", "util"]);
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// util/ is the floor: everything may use it, it uses nothing of the crate but errors.
#[test]
fn util_uses_only_error() {
    let offenders = layer_offenders("src/util/", &["error"]);
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// The command line is the binary's: the library cannot see it, so no library module can
/// print, parse flags or name a CLI type.
#[test]
fn the_library_does_not_contain_the_cli() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    assert!(
        !lib.lines().any(|l| {
            let l = l.trim();
            l.starts_with("mod cli") || l.starts_with("pub mod cli")
        }),
        "src/lib.rs declares the cli module"
    );
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, _)| !rel.starts_with("src/cli/") && rel != "src/main.rs")
        .filter(|(_, text)| crate_modules_used(text).contains("cli"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "library files naming crate::cli: {offenders:?}"
    );
}

/// Files over this many lines are split by topic (long files hide twins and mix concerns).
const MAX_FILE_LINES: usize = 600;

#[test]
fn no_source_file_is_over_600_lines() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.lines().count() > MAX_FILE_LINES)
        .map(|(rel, text)| format!("{rel}: {} lines", text.lines().count()))
        .collect();
    assert!(
        offenders.is_empty(),
        "split these by topic (at most {MAX_FILE_LINES} lines each): {offenders:?}"
    );
}

/// A command is glue: flags → options → one `ops` call → rendering. Domain rules that grow a
/// command past this belong in `src/ops/` (see CONTRIBUTING.md).
const MAX_COMMAND_LINES: usize = 170;

#[test]
fn commands_stay_thin() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, text)| {
            rel.starts_with("src/cli/commands/") && text.lines().count() > MAX_COMMAND_LINES
        })
        .map(|(rel, text)| format!("{rel}: {} lines", text.lines().count()))
        .collect();
    assert!(
        offenders.is_empty(),
        "move the domain rules of these commands into src/ops/ (at most {MAX_COMMAND_LINES} lines each): {offenders:?}"
    );
}
