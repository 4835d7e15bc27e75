//! The event journal rotated into segments (issue 15): concurrent appenders from several real
//! processes lose and duplicate nothing, readers (`events`, `events -n`, `events --follow`,
//! `status`) read across segments, retention drops only the oldest segments, and hostile
//! segment files give a clear error or are skipped as documented.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};

use crate::common::*;

const SEGMENT_ENV: &str = "DROIDFORGE_EVENTS_SEGMENT_BYTES";
const KEEP_ENV: &str = "DROIDFORGE_EVENTS_KEEP_SEGMENTS";

fn df_cmd(root: &std::path::Path, segment: &str, keep: &str) -> Command {
    let mut cmd = Command::new(droidforge_bin());
    hermetic(&mut cmd);
    cmd.current_dir(root)
        .env(SEGMENT_ENV, segment)
        .env(KEEP_ENV, keep);
    cmd
}

fn forge(droids: usize) -> TestRepo {
    let repo = TestRepo::new();
    let mut toml = String::from("[[phase]]\nid = 1\n");
    for i in 0..droids {
        toml.push_str(&format!(
            "[[droid]]\nname = \"d{i}\"\nphases = [1]\nowns = [\"d{i}/**\"]\n"
        ));
    }
    repo.manifest(&toml);
    repo
}

/// `internal-stress` appends one `output` event "stress op N" per operation.
fn stress(root: &std::path::Path, droid: &str, ops: usize, segment: &str, keep: &str) -> Command {
    let mut cmd = df_cmd(root, segment, keep);
    cmd.args([
        "internal-stress",
        "--droid",
        droid,
        "--ops",
        &ops.to_string(),
    ])
    .args(["--glob", &format!("{droid}/**")])
    .arg("--log")
    .arg(root.join(format!(".git/stress-{droid}.jsonl")));
    cmd
}

fn stress_ops(events: &[serde_json::Value]) -> BTreeMap<String, Vec<usize>> {
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for e in events {
        if let Some(n) = e["message"]
            .as_str()
            .and_then(|m| m.strip_prefix("stress op "))
        {
            out.entry(e["droid"].as_str().unwrap().to_owned())
                .or_default()
                .push(n.parse().unwrap());
        }
    }
    out
}

fn events_json(root: &std::path::Path, args: &[&str]) -> Vec<serde_json::Value> {
    let out = df_cmd(root, "1000000", "0")
        .args(["events", "--json", "--all"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["events"].as_array().unwrap().clone()
}

fn segments(root: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join(".git/droidforge"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("events.") && n != "events.jsonl")
        .collect();
    names.sort();
    names
}

#[test]
fn journal_rotation_under_concurrent_appenders_keeps_every_event_exactly_once() {
    const PROCS: usize = 6;
    const OPS: usize = 40;
    let repo = forge(PROCS);
    // A segment holds about ten events: dozens of rotations while six processes append.
    let segment = "1500";
    let mut follower = KillOnDrop(
        df_cmd(&repo.root, segment, "0")
            .args(["events", "--follow", "--json", "--all"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let lines = std::io::BufReader::new(follower.0.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let children: Vec<_> = (0..PROCS)
        .map(|i| {
            stress(&repo.root, &format!("d{i}"), OPS, segment, "0")
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "an appender failed: {}", stderr(&out));
    }
    assert!(
        segments(&repo.root).len() >= 10,
        "{:?}",
        segments(&repo.root)
    );

    // Every event once, in each appender's order, across all segments.
    let all = events_json(&repo.root, &[]);
    let expected: BTreeMap<String, Vec<usize>> = (0..PROCS)
        .map(|i| (format!("d{i}"), (0..OPS).collect()))
        .collect();
    assert_eq!(stress_ops(&all), expected);
    // The raw segment files agree: every line parses, and none is repeated.
    let dir = repo.root.join(".git/droidforge");
    let mut raw = Vec::new();
    for name in segments(&repo.root)
        .iter()
        .chain(["events.jsonl".to_owned()].iter())
    {
        for line in std::fs::read_to_string(dir.join(name)).unwrap().lines() {
            raw.push(serde_json::from_str::<serde_json::Value>(line).unwrap());
        }
    }
    assert_eq!(stress_ops(&raw), expected);

    // `-n` reads backward across segments: the same last events as the whole journal's tail.
    assert_eq!(
        events_json(&repo.root, &["-n", "25"]),
        all[all.len() - 25..]
    );

    // The follower went through every rotation without missing or repeating an event.
    let mut followed = Vec::new();
    while stress_ops(&followed).values().map(Vec::len).sum::<usize>() < PROCS * OPS {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the follower printed every appended event");
        followed.push(serde_json::from_str::<serde_json::Value>(&line).unwrap());
    }
    drop(follower);
    assert_eq!(stress_ops(&followed), expected);
}

/// The follower process ends with the test, also when an assertion fails first.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn journal_retention_drops_only_the_oldest_segments() {
    let repo = forge(1);
    let out = stress(&repo.root, "d0", 60, "600", "2").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(segments(&repo.root).len(), 2, "{:?}", segments(&repo.root));
    // What is left is the newest events, without a gap.
    let ops = stress_ops(&events_json(&repo.root, &[]))
        .remove("d0")
        .unwrap();
    assert_eq!(ops.last(), Some(&59));
    assert!(ops.len() >= 3, "{ops:?}");
    assert!(ops.windows(2).all(|w| w[1] == w[0] + 1), "{ops:?}");
}

#[test]
fn garbled_journal_segments_are_skipped_line_by_line_and_foreign_files_named() {
    let repo = forge(1);
    repo.df_ok(&["events"]);
    let dir = repo.path(".git/droidforge");
    std::fs::create_dir_all(&dir).unwrap();
    let line = |at: i64, msg: &str| {
        format!(
            "{{\"at_ms\":{at},\"kind\":\"output\",\"droid\":\"d0\",\"message\":\"{msg}\",\"pid\":1}}\n"
        )
    };
    let huge = "x".repeat(3 << 20);
    std::fs::write(
        dir.join("events.000001.jsonl"),
        [
            line(1, "one"),
            "not json\n".to_owned(),
            format!("{{\"at_ms\":2,\"message\":\"{huge}\"}}\n"),
            "\u{0}\u{1}\u{2}\n".to_owned(),
            line(3, "two"),
            "{\"at_ms\":4,\"kind\":\"out".to_owned(),
        ]
        .concat(),
    )
    .unwrap();
    std::fs::write(dir.join("events.000002.jsonl"), line(5, "three")).unwrap();
    // Not segments: other names next to the journal.
    std::fs::write(dir.join("events.old.jsonl"), line(6, "not-a-segment")).unwrap();
    std::fs::write(
        dir.join("events.jsonl"),
        [line(7, "four"), huge.clone()].concat(),
    )
    .unwrap();
    let messages = |args: &[&str]| -> Vec<String> {
        events_json(&repo.root, args)
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(messages(&[]), ["one", "two", "three", "four"]);
    assert_eq!(messages(&["-n", "3"]), ["two", "three", "four"]);
    assert_eq!(messages(&["--limit", "2"]), ["one", "two"]);

    // A FIFO in a segment's place: `events` names it (and does not block on it); `status`
    // still works.
    let fifo = dir.join("events.000003.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = repo.df(&["events"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("events.000003.jsonl") && stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    repo.df_ok(&["status", "--json"]);
}
