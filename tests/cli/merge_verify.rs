//! `merge --verify CMD --verify-jobs K`: speculative parallel verification gives the serial
//! merge's result (same droids, order, commits, trees, exit code, report), verifications
//! really overlap, and the reused scratch checkouts show each verification exactly its
//! candidate's tree, whatever the one before left behind.

use crate::common::*;
use crate::merge_support::*;

/// Six droids `d1`..`d6`, each owning `dN/**`; `d5` runs after `d2`; `d2` and `d4` both change
/// the same line of the shared INTERFACES.md, so `d4` conflicts exactly when `d2` lands.
/// A droid in `failing` also commits `dN/FAIL`, which the verification refuses.
fn six_droids(failing: &[&str]) -> TestRepo {
    let droids: Vec<(String, Vec<String>, Vec<&str>)> = (1..=6)
        .map(|i| {
            let after = if i == 5 { vec!["d2"] } else { vec![] };
            (format!("d{i}"), vec![format!("d{i}/**")], after)
        })
        .collect();
    let spec: Vec<(&str, Vec<&str>, &[&str])> = droids
        .iter()
        .map(|(n, o, a)| {
            (
                n.as_str(),
                o.iter().map(String::as_str).collect(),
                a.as_slice(),
            )
        })
        .collect();
    let spec: Vec<(&str, &[&str], &[&str])> = spec
        .iter()
        .map(|(n, o, a)| (*n, o.as_slice(), *a))
        .collect();
    let repo = repo_with(&forge_toml(&spec), &[]);
    for i in 1..=6 {
        let name = format!("d{i}");
        let file = format!("{name}/file.txt");
        let mut files = vec![(file.as_str(), "work\n")];
        let fail = format!("{name}/FAIL");
        if failing.contains(&name.as_str()) {
            files.push((fail.as_str(), "x\n"));
        }
        let shared = format!("# Interfaces\n{name}\n");
        if i == 2 || i == 4 {
            files.push(("INTERFACES.md", shared.as_str()));
        }
        droid_commit(&repo, &name, &format!("{name} work"), &files);
        done(&repo, &name);
    }
    repo
}

/// Fails when any droid's FAIL marker is in the candidate's (cumulative) tree: a candidate
/// verified on a chain that wrongly includes an earlier failing droid fails too.
const CHECK: &str = "! ls */FAIL";

/// The report without what differs between two runs anyway (the merge id, the record commit
/// and the tip it makes, the backup ref named after the merge id, the repository's path).
fn comparable(repo: &TestRepo, mut report: serde_json::Value) -> String {
    for key in ["merge_id", "new_tip", "record_commit", "backup_ref"] {
        report.as_object_mut().unwrap().remove(key);
    }
    serde_json::to_string_pretty(&report)
        .unwrap()
        .replace(&repo.root.display().to_string(), "<repo>")
}

/// The integration history without the PROGRESS.md record commit, as `%H NUL %T` lines, and
/// the final tree without PROGRESS.md (the record names the merge id).
fn history(repo: &TestRepo, landed: bool) -> (String, String) {
    let tip = if landed { "main^" } else { "main" };
    let log = repo.git(&["log", "--format=%H%x00%T", tip]);
    let tree: String = repo
        .git(&["ls-tree", "-r", "main"])
        .lines()
        .filter(|l| !l.ends_with("\tPROGRESS.md"))
        .map(|l| format!("{l}\n"))
        .collect();
    (log, tree)
}

