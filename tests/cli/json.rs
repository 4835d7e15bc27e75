//! The machine-output convention of docs/json.md, pinned on a real repository: every `--json`
//! document is an object whose first field is `version`, with RFC 3339 UTC timestamps and
//! explicit nulls; the shapes are insta snapshots (hashes, paths, times and pids redacted).

use serde_json::Value;

use crate::common::*;
use crate::merge_support::{droid_commit, droid_entry, droid_git, merge_json};

/// Replace what differs between runs: object ids, temp paths, timestamps, pids, durations.
fn redact(value: &Value, repo: &TestRepo) -> Value {
    let root = repo.root.to_string_lossy().into_owned();
    let tmp = repo.root.parent().unwrap().to_string_lossy().into_owned();
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        (_, Value::Number(_))
                            if k.ends_with("_ms") || k == "pid" || k == "seq" || k == "pgid" =>
                        {
                            Value::from("<n>")
                        }
                        // Free text carries short hashes, pids and elapsed times.
                        ("message", Value::String(_)) => Value::from("<text>"),
                        ("merge_id", Value::String(_)) => Value::from("<merge-id>"),
                        ("backup_ref", Value::String(_)) => Value::from("<backup-ref>"),
                        _ => redact(v, repo),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, repo)).collect()),
        Value::String(s) => {
            let mut s = s.replace(&root, "<repo>").replace(&tmp, "<tmp>");
            if is_rfc3339(&s) {
                s = "<time>".into();
            }
            if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                s = "<oid>".into();
            }
            Value::from(s)
        }
        other => other.clone(),
    }
}

fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
}

/// The convention itself, on any document: `version` first, times as RFC 3339, no epoch fields.
fn assert_convention(what: &str, doc: &Value) {
    let map = doc
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {doc}"));
    assert_eq!(
        map.keys().next().map(String::as_str),
        Some("version"),
        "{what}: `version` is not the first field: {doc}"
    );
    assert!(map["version"].is_u64(), "{what}: {doc}");
    fn walk(what: &str, v: &Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    assert!(
                        !(k == "at_ms" || k.ends_with("_at_ms")),
                        "{what}: epoch-millisecond field `{k}`"
                    );
                    if k == "at" || k.ends_with("_at") {
                        assert!(
                            v.is_null() || v.as_str().is_some_and(is_rfc3339),
                            "{what}: `{k}` is not an RFC 3339 time: {v}"
                        );
                    }
                    walk(what, v);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(what, v)),
            _ => {}
        }
    }
    walk(what, doc);
}

fn json_of(repo: &TestRepo, dir: &std::path::Path, args: &[&str]) -> Value {
    let out = df_in(dir, args);
    let text = stdout(&out);
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}\n{}", stderr(&out)));
    assert_convention(&format!("{args:?}"), &doc);
    redact(&doc, repo)
}

#[test]
fn check_json_and_plan_json_are_rejected() {
    let repo = two_droid_repo();
    for cmd in ["check", "plan"] {
        let json = repo.df(&[cmd, "--json"]);
        let format = repo.df(&[cmd, "--format", "json"]);
        assert_eq!(
            json.status.code(),
            format.status.code(),
            "{}",
            stderr(&json)
        );
        assert_eq!(stdout(&json), stdout(&format), "{cmd} --json");
        let doc: Value = serde_json::from_str(&stdout(&json)).unwrap();
        assert_convention(cmd, &doc);
    }
}

#[test]
fn json_shapes_differ_between_commands() {
    let repo = two_droid_repo();
    let root = repo.root.clone();
    let plan = json_of(&repo, &root, &["plan", "--json"]);
    insta::assert_json_snapshot!("plan", plan);
    let spawn = json_of(&repo, &root, &["spawn", "--json", "core-droid"]);
    insta::assert_json_snapshot!("spawn", spawn);
    droid_commit(
        &repo,
        "core-droid",
        "core: work",
        &[("src/core/lib.rs", "pub fn c() {}\n")],
    );
    let wt = repo
        .root
        .join(droid_git(&repo, "core-droid", &["rev-parse", "--show-toplevel"]).trim());
    let run = json_of(
        &repo,
        &root,
        &["run", "--json", "core-droid", "--cmd", "true"],
    );
    insta::assert_json_snapshot!("run", run);
    let done = json_of(&repo, &wt, &["done", "--json"]);
    insta::assert_json_snapshot!("done", done);
    let lock = json_of(&repo, &wt, &["lock", "--json", "INTERFACES.md"]);
    insta::assert_json_snapshot!("lock", lock);
    let locks = json_of(&repo, &root, &["locks", "--json"]);
    insta::assert_json_snapshot!("locks", locks);
    let unlock = json_of(&repo, &wt, &["unlock", "--json", "--all"]);
    insta::assert_json_snapshot!("unlock", unlock);
    let guard = json_of(
        &repo,
        &wt,
        &["guard", "--json", "src/core/lib.rs", "src/infra/lib.rs"],
    );
    insta::assert_json_snapshot!("guard", guard);
    let install = json_of(&repo, &root, &["guard", "--install", "--json"]);
    insta::assert_json_snapshot!("guard_install", install);
    let uninstall = json_of(&repo, &root, &["guard", "--uninstall", "--json"]);
    insta::assert_json_snapshot!("guard_uninstall", uninstall);
    let ask = json_of(
        &repo,
        &root,
        &["ask", "--json", "core-droid", "expose c() publicly"],
    );
    insta::assert_json_snapshot!("ask", ask);
    let asks = json_of(&repo, &root, &["ask", "--list", "--json"]);
    insta::assert_json_snapshot!("ask_list", asks);
    let closed = json_of(&repo, &wt, &["ask", "--done", "1", "--json"]);
    insta::assert_json_snapshot!("ask_done", closed);
    let status = json_of(&repo, &root, &["status", "--json"]);
    insta::assert_json_snapshot!("status", status);
    let check = json_of(
        &repo,
        &root,
        &["check", "--json", "--head", "droidforge/core-droid"],
    );
    insta::assert_json_snapshot!("check", check);
    let merge = json_of(&repo, &root, &["merge", "--json", "core-droid"]);
    insta::assert_json_snapshot!("merge", merge);
    let events = json_of(&repo, &root, &["events", "--json"]);
    insta::assert_json_snapshot!("events", events);
    let doctor = json_of(&repo, &root, &["doctor", "--json"]);
    insta::assert_json_snapshot!("doctor", doctor);
    let undo = json_of(&repo, &root, &["undo", "--json"]);
    insta::assert_json_snapshot!("undo", undo);
}

/// Regression: `merge --json` left out `upstream` (per droid) and `notes` when they were empty,
/// while docs/json.md promises explicit values (empty lists are `[]`). A reader had to guess
/// whether a missing field meant "none" or "not supported".
#[test]
fn merge_json_omits_empty_upstream_and_notes() {
    let repo = two_droid_repo();
    droid_commit(
        &repo,
        "core-droid",
        "core: work",
        &[("src/core/lib.rs", "pub fn c() {}\n")],
    );
    repo.df_ok(&["done", "core-droid"]);
    let (out, report) = merge_json(&repo, &["--dry-run", "core-droid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(report["notes"], serde_json::json!([]), "{report:#}");
    let droid = droid_entry(&report, "core-droid");
    assert_eq!(droid["upstream"], serde_json::json!([]), "{report:#}");
    assert_convention("merge", &report);
}
