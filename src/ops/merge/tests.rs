//! Library-level tests of landing and recovery: `run_merge`, `continue_merge` and `abort_merge`
//! called in-process on a real repository in a temp dir, with the `git` CLI as the oracle
//! (`git fsck --strict`, `git rev-parse`, `git log`). The crash points are the unit-test seam
//! [`super::land::crash`]; the binary's crash trials (tests/cli/merge_crash.rs) SIGKILL a real
//! process instead.

use std::path::{Path, PathBuf};

use super::land::crash;
use super::*;
use crate::git::Repo;
use crate::workspace::ManifestSource;

const FORGE: &str = r#"[forge]
integration = "main"

[[phase]]
id = 1
name = "One"

[[droid]]
name = "core"
phases = [1]
owns = ["core/**"]
"#;

fn git(dir: &Path, args: &[&str]) -> String {
    Repo::git_cli(dir, args).unwrap_or_else(|e| panic!("git {args:?}: {}", e.full_message()))
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A repository made with plain git whose `main` holds `manifest` and a README.
fn forge_repo(manifest: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["config", "user.name", "Test"]);
    git(&root, &["config", "user.email", "test@example.com"]);
    git(&root, &["config", "commit.gpgsign", "false"]);
    write(&root, ".droidforge/forge.toml", manifest);
    write(&root, "README.md", "hello\n");
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "Set up forge"]);
    (tmp, root)
}

/// A repository whose `main` holds the manifest, and a droid `core` with one commit marked
/// ready (`refs/droidforge/ready/core`), made with plain git.
fn forge_with_ready_droid() -> (tempfile::TempDir, PathBuf, String) {
    let (tmp, root) = forge_repo(FORGE);
    git(&root, &["switch", "-q", "-c", "droidforge/core"]);
    write(&root, "core/lib.rs", "pub fn core() {}\n");
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "core: work"]);
    let ready = git(&root, &["rev-parse", "HEAD"]).trim().to_owned();
    git(&root, &["update-ref", "refs/droidforge/ready/core", &ready]);
    git(&root, &["switch", "-q", "main"]);
    (tmp, root, ready)
}

fn workspace(root: &Path) -> Workspace {
    Workspace::load(root, ManifestSource::Integration, false).unwrap()
}

fn tip(root: &Path) -> String {
    git(root, &["rev-parse", "main"]).trim().to_owned()
}

fn merge_core(ws: &Workspace, events: &std::cell::RefCell<Vec<String>>) -> Result<MergeReport> {
    let opts = MergeOptions {
        droids: vec!["core".to_owned()],
        ..MergeOptions::default()
    };
    run_merge(ws, &opts, &|e| events.borrow_mut().push(format!("{e:?}")))
}

fn journal_exists(ws: &Workspace) -> bool {
    ws.state.merge_journal_path().exists()
}

#[test]
fn a_merge_lands_through_the_library_and_git_agrees() {
    let (_tmp, root, ready) = forge_with_ready_droid();
    let t0 = tip(&root);
    let ws = workspace(&root);
    let events = std::cell::RefCell::new(Vec::new());
    let report = merge_core(&ws, &events).unwrap();

    assert!(report.landed);
    assert_eq!(report.old_tip.to_string(), t0);
    assert_eq!(
        report.new_tip.to_string(),
        tip(&root),
        "the report names the new tip"
    );
    let core = report.droid("core").unwrap();
    assert_eq!(core.status, DroidStatus::Merged);
    assert_eq!(core.ready.map(|r| r.to_string()), Some(ready));
    // git: the droid's change and the PROGRESS.md record are on main, in that order.
    assert_eq!(
        git(&root, &["show", "main:core/lib.rs"]),
        "pub fn core() {}\n"
    );
    let log = git(&root, &["log", "--format=%s", "main"]);
    let subjects: Vec<&str> = log.lines().collect();
    assert_eq!(subjects[1], "core: work", "{log}");
    assert!(subjects[0].starts_with("droidforge: record merge"), "{log}");
    // The backup ref holds T0, the ready mark is cleared, the journal is gone.
    let backup = report.backup_ref.clone().unwrap();
    assert_eq!(git(&root, &["rev-parse", &backup]).trim(), t0);
    assert!(
        git(&root, &["for-each-ref", "refs/droidforge/ready/"]).is_empty(),
        "the ready mark is cleared"
    );
    assert!(!journal_exists(&ws));
    git(&root, &["fsck", "--strict", "--no-dangling"]);
    // The events tell the story in order: the plan, the droid, the landing.
    let events = events.into_inner();
    assert!(events[0].starts_with("Order"), "{events:?}");
    assert!(events.iter().any(|e| e.contains("Landed")), "{events:?}");
    assert!(events.last().unwrap().starts_with("Landing"), "{events:?}");
}

