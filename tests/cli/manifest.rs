//! Every manifest validation error through a real command (`status` / `spawn`): exit code 2
//! and the exact message, with file, line and a fix.

use crate::common::*;

/// A repo with one commit and `toml` as the (uncommitted) manifest; runs `args`.
fn run_with(toml: &str, args: &[&str]) -> std::process::Output {
    let repo = TestRepo::new();
    repo.commit("init", &[("README.md", "r\n")]);
    repo.manifest(toml);
    repo.df(args)
}

fn assert_invalid(toml: &str, args: &[&str], expected_stderr: &str) {
    let out = run_with(toml, args);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{}", stderr(&out));
    assert_eq!(stderr(&out), expected_stderr);
    assert_eq!(stdout(&out), "");
}

const PHASE: &str = "[[phase]]\nid = 1\n\n";

#[test]
fn bad_droid_name() {
    assert_invalid(
        &format!("{PHASE}[[droid]]\nname = \"CoreDroid\"\nphases = [1]\nowns = [\"src/**\"]\n"),
        &["spawn", "--all"],
        "error: invalid manifest `.droidforge/forge.toml`\n  .droidforge/forge.toml:5: droid name `CoreDroid` is not allowed: names become branch and directory names, so use lowercase letters, digits and `-`, starting with a letter or digit\n    help: rename it to `core-droid`\n",
    );
}

#[test]
fn unknown_key() {
    assert_invalid(
        "[forge]\nintegration = \"main\"\ncolour = \"red\"\n",
        &["status"],
        "error: invalid manifest `.droidforge/forge.toml`\n  .droidforge/forge.toml:3: unknown field `colour`, expected one of `integration`, `branch_prefix`, `worktree_dir`, `agent`, `verify`, `auto_lock`\n    help: remove the key or fix its spelling (see the manifest reference in the README)\n",
    );
}

#[test]
fn missing_phase() {
    assert_invalid(
        "[[droid]]\nname = \"a\"\nphases = [3]\nowns = [\"a/**\"]\n",
        &["status"],
        "error: invalid manifest `.droidforge/forge.toml`\n  .droidforge/forge.toml:2: droid `a` works in phase 3, which does not exist\n    help: add a [[phase]] with id = 3, or remove 3 from its `phases`\n",
    );
}

#[test]
fn unknown_after() {
    assert_invalid(
        &format!(
            "{PHASE}[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"a/**\"]\nafter = [\"core-droid\"]\n"
        ),
        &["spawn", "a"],
        "error: invalid manifest `.droidforge/forge.toml`\n  .droidforge/forge.toml:8: droid `a` runs after `core-droid`, which is not a droid in this manifest\n    help: remove it from `after` or define that droid\n",
    );
}

#[test]
fn dependency_cycle_is_named() {
    let toml = format!(
        "{PHASE}[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"a/**\"]\nafter = [\"c\"]\n\n[[droid]]\nname = \"b\"\nphases = [1]\nowns = [\"b/**\"]\nafter = [\"a\"]\n\n[[droid]]\nname = \"c\"\nphases = [1]\nowns = [\"c/**\"]\nafter = [\"b\"]\n"
    );
    assert_invalid(
        &toml,
        &["status"],
        "error: invalid manifest `.droidforge/forge.toml`\n  .droidforge/forge.toml:5: droids depend on each other in a cycle: a → c → b → a\n    help: remove one of these `after` entries so the droids can merge in order\n",
    );
}

#[test]
fn bad_glob() {
    assert_invalid(
        &format!("{PHASE}[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"src/[ab.rs\"]\n"),
        &["status"],
        "error: invalid manifest `.droidforge/forge.toml`\n  .droidforge/forge.toml:7: droid `a` owns `src/[ab.rs` is not a valid glob: unclosed character class; missing ']'\n    help: fix the glob: `*` matches within a directory, `**` across directories, `[...]` must be closed\n",
    );
}

#[test]
fn dotdot_pattern() {
    assert_invalid(
        &format!("{PHASE}[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"../outside/**\"]\n"),
        &["spawn", "--all"],
        "error: invalid manifest `.droidforge/forge.toml`\n  .droidforge/forge.toml:7: droid `a` owns `../outside/**` escapes the repository with `..`\n    help: patterns may not leave the repository; remove the `..`\n",
    );
}

#[test]
fn absolute_pattern() {
    assert_invalid(
        &format!("{PHASE}[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"/etc/passwd\"]\n"),
        &["status"],
        "error: invalid manifest `.droidforge/forge.toml`\n  .droidforge/forge.toml:7: droid `a` owns `/etc/passwd` is an absolute path; patterns are relative to the repository root\n    help: write it relative to the repository root: `etc/passwd`\n",
    );
}

#[test]
fn read_path_outside_the_repo() {
    assert_invalid(
        &format!(
            "{PHASE}[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"a/**\"]\nreads = [\"../secret.md\"]\n"
        ),
        &["status"],
        "error: invalid manifest `.droidforge/forge.toml`\n  .droidforge/forge.toml:8: droid `a` refers to `../secret.md`, which is outside the repository\n    help: use a path relative to the repository root, without `..`\n",
    );
}

#[test]
fn toml_syntax_error() {
    assert_invalid(
        &format!("{PHASE}[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"a/**\"]\nafter = [\n"),
        &["status"],
        "error: invalid manifest `.droidforge/forge.toml`\n  .droidforge/forge.toml:8: unclosed array, expected `]`\n    help: fix the TOML syntax at that line\n",
    );
}

#[test]
fn overlap_is_a_warning_and_the_command_runs() {
    let toml = format!(
        "{PHASE}[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"src/**\"]\n\n[[droid]]\nname = \"b\"\nphases = [1]\nowns = [\"src/*.rs\"]\n"
    );
    let out = run_with(&toml, &["plan", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "warning: .droidforge/forge.toml:12: droids `a` (`src/**`) and `b` (`src/*.rs`) both own paths such as `src/.rs`\n    help: give the path to one droid, or list it under [paths] shared if both must edit it (`plan --strict` makes this an error)\n       Valid .droidforge/forge.toml (2 droids, 1 phases)\n"
    );
}

/// Overlap analysis is `plan`'s job: `status` (run by every agent, often) skips it.
#[test]
fn status_does_no_overlap_analysis() {
    let toml = format!(
        "{PHASE}[[droid]]\nname = \"a\"\nphases = [1]\nowns = [\"src/**\"]\n\n[[droid]]\nname = \"b\"\nphases = [1]\nowns = [\"src/*.rs\"]\n"
    );
    let out = run_with(&toml, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert!(stdout(&out).starts_with("DROID"));
}

#[test]
fn no_manifest() {
    let repo = TestRepo::new();
    repo.commit("init", &[]);
    let out = repo.df(&["status"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error: no forge manifest at `"), "{err}");
    assert!(err.ends_with(".droidforge/forge.toml`\nhint: run `droidforge init` to create one\n"));
}
