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
