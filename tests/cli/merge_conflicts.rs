//! Conflict detection of the in-memory replay against `git merge-tree --write-tree` on a table
//! of cases: each case has a base, a change on main and a one-commit droid change.

use std::path::Path;

use crate::common::*;
use crate::merge_support::*;

#[derive(Clone, Copy)]
enum Op {
    Write(&'static str, &'static str),
    Delete(&'static str),
    Rename(&'static str, &'static str),
    Exec(&'static str),
    Symlink(&'static str, &'static str),
}

fn apply(dir: &Path, ops: &[Op], msg: &str) {
    for op in ops {
        match *op {
            Op::Write(p, c) => write_files(dir, &[(p, c)]),
            Op::Delete(p) => {
                git_in(dir, &["rm", "-q", p]);
            }
            Op::Rename(a, b) => {
                git_in(dir, &["mv", a, b]);
            }
            Op::Exec(p) => {
                git_in(dir, &["update-index", "--chmod=+x", p]);
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(0o755))
                    .unwrap();
            }
            Op::Symlink(p, target) => {
                let path = dir.join(p);
                let _ = std::fs::remove_file(&path);
                std::os::unix::fs::symlink(target, &path).unwrap();
            }
        }
    }
    git_in(dir, &["add", "-A"]);
    git_in(dir, &["commit", "-q", "-m", msg]);
}

const LINES: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n";
const LINES_TOP: &str = "ONE\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n";
const LINES_BOTTOM: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nTEN\n";
const LINES_BOTTOM2: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nTen!\n";

struct Case {
    name: &'static str,
    base: &'static [Op],
    main: &'static [Op],
    droid: &'static [Op],
    /// Expected kind of the first conflict, or `None` for a clean merge.
    kind: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        name: "content",
        base: &[Op::Write("f.txt", LINES)],
        main: &[Op::Write("f.txt", LINES_BOTTOM)],
        droid: &[Op::Write("f.txt", LINES_BOTTOM2)],
        kind: Some("content"),
    },
    Case {
        name: "content, different regions",
        base: &[Op::Write("f.txt", LINES)],
        main: &[Op::Write("f.txt", LINES_TOP)],
        droid: &[Op::Write("f.txt", LINES_BOTTOM)],
        kind: None,
    },
    Case {
        name: "add/add",
        base: &[],
        main: &[Op::Write("new.txt", "main\n")],
        droid: &[Op::Write("new.txt", "droid\n")],
        kind: Some("add/add"),
    },
    Case {
        name: "add/add, same content",
        base: &[],
        main: &[Op::Write("new.txt", "same\n")],
        droid: &[Op::Write("new.txt", "same\n")],
        kind: None,
    },
    Case {
        name: "modify/delete",
        base: &[Op::Write("f.txt", LINES)],
        main: &[Op::Write("f.txt", LINES_TOP)],
        droid: &[Op::Delete("f.txt")],
        kind: Some("modify/delete"),
    },
    Case {
        name: "delete/modify",
        base: &[Op::Write("f.txt", LINES)],
        main: &[Op::Delete("f.txt")],
        droid: &[Op::Write("f.txt", LINES_TOP)],
        kind: Some("modify/delete"),
    },
    Case {
        name: "rename/rename",
        base: &[Op::Write("f.txt", LINES)],
        main: &[Op::Rename("f.txt", "main.txt")],
        droid: &[Op::Rename("f.txt", "droid.txt")],
        kind: Some("rename/rename"),
    },
    Case {
        name: "rename vs edit",
        base: &[Op::Write("f.txt", LINES)],
        main: &[Op::Write("f.txt", LINES_TOP)],
        droid: &[Op::Rename("f.txt", "g.txt")],
        kind: None,
    },
    Case {
        name: "binary",
        base: &[Op::Write("b.bin", "\0\x01base")],
        main: &[Op::Write("b.bin", "\0\x01main")],
        droid: &[Op::Write("b.bin", "\0\x01droid")],
        kind: Some("content"),
    },
    Case {
        name: "mode change vs edit",
        base: &[Op::Write("run.sh", LINES)],
        main: &[Op::Exec("run.sh")],
        droid: &[Op::Write("run.sh", LINES_TOP)],
        kind: None,
    },
    Case {
        name: "file vs symlink",
        base: &[Op::Write("f.txt", LINES)],
        main: &[Op::Write("f.txt", LINES_TOP)],
        droid: &[Op::Symlink("f.txt", "elsewhere")],
        kind: Some("*"),
    },
    Case {
        name: "file vs directory",
        base: &[Op::Write("keep", "k\n")],
        main: &[Op::Write("x", "a file\n")],
        droid: &[Op::Write("x/y", "a file in a directory\n")],
        kind: Some("*"),
    },
    Case {
        name: "add into a directory renamed on main",
        base: &[
            Op::Write("dir/a.txt", LINES),
            Op::Write("dir/b.txt", LINES_TOP),
        ],
        main: &[Op::Rename("dir", "moved")],
        droid: &[Op::Write("dir/new.txt", "new\n")],
        kind: Some("file location (directory renamed)"),
    },
    Case {
        name: "edit inside a directory renamed on main",
        base: &[
            Op::Write("dir/a.txt", LINES),
            Op::Write("dir/b.txt", LINES_TOP),
        ],
        main: &[Op::Rename("dir", "moved")],
        droid: &[Op::Write("dir/a.txt", LINES_BOTTOM)],
        kind: None,
    },
    Case {
        name: "disjoint edits in one directory",
        base: &[Op::Write("dir/a.txt", LINES), Op::Write("dir/b.txt", LINES)],
        main: &[Op::Write("dir/a.txt", LINES_TOP), Op::Delete("dir/b.txt")],
        droid: &[Op::Write("dir/c.txt", "c\n"), Op::Exec("dir/a.txt")],
        kind: None,
    },
];

