//! The hostile-branch table: crafted droid branches (trees git itself refuses, non-commit ready
//! marks, a symlinked TODO, …) and the exact rejection each must get. Every row runs on a
//! fresh real repository where droid `alpha` is hostile and droid `beta` is honest: `alpha`
//! must be rejected with the expected status, exit code, path and reason, `beta` must still
//! land, and the oracle is git: `git fsck` on the result and a clone with
//! `transfer.fsckObjects` both succeed.
//!
//! To add a row: write a `craft` function that turns `alpha` hostile (its branch, its ready
//! mark, its files) and add a line to `hostile_rows!` (test name: craft, merge args => expect).

use std::io::Write;
use std::process::Stdio;

use crate::common::*;
use crate::merge_support::*;

/// What the rejection looks like.
struct Expect {
    /// Process exit code of `merge --phase 1` (and of `check --phase 1`).
    exit: i32,
    /// `alpha`'s status in the JSON report.
    status: &'static str,
    /// A violation/conflict path that must be reported (`None`: the droid has no path).
    path: Option<&'static str>,
    /// Text that must appear in the violation's detail or in the droid's reason.
    reason: &'static str,
}

struct Row {
    /// Makes droid `alpha` hostile (the repository already has `beta` ready).
    craft: fn(&TestRepo),
    /// Extra `merge` arguments (e.g. `--strategy merge`).
    merge_args: &'static [&'static str],
    expect: Expect,
}

fn forge() -> String {
    forge_toml(&[("alpha", &["alpha/**"], &[]), ("beta", &["beta/**"], &[])])
}

fn setup() -> TestRepo {
    let repo = repo_with(
        &forge(),
        &[("alpha/a.txt", "alpha\n"), ("beta/b.txt", "beta\n")],
    );
    droid_commit(&repo, "beta", "beta works", &[("beta/b.txt", "beta v2\n")]);
    done(&repo, "beta");
    repo
}

/// Run git with `input` on stdin; return trimmed stdout.
fn git_stdin(repo: &TestRepo, args: &[&str], input: &[u8]) -> String {
    let mut cmd = std::process::Command::new("git");
    hermetic(&mut cmd);
    let mut child = cmd
        .current_dir(&repo.root)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A raw tree entry: (octal mode, name bytes, hex id).
type Entry = (String, Vec<u8>, String);

/// Entries of a tree, via `git ls-tree -z`.
fn ls_tree(repo: &TestRepo, treeish: &str) -> Vec<Entry> {
    let out = repo.git(&["ls-tree", "-z", treeish]);
    out.split('\0')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (meta, name) = l.split_once('\t').unwrap();
            let mut f = meta.split(' ');
            let mode = f.next().unwrap().to_owned();
            let _kind = f.next();
            (mode, name.as_bytes().to_vec(), f.next().unwrap().to_owned())
        })
        .collect()
}

/// Write a tree object byte for byte (git order, duplicates kept), bypassing git's own checks
/// (`--literally`), as a hostile droid would.
fn raw_tree(repo: &TestRepo, mut entries: Vec<Entry>) -> String {
    let key = |e: &Entry| {
        let mut k = e.1.clone();
        if e.0 == "40000" {
            k.push(b'/');
        }
        k
    };
    entries.sort_by_key(key);
    let mut bytes = Vec::new();
    for (mode, name, id) in &entries {
        bytes.extend_from_slice(mode.as_bytes());
        bytes.push(b' ');
        bytes.extend_from_slice(name);
        bytes.push(0);
        for i in (0..id.len()).step_by(2) {
            bytes.push(u8::from_str_radix(&id[i..i + 2], 16).unwrap());
        }
    }
    git_stdin(
        repo,
        &["hash-object", "-t", "tree", "-w", "--stdin", "--literally"],
        &bytes,
    )
}

fn blob(repo: &TestRepo, content: &str) -> String {
    git_stdin(repo, &["hash-object", "-w", "--stdin"], content.as_bytes())
}