#[test]
fn speculative_verification_lands_what_serial_verification_lands() {
    // (failing droids, expected status of d1..d6 under the serial merge)
    let table: &[(&[&str], [&str; 6])] = &[
        (
            &[],
            ["merged", "merged", "merged", "conflict", "merged", "merged"],
        ),
        (
            &["d1"],
            [
                "verify-failed",
                "merged",
                "merged",
                "conflict",
                "merged",
                "merged",
            ],
        ),
        (
            &["d3"],
            [
                "merged",
                "merged",
                "verify-failed",
                "conflict",
                "merged",
                "merged",
            ],
        ),
        (
            &["d6"],
            [
                "merged",
                "merged",
                "merged",
                "conflict",
                "merged",
                "verify-failed",
            ],
        ),
        // A failing droid that another depends on, and whose eject un-conflicts a later one.
        (
            &["d2"],
            [
                "merged",
                "verify-failed",
                "merged",
                "merged",
                "skipped",
                "merged",
            ],
        ),
        (
            &["d1", "d3", "d6"],
            [
                "verify-failed",
                "merged",
                "verify-failed",
                "conflict",
                "merged",
                "verify-failed",
            ],
        ),
        (
            &["d2", "d3", "d4"],
            [
                "merged",
                "verify-failed",
                "verify-failed",
                "verify-failed",
                "skipped",
                "merged",
            ],
        ),
        (
            &["d1", "d2", "d3", "d4", "d5", "d6"],
            [
                "verify-failed",
                "verify-failed",
                "verify-failed",
                "verify-failed",
                "skipped",
                "verify-failed",
            ],
        ),
    ];
    for (failing, expected) in table {
        let serial = six_droids(failing);
        let parallel = six_droids(failing);
        assert_eq!(serial.rev("main"), parallel.rev("main"), "twins differ");
        let worktrees = serial.git(&["worktree", "list"]).lines().count();

        // Dry runs first: the candidates exist only in memory.
        let dry = |repo: &TestRepo, jobs: &str| {
            merge_json(
                repo,
                &[
                    "--phase",
                    "1",
                    "--dry-run",
                    "--verify",
                    CHECK,
                    "--verify-jobs",
                    jobs,
                ],
            )
        };
        let (dry_out_1, dry_1) = dry(&serial, "1");
        let (dry_out_3, dry_3) = dry(&parallel, "3");
        assert_eq!(
            dry_out_1.status.code(),
            dry_out_3.status.code(),
            "{failing:?}"
        );
        assert_eq!(
            comparable(&serial, dry_1),
            comparable(&parallel, dry_3),
            "dry run, failing {failing:?}"
        );

        let run = |repo: &TestRepo, jobs: &str| {
            merge_json(
                repo,
                &["--phase", "1", "--verify", CHECK, "--verify-jobs", jobs],
            )
        };
        let (out_1, report_1) = run(&serial, "1");
        let (out_3, report_3) = run(&parallel, "3");
        let statuses: Vec<String> = (1..=6)
            .map(|i| status_of(&report_1, &format!("d{i}")))
            .collect();
        assert_eq!(statuses, expected.to_vec(), "serial, failing {failing:?}");
        assert_eq!(
            out_1.status.code(),
            out_3.status.code(),
            "exit code, failing {failing:?}"
        );
        // A conflict (3) wins over a failed verification (5).
        let expected_code = if expected.contains(&"conflict") {
            3
        } else if expected.contains(&"verify-failed") {
            5
        } else {
            0
        };
        assert_eq!(
            out_1.status.code(),
            Some(expected_code),
            "{}",
            stderr(&out_1)
        );
        let landed = report_1["landed"].as_bool().unwrap();
        assert_eq!(
            comparable(&serial, report_1),
            comparable(&parallel, report_3),
            "report, failing {failing:?}"
        );
        // git as the oracle: the same commits and trees on the integration branch.
        assert_eq!(
            history(&serial, landed),
            history(&parallel, landed),
            "history, failing {failing:?}"
        );
        for repo in [&serial, &parallel] {
            repo.assert_fsck();
            assert_eq!(
                repo.git(&["worktree", "list"]).lines().count(),
                worktrees,
                "a scratch worktree was left behind"
            );
            assert_no_commit_landed_twice(&repo.root, "main");
        }
    }
}