fn conflicts_agree_with_git(case: &Case) {
    let toml = forge_toml(&[("d", &["**"], &[])]);
    let repo = repo_with(&toml, &[]);
    if !case.base.is_empty() {
        apply(&repo.root, case.base, "base");
    }
    let wt = droid_worktree(&repo, "d", "main");
    apply(&repo.root, case.main, "main side");
    apply(&wt, case.droid, "droid side");
    done(&repo, "d");

    let oracle = std::process::Command::new("git")
        .current_dir(&repo.root)
        .args([
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            "main",
            "droidforge/d",
        ])
        .output()
        .unwrap();
    let oracle_out = String::from_utf8_lossy(&oracle.stdout).into_owned();
    let mut lines = oracle_out.lines();
    let oracle_tree = lines.next().unwrap_or_default().to_owned();
    let mut oracle_paths: Vec<String> =
        lines.filter(|l| !l.is_empty()).map(str::to_owned).collect();
    oracle_paths.sort();
    oracle_paths.dedup();
    let git_conflicts = oracle.status.code() == Some(1);

    let (out, report) = merge_json(&repo, &["d"]);
    let entry = droid_entry(&report, "d");
    let name = case.name;
    assert_eq!(
        entry["status"] == "conflict",
        git_conflicts,
        "case `{name}`: git says conflict={git_conflicts}, droidforge: {entry:#}"
    );
    if git_conflicts {
        assert_eq!(out.status.code(), Some(3), "case `{name}`");
        let mut ours: Vec<String> = entry["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["path"].as_str().unwrap().to_owned())
            .collect();
        ours.sort();
        ours.dedup();
        for p in &oracle_paths {
            // git parks one side of a type clash at `path~branch`; that is the same path.
            let p = &p.split('~').next().unwrap_or(p).to_owned();
            assert!(
                ours.contains(p),
                "case `{name}`: git reports `{p}` conflicted, droidforge {ours:?}"
            );
        }
        let kind = entry["conflicts"][0]["kind"].as_str().unwrap();
        match case.kind {
            Some("*") => {}
            Some(k) => assert_eq!(kind, k, "case `{name}`"),
            None => panic!("case `{name}` expected clean"),
        }
        // Nothing of the droid landed, and a run that lands nothing makes no commit.
        assert_eq!(repo.rev("main"), report["old_tip"].as_str().unwrap());
    } else {
        assert_eq!(case.kind, None, "case `{name}`: git merged it cleanly");
        assert_eq!(
            out.status.code(),
            Some(0),
            "case `{name}`: {}",
            stderr(&out)
        );
        // The rebased tree is git's merged tree. A droid commit whose change is already on
        // main (add/add with the same content) is skipped, as `git rebase` skips it: nothing
        // lands and main's tree is git's merged tree.
        let tip = match entry["tip"].as_str() {
            Some(tip) => tip.to_owned(),
            None => {
                assert_eq!(entry["status"], "up-to-date", "case `{name}`: {entry:#}");
                assert_eq!(
                    entry["upstream"].as_array().map(Vec::len),
                    Some(1),
                    "case `{name}`: {entry:#}"
                );
                repo.rev("main")
            }
        };
        let tip = tip.as_str();
        assert_eq!(
            repo.git(&["rev-parse", &format!("{tip}^{{tree}}")]).trim(),
            oracle_tree,
            "case `{name}`: merged tree differs from git merge-tree"
        );
    }
    repo.assert_fsck();
}

#[test]
fn conflict_table_matches_git_merge_tree() {
    for case in CASES {
        conflicts_agree_with_git(case);
    }
}
