//! Sparse spawn (`[[droid]] sparse = true`, `spawn --sparse`): the droid worktree checks out
//! only its paths through git's own sparse-checkout. The oracle is a worktree that git itself
//! made sparse with `git sparse-checkout set` for the same list: same pattern file, same index
//! (`git ls-files -t`), same files on disk.

use std::path::Path;

use crate::common::*;

/// Files on disk under `dir`, relative, sorted; without `.git` and droidforge's untracked files.
fn files_on_disk(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == ".git" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.retain(|f| {
        !matches!(
            f.as_str(),
            ".droidforge/BRIEF.md" | ".claude/settings.local.json" | ".factory/settings.local.json"
        )
    });
    out.sort();
    out
}

/// The worktree's private git dir.
fn git_dir(wt: &Path) -> std::path::PathBuf {
    std::path::PathBuf::from(git_in(wt, &["rev-parse", "--absolute-git-dir"]).trim())
}

/// Assert that `wt` is exactly what git makes of a worktree at the same commit after
/// `git sparse-checkout set` with the list `wt` reports.
fn assert_like_git_sparse(repo: &TestRepo, wt: &Path, name: &str) {
    let cone = git_in(
        wt,
        &["config", "--worktree", "--get", "core.sparseCheckoutCone"],
    );
    let list = git_in(wt, &["sparse-checkout", "list"]);
    let other = repo.root.parent().unwrap().join(format!("oracle-{name}"));
    let head = git_in(wt, &["rev-parse", "HEAD"]);
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "--no-checkout",
        "--detach",
        other.to_str().unwrap(),
        head.trim(),
    ]);
    let mut args = vec!["sparse-checkout", "set"];
    let mode = if cone.trim() == "true" {
        "--cone"
    } else {
        "--no-cone"
    };
    args.push(mode);
    args.extend(list.lines());
    git_in(&other, &args);
    git_in(&other, &["reset", "-q", "--hard"]);
    assert_eq!(
        std::fs::read_to_string(git_dir(wt).join("info/sparse-checkout")).unwrap(),
        std::fs::read_to_string(git_dir(&other).join("info/sparse-checkout")).unwrap(),
        "pattern file differs from git's ({mode})"
    );
    assert_eq!(
        git_in(wt, &["ls-files", "-t"]),
        git_in(&other, &["ls-files", "-t"]),
        "index (skip-worktree bits) differs from git's ({mode})"
    );
    assert_eq!(files_on_disk(wt), files_on_disk(&other));
    assert_eq!(git_in(wt, &["status", "--porcelain"]), "");
    // Re-applying the patterns changes nothing: the checkout is what git would keep.
    git_in(wt, &["sparse-checkout", "reapply"]);
    assert_eq!(
        git_in(wt, &["ls-files", "-t"]),
        git_in(&other, &["ls-files", "-t"])
    );
    repo.git(&["worktree", "remove", "--force", other.to_str().unwrap()]);
}

/// `two_droid_repo` plus files no droid needs, with `core-droid` marked sparse.
fn sparse_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.manifest(&TWO_DROIDS.replace(
        "name = \"core-droid\"\n",
        "name = \"core-droid\"\nsparse = true\n",
    ));
    repo.commit(
        "Set up forge",
        &[
            ("INTERFACES.md", "# Interfaces\n"),
            ("README.md", "readme\n"),
            ("src/core/lib.rs", "pub fn core() {}\n"),
            ("src/core/deep/mod.rs", "pub fn deep() {}\n"),
            ("src/infra/lib.rs", "pub fn infra() {}\n"),
            ("src/main.rs", "fn main() {}\n"),
            ("docs/guide.md", "guide\n"),
            ("docs/api/core.md", "api\n"),
            ("vendor/big/a.txt", "a\n"),
            ("TODO_CORE.md", "- [ ] one\n- [ ] two\n"),
            ("TODO_INFRA.md", "- [ ] one\n"),
        ],
    );
    repo
}