/// Commit on `droidforge/alpha` (on top of main) whose tree is main's plus `in_alpha` entries
/// inside `alpha/` and `at_root` entries at the root; mark it ready.
fn alpha_commits(repo: &TestRepo, in_alpha: Vec<Entry>, at_root: Vec<Entry>) {
    let mut alpha = ls_tree(repo, "main:alpha");
    alpha.extend(in_alpha);
    let alpha_tree = raw_tree(repo, alpha);
    let mut root: Vec<Entry> = ls_tree(repo, "main")
        .into_iter()
        .filter(|e| e.1 != b"alpha")
        .collect();
    root.push(("40000".into(), b"alpha".to_vec(), alpha_tree));
    root.extend(at_root);
    let root_tree = raw_tree(repo, root);
    let commit = repo.git(&[
        "commit-tree",
        &root_tree,
        "-p",
        "main",
        "-m",
        "alpha: hostile tree",
    ]);
    repo.git(&["update-ref", "refs/heads/droidforge/alpha", commit.trim()]);
    done(repo, "alpha");
}

fn file(repo: &TestRepo, name: &[u8]) -> Entry {
    ("100644".into(), name.to_vec(), blob(repo, "x\n"))
}

fn entry_in_alpha(repo: &TestRepo, name: &[u8]) {
    let e = file(repo, name);
    alpha_commits(repo, vec![e], vec![]);
}

fn dotgit(repo: &TestRepo) {
    entry_in_alpha(repo, b".git");
}
fn dotdot(repo: &TestRepo) {
    entry_in_alpha(repo, b"..");
}
fn dot(repo: &TestRepo) {
    entry_in_alpha(repo, b".");
}
fn ntfs_short_name(repo: &TestRepo) {
    entry_in_alpha(repo, b"git~1");
}
fn trailing_space(repo: &TestRepo) {
    entry_in_alpha(repo, b".git ");
}
fn hfs_ignorable(repo: &TestRepo) {
    entry_in_alpha(repo, ".g\u{200c}it".as_bytes());
}
fn ntfs_stream(repo: &TestRepo) {
    entry_in_alpha(repo, b".git::$INDEX_ALLOCATION");
}
fn slash_name(repo: &TestRepo) {
    entry_in_alpha(repo, b"../../evil");
}
fn empty_name(repo: &TestRepo) {
    entry_in_alpha(repo, b"");
}
fn duplicate(repo: &TestRepo) {
    entry_in_alpha(repo, b"a.txt");
}
fn bad_mode(repo: &TestRepo) {
    let (_, name, id) = file(repo, b"m.txt");
    alpha_commits(repo, vec![("100664".into(), name, id)], vec![]);
}
fn gitmodules_symlink(repo: &TestRepo) {
    let target = blob(repo, "/etc/passwd");
    alpha_commits(
        repo,
        vec![("120000".into(), b".gitmodules".to_vec(), target)],
        vec![],
    );
}
fn gitmodules_ntfs_symlink(repo: &TestRepo) {
    let target = blob(repo, "/etc/passwd");
    alpha_commits(
        repo,
        vec![("120000".into(), b"GITMOD~1".to_vec(), target)],
        vec![],
    );
}
fn gitmodules_bad_name(repo: &TestRepo) {
    let text = "[submodule \"../../evil\"]\n\tpath = sub\n\turl = ./sub\n";
    let id = blob(repo, text);
    alpha_commits(
        repo,
        vec![("100644".into(), b".gitmodules".to_vec(), id)],
        vec![],
    );
}
fn gitattributes_long_line(repo: &TestRepo) {
    let text = format!("{} text\n", "x".repeat(3000));
    let id = blob(repo, &text);
    alpha_commits(
        repo,
        vec![("100644".into(), b".gitattributes".to_vec(), id)],
        vec![],
    );
}
fn root_upper_dotgit(repo: &TestRepo) {
    let inner = raw_tree(repo, vec![file(repo, b"config")]);
    alpha_commits(
        repo,
        vec![],
        vec![("40000".into(), b".GIT".to_vec(), inner)],
    );
}
fn root_gitmodules_symlink(repo: &TestRepo) {
    let target = blob(repo, "../outside");
    alpha_commits(
        repo,
        vec![],
        vec![("120000".into(), b".gitmodules".to_vec(), target)],
    );
}
/// A bad entry in an earlier commit that a later commit removes still lands with a rebase.
fn removed_later(repo: &TestRepo) {
    entry_in_alpha(repo, b".git");
    let bad = repo.rev("droidforge/alpha");
    let fixed_tree = repo.rev("main^{tree}");
    let commit = repo.git(&["commit-tree", &fixed_tree, "-p", &bad, "-m", "alpha: tidy"]);
    repo.git(&["update-ref", "refs/heads/droidforge/alpha", commit.trim()]);
    done(repo, "alpha");
}

