//! `events`: text and JSON output, filters, `--follow`.

use std::io::BufRead;
use std::time::Duration;

use crate::common::*;
use crate::run::Fake;

#[test]
fn events_text_json_filter_and_last() {
    let repo = two_droid_repo();
    let fake = Fake::new();
    fake.set("default", "WRITE='x.txt=x'\n");
    repo.df_ok(&["run", "--all", "--cmd", &fake.cmd()]);

    let text = repo.df_ok(&["events", "--droid", "infra-droid"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty());
    for line in &lines {
        // YYYY-MM-DD HH:MM:SS kind droid message (issue 11: the date was missing)
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(parts[0].len(), 10, "{line}");
        assert_eq!(parts[0].matches('-').count(), 2, "{line}");
        assert_eq!(parts[1].len(), 8, "{line}");
        assert_eq!(parts[1].matches(':').count(), 2, "{line}");
        assert_eq!(parts[3], "infra-droid", "{line}");
    }
    assert!(
        lines[0].split_whitespace().nth(2) == Some("spawned"),
        "{text}"
    );

    let last = repo.df_ok(&["events", "-n", "1", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(json["events"].as_array().unwrap().len(), 1);
    assert_eq!(json["events"][0]["kind"], "ready");

    let all = repo.df_ok(&["events", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&all).unwrap();
    // RFC 3339 UTC with a fixed width sorts as text.
    let at: Vec<&str> = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");

    let out = repo.df(&["events", "--droid", "core-droit"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("core-droid"), "{}", stderr(&out));
}

#[test]
fn events_on_a_fresh_forge_print_nothing() {
    let repo = two_droid_repo();
    assert_eq!(repo.df_ok(&["events"]), "");
    let json: serde_json::Value = serde_json::from_str(&repo.df_ok(&["events", "--json"])).unwrap();
    assert_eq!(json, serde_json::json!({ "version": 1, "events": [] }));
}

#[test]
fn follow_prints_events_as_they_are_appended() {
    let repo = two_droid_repo();
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    let mut follower = cmd
        .current_dir(&repo.root)
        .args(["events", "--follow", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let fake = Fake::new();
    fake.set("default", "WRITE='x.txt=x'\n");
    repo.df_ok(&["run", "core-droid", "--cmd", &fake.cmd()]);
    let mut kinds = Vec::new();
    while !kinds.iter().any(|k| k == "ready") {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the follower printed the run's events");
        let e: serde_json::Value = serde_json::from_str(&line).unwrap();
        kinds.push(e["kind"].as_str().unwrap().to_owned());
    }
    let _ = follower.kill();
    let _ = follower.wait();
    assert_eq!(
        kinds,
        ["spawned", "started", "committed", "exited", "ready"]
    );
}

/// `--since` and `--limit` (issue 15: `events` streams the journal instead of holding it).
#[test]
fn events_since_and_limit_filter_the_journal_stream() {
    let repo = two_droid_repo();
    repo.df_ok(&["spawn", "--all"]);
    let journal = repo.path(".git/droidforge/events.jsonl");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let line = |at_ms: i64, msg: &str| {
        format!(
            "{{\"at_ms\":{at_ms},\"kind\":\"output\",\"droid\":\"core-droid\",\"message\":\"{msg}\",\"pid\":1}}\n"
        )
    };
    // Rewrite the journal: two old events, three recent ones, and a torn last line.
    let mut text = String::new();
    text.push_str(&line(now_ms - 3 * 3_600_000, "old-1"));
    text.push_str(&line(now_ms - 2 * 3_600_000, "old-2"));
    for i in 1..=3 {
        text.push_str(&line(now_ms - 60_000 + i, &format!("new-{i}")));
    }
    text.push_str("{\"at_ms\":1,\"kind\":\"no");
    std::fs::write(&journal, text).unwrap();

    let messages = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["events", "--json"];
        all.extend_from_slice(args);
        let v: serde_json::Value = serde_json::from_str(&repo.df_ok(&all)).unwrap();
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(messages(&[]), ["old-1", "old-2", "new-1", "new-2", "new-3"]);
    assert_eq!(messages(&["--since", "1h"]), ["new-1", "new-2", "new-3"]);
    assert_eq!(messages(&["--limit", "2"]), ["old-1", "old-2"]);
    assert_eq!(
        messages(&["--since", "1h", "--limit", "2"]),
        ["new-1", "new-2"]
    );
    assert_eq!(messages(&["--since", "1h", "-n", "1"]), ["new-3"]);
    let text = repo.df_ok(&["events", "--since", "1h", "--limit", "1"]);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("new-1"), "{text}");
    let out = repo.df(&["events", "--since", "soon"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