/// The landing moves the report into its journal and back instead of copying it, and writes
/// the per-merge record with the follow-up notes added for the write only: the record is the
/// report with those notes, and each note is in the returned report once.
#[test]
fn the_merge_record_is_the_report_with_its_follow_up_notes_once() {
    let (_tmp, root, ready) = forge_with_ready_droid();
    // An untracked file where the merge writes one: the main checkout is left alone, with a
    // note saying so.
    write(&root, "core/lib.rs", "mine\n");
    let ws = workspace(&root);
    let events = std::cell::RefCell::new(Vec::new());
    let report = merge_core(&ws, &events).unwrap();
    assert!(report.landed);
    let record: MergeReport = serde_json::from_slice(
        &std::fs::read(ws.state.merge_report_path(&report.merge_id)).unwrap(),
    )
    .unwrap();
    let follow_up: Vec<&String> = record
        .notes
        .iter()
        .filter(|n| n.contains("core/lib.rs"))
        .collect();
    assert_eq!(follow_up.len(), 1, "{:?}", record.notes);
    assert_eq!(
        report.notes.iter().filter(|n| *n == follow_up[0]).count(),
        1,
        "{:?}",
        report.notes
    );
    assert_eq!(record.notes[..], report.notes[..record.notes.len()]);
    let mut without_later_notes = report.clone();
    without_later_notes.notes.truncate(record.notes.len());
    assert_eq!(record, without_later_notes);
    let core = record.droid("core").unwrap();
    assert_eq!(core.ready.map(|r| r.to_string()), Some(ready));
    assert_eq!(core.commits.len(), 1);
    assert_eq!(core.commits[0].summary, "core: work");
}

#[test]
fn a_merge_that_died_before_the_ref_update_is_continued() {
    let (_tmp, root, _) = forge_with_ready_droid();
    let t0 = tip(&root);
    let ws = workspace(&root);
    let events = std::cell::RefCell::new(Vec::new());
    crash::AT.with(|c| c.set(Some(crash::At::BeforeRefs)));
    let died = merge_core(&ws, &events);
    crash::AT.with(|c| c.set(None));
    assert!(died.is_err());
    assert_eq!(tip(&root), t0, "nothing moved before the ref update");
    assert!(journal_exists(&ws));

    // A new merge refuses while the journal is there, with the typed cause.
    let refused = merge_core(&ws, &events).unwrap_err();
    assert!(
        matches!(
            refused.find::<MergeError>(),
            Some(MergeError::Interrupted { .. })
        ),
        "{refused:?}"
    );

    let report = continue_merge(&ws, &|_| {}).unwrap();
    assert!(report.landed);
    assert_eq!(tip(&root), report.new_tip.to_string());
    assert_eq!(
        git(&root, &["show", "main:core/lib.rs"]),
        "pub fn core() {}\n"
    );
    assert!(!journal_exists(&ws));
    git(&root, &["fsck", "--strict", "--no-dangling"]);

    // Nothing is left to resolve.
    let again = continue_merge(&ws, &|_| {}).unwrap_err();
    assert!(
        matches!(
            again.find::<MergeError>(),
            Some(MergeError::NothingToResolve)
        ),
        "{again:?}"
    );
}