fn ready_to(repo: &TestRepo, target: &str) {
    // `done` would refuse; a hostile droid writes the ref itself.
    repo.git(&["update-ref", "refs/droidforge/ready/alpha", target]);
}
fn ready_ref_to_blob(repo: &TestRepo) {
    let b = blob(repo, "not a commit\n");
    ready_to(repo, &b);
}
fn ready_ref_to_tree(repo: &TestRepo) {
    let t = repo.rev("main^{tree}");
    ready_to(repo, &t);
}
fn ready_ref_to_missing_object(repo: &TestRepo) {
    let dir = repo.path(".git/refs/droidforge/ready");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("alpha"),
        "0123456789abcdef0123456789abcdef01234567\n",
    )
    .unwrap();
}

/// main gains gamma (`lib/**`) with `lib/l.rs` v1 (the "old" integration commit, returned),
/// then moves on: the manifest gains delta and gamma's `lib/l.rs` becomes v2.
fn main_moves_past_an_old_commit(repo: &TestRepo) -> String {
    let with_gamma = forge_toml(&[
        ("alpha", &["alpha/**"], &[]),
        ("beta", &["beta/**"], &[]),
        ("gamma", &["lib/**"], &[]),
    ]);
    let old = repo.commit(
        "gamma joins",
        &[(MANIFEST, &with_gamma), ("lib/l.rs", "v1\n")],
    );
    let with_delta =
        format!("{with_gamma}\n[[droid]]\nname = \"delta\"\nphases = [1]\nowns = [\"delta/**\"]\n");
    repo.commit(
        "gamma's work, delta joins",
        &[(MANIFEST, &with_delta), ("lib/l.rs", "v2\n")],
    );
    old
}

/// alpha commits honestly on main, then makes a merge commit whose second parent is an *old*
/// integration commit and takes that commit's manifest and gamma's `lib/l.rs` (an evil
/// merge: relative to its parents it changes neither path).
fn evil_merge(repo: &TestRepo) {
    let old = main_moves_past_an_old_commit(repo);
    let wt = droid_worktree(repo, "alpha", "main");
    commit_in(&wt, "alpha works", &[("alpha/a.txt", "alpha v2\n")]);
    git_in(&wt, &["checkout", &old, "--", MANIFEST, "lib/l.rs"]);
    let tree = git_in(&wt, &["write-tree"]).trim().to_owned();
    let evil = git_in(
        &wt,
        &[
            "commit-tree",
            &tree,
            "-p",
            "HEAD",
            "-p",
            &old,
            "-m",
            "Merge old main",
        ],
    );
    git_in(&wt, &["reset", "-q", "--hard", evil.trim()]);
    done(repo, "alpha");
}

