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

/// A generated manifest: `n` droids owning three disjoint globs each, plus `extra` TOML.
fn big_manifest(n: usize, extra: &str) -> String {
    let mut s = String::from("[[phase]]\nid = 1\n\n");
    for i in 0..n {
        s.push_str(&format!(
            "[[droid]]\nname = \"d{i}\"\nphases = [1]\nowns = [\"src/d{i}/**\", \"tests/d{i}_*.rs\", \"docs/d{i}.md\"]\n\n"
        ));
    }
    s.push_str(extra);
    s
}

/// Scale: `plan --check` on 10,000 droids × 3 globs used to take minutes (all-pairs glob
/// intersection). It must finish (no time asserted) and report exactly the planted overlaps.
#[test]
fn plan_check_scales_to_ten_thousand_droids() {
    let extra = "[[droid]]\nname = \"wide\"\nphases = [1]\nowns = [\"src/d42\"]\n\n\
                 [[droid]]\nname = \"narrow\"\nphases = [1]\nowns = [\"tests/d7_[ab]*.rs\"]\n\n\
                 [[droid]]\nname = \"x1\"\nphases = [1]\nowns = [\"shared/**\"]\n\n\
                 [[droid]]\nname = \"x2\"\nphases = [1]\nowns = [\"shared/**\"]\n\n\
                 [[droid]]\nname = \"x3\"\nphases = [1]\nowns = [\"shared/**\"]\n";
    let repo = TestRepo::new();
    repo.commit("init", &[("README.md", "r\n")]);
    repo.manifest(&big_manifest(10_000, extra));

    let out = repo.df(&["plan", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("own paths such as").count(), 3, "{err}");
    assert!(
        err.contains("droids `d7` (`tests/d7_*.rs`) and `narrow` (`tests/d7_[ab]*.rs`) both own paths such as `tests/d7_a.rs`"),
        "{err}"
    );
    assert!(
        err.contains(
            "droids `d42` (`src/d42/**`) and `wide` (`src/d42`) both own paths such as `src/d42/a`"
        ),
        "{err}"
    );
    assert!(
        err.contains("3 droids own paths such as `shared/a`: `x1` (`shared/**`), `x2` (`shared/**`), `x3` (`shared/**`)"),
        "{err}"
    );
    assert_eq!(stdout(&out), "", "`plan --check` prints nothing on success");

    let strict = repo.df(&["plan", "--check", "--strict"]);
    assert_eq!(strict.status.code(), Some(2), "{}", stderr(&strict));
}

/// 10,000 droids owning the very same glob are one finding, not 50 million pairs.
#[test]
fn plan_groups_ten_thousand_droids_owning_one_glob() {
    let mut toml = String::from("[[phase]]\nid = 1\n\n");
    for i in 0..10_000 {
        toml.push_str(&format!(
            "[[droid]]\nname = \"d{i}\"\nphases = [1]\nowns = [\"src/**\"]\n\n"
        ));
    }
    let repo = TestRepo::new();
    repo.commit("init", &[("README.md", "r\n")]);
    repo.manifest(&toml);
    let json: serde_json::Value =
        serde_json::from_str(&repo.df_ok(&["plan", "--format", "json"])).unwrap();
    let overlaps = json["overlaps"].as_array().unwrap();
    assert_eq!(overlaps.len(), 1);
    assert_eq!(overlaps[0]["droids"].as_array().unwrap().len(), 10_000);
    assert_eq!(overlaps[0]["example"], "src/a");
}

/// Issue 11 item 14: the seed's TypeScript ownership on a Rust repository passed `plan` silently.
#[test]
fn plan_is_silent_about_patterns_that_match_no_file() {
    let repo = TestRepo::new();
    repo.commit(
        "Rust project",
        &[
            ("src/main.rs", "fn main() {}\n"),
            ("Cargo.toml", "[package]\n"),
        ],
    );
    repo.df_ok(&["init", "--from-seed"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "Scaffold"]);
    let out = repo.df(&["plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let manifest = repo.read(MANIFEST);
    let ts = manifest
        .lines()
        .find_map(|l| l.split('"').nth(1).filter(|p| p.ends_with(".ts")))
        .expect("the seed owns TypeScript paths");
    assert!(
        err.contains("warning:") && err.contains(&format!("owns `{ts}`, which matches no file")),
        "{err}"
    );
    assert!(err.contains("droid `core-droid`"), "{err}");
    // A pattern that matches committed files is not reported.
    let repo = two_droid_repo();
    let err = stderr(&repo.df(&["plan"]));
    assert!(!err.contains("matches no file"), "{err}");
}

/// Issue 11 item 5: a task naming a file the droid may not change was rendered as an order.
#[test]
fn plan_is_silent_about_tasks_naming_paths_the_droid_may_not_change() {
    let repo = TestRepo::new();
    let manifest = TWO_DROIDS.replace(
        "todo = \"TODO_CORE.md\"\n",
        "todo = \"TODO_CORE.md\"\ntasks = [\"Update src/infra/lib.rs and src/core/lib.rs.\"]\n",
    );
    repo.manifest(&manifest);
    repo.commit(
        "Set up",
        &[
            ("INTERFACES.md", "x\n"),
            ("src/core/lib.rs", "\n"),
            ("src/infra/lib.rs", "\n"),
        ],
    );
    let err = stderr(&repo.df(&["plan"]));
    assert!(
        err.contains("a task of droid `core-droid` names `src/infra/lib.rs`, which `core-droid` may not change"),
        "{err}"
    );
    assert!(!err.contains("names `src/core/lib.rs`"), "{err}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&repo.df(&["plan", "--json"]))).unwrap();
    assert!(
        json["warnings"].to_string().contains("src/infra/lib.rs"),
        "{json}"
    );
    // The brief marks the task read only instead of ordering a rejected edit.
    repo.df_ok(&["spawn", "core-droid"]);
    let brief = repo.read(".droidforge/worktrees/core-droid/.droidforge/BRIEF.md");
    assert!(
        brief.contains("(read only: `src/infra/lib.rs` is not among the files you may change)"),
        "{brief}"
    );
}

#[test]
fn plan_check_prints_a_status_line_on_success() {
    let repo = two_droid_repo();
    let out = repo.df(&["plan", "--check"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "", "`plan --check` printed on success");
}
