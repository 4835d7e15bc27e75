//! `droidforge ask`: a request reaches the owner's brief, the journal and `status`, and
//! `--done` closes it.

use crate::common::*;

fn brief(repo: &TestRepo, droid: &str) -> String {
    repo.read(&format!(
        ".droidforge/worktrees/{droid}/.droidforge/BRIEF.md"
    ))
}

#[test]
fn ask_from_a_droid_worktree_lands_in_the_owners_brief_status_and_journal() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    let infra = repo.path(".droidforge/worktrees/infra-droid");
    let out = df_in(
        &infra,
        &[
            "ask",
            "core-droid",
            "please export `core()` from src/core/lib.rs",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("request #1, from infra-droid"),
        "{}",
        stderr(&out)
    );

    let text = brief(&repo, "core-droid");
    assert!(
        text.contains("- #1 from infra-droid: please export `core()` from src/core/lib.rs\n"),
        "{text}"
    );
    assert!(!brief(&repo, "infra-droid").contains("OPEN REQUESTS"));

    let status: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["status", "--json"])).unwrap();
    let count = |name: &str| {
        status["droids"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["droid"] == name)
            .unwrap()["open_requests"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((count("core-droid"), count("infra-droid")), (1, 0));
    let table = repo.df_ok(&["status"]);
    assert!(table.lines().next().unwrap().contains("ASKS"), "{table}");

    let events: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["events", "--json"])).unwrap();
    let asked = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "asked")
        .expect("an asked event");
    assert_eq!(asked["droid"], "core-droid");
    assert_eq!(asked["data"]["from"], "infra-droid");

    // The brief is excluded: asking leaves no change git could see.
    assert_eq!(
        git_in(
            &repo.path(".droidforge/worktrees/core-droid"),
            &["status", "--porcelain", "--untracked-files=all"]
        ),
        ""
    );

    // The owner closes it: gone from its brief and from status.
    let core = repo.path(".droidforge/worktrees/core-droid");
    let out = df_in(&core, &["ask", "--done", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!brief(&repo, "core-droid").contains("OPEN REQUESTS"));
    let status: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["status", "--json"])).unwrap();
    assert_eq!(status["droids"][0]["open_requests"], 0);
    let events = repo.df_ok(&["events", "--json"]);
    assert!(events.contains("\"answered\""), "{events}");
    // Closing it twice is a usage error that says what exists.
    let again = df_in(&core, &["ask", "--done", "1"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("no open request #1"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn ask_from_the_main_worktree_is_from_human_and_a_later_spawn_lists_it() {
    let repo = two_droid_repo();
    let out = repo.df(&["ask", "infra-droid", "wire the CI job", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["request"]["from"], "human");
    assert_eq!(v["request"]["to"], "infra-droid");
    assert_eq!(v["brief_updated"], false);
    repo.df_ok(&["spawn", "infra-droid"]);
    assert!(brief(&repo, "infra-droid").contains("- #1 from human: wire the CI job\n"));
    let list = repo.df_ok(&["ask", "--list"]);
    assert!(
        list.contains("#1") && list.contains("wire the CI job"),
        "{list}"
    );
    // Ids are never reused after a close.
    repo.df_ok(&["ask", "--done", "1"]);
    let v: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["ask", "core-droid", "x", "--json"])).unwrap();
    assert_eq!(v["request"]["id"], 2);
}

#[test]
fn ask_refuses_unknown_droids_self_requests_and_empty_messages() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "core-droid"]);
    let core = repo.path(".droidforge/worktrees/core-droid");
    for (dir, args, needle) in [
        (repo.path(""), vec!["ask", "nobody", "hi"], "nobody"),
        (
            core.clone(),
            vec!["ask", "core-droid", "hi"],
            "cannot ask itself",
        ),
        (
            repo.path(""),
            vec!["ask", "core-droid", "   "],
            "no message",
        ),
        (
            repo.path(""),
            vec!["ask", "core-droid", "hi", "--from", "ghost"],
            "ghost",
        ),
    ] {
        let out = df_in(&dir, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    let list: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["ask", "--list", "--json"])).unwrap();
    assert_eq!(list["requests"], serde_json::json!([]));
}
