//! Many droidforge processes lock, unlock, update state and append events at once; afterwards
//! the logs must prove that conflicting leases never overlapped and no update was lost.
//!
//! 32 real `droidforge internal-stress` processes (plus real `droidforge lock`/`unlock`
//! invocations for every 25th operation). The operation count per process defaults to 100
//! (about 25 s on 2 cores); set `DROIDFORGE_STRESS_OPS=1000` for the full-size run.

use std::collections::{BTreeMap, HashMap};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::common::*;

const PROCS: usize = 32;

const GLOBS: &[&str] = &[
    "src/a/*.rs",
    "src/a/x.rs",
    "src/b/**",
    "src/b/y.rs",
    "src/c/{x,y}.rs",
    "src/c/x.rs",
    "docs/*.md",
    "docs/a.md",
    "tests/t1.rs",
    "tests/**",
    "src/d/[ab].rs",
    "src/d/a.rs",
    "lib/e.rs",
    "lib/**",
    "*.md",
    "src/**",
];

#[derive(serde::Deserialize, Debug)]
struct Record {
    droid: String,
    lease: String,
    globs: Vec<String>,
    mode: String,
    grant: u64,
    release: u64,
    binary: bool,
}

#[test]
fn concurrent_lock_and_state_updates_stay_exclusive_and_complete() {
    let ops: usize = std::env::var("DROIDFORGE_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    // tmpfs when there is one: the test is about concurrency, not about fsync latency.
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm").unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let root = base.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    git_in(&root, &["init", "-q", "-b", "main"]);
    let mut manifest =
        String::from("[forge]\nintegration = \"main\"\n\n[[phase]]\nid = 1\nname = \"One\"\n");
    for i in 0..PROCS {
        manifest.push_str(&format!(
            "\n[[droid]]\nname = \"d{i}\"\nphases = [1]\nowns = [\"own/d{i}/**\"]\n"
        ));
    }
    commit_in(&root, "forge", &[(MANIFEST, &manifest)]);
    let state = root.join(".git/droidforge");
    let logs = base.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();

    // Readers: the state and lock files must parse at every moment.
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (done, reads, state) = (done.clone(), reads.clone(), state.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                for name in ["state.json", "locks.json"] {
                    if let Ok(bytes) = std::fs::read(state.join(name)) {
                        serde_json::from_slice::<serde_json::Value>(&bytes)
                            .unwrap_or_else(|e| panic!("{name} did not parse: {e}"));
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };

    let children: Vec<_> = (0..PROCS)
        .map(|i| {
            let mut cmd = Command::new(droidforge_bin());
            hermetic(&mut cmd);
            cmd.current_dir(&root)
                .args([
                    "internal-stress",
                    "--droid",
                    &format!("d{i}"),
                    "--ops",
                    &ops.to_string(),
                ])
                .args(["--log", logs.join(format!("d{i}.jsonl")).to_str().unwrap()])
                .args(["--seed", &(i + 1).to_string(), "--binary-every", "25"]);
            for g in GLOBS {
                cmd.args(["--glob", g]);
            }
            cmd.stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a worker failed: {}", stderr(&out));
    }
    done.store(true, Ordering::Relaxed);
    reader
        .join()
        .expect("a state or lock file failed to parse mid-run");
    assert!(reads.load(Ordering::Relaxed) > 0);

    // Every operation is logged exactly once.
    let mut records = Vec::new();
    for i in 0..PROCS {
        let text = std::fs::read_to_string(logs.join(format!("d{i}.jsonl"))).unwrap();
        let mine: Vec<Record> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            mine.len(),
            ops,
            "d{i} logged {} of {ops} operations",
            mine.len()
        );
        records.extend(mine);
    }
    let total = PROCS * ops;
    assert!(
        records.iter().any(|r| r.binary),
        "no operation went through the real binaries"
    );

    // No lost or duplicated lock-table update: grants and releases took every sequence number
    // from 1 to 2 × total exactly once.
    let mut seqs: Vec<u64> = records.iter().flat_map(|r| [r.grant, r.release]).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=2 * total as u64).collect::<Vec<_>>());
    let mut ids: Vec<&str> = records.iter().map(|r| r.lease.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), total, "a lease id was handed out twice");

    // Exclusivity: sweep in grant order; any two leases alive at once must be compatible.
    records.sort_by_key(|r| r.grant);
    let mut memo: HashMap<(String, String), bool> = HashMap::new();
    let mut overlaps = |a: &str, b: &str| {
        *memo
            .entry((a.to_owned(), b.to_owned()))
            .or_insert_with(|| droidforge::forge::ownership::patterns_intersect(a, b).is_some())
    };
    let mut active: Vec<&Record> = Vec::new();
    let mut concurrent_pairs = 0usize;
    for r in &records {
        assert!(r.grant < r.release);
        active.retain(|a| a.release > r.grant);
        for a in &active {
            concurrent_pairs += 1;
            if a.droid == r.droid || (a.mode == "read" && r.mode == "read") {
                continue;
            }
            for x in &a.globs {
                for y in &r.globs {
                    assert!(
                        !overlaps(x, y),
                        "{} ({} {x}, seq {}..{}) and {} ({} {y}, seq {}..{}) overlapped",
                        a.droid,
                        a.mode,
                        a.grant,
                        a.release,
                        r.droid,
                        r.mode,
                        r.grant,
                        r.release
                    );
                }
            }
        }
        active.push(r);
    }
    // The run really was concurrent.
    assert!(concurrent_pairs > 0);

    // No lost or duplicated state update.
    let state_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("state.json")).unwrap()).unwrap();
    assert_eq!(state_json["counters"]["stress-ops"], total as u64);
    for i in 0..PROCS {
        assert_eq!(
            state_json["droids"][format!("d{i}")]["last_event"],
            format!("stress op {}", ops - 1)
        );
    }
    // Every event line is whole and none is lost.
    let journal = std::fs::read_to_string(state.join("events.jsonl")).unwrap();
    let mut per_droid: BTreeMap<String, usize> = BTreeMap::new();
    for line in journal.lines() {
        let e: serde_json::Value = serde_json::from_str(line).expect("a torn event line");
        if e["kind"] == "output" {
            *per_droid
                .entry(e["droid"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(per_droid.len(), PROCS);
    assert!(per_droid.values().all(|&n| n == ops), "{per_droid:?}");
    // Nothing left behind.
    let locks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("locks.json")).unwrap()).unwrap();
    assert!(locks["leases"].as_array().unwrap().is_empty(), "{locks}");
    assert!(locks["waits"].as_array().unwrap().is_empty(), "{locks}");
}