/// An empty tree entry at `.droidforge/evil`: git stores it, no checkout ever shows it.
fn empty_protected_tree(repo: &TestRepo) {
    let empty = raw_tree(repo, vec![]);
    let mut dotdir = ls_tree(repo, "main:.droidforge");
    dotdir.push(("40000".into(), b"evil".to_vec(), empty));
    let dotdir = raw_tree(repo, dotdir);
    // `ls-tree` prints trees as 040000; in a tree object the mode is 40000.
    let mut root: Vec<Entry> = ls_tree(repo, "main")
        .into_iter()
        .filter(|e| e.1 != b".droidforge")
        .map(|(mode, name, id)| (mode.trim_start_matches('0').to_owned(), name, id))
        .collect();
    root.push(("40000".into(), b".droidforge".to_vec(), dotdir));
    let root = raw_tree(repo, root);
    let commit = repo.git(&["commit-tree", &root, "-p", "main", "-m", "alpha: empty dir"]);
    repo.git(&["update-ref", "refs/heads/droidforge/alpha", commit.trim()]);
    done(repo, "alpha");
}

/// alpha's work landed (rebased, so with new ids); then alpha points its ready mark back at
/// its original commit. Nothing may land twice.
fn rewritten_ready_ref(repo: &TestRepo) {
    droid_commit(
        repo,
        "alpha",
        "alpha works",
        &[("alpha/a.txt", "alpha v2\n")],
    );
    let original = repo.rev("droidforge/alpha");
    done(repo, "alpha");
    repo.commit("main moves", &[("README", "r\n")]);
    let (out, report) = merge_json(repo, &["alpha"]);
    assert!(out.status.success(), "{report:#}");
    repo.git(&["update-ref", "refs/droidforge/ready/alpha", &original]);
}

fn already_landed() -> Expect {
    Expect {
        exit: 0,
        status: "up-to-date",
        path: None,
        reason: "already landed",
    }
}

fn not_owned(path: &'static str, owner: &'static str) -> Expect {
    Expect {
        exit: 4,
        status: "violation",
        path: Some(path),
        reason: owner,
    }
}

fn invalid(path: &'static str, reason: &'static str) -> Expect {
    Expect {
        exit: 4,
        status: "violation",
        path: Some(path),
        reason,
    }
}

fn bad_ready() -> Expect {
    Expect {
        exit: 3,
        status: "conflict",
        path: None,
        reason: "droidforge done alpha",
    }
}

/// One `#[test]` per row, named after the defect it guards against.
macro_rules! hostile_rows {
    ($($name:ident: $craft:expr, $args:expr => $expect:expr;)*) => {$(
        #[test]
        fn $name() {
            let row = Row {
                craft: $craft,
                merge_args: $args,
                expect: $expect,
            };
            if let Err(e) = run_row(&row) {
                panic!("{}: {e}", stringify!($name));
            }
        }
    )*};
}

