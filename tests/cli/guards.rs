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
fn only_the_repo_layer_uses_gix() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, text)| !rel.starts_with("src/repo/") && text.contains("gix::"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "gix used outside src/repo/: {offenders:?}"
    );
}

#[test]
fn terminal_output_goes_through_ui() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, text)| {
            !rel.starts_with("src/ui/")
                && (text.contains("println!(") || text.contains("eprintln!("))
        })
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "raw println!/eprintln! outside src/ui/: {offenders:?}"
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