#[test]
fn a_merge_that_died_after_the_ref_update_is_aborted_back_to_its_old_tip() {
    let (_tmp, root, ready) = forge_with_ready_droid();
    let t0 = tip(&root);
    let ws = workspace(&root);
    let events = std::cell::RefCell::new(Vec::new());
    crash::AT.with(|c| c.set(Some(crash::At::AfterRefs)));
    let died = merge_core(&ws, &events);
    crash::AT.with(|c| c.set(None));
    assert!(died.is_err());
    assert_ne!(
        tip(&root),
        t0,
        "the integration branch moved before the crash"
    );
    assert!(journal_exists(&ws));

    let aborted = abort_merge(&ws).unwrap();
    assert!(aborted.restored);
    assert_eq!(tip(&root), t0, "main is back at T0");
    assert_eq!(
        git(&root, &["rev-parse", "refs/droidforge/ready/core"]).trim(),
        ready,
        "the droid is ready again"
    );
    assert!(!journal_exists(&ws));
    git(&root, &["fsck", "--strict"]);
}

#[test]
fn a_lost_compare_and_swap_names_what_the_branch_moved_to() {
    let (_tmp, root, _) = forge_with_ready_droid();
    let ws = workspace(&root);
    // Someone commits on main between the merge's plan and its ref update: the merge is
    // computed against T0, so landing must lose the compare-and-swap.
    let t0: Oid = crate::git::parse_oid(&tip(&root)).unwrap();
    write(&root, "README.md", "changed\n");
    git(&root, &["commit", "-q", "-am", "someone else"]);
    let moved_to = crate::git::parse_oid(&tip(&root)).unwrap();
    let mut report = MergeReport {
        version: report::REPORT_VERSION,
        merge_id: "20260101-000000-abcdef".to_owned(),
        integration: "main".to_owned(),
        old_tip: t0,
        new_tip: t0,
        dry_run: false,
        strategy: Strategy::Rebase,
        droids: Vec::new(),
        record_commit: None,
        backup_ref: None,
        landed: false,
        notes: Vec::new(),
    };
    let err = land::land(&ws, &mut report, false, &|_| {}).unwrap_err();
    match err.find::<MergeError>() {
        Some(MergeError::IntegrationMoved {
            expected, found, ..
        }) => {
            assert_eq!(*expected, t0);
            assert_eq!(*found, Some(moved_to));
        }
        other => panic!("expected IntegrationMoved, got {other:?} ({err:?})"),
    }
    assert!(!report.landed);
    assert_eq!(
        tip(&root),
        moved_to.to_string(),
        "main keeps the other commit"
    );
    assert!(!journal_exists(&ws));
    assert!(
        git(&root, &["for-each-ref", "refs/droidforge/backup/"]).is_empty(),
        "no backup ref for a merge that did not land"
    );
}

const TWO_DROIDS: &str = r#"[forge]
integration = "main"

[[phase]]
id = 1
name = "One"

[[droid]]
name = "alpha"
phases = [1]
owns = ["alpha/**"]

[[droid]]
name = "beta"
phases = [1]
owns = ["beta/**"]
"#;

/// Droids `alpha` and `beta` with three commits each, marked ready, on top of a `main` that
/// moved on since they branched; everything packed (`git gc`), so the run reads packs.
fn forge_with_two_packed_droids() -> (tempfile::TempDir, PathBuf) {
    let (tmp, root) = forge_repo(TWO_DROIDS);
    for droid in ["alpha", "beta"] {
        git(
            &root,
            &["switch", "-q", "-c", &format!("droidforge/{droid}"), "main"],
        );
        for n in 1..=3 {
            write(
                &root,
                &format!("{droid}/file{n}.txt"),
                &format!("{droid} {n}\n"),
            );
            git(&root, &["add", "-A"]);
            git(
                &root,
                &["commit", "-q", "-m", &format!("{droid}: step {n}")],
            );
        }
        let ready = git(&root, &["rev-parse", "HEAD"]).trim().to_owned();
        git(
            &root,
            &[
                "update-ref",
                &format!("refs/droidforge/ready/{droid}"),
                &ready,
            ],
        );
    }
    git(&root, &["switch", "-q", "main"]);
    write(&root, "README.md", "hello again\n");
    git(&root, &["commit", "-q", "-am", "main moves on"]);
    git(&root, &["gc", "-q"]);
    (tmp, root)
}