hostile_rows! {
    dotgit_entry_in_owned_dir_is_rejected: dotgit, &[] => invalid("alpha/.git", "hasDotgit");
    dotdot_entry_in_owned_dir_is_rejected: dotdot, &[] => invalid("alpha/..", "hasDotdot");
    dot_entry_in_owned_dir_is_rejected: dot, &[] => invalid("alpha/.", "hasDot");
    ntfs_short_dotgit_is_rejected: ntfs_short_name, &[] => invalid("alpha/git~1", "hasDotgit");
    dotgit_with_trailing_space_is_rejected: trailing_space, &[] => invalid("alpha/.git ", "hasDotgit");
    hfs_ignorable_dotgit_is_rejected: hfs_ignorable, &[] => invalid("alpha/.g\u{200c}it", "hasDotgit");
    ntfs_stream_dotgit_is_rejected: ntfs_stream, &[] => invalid("alpha/.git::$INDEX_ALLOCATION", "hasDotgit");
    slash_in_entry_name_is_rejected: slash_name, &[] => invalid("alpha/../../evil", "fullPathname");
    empty_entry_name_is_rejected: empty_name, &[] => invalid("alpha/", "emptyName");
    duplicate_entries_are_rejected: duplicate, &[] => invalid("alpha/a.txt", "duplicateEntries");
    bad_file_mode_is_rejected: bad_mode, &[] => invalid("alpha/m.txt", "badFilemode");
    gitmodules_symlink_is_rejected: gitmodules_symlink, &[] => invalid("alpha/.gitmodules", "gitmodulesSymlink");
    ntfs_gitmodules_symlink_is_rejected: gitmodules_ntfs_symlink, &[] => invalid("alpha/GITMOD~1", "gitmodulesSymlink");
    gitmodules_with_dotdot_submodule_name_is_rejected: gitmodules_bad_name, &[] => invalid("alpha/.gitmodules", "gitmodulesName");
    gitattributes_with_overlong_line_is_rejected: gitattributes_long_line, &[] => invalid("alpha/.gitattributes", "gitattributesLineLength");
    root_upper_dotgit_rejects_only_that_droid: root_upper_dotgit, &[] => invalid(".GIT", "hasDotgit");
    root_gitmodules_symlink_rejects_only_that_droid: root_gitmodules_symlink, &[] => invalid(".gitmodules", "gitmodulesSymlink");
    invalid_entry_removed_by_a_later_commit_is_rejected: removed_later, &[] => invalid("alpha/.git", "hasDotgit");
    dotgit_entry_is_rejected_with_the_merge_strategy: dotgit, &["--strategy", "merge"] => invalid("alpha/.git", "hasDotgit");
    ready_ref_to_blob_rejects_only_that_droid: ready_ref_to_blob, &[] => bad_ready();
    ready_ref_to_tree_rejects_only_that_droid: ready_ref_to_tree, &[] => bad_ready();
    ready_ref_to_missing_object_rejects_only_that_droid: ready_ref_to_missing_object, &[] => bad_ready();
    evil_merge_strategy_merge_cannot_revert_protected_or_foreign_paths: evil_merge, &["--strategy", "merge"] => not_owned(MANIFEST, "\"protected\"");
    evil_merge_strategy_merge_cannot_revert_another_droids_file: evil_merge, &["--strategy", "merge"] => not_owned("lib/l.rs", "owned by `gamma`");
    evil_merge_is_a_violation_with_the_rebase_strategy: evil_merge, &[] => not_owned("lib/l.rs", "owned by `gamma`");
    empty_tree_in_protected_path_is_a_violation: empty_protected_tree, &[] => not_owned(".droidforge/evil", "\"protected\"");
    empty_tree_in_protected_path_is_a_violation_with_the_merge_strategy: empty_protected_tree, &["--strategy", "merge"] => not_owned(".droidforge/evil", "\"protected\"");
    rewritten_ready_ref_to_landed_commits_lands_nothing_twice: rewritten_ready_ref, &[] => already_landed();
}

fn details(dr: &serde_json::Value) -> String {
    let mut s = dr["reason"].as_str().unwrap_or_default().to_owned();
    for key in ["violations", "conflicts"] {
        for v in dr[key].as_array().into_iter().flatten() {
            s.push_str(&format!(" | {v}"));
        }
    }
    s
}

fn paths(dr: &serde_json::Value) -> Vec<String> {
    ["violations", "conflicts"]
        .iter()
        .flat_map(|k| dr[*k].as_array().cloned().unwrap_or_default())
        .map(|v| v["path"].as_str().unwrap().to_owned())
        .collect()
}

