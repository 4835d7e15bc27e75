//! `droidforge spawn`: branches + worktrees + briefs, checked with the git CLI.

use crate::common::*;

/// `git worktree list --porcelain` as (path, branch) pairs of the linked worktrees.
pub fn linked_worktrees(repo: &TestRepo) -> Vec<(String, String)> {
    let out = repo.git(&["worktree", "list", "--porcelain"]);
    let mut res = Vec::new();
    let mut path = String::new();
    for line in out.lines() {
        if let Some(p) = line.strip_prefix("worktree ") {
            path = p.to_owned();
        } else if let Some(b) = line.strip_prefix("branch refs/heads/") {
            res.push((path.clone(), b.to_owned()));
        }
    }
    // The first entry is the main worktree.
    res.into_iter().skip(1).collect()
}

fn canonical(repo: &TestRepo, rel: &str) -> String {
    repo.path(rel)
        .canonicalize()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn spawn_creates_branch_worktree_and_brief() {
    let repo = two_droid_repo();
    let main_tip = repo.rev("main");
    let out = repo.df(&["spawn", "core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "     Spawned core-droid at .droidforge/worktrees/core-droid (branch droidforge/core-droid)\n     Guarded core-droid: pre-commit hook runs `droidforge guard --staged`\n"
    );
    assert_eq!(
        linked_worktrees(&repo),
        vec![(
            canonical(&repo, ".droidforge/worktrees/core-droid"),
            "droidforge/core-droid".to_owned()
        )]
    );
    assert_eq!(repo.rev("droidforge/core-droid"), main_tip);
    let wt = repo.path(".droidforge/worktrees/core-droid");
    assert_eq!(
        std::fs::read_to_string(wt.join("src/core/lib.rs")).unwrap(),
        "pub fn core() {}\n"
    );
    let brief = std::fs::read_to_string(wt.join(".droidforge/BRIEF.md")).unwrap();
    assert!(brief.contains("You are core-droid, Core."), "{brief}");
    assert!(brief.contains("YOUR FILES (you own these, modify freely):\n- src/core/**\n- TODO_CORE.md (your TODO file)\n"));
    assert!(brief.contains("`droidforge done`"));
    // Neither the worktree dir nor the brief shows anywhere.
    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    assert_eq!(
        git_in(&wt, &["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    repo.assert_fsck();
    // git itself accepts the worktree: HEAD, index and files agree.
    assert_eq!(git_in(&wt, &["rev-parse", "HEAD"]).trim(), main_tip);
    assert_eq!(git_in(&wt, &["diff", "--stat", "HEAD"]), "");
    // The journal and the store know.
    let events = std::fs::read_to_string(repo.path(".git/droidforge/events.jsonl")).unwrap();
    assert!(events.contains("\"kind\":\"spawned\"") && events.contains("core-droid"));
    let state = std::fs::read_to_string(repo.path(".git/droidforge/state.json")).unwrap();
    assert!(
        state.contains(&format!("\"base\": \"{main_tip}\"")),
        "{state}"
    );
}

#[test]
fn spawn_all_is_parallel_safe_and_respawn_is_a_noop() {
    let repo = two_droid_repo();
    let out = repo.df_ok(&["spawn", "--all", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], 1);
    let statuses: Vec<&str> = v["droids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["created", "created"]);
    assert_eq!(linked_worktrees(&repo).len(), 2);
    let exclude = repo.read(".git/info/exclude");

    // A commit in the droid worktree must survive a re-spawn untouched.
    let wt = repo.path(".droidforge/worktrees/core-droid");
    let head = commit_in(&wt, "work", &[("src/core/a.rs", "a\n")]);
    let out = repo.df(&["spawn", "--all"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out),
        "   Unchanged core-droid already exists at .droidforge/worktrees/core-droid (branch droidforge/core-droid); nothing to do\n   Unchanged infra-droid already exists at .droidforge/worktrees/infra-droid (branch droidforge/infra-droid); nothing to do\n"
    );
    assert_eq!(repo.rev("droidforge/core-droid"), head);
    assert_eq!(
        repo.read(".git/info/exclude"),
        exclude,
        "exclude appended twice"
    );
    assert_eq!(
        exclude
            .lines()
            .filter(|l| *l == "/.droidforge/worktrees/" || *l == "/.droidforge/BRIEF.md")
            .count(),
        2
    );
    let v: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["spawn", "core-droid", "--json"])).unwrap();
    assert_eq!(v["droids"][0]["status"], "exists");
    assert_eq!(v["droids"][0]["brief_written"], false);
    repo.assert_fsck();
}

#[test]
fn respawn_rewrites_a_changed_brief() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    let brief = repo.path(".droidforge/worktrees/core-droid/.droidforge/BRIEF.md");
    std::fs::write(&brief, "stale").unwrap();
    let out = repo.df(&["spawn", "core-droid"]);
    assert!(
        stderr(&out).contains("nothing to do; brief updated"),
        "{}",
        stderr(&out)
    );
    assert!(
        std::fs::read_to_string(&brief)
            .unwrap()
            .starts_with("# Brief: core-droid")
    );
}

#[test]
fn spawn_phase_selects_droids() {
    let repo = TestRepo::new();
    repo.manifest(
        r#"[[phase]]
id = 1
[[phase]]
id = 2
[[droid]]
name = "a"
phases = [1]
owns = ["a/**"]
[[droid]]
name = "b"
phases = [2]
owns = ["b/**"]
"#,
    );
    repo.commit("forge", &[]);
    repo.df_ok(&["spawn", "--phase", "2"]);
    let wts = linked_worktrees(&repo);
    assert_eq!(wts.len(), 1);
    assert_eq!(wts[0].1, "droidforge/b");
    let out = repo.df(&["spawn", "--phase", "7"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("error: no phase 7 in .droidforge/forge.toml"));
}

#[test]
fn spawn_from_rev_and_existing_branch() {
    let repo = two_droid_repo();
    let first = repo.rev("HEAD");
    repo.commit("second", &[("src/core/lib.rs", "pub fn core2() {}\n")]);
    repo.df_ok(&["spawn", "core-droid", "--from", "HEAD~1"]);
    assert_eq!(repo.rev("droidforge/core-droid"), first);
    // An existing branch (no worktree) is checked out where it is, not moved.
    repo.git(&["branch", "droidforge/infra-droid", &first]);
    let out = repo.df(&["spawn", "infra-droid", "--from", "main"]);
    assert_eq!(
        stderr(&out),
        format!(
            "     Spawned infra-droid at .droidforge/worktrees/infra-droid (branch droidforge/infra-droid, existing branch)\nwarning: the branch already existed at {}, so `--from` was not applied\n     Guarded infra-droid: pre-commit hook runs `droidforge guard --staged`\n",
            &first[..7]
        )
    );
    assert_eq!(repo.rev("droidforge/infra-droid"), first);
    let out = repo.df(&["spawn", "core-droid", "--from", "no-such-rev"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("error: cannot resolve revision `no-such-rev`"));
}

#[test]
fn foreign_directory_is_never_clobbered() {
    let repo = two_droid_repo();
    repo.write(&[(".droidforge/worktrees/core-droid/precious.txt", "mine\n")]);
    let out = repo.df(&["spawn", "--all"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: cannot spawn `core-droid`: `")
            && err.contains(".droidforge/worktrees/core-droid` already exists and is not the worktree of branch `droidforge/core-droid`; not touching it"),
        "{err}"
    );
    assert!(err.contains("hint: move it away or delete it, then run the spawn again"));
    // The other droid was still spawned; the foreign dir is intact; no branch was left behind.
    assert!(err.contains("Spawned infra-droid"));
    assert_eq!(
        repo.read(".droidforge/worktrees/core-droid/precious.txt"),
        "mine\n"
    );
    assert!(!repo.path(".droidforge/worktrees/core-droid/.git").exists());
    assert_eq!(repo.git(&["branch", "--list", "droidforge/core-droid"]), "");
}

#[test]
fn an_empty_foreign_directory_is_refused_too() {
    let repo = two_droid_repo();
    std::fs::create_dir_all(repo.path(".droidforge/worktrees/core-droid")).unwrap();
    let out = repo.df(&["spawn", "core-droid"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists and is not the worktree"));
}

#[test]
fn branch_checked_out_elsewhere_is_an_error() {
    let repo = two_droid_repo();
    let other = repo.root.parent().unwrap().join("elsewhere");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "droidforge/core-droid",
        other.to_str().unwrap(),
    ]);
    let out = repo.df(&["spawn", "core-droid"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: cannot spawn `core-droid`: branch `droidforge/core-droid` is already checked out in the worktree `"),
        "{err}"
    );
    assert!(!repo.path(".droidforge/worktrees/core-droid").exists());
    // And a worktree registered at the droid's path with another branch is not ours either.
    let path = repo.path(".droidforge/worktrees/infra-droid");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "topic",
        path.to_str().unwrap(),
    ]);
    let out = repo.df(&["spawn", "infra-droid"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is a worktree with branch `topic` checked out, not `droidforge/infra-droid`; not touching it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.rev("topic"), repo.rev("main"));
}

#[test]
fn integration_branch_without_commits_is_an_error() {
    let repo = TestRepo::new();
    repo.manifest(TWO_DROIDS);
    let out = repo.df(&["spawn", "--all"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: the integration branch `main` has no commits yet\nhint: commit the forge files first: `git add -A && git commit -m \"Set up droidforge\"`\n"
    );
    assert_eq!(linked_worktrees(&repo).len(), 0);
}

#[test]
fn spawn_from_inside_a_droid_worktree() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    let wt = repo.path(".droidforge/worktrees/core-droid/src/core");
    let out = df_in(&wt, &["spawn", "infra-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "     Spawned infra-droid at .droidforge/worktrees/infra-droid (branch droidforge/infra-droid)\n     Guarded infra-droid: pre-commit hook runs `droidforge guard --staged`\n"
    );
    // Created next to the others under the MAIN worktree, not nested in the droid's.
    let wts = linked_worktrees(&repo);
    assert_eq!(wts.len(), 2);
    assert_eq!(
        wts[1].0,
        canonical(&repo, ".droidforge/worktrees/infra-droid")
    );
    repo.assert_fsck();
}

#[test]
fn repo_path_with_spaces_and_non_ascii() {
    let repo = TestRepo::with_dir_name("my repo ü");
    repo.manifest(TWO_DROIDS);
    repo.commit("forge", &[("src/core/lib.rs", "x\n")]);
    repo.df_ok(&["spawn", "--all"]);
    let wts = linked_worktrees(&repo);
    assert_eq!(
        wts,
        vec![
            (
                canonical(&repo, ".droidforge/worktrees/core-droid"),
                "droidforge/core-droid".to_owned()
            ),
            (
                canonical(&repo, ".droidforge/worktrees/infra-droid"),
                "droidforge/infra-droid".to_owned()
            ),
        ]
    );
    assert!(wts[0].0.contains("my repo ü"));
    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    let status = repo.df_ok(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["droids"][0]["worktree_state"], "present");
    repo.assert_fsck();
}

#[test]
fn run_flag_cannot_take_from() {
    // `spawn --run` itself is tested with `run` (tests/cli/run.rs).
    let repo = two_droid_repo();
    let out = repo.df(&["spawn", "core-droid", "--run", "--from", "HEAD"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("hint: spawn with `--from` first, then run `droidforge run`"),
        "{}",
        stderr(&out)
    );
    assert!(!repo.path(".droidforge/worktrees/core-droid").exists());
}

#[test]
fn unknown_droid_suggests_a_similar_name() {
    let repo = two_droid_repo();
    let out = repo.df(&["spawn", "core-droit"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: no droid named `core-droit` in .droidforge/forge.toml\nhint: a droid with a similar name exists: `core-droid`\n"
    );
}

#[test]
fn spawn_proceeds_when_the_integration_branch_has_no_manifest() {
    // The manifest exists only in the working tree; the integration branch has other commits.
    let repo = TestRepo::new();
    repo.commit("initial", &[("src/core/lib.rs", "pub fn core() {}\n")]);
    repo.manifest(TWO_DROIDS);
    let out = repo.df(&["spawn", "--all"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the integration branch `main` has no `.droidforge/forge.toml`")
            && err.contains("commit .droidforge/forge.toml on main first"),
        "{err}"
    );
    assert_eq!(linked_worktrees(&repo).len(), 0);
    assert!(repo.git(&["branch", "--list", "droidforge/*"]).is_empty());
    // `merge` refuses the same situation with the same exit code.
    let merge = repo.df(&["merge", "--all"]);
    assert_eq!(merge.status.code(), Some(2), "{}", stderr(&merge));
}

/// The times of the reflog entries a spawn writes carry the local UTC offset, exactly as git's
/// own: the branch's (droidforge writes it) and the new worktree HEAD's (gix writes it), now that
/// the time zone is loaded on a background thread while the command starts. The oracle is git:
/// `git var GIT_COMMITTER_IDENT` under the same `TZ` (a POSIX rule, a zone name with daylight
/// saving time, UTC), and now that droidforge reads the zone's file itself instead of asking
/// jiff: `TZ` unset (`/etc/localtime`), a `:`-prefixed path, a POSIX rule with daylight saving
/// time, and a `TZ` naming no zone (UTC for git and for the fallback).
#[test]
fn spawn_reflog_times_carry_the_local_utc_offset() {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let kolkata = ":/usr/share/zoneinfo/Asia/Kolkata";
    for tz in [
        Some("IST-5:30"),
        Some("<-03>3"),
        Some("America/New_York"),
        Some("UTC0"),
        None,
        Some(kolkata).filter(|tz| std::path::Path::new(&tz[1..]).exists()),
        Some("EST5EDT,M3.2.0,M11.1.0"),
        Some("AEST-10AEDT,M10.1.0,M4.1.0/3"),
        Some("Not/A_Zone"),
    ] {
        let repo = two_droid_repo();
        let local = |cmd: &mut std::process::Command| {
            hermetic(cmd);
            cmd.current_dir(&repo.root).env_remove("GIT_COMMITTER_DATE");
            match tz {
                Some(tz) => cmd.env("TZ", tz),
                None => cmd.env_remove("TZ"),
            };
        };
        let tz = tz.unwrap_or("(unset)");
        let mut git = std::process::Command::new("git");
        local(&mut git);
        let ident = git.args(["var", "GIT_COMMITTER_IDENT"]).output().unwrap();
        let ident = String::from_utf8_lossy(&ident.stdout);
        let offset = ident.split_whitespace().last().unwrap().to_owned();
        let before = now();
        let mut df = std::process::Command::new(droidforge_bin());
        local(&mut df);
        let out = df.args(["spawn", "core-droid"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let after = now();
        let wt = repo.path(".droidforge/worktrees/core-droid");
        for (dir, rev) in [(&repo.root, "droidforge/core-droid"), (&wt, "HEAD")] {
            let log = git_in(dir, &["reflog", "show", "--date=raw", "-1", rev]);
            // `<id> <rev>@{<seconds> <offset>}: <message>`
            let date = log
                .split_once("@{")
                .and_then(|(_, rest)| rest.split_once('}'))
                .map(|(date, _)| date.to_owned())
                .unwrap_or_else(|| panic!("no raw date in {log:?}"));
            let (secs, off) = date.split_once(' ').unwrap();
            assert_eq!(
                off, offset,
                "TZ={tz}: {rev}'s reflog {log:?}, git says {ident:?}"
            );
            let secs: u64 = secs.parse().unwrap();
            assert!(before <= secs && secs <= after, "TZ={tz}: {log:?}");
        }
        repo.assert_fsck();
    }
}