/// Run `f` with the run's object store renewed before every droid.
fn renewing_before_every_droid<T>(f: impl FnOnce() -> T) -> T {
    step::renewal::AFTER.set(Some(0));
    let out = f();
    step::renewal::AFTER.set(None);
    out
}

/// A dry run keeps the commits it makes in memory; the store renewed between droids must not
/// lose them (the second droid is replayed onto the first one's commits) nor write any.
#[test]
fn a_dry_run_across_store_renewals_keeps_its_commits_in_memory_and_writes_none() {
    let (_tmp, root) = forge_with_two_packed_droids();
    let objects = git(&root, &["count-objects", "-v"]);
    let ws = workspace(&root);
    let opts = MergeOptions {
        dry_run: true,
        ..MergeOptions::default()
    };
    let report = renewing_before_every_droid(|| run_merge(&ws, &opts, &|_| {})).unwrap();
    for droid in ["alpha", "beta"] {
        let d = report.droid(droid).unwrap();
        assert_eq!(d.status, DroidStatus::Merged, "{droid}: {:?}", d.reason);
        assert_eq!(d.commits.len(), 3);
    }
    assert_eq!(git(&root, &["count-objects", "-v"]), objects);
    git(&root, &["fsck", "--strict", "--no-dangling"]);
}

/// A merge whose store is renewed between droids lands what a `git replay` loop lands: the
/// same trees and messages, commit by commit.
#[test]
fn a_merge_across_store_renewals_lands_what_git_replay_lands() {
    let (_tmp, root) = forge_with_two_packed_droids();
    let t0 = tip(&root);
    // The oracle: `git replay` of each branch onto the tip so far (it prints the commits it
    // made and moves no ref).
    let mut onto = t0.clone();
    for droid in ["alpha", "beta"] {
        let range = format!("{t0}..droidforge/{droid}");
        let out = git(&root, &["replay", "--onto", &onto, &range]);
        onto = out.split_whitespace().nth(2).unwrap().to_owned();
    }
    let expected = git(&root, &["log", "--format=%T %s", &format!("{t0}..{onto}")]);

    let ws = workspace(&root);
    let report =
        renewing_before_every_droid(|| run_merge(&ws, &MergeOptions::default(), &|_| {})).unwrap();
    assert!(report.landed);
    let landed = report.record_commit.unwrap().to_string() + "~1";
    let got = git(
        &root,
        &["log", "--format=%T %s", &format!("{t0}..{landed}")],
    );
    assert_eq!(got, expected);
    assert_eq!(got.lines().count(), 6);
    git(&root, &["fsck", "--strict", "--no-dangling"]);
}

/// Every object the workspace's handle reads keeps a window of the pack (and of its index)
/// resident until the command ends: the plan peeled each ready mark through it, and the
/// landing peeled them again to clear them, a page range per droid in a large repository.
/// The run reads through its own handle, whose store goes with it; the landing compares ref
/// values without reading the objects they name.
#[test]
fn a_merge_reads_no_packed_object_through_the_workspace_handle() {
    let (_tmp, root, _) = forge_with_ready_droid();
    // Every object in a pack, HEAD off the integration branch (no checkout to bring along).
    git(&root, &["gc", "-q"]);
    git(&root, &["checkout", "-q", "--detach", "main"]);
    let mut ws = workspace(&root);
    ws.repo.renew_object_store().unwrap();
    assert_eq!(crate::git::tests::pack_mappings(&root).0, 0);

    let events = std::cell::RefCell::new(Vec::new());
    let report = merge_core(&ws, &events).unwrap();
    assert!(report.landed);
    assert_eq!(report.droid("core").unwrap().status, DroidStatus::Merged);
    assert_eq!(
        crate::git::tests::pack_mappings(&root).0,
        0,
        "the workspace's handle mapped the pack"
    );
    assert!(
        git(&root, &["for-each-ref", "refs/droidforge/ready/"]).is_empty(),
        "the ready mark is cleared all the same"
    );
    git(&root, &["fsck", "--strict", "--no-dangling"]);
}