/// Run one row; a description of the first mismatch on failure.
fn run_row(row: &Row) -> Result<(), String> {
    let repo = setup();
    (row.craft)(&repo);
    let e = &row.expect;

    let check = repo.df(&["check", "--phase", "1", "--format", "json"]);
    let check_json: serde_json::Value = serde_json::from_slice(&check.stdout)
        .map_err(|err| format!("check printed no JSON ({err}): {}", stderr(&check)))?;

    let mut args = vec!["--phase", "1"];
    args.extend_from_slice(row.merge_args);
    let (out, report) = merge_json(&repo, &args);
    for (what, code, json) in [
        ("merge", out.status.code(), &report),
        ("check", check.status.code(), &check_json),
    ] {
        if code != Some(e.exit) {
            return Err(format!(
                "{what} exit {code:?}, expected {}: {json:#}",
                e.exit
            ));
        }
        let alpha = droid_entry(json, "alpha");
        if alpha["status"] != e.status {
            return Err(format!(
                "{what}: alpha is {}, expected {}",
                alpha["status"], e.status
            ));
        }
        if let Some(p) = e.path
            && !paths(alpha).iter().any(|x| x == p)
        {
            return Err(format!(
                "{what}: path `{p}` not reported: {}",
                details(alpha)
            ));
        }
        if !details(alpha).contains(e.reason) {
            return Err(format!(
                "{what}: reason `{}` missing: {}",
                e.reason,
                details(alpha)
            ));
        }
        if droid_entry(json, "beta")["status"] != "merged" {
            return Err(format!("{what}: beta did not land: {json:#}"));
        }
    }
    // The oracle: what landed is a repository git accepts everywhere: a clone that checks
    // every object it receives, checks out, and passes a strict fsck. (The hostile objects
    // stay in this repository on the droid's branch, so fsck runs on the clone.)
    let dest = repo.root.parent().unwrap().join("clone");
    let mut clone = std::process::Command::new("git");
    hermetic(&mut clone);
    let out = clone
        .args([
            "-c",
            "transfer.fsckObjects=true",
            "clone",
            "-q",
            "--no-local",
        ])
        .args(["--single-branch", "-b", "main"])
        .arg(&repo.root)
        .arg(&dest)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!(
            "fsck clone: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let out = std::process::Command::new("git")
        .current_dir(&dest)
        .args(["fsck", "--full", "--strict", "--no-progress"])
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(format!(
            "git fsck: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Rows of the second kind: a droid commits a file droidforge later writes (its TODO, its
/// brief) as a symbolic link out of the repository; the merge lands it (a link in the droid's
/// own directory is legitimate), then the writer must refuse (exit 1, naming the path) instead
/// of writing through it.
fn link_out(repo: &TestRepo, rel: &str, outside: &std::path::Path) {
    let wt = repo.path(".droidforge/worktrees/alpha");
    if !wt.exists() {
        droid_worktree(repo, "alpha", "main");
    }
    let link = wt.join(rel);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(outside, &link).unwrap();
    commit_in(&wt, "alpha: link", &[]);
}

fn forge_with_todo() -> String {
    forge().replace(
        "owns = [\"alpha/**\"]",
        "owns = [\"alpha/**\"]\ntodo = \"alpha/TODO.md\"",
    )
}

#[test]
fn symlinked_todo_is_not_written_through_by_init() {
    let repo = repo_with(&forge_with_todo(), &[("alpha/a.txt", "alpha\n")]);
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("owned.txt");
    link_out(&repo, "alpha/TODO.md", &target);
    done(&repo, "alpha");
    let (out, report) = merge_json(&repo, &["alpha"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    repo.git(&["checkout", "-q", "-f", "main"]);
    assert!(
        repo.path("alpha/TODO.md")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );

    let out = repo.df(&["init"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("alpha/TODO.md") && err.contains("symbolic link"),
        "{err}"
    );
    assert!(!target.exists(), "init wrote outside the repository");
    // `--force` replaces the manifest (the example has no `alpha`): still nothing outside.
    repo.df(&["init", "--force"]);
    assert!(
        !target.exists(),
        "init --force wrote outside the repository"
    );
}

#[test]
fn symlinked_brief_is_not_written_through_by_spawn() {
    let repo = repo_with(&forge(), &[("alpha/a.txt", "alpha\n")]);
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("brief.txt");
    // The brief, committed by the droid as a link out of its worktree.
    link_out(&repo, ".droidforge/BRIEF.md", &target);
    let out = repo.df(&["spawn", "alpha"]);
    let err = stderr(&out);
    assert!(err.contains("symbolic link"), "{}\n{err}", stdout(&out));
    assert!(!target.exists());
    assert!(
        std::fs::read_dir(outside.path()).unwrap().next().is_none(),
        "spawn wrote outside the worktree"
    );
}