/// Independent droids `a`, `b`, `c` (each owns `<droid>/**`), each with one commit adding
/// `<droid>/x`, marked ready; `forge` goes into the manifest's `[forge]` table, `files` on main.
fn three_ready_droids(forge: &str, files: &[(&str, &str)]) -> TestRepo {
    let toml = forge_toml(&[
        ("a", &["a/**"], &[]),
        ("b", &["b/**"], &[]),
        ("c", &["c/**"], &[]),
    ])
    .replace("[forge]\n", &format!("[forge]\n{forge}"));
    let repo = repo_with(&toml, files);
    for d in ["a", "b", "c"] {
        droid_commit(&repo, d, d, &[(&format!("{d}/x"), "x\n")]);
        done(&repo, d);
    }
    repo
}

/// Three droids whose verifications each wait (bounded) until two of them have started: with
/// `[forge] verify_jobs = 3` all pass, which they can only if two ran at the same time.
#[test]
fn verifications_run_at_the_same_time() {
    let repo = three_ready_droids("verify_jobs = 3\n", &[]);
    let marks = repo.path("../marks");
    std::fs::create_dir_all(&marks).unwrap();
    let m = marks.display();
    // A deadlock guard of 60 s, not a timing threshold: serial runs fail it whatever the speed.
    let handshake = format!(
        "touch '{m}'/$$; i=0; while [ $(ls '{m}' | wc -l) -lt 2 ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; [ $(ls '{m}' | wc -l) -ge 2 ]"
    );
    let (out, report) = merge_json(&repo, &["--phase", "1", "--verify", &handshake]);
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    for d in ["a", "b", "c"] {
        assert_eq!(status_of(&report, d), "merged");
    }
    repo.assert_fsck();
}

