//! `plan`: order, waves, overlaps, formats, `--write`, `--strict`.

use crate::common::*;

const OVERLAP: &str = r#"[forge]
integration = "main"

[[phase]]
id = 1
name = "One"

[[droid]]
name = "a"
phases = [1]
owns = ["src/**"]

[[droid]]
name = "b"
phases = [1]
owns = ["src/api/*.rs"]
after = ["a"]

[[droid]]
name = "c"
phases = [1]
owns = ["docs/**"]
"#;

#[test]
fn plan_shows_order_waves_and_overlaps() {
    let repo = TestRepo::new();
    repo.manifest(OVERLAP);
    let out = repo.df(&["plan"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("  1. a "), "{text}");
    assert!(text.contains("wave 1: a, c"), "{text}");
    assert!(text.contains("wave 2: b"), "{text}");
    assert!(
        text.contains("a (`src/**`) and b (`src/api/*.rs`), e.g. `src/api/"),
        "{text}"
    );
    assert!(stderr(&out).contains("warning: "), "{}", stderr(&out));
}

#[test]
fn plan_strict_turns_overlap_into_error() {
    let repo = TestRepo::new();
    repo.manifest(OVERLAP);
    let out = repo.df(&["plan", "--strict"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "droids `a` (`src/**`) and `b` (`src/api/*.rs`) both own paths such as `src/api/"
        ),
        "{err}"
    );
}

#[test]
fn plan_formats() {
    let repo = TestRepo::new();
    repo.manifest(OVERLAP);
    let mermaid = repo.df_ok(&["plan", "--format", "mermaid"]);
    assert!(mermaid.starts_with("flowchart LR"), "{mermaid}");
    assert!(mermaid.contains("a --> b"), "{mermaid}");
    let dot = repo.df_ok(&["plan", "--format", "dot"]);
    assert!(dot.contains("\"a\" -> \"b\";"), "{dot}");
    let json: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["plan", "--format", "json"])).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["waves"], serde_json::json!([["a", "c"], ["b"]]));
    assert_eq!(json["overlaps"][0]["droids"], serde_json::json!(["a", "b"]));
}

#[test]
fn plan_write_regenerates_file_ownership() {
    let repo = TestRepo::new();
    repo.manifest(TWO_DROIDS);
    repo.df_ok(&["plan", "--write"]);
    let doc = repo.read("FILE_OWNERSHIP.md");
    assert!(doc.contains("| `src/core/**` | core-droid |"), "{doc}");
    assert!(
        doc.contains("`INTERFACES.md` ⚠️ ask before modifying"),
        "{doc}"
    );
    assert!(
        doc.contains("`PROGRESS.md` (written only by droidforge)"),
        "{doc}"
    );
}

#[test]
fn plan_without_manifest_points_to_init() {
    let repo = TestRepo::new();
    let out = repo.df(&["plan"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("hint: run `droidforge init`"),
        "{}",
        stderr(&out)
    );
}