#[test]
fn sparse_droid_gets_only_its_paths_in_cone_mode_like_git() {
    let repo = sparse_repo();
    let out = repo.df_ok(&["spawn", "--all", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["droids"][0]["sparse"],
        serde_json::json!([".droidforge", "src/core"])
    );
    assert_eq!(
        v["droids"][1].get("sparse"),
        Some(&serde_json::Value::Null),
        "infra-droid is full"
    );
    let wt = repo.path(".droidforge/worktrees/core-droid");
    assert_eq!(
        files_on_disk(&wt),
        [
            ".droidforge/forge.toml",
            "INTERFACES.md",
            "README.md",
            "TODO_CORE.md",
            "TODO_INFRA.md",
            "src/core/deep/mod.rs",
            "src/core/lib.rs",
            "src/main.rs",
        ]
    );
    assert_eq!(
        git_in(&wt, &["sparse-checkout", "list"]),
        ".droidforge\nsrc/core\n"
    );
    assert_like_git_sparse(&repo, &wt, "core");

    // Only that worktree is sparse: the main worktree and the other droid are full.
    let full = files_on_disk(&repo.path(".droidforge/worktrees/infra-droid"));
    assert!(full.contains(&"vendor/big/a.txt".to_owned()));
    assert!(
        !repo
            .git(&["ls-files", "-t"])
            .lines()
            .any(|l| l.starts_with("S "))
    );
    assert!(repo.path("vendor/big/a.txt").exists());
    for dir in [
        repo.root.clone(),
        repo.path(".droidforge/worktrees/infra-droid"),
    ] {
        let mut cmd = std::process::Command::new("git");
        hermetic(&mut cmd);
        let st = cmd
            .current_dir(&dir)
            .args(["config", "--get", "core.sparseCheckout"])
            .output()
            .unwrap();
        assert_eq!(stdout(&st), "", "{} is not sparse", dir.display());
    }

    // `git sparse-checkout disable` brings back the full tree.
    git_in(&wt, &["sparse-checkout", "disable"]);
    assert_eq!(
        files_on_disk(&wt),
        files_on_disk(&repo.path(".droidforge/worktrees/infra-droid"))
    );
    assert_eq!(git_in(&wt, &["status", "--porcelain"]), "");
}

#[test]
fn sparse_flag_with_file_reads_uses_non_cone_mode_like_git() {
    let repo = sparse_repo();
    // A read that is a file below the root cannot be said in cone mode.
    let toml = repo.read(MANIFEST).replace(
        "owns = [\"src/infra/**\"]\n",
        "owns = [\"src/infra/**\"]\nreads = [\"docs/*.md\", \"src/main.rs\"]\n",
    );
    repo.commit("reads", &[(MANIFEST, &toml)]);
    repo.df_ok(&["spawn", "--sparse", "infra-droid"]);
    let wt = repo.path(".droidforge/worktrees/infra-droid");
    assert_eq!(
        files_on_disk(&wt),
        [
            ".droidforge/forge.toml",
            "INTERFACES.md",
            "README.md",
            "TODO_CORE.md",
            "TODO_INFRA.md",
            "docs/guide.md",
            "src/infra/lib.rs",
            "src/main.rs",
        ]
    );
    assert_eq!(
        git_in(
            &wt,
            &["config", "--worktree", "--get", "core.sparseCheckoutCone"]
        )
        .trim(),
        "false"
    );
    assert_like_git_sparse(&repo, &wt, "infra");
}

#[test]
fn merge_moves_a_sparse_worktree_without_unsparsing_it_and_check_status_work() {
    let repo = sparse_repo();
    repo.df_ok(&["spawn", "--all"]);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    // A new file inside the definition: `git add` takes it like in a full worktree.
    write_files(&wt, &[("src/core/new.rs", "pub fn new() {}\n")]);
    git_in(&wt, &["add", "src/core/new.rs"]);
    git_in(&wt, &["commit", "-q", "-m", "core: new"]);
    assert_eq!(git_in(&wt, &["status", "--porcelain"]), "");

    let st: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["status", "--json", "core-droid"])).unwrap();
    assert_eq!(st["droids"][0]["ahead"], 1);
    assert_eq!(
        st["droids"][0]["dirty"],
        serde_json::json!({"changed": 0, "untracked": 0})
    );
    // The integration branch moves on outside the droid's paths (and inside them).
    let moved = repo.commit(
        "main moves",
        &[
            ("src/infra/lib.rs", "pub fn infra2() {}\n"),
            ("vendor/big/b.txt", "b\n"),
            ("src/core/deep/mod.rs", "pub fn deep2() {}\n"),
        ],
    );
    repo.df_ok(&["done", "core-droid"]);
    repo.df_ok(&["check"]);
    repo.df_ok(&["merge"]);
    assert_eq!(
        repo.git(&["show", "main:src/core/new.rs"]),
        "pub fn new() {}\n"
    );
    repo.assert_fsck();
    // The worktree followed the merge and is still sparse and clean.
    assert_eq!(git_in(&wt, &["status", "--porcelain"]), "");
    assert!(!wt.join("src/infra/lib.rs").exists());
    assert!(!wt.join("vendor/big/a.txt").exists());
    assert!(!wt.join("vendor/big/b.txt").exists());
    assert_eq!(
        std::fs::read_to_string(wt.join("src/core/deep/mod.rs")).unwrap(),
        "pub fn deep2() {}\n"
    );
    // It moved to the merged commits (on top of main's move).
    assert_eq!(
        git_in(&wt, &["rev-parse", "HEAD"]),
        repo.git(&["rev-parse", "droidforge/core-droid"])
    );
    repo.git(&[
        "merge-base",
        "--is-ancestor",
        "droidforge/core-droid",
        "main",
    ]);
    repo.git(&[
        "merge-base",
        "--is-ancestor",
        &moved,
        "droidforge/core-droid",
    ]);
    assert_like_git_sparse(&repo, &wt, "after-merge");
    assert_eq!(
        git_in(&wt, &["sparse-checkout", "list"]),
        ".droidforge\nsrc/core\n"
    );
    repo.df_ok(&["check"]);
}