#[test]
fn verify_jobs_zero_is_refused() {
    let repo = two_ready_droids();
    let out = repo.df(&[
        "merge",
        "--phase",
        "1",
        "--verify",
        "true",
        "--verify-jobs",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let toml = TWO_DROIDS.replace("[forge]\n", "[forge]\nverify_jobs = 0\n");
    repo.manifest(&toml);
    repo.commit("zero jobs", &[]);
    let out = repo.df(&["merge", "--phase", "1", "--verify", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// One scratch checkout serves three candidates in turn; each verification first checks that
/// it sees exactly its candidate (clean status, HEAD at the candidate, nothing the previous
/// one left), then leaves a mess: a changed, a deleted and a mode-changed tracked file, an
/// untracked file and an ignored build directory. A mark in the checkout's git dir (which the
/// cleanup leaves alone) shows the checkout was reused, not made afresh.
#[test]
fn a_reused_scratch_checkout_shows_each_verification_only_its_candidate() {
    let repo = three_ready_droids("", &[(".gitignore", "build/\n"), ("keep.txt", "keep\n")]);
    let worktrees = repo.git(&["worktree", "list"]).lines().count();
    let log = repo.path("../seen");
    let l = log.display();
    let check = format!(
        "test -z \"$(git status --porcelain --ignored)\" && test -f keep.txt && test ! -x keep.txt \
         && test \"$(cat keep.txt)\" = keep && test ! -e untracked.txt && test ! -e build \
         && mark=\"$(git rev-parse --git-dir)/seen\" && echo \"$(cat \"$mark\" 2>/dev/null || echo new) $(git rev-parse HEAD)\" >> '{l}' \
         && echo used > \"$mark\" \
         && echo junk > untracked.txt && mkdir -p build && echo o > build/out \
         && echo changed >> INTERFACES.md && chmod +x keep.txt && rm -f a/x"
    );
    let (out, report) = merge_json(&repo, &["--phase", "1", "--verify", &check]);
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    let seen = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<(&str, &str)> = seen.lines().map(|l| l.split_once(' ').unwrap()).collect();
    assert_eq!(lines.len(), 3, "{seen}");
    for (i, d) in ["a", "b", "c"].iter().enumerate() {
        assert_eq!(lines[i].1, droid_entry(&report, d)["tip"].as_str().unwrap());
        assert_eq!(lines[i].0, if i == 0 { "new" } else { "used" }, "{seen}");
    }
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), worktrees);
    repo.assert_fsck();
}

/// A verification that changes the index (stages a new file and a change to a tracked one,
/// unstages another) leaves what a cleanup of the files cannot undo: the next candidate must
/// not see any of it. A reused checkout compares only the files with the index while the index
/// is the one the last move wrote; a changed index must still be noticed (the checkout is then
/// made afresh), so each verification sees a clean status at its own candidate.
#[test]
fn a_verification_that_changes_the_index_is_not_seen_by_the_next_one() {
    let repo = three_ready_droids("", &[("keep.txt", "keep\n")]);
    let worktrees = repo.git(&["worktree", "list"]).lines().count();
    let log = repo.path("../seen");
    let check = format!(
        "test -z \"$(git status --porcelain --ignored)\" && test ! -e staged.txt \
         && echo \"$(git rev-parse HEAD)\" >> '{}' \
         && echo junk > staged.txt && echo more >> keep.txt && git add staged.txt keep.txt \
         && git rm -q --cached INTERFACES.md",
        log.display()
    );
    let (out, report) = merge_json(&repo, &["--phase", "1", "--verify", &check]);
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    let seen = std::fs::read_to_string(&log).unwrap();
    let tips: Vec<&str> = seen.lines().collect();
    let expected: Vec<&str> = ["a", "b", "c"]
        .iter()
        .map(|d| droid_entry(&report, d)["tip"].as_str().unwrap())
        .collect();
    assert_eq!(tips, expected, "{seen}");
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), worktrees);
    repo.assert_fsck();
}

/// With a warm pool (`[forge] pool = 1`) the verifications run in the pool's worktree, a full
/// checkout already, instead of a scratch worktree checked out for the run; afterwards it is
/// back in the pool: clean (what the verifications left is gone), detached at the tip the run
/// built, and no other worktree was added.
#[test]
fn verification_borrows_the_warm_pool_worktree_and_gives_it_back_clean_at_the_tip() {
    let repo = three_ready_droids("pool = 1\n", &[(".gitignore", "build/\n")]);
    repo.df_ok(&["pool", "refresh"]);
    let entries: Vec<std::path::PathBuf> =
        std::fs::read_dir(repo.path(".droidforge/worktrees/.pool"))
            .unwrap()
            .flatten()
            .map(|e| e.path().canonicalize().unwrap())
            .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    let worktrees = registered_worktrees(&repo);
    let log = repo.path("../seen");
    let check = format!(
        "echo \"$(pwd -P) $(git rev-parse HEAD)\" >> '{}' && echo junk > untracked.txt \
         && mkdir -p build && echo o > build/out && echo changed >> INTERFACES.md",
        log.display()
    );
    let (out, report) = merge_json(&repo, &["--phase", "1", "--verify", &check]);
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    let seen = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<(&str, &str)> = seen.lines().map(|l| l.split_once(' ').unwrap()).collect();
    assert_eq!(lines.len(), 3, "{seen}");
    for (i, d) in ["a", "b", "c"].iter().enumerate() {
        assert_eq!(std::path::Path::new(lines[i].0), entry.as_path(), "{seen}");
        assert_eq!(lines[i].1, droid_entry(&report, d)["tip"].as_str().unwrap());
    }
    assert_eq!(registered_worktrees(&repo), worktrees);
    assert_eq!(
        git_in(entry, &["rev-parse", "HEAD"]).trim(),
        droid_entry(&report, "c")["tip"].as_str().unwrap()
    );
    assert_eq!(git_in(entry, &["status", "--porcelain", "--ignored"]), "");
    assert_eq!(
        git_in(entry, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "HEAD"
    );
    repo.assert_fsck();
}

/// `doctor` run while a merge has the pool worktree borrowed (from inside the verification,
/// after it left an untracked file there) does not report the entry as having local changes:
/// the entry is busy (its lock is held), and the merge cleans it up when it gives it back.
#[test]
fn doctor_does_not_report_a_borrowed_pool_worktree_as_having_local_changes() {
    let repo = three_ready_droids("pool = 1\n", &[]);
    repo.df_ok(&["pool", "refresh"]);
    let report = repo.path("../doctor");
    let check = format!(
        "echo junk > untracked.txt && cd '{}' && '{}' doctor --json >> '{}'; true",
        repo.root.display(),
        droidforge_bin().display(),
        report.display()
    );
    let (out, json) = merge_json(&repo, &["--phase", "1", "--verify", &check]);
    assert_eq!(out.status.code(), Some(0), "{json:#}\n{}", stderr(&out));
    let seen = std::fs::read_to_string(&report).unwrap();
    assert!(seen.contains("\"findings\""), "{seen}");
    assert!(!seen.contains("broken-pool-worktree"), "{seen}");
    let (_, after) = crate::doctor::doctor(&repo, false);
    assert!(
        !after.to_string().contains("broken-pool-worktree"),
        "{after:#}"
    );
}

/// Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while candidates are
/// being verified: the merge stops with exit 130, nothing lands, and no scratch worktree or
/// directory is left behind.
#[test]
fn ctrl_c_while_verifying_leaves_no_scratch_worktree() {
    let repo = two_ready_droids();
    let before = repo.rev("main");
    let worktrees = repo.git(&["worktree", "list"]);
    let started = repo.path("../started");
    let check = format!("touch '{}'; sleep 60", started.display());
    let out = interrupt_merge_once_started(
        &repo,
        &[
            "merge",
            "--phase",
            "1",
            "--verify",
            &check,
            "--verify-jobs",
            "2",
        ],
        &started,
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("interrupted while verifying"),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.rev("main"), before);
    assert_eq!(repo.git(&["worktree", "list"]), worktrees);
    assert_no_scratch_left(&repo);
    repo.assert_fsck();
}

/// Ctrl-C while a verification runs in a borrowed pool worktree: exit 130, nothing lands, and
/// the pool worktree is still registered, clean, at the integration tip (nothing the stopped
/// verification wrote is left in it), with no scratch worktree made.
#[test]
fn ctrl_c_while_verifying_in_a_borrowed_pool_worktree_hands_it_back_clean() {
    let repo = three_ready_droids("pool = 1\n", &[]);
    repo.df_ok(&["pool", "refresh"]);
    let entry = std::fs::read_dir(repo.path(".droidforge/worktrees/.pool"))
        .unwrap()
        .flatten()
        .map(|e| e.path().canonicalize().unwrap())
        .next()
        .unwrap();
    let before = repo.rev("main");
    let worktrees = repo.git(&["worktree", "list", "--porcelain"]);
    let started = repo.path("../started");
    let check = format!(
        "echo junk > untracked.txt; pwd -P > '{}.tmp' && mv '{0}.tmp' '{0}'; sleep 60",
        started.display()
    );
    let out = interrupt_merge_once_started(
        &repo,
        &["merge", "--phase", "1", "--verify", &check],
        &started,
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let ran_in = std::fs::read_to_string(&started).unwrap();
    assert_eq!(std::path::Path::new(ran_in.trim()), entry.as_path());
    assert_eq!(repo.rev("main"), before);
    assert_eq!(repo.git(&["worktree", "list", "--porcelain"]), worktrees);
    assert_eq!(git_in(&entry, &["status", "--porcelain", "--ignored"]), "");
    assert_eq!(git_in(&entry, &["rev-parse", "HEAD"]).trim(), before);
    assert_no_scratch_left(&repo);
    repo.assert_fsck();
}

/// Run droidforge with `args` in its own process group, wait until the verification command
/// has created `started`, then send SIGINT to the whole group (as a terminal's Ctrl-C does)
/// and return the command's output.
fn interrupt_merge_once_started(
    repo: &TestRepo,
    args: &[&str],
    started: &std::path::Path,
) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(droidforge_bin());
    hermetic(&mut cmd);
    let child = cmd
        .current_dir(&repo.root)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    // Wait for the verification to start (a deadlock guard, not a timing threshold).
    for _ in 0..1200 {
        if started.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(started.exists(), "the verification never started");
    kill(&["-INT", "--", &format!("-{}", child.id())]);
    child.wait_with_output().unwrap()
}

/// No scratch worktree directory is left under droidforge's state, and the checkouts moved
/// into the trash are deleted by the detached sweep (waited for).
fn assert_no_scratch_left(repo: &TestRepo) {
    let left: Vec<_> = std::fs::read_dir(repo.path(".git/droidforge/verify"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    wait_for_sweep(repo);
}

/// The `worktree <path>` lines of `git worktree list --porcelain`: what git has registered.
fn registered_worktrees(repo: &TestRepo) -> Vec<String> {
    let list = repo.git(&["worktree", "list", "--porcelain"]);
    list.lines()
        .filter(|l| l.starts_with("worktree "))
        .map(str::to_owned)
        .collect()
}

/// The pids of the `internal-sweep` processes started for `repo` (from /proc).
fn sweepers_of(repo: &TestRepo) -> Vec<String> {
    let tag = repo.root.parent().unwrap().to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("internal-sweep") && cmdline.contains(&tag) {
            pids.push(name);
        }
    }
    pids
}

/// A merge run with `--verify` used to delete its scratch checkout itself before returning:
/// on a large tree, as long as checking it out took (20,000 files: seconds). Now the checkout
/// is unregistered and moved into the trash in constant time, and a detached process deletes
/// it. Shown without any timing: while a sweep holds the trash lock (here: the test), the
/// merge still returns, with nothing registered or left under `verify/`, and the checkout's
/// files waiting in the trash; once the lock is free, the detached sweep deletes them.
#[test]
fn a_merge_run_waited_for_its_scratch_checkout_to_be_deleted() {
    let repo = two_ready_droids();
    let before = registered_worktrees(&repo);
    let lock = hold_trash_lock(&repo);
    let (out, report) = merge_json(
        &repo,
        &["--phase", "1", "--verify", "test -f src/core/a.rs"],
    );
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    assert_eq!(status_of(&report, "core-droid"), "merged");
    assert_eq!(status_of(&report, "infra-droid"), "merged");
    assert_eq!(registered_worktrees(&repo), before);
    let prune = std::process::Command::new("git")
        .current_dir(&repo.root)
        .args(["worktree", "prune", "--dry-run", "--verbose"])
        .output()
        .unwrap();
    assert!(prune.status.success());
    assert_eq!(stderr(&prune), "", "a stale registration is left");
    let left: Vec<_> = std::fs::read_dir(repo.path(".git/droidforge/verify"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    let trash = trash_entries(&repo);
    assert_eq!(trash.len(), 1, "{trash:?}");
    assert!(trash[0].join("src/core/a.rs").is_file(), "{trash:?}");
    assert!(trash[0].join("src/infra/b.rs").is_file(), "{trash:?}");
    drop(lock);
    wait_for_sweep(&repo);
    repo.assert_fsck();
}

/// What a sweep that was killed (a reboot, `kill -9`) leaves in the trash is deleted by the
/// next merge run's sweep. A real sweep is started (a dry run's scratch export goes to the
/// trash), kept waiting on the trash lock, and killed; the next run then empties the trash.
#[test]
fn leftover_trash_of_a_killed_sweep_is_deleted_by_the_next_run() {
    let repo = two_ready_droids();
    let lock = hold_trash_lock(&repo);
    let (out, report) = merge_json(
        &repo,
        &[
            "--phase",
            "1",
            "--dry-run",
            "--verify",
            "mkdir -p build && touch build/out",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    // The sweep runs detached: under load it may show in /proc a moment after the merge ended.
    let mut sweepers = sweepers_of(&repo);
    for _ in 0..600 {
        if !sweepers.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        sweepers = sweepers_of(&repo);
    }
    assert!(
        !sweepers.is_empty(),
        "no sweep was started; trash: {:?}",
        trash_entries(&repo)
    );
    for pid in &sweepers {
        kill(&["-KILL", pid]);
    }
    drop(lock);
    // A dry run exports each candidate afresh: one entry per candidate.
    let left = trash_entries(&repo);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.iter().all(|e| e.join("build/out").is_file()),
        "{left:?}"
    );
    let (out, report) = merge_json(&repo, &["--phase", "1", "--verify", "true"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    assert_no_scratch_left(&repo);
    repo.assert_fsck();
}

/// Hostile entries in the trash (a link to a directory outside the repository, a checkout with
/// links out of it, a read-only directory a build left) are deleted without touching anything
/// outside: a link is removed itself, never followed. A trash that is itself a link is never
/// emptied (`internal-sweep` refuses it) nor filled (the merge deletes its scratch checkout
/// in place instead of moving it out of the repository through the link).
#[test]
fn sweeping_the_trash_never_follows_a_symbolic_link_out_of_it() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let repo = two_ready_droids();
    let outside = repo.path("../outside");
    write_files(
        &outside,
        &[("keep.txt", "keep\n"), ("sub/keep.txt", "keep\n")],
    );
    let listing = || {
        let mut all: Vec<String> = walk(&outside);
        all.sort();
        all
    };
    let before = listing();
    let trash = repo.path(".git/droidforge/trash");
    let checkout = trash.join("verify-1.99.0");
    write_files(
        &checkout,
        &[("a/file.txt", "x\n"), ("ro/inner/f.txt", "x\n")],
    );
    symlink(&outside, trash.join("link-to-outside")).unwrap();
    symlink(&outside, checkout.join("escape")).unwrap();
    symlink(outside.join("keep.txt"), checkout.join("a/keep-link")).unwrap();
    for dir in ["ro/inner", "ro"] {
        std::fs::set_permissions(checkout.join(dir), std::fs::Permissions::from_mode(0o500))
            .unwrap();
    }
    let (out, report) = merge_json(&repo, &["--phase", "1", "--verify", "true"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    assert_no_scratch_left(&repo);
    assert_eq!(listing(), before);
    assert_eq!(
        std::fs::read_to_string(outside.join("keep.txt")).unwrap(),
        "keep\n"
    );

    // The trash itself a link to the outside directory.
    std::fs::remove_dir(&trash).unwrap();
    symlink(&outside, &trash).unwrap();
    let out = repo.df(&["-C", ".git", "internal-sweep"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert_eq!(listing(), before);
    droid_commit(&repo, "core-droid", "core 2", &[("src/core/c.rs", "c\n")]);
    done(&repo, "core-droid");
    let (out, report) = merge_json(&repo, &["--phase", "1", "--verify", "true"]);
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    assert_eq!(status_of(&report, "core-droid"), "merged");
    assert_eq!(listing(), before);
    let left: Vec<_> = std::fs::read_dir(repo.path(".git/droidforge/verify"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    repo.assert_fsck();
}

/// `doctor` reports checkouts a stopped sweep left in the trash (info: only disk space) and
/// `doctor --fix` deletes them.
#[test]
fn doctor_reports_and_deletes_leftover_trash() {
    let repo = two_ready_droids();
    let trash = repo.path(".git/droidforge/trash");
    write_files(&trash.join("m-0.1.0"), &[("a/b.txt", "x\n")]);
    let (_, json) = crate::doctor::doctor(&repo, false);
    let found = crate::doctor::finding(&json, "leftover-trash");
    assert_eq!(found.len(), 1, "{json:#}");
    assert_eq!(found[0]["severity"], "info", "{json:#}");
    assert_eq!(trash_entries(&repo).len(), 1);
    let (_, json) = crate::doctor::doctor(&repo, true);
    let found = crate::doctor::finding(&json, "leftover-trash");
    assert_eq!(found[0]["fixed"], true, "{json:#}");
    assert!(trash_entries(&repo).is_empty());
    let (_, json) = crate::doctor::doctor(&repo, false);
    assert!(
        crate::doctor::finding(&json, "leftover-trash").is_empty(),
        "{json:#}"
    );
}

/// Every path below `dir` (relative), links not followed.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// Run kill(1) with `args`, asserting it succeeds.
fn kill(args: &[&str]) {
    let status = std::process::Command::new("kill")
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "kill {args:?}");
}
