//! `check`: the CI job on real repositories — pass, violation, protected path, conflict, human
//! branches, phase dry run vs the real merge, shallow clones, and golden output formats.

use crate::common::*;

/// A two-droid repo with `droidforge/core-droid` checked out at a clean commit.
fn repo_on_core_branch() -> TestRepo {
    let repo = two_droid_repo();
    repo.git(&["checkout", "-q", "-b", "droidforge/core-droid"]);
    repo.commit(
        "core: work",
        &[("src/core/lib.rs", "pub fn core() { /* v2 */ }\n")],
    );
    repo
}

/// Replace commit hashes so snapshots are stable.
fn redact(text: &str, repo: &TestRepo) -> String {
    let mut out = text.to_owned();
    let log = repo.git(&["log", "--all", "--format=%H"]);
    for (i, h) in log.lines().enumerate() {
        out = out.replace(h, &format!("<commit-{i}>"));
        out = out.replace(&h[..7], &format!("<c{i}>"));
    }
    out
}

#[test]
fn clean_droid_branch_passes() {
    let repo = repo_on_core_branch();
    let out = repo.df(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("droid `core-droid` (`droidforge/core-droid`"),
        "{text}"
    );
    assert!(text.contains("result: pass"), "{text}");
}

#[test]
fn check_changes_nothing() {
    let repo = repo_on_core_branch();
    repo.commit("core: touch infra", &[("src/infra/lib.rs", "stolen\n")]);
    let refs_before = repo.git(&["for-each-ref"]);
    let objects_before = repo.git(&["count-objects", "-v"]);
    let out = repo.df(&["check"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(repo.git(&["for-each-ref"]), refs_before);
    assert_eq!(repo.git(&["count-objects", "-v"]), objects_before);
    assert!(!repo.path(".git/droidforge/state.json").exists());
}

#[test]
fn ownership_violation_fails_with_exit_4_annotation_and_json() {
    let repo = repo_on_core_branch();
    repo.commit("core: touch infra", &[("src/infra/lib.rs", "stolen\n")]);
    let out = repo.df(&["check", "--format", "github"]);
    assert_eq!(out.status.code(), Some(4));
    let text = stdout(&out);
    assert!(
        text.contains("::error file=src/infra/lib.rs,title=droidforge%3A ownership violation::droid `core-droid` may not change `src/infra/lib.rs`"),
        "{text}"
    );
    assert!(text.contains("it is owned by `infra-droid`"), "{text}");

    let json: serde_json::Value =
        serde_json::from_slice(&repo.df(&["check", "--format", "json"]).stdout).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["result"], "violation");
    assert_eq!(json["exit_code"], 4);
    assert_eq!(json["droid"], "core-droid");
    assert_eq!(
        json["droids"][0]["violations"][0]["path"],
        "src/infra/lib.rs"
    );
    assert_eq!(
        json["droids"][0]["violations"][0]["owner"],
        "owned by `infra-droid`"
    );
}

#[test]
fn editing_the_manifest_in_the_droid_branch_is_a_protected_path_violation() {
    let repo = repo_on_core_branch();
    // The droid grants itself infra's files: the check must judge by the base's manifest.
    let granted = TWO_DROIDS.replace(
        "owns = [\"src/core/**\"]",
        "owns = [\"src/core/**\", \"src/infra/**\"]",
    );
    repo.commit(
        "core: grant myself infra",
        &[(MANIFEST, &granted), ("src/infra/lib.rs", "mine now\n")],
    );
    let json: serde_json::Value =
        serde_json::from_slice(&repo.df(&["check", "--format", "json"]).stdout).unwrap();
    assert_eq!(json["exit_code"], 4);
    let violations = json["droids"][0]["violations"].as_array().unwrap();
    let find = |p: &str| violations.iter().find(|v| v["path"] == p).cloned();
    assert_eq!(find(MANIFEST).unwrap()["owner"], "protected");
    assert_eq!(
        find("src/infra/lib.rs").unwrap()["owner"],
        "owned by `infra-droid`"
    );
}

#[test]
fn textual_conflict_fails_with_exit_3() {
    let repo = two_droid_repo();
    repo.git(&["checkout", "-q", "-b", "droidforge/core-droid"]);
    repo.commit(
        "core: interfaces",
        &[("INTERFACES.md", "# Interfaces\ncore version\n")],
    );
    repo.git(&["checkout", "-q", "main"]);
    repo.commit(
        "main: interfaces",
        &[("INTERFACES.md", "# Interfaces\nmain version\n")],
    );
    let out = repo.df(&[
        "check",
        "--head",
        "droidforge/core-droid",
        "--format",
        "github",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("::error file=INTERFACES.md,title=droidforge%3A merge conflict::content conflict replaying droid `core-droid`"),
        "{text}"
    );
}

#[test]
fn human_branch_is_checked_against_protected_paths_only() {
    let repo = two_droid_repo();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.commit(
        "human: edit anything",
        &[("src/core/lib.rs", "human\n"), ("README.md", "hi\n")],
    );
    let out = repo.df(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("not a droid branch"),
        "{}",
        stdout(&out)
    );

    let out = repo.df(&["check", "--require-droid"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("error: `feature` is not a droid branch"),
        "{}",
        stderr(&out)
    );

    repo.commit("human: edit progress", &[("PROGRESS.md", "hacked\n")]);
    let out = repo.df(&["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn droid_is_inferred_from_github_head_ref() {
    let repo = repo_on_core_branch();
    repo.commit("core: touch infra", &[("src/infra/lib.rs", "stolen\n")]);
    let head = repo.rev("HEAD");
    repo.git(&["checkout", "-q", "--detach", &head]);
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    let out = cmd
        .current_dir(&repo.root)
        .env("GITHUB_BASE_REF", "main")
        .env("GITHUB_HEAD_REF", "droidforge/core-droid")
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["droid"], "core-droid");
    assert_eq!(json["base_ref"], "main");
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn github_step_summary_is_written() {
    let repo = repo_on_core_branch();
    let summary = repo.root.join("summary.md");
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    let out = cmd
        .current_dir(&repo.root)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["check", "--format", "github"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("## ✅ droidforge check: pass"), "{text}");
    assert!(text.contains("| core-droid | 🟢 merged | 1 |"), "{text}");
}

#[test]
fn phase_dry_run_matches_what_merge_then_does() {
    let repo = two_droid_repo();
    repo.git(&["checkout", "-q", "-b", "droidforge/core-droid"]);
    repo.commit("core", &[("src/core/lib.rs", "core v2\n")]);
    repo.git(&["checkout", "-q", "-b", "droidforge/infra-droid", "main"]);
    repo.commit("infra steals", &[("src/core/lib.rs", "infra was here\n")]);
    repo.git(&["checkout", "-q", "main"]);
    repo.df_ok(&["done", "core-droid"]);
    repo.df_ok(&["done", "infra-droid"]);

    let check = repo.df(&["check", "--phase", "1", "--format", "json"]);
    let check_json: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let tip_before = repo.rev("main");
    assert_eq!(
        repo.rev("main"),
        tip_before,
        "check must not move the branch"
    );

    let merge = repo.df(&["merge", "--phase", "1", "--json"]);
    let merge_json: serde_json::Value = serde_json::from_slice(&merge.stdout).unwrap();
    assert_eq!(check.status.code(), merge.status.code());
    let statuses = |v: &serde_json::Value| -> Vec<(String, String)> {
        v["droids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["droid"].as_str().unwrap().to_owned(),
                    d["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(statuses(&check_json), statuses(&merge_json));
    assert_eq!(
        statuses(&check_json),
        vec![
            ("core-droid".to_owned(), "merged".to_owned()),
            ("infra-droid".to_owned(), "violation".to_owned())
        ]
    );
}

#[test]
fn shallow_clone_is_deepened_or_fails_clearly() {
    let upstream = repo_on_core_branch();
    upstream.commit("core: more", &[("src/core/more.rs", "x\n")]);
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("file://{}", upstream.root.display());
    git_in(
        tmp.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            &url,
            "shallow",
        ],
    );
    let clone = tmp.path().join("shallow");
    git_in(&clone, &["checkout", "-q", "droidforge/core-droid"]);
    // With a remote: droidforge deepens the clone by itself and answers correctly.
    let out = df_in(
        &clone,
        &["check", "--base", "origin/main", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["notes"][0].as_str().unwrap().contains("shallow"),
        "{json}"
    );
    assert_eq!(json["droids"][0]["commits"].as_array().unwrap().len(), 2);

    // Without a remote it cannot deepen: a clear error naming the fix.
    let tmp2 = tempfile::tempdir().unwrap();
    git_in(
        tmp2.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            &url,
            "shallow",
        ],
    );
    let clone2 = tmp2.path().join("shallow");
    git_in(&clone2, &["checkout", "-q", "droidforge/core-droid"]);
    git_in(
        &clone2,
        &["config", "remote.origin.url", "/nonexistent/upstream"],
    );
    let out = df_in(&clone2, &["check", "--base", "origin/main"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: cannot deepen the shallow clone"),
        "{err}"
    );
    assert!(err.contains("fetch-depth: 0"), "{err}");
}

#[test]
fn golden_output_formats() {
    let repo = repo_on_core_branch();
    repo.commit("core: touch infra", &[("src/infra/lib.rs", "stolen\n")]);
    let text = redact(&stdout(&repo.df(&["check"])), &repo);
    insta::assert_snapshot!("check_text_violation", text);
    let github = redact(&stdout(&repo.df(&["check", "--format", "github"])), &repo);
    insta::assert_snapshot!("check_github_violation", github);
    let json = redact(&stdout(&repo.df(&["check", "--format", "json"])), &repo);
    insta::assert_snapshot!("check_json_violation", json);
}

#[test]
fn generated_workflow_command_runs_locally() {
    let repo = repo_on_core_branch();
    repo.git(&["checkout", "-q", "main"]);
    repo.df_ok(&["init", "--ci", "github"]);
    let wf = repo.read(".github/workflows/droidforge.yml");
    // The workflow's check step, with the GitHub expression evaluated as on a pull request.
    let line = wf
        .lines()
        .find(|l| l.trim_start().starts_with("run: droidforge check"))
        .expect("check step")
        .trim_start()
        .trim_start_matches("run: ")
        .to_owned();
    assert!(line.contains("--format github"), "{line}");
    repo.git(&["checkout", "-q", "droidforge/core-droid"]);
    // A local clone with `origin` stands in for the CI checkout.
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.root.display());
    git_in(tmp.path(), &["clone", "-q", &url, "ci"]);
    let ci = tmp.path().join("ci");
    let mut cmd = std::process::Command::new("sh");
    hermetic(&mut cmd);
    let bin_dir = droidforge_bin().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = cmd
        .current_dir(&ci)
        .env("PATH", path)
        .env("GITHUB_BASE_REF", "main")
        .env("GITHUB_HEAD_REF", "droidforge/core-droid")
        .arg("-c")
        .arg(line.replace("${{ github.base_ref || 'main' }}", "main"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("result: pass"), "{}", stdout(&out));
}

#[test]
fn changing_a_shared_path_under_another_droids_write_lock_is_warned_about() {
    let repo = two_droid_repo();
    repo.df_ok(&["lock", "INTERFACES.md", "--write", "--droid", "infra-droid"]);
    repo.git(&["checkout", "-q", "-b", "droidforge/core-droid"]);
    repo.commit(
        "core: interfaces",
        &[("INTERFACES.md", "# Interfaces\ncore\n")],
    );
    let out = repo.df(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "`core-droid` changed `INTERFACES.md` while `infra-droid` holds a write lock"
        ),
        "{}",
        stdout(&out)
    );
    repo.git(&["checkout", "-q", "main"]);
    repo.df_ok(&["done", "core-droid"]);
    let out = repo.df(&["merge", "core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("holds a write lock"),
        "{}",
        stderr(&out)
    );
}
