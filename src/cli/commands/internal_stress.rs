//! `droidforge internal-stress` (hidden): one worker process of the lock stress test.
//!
//! Runs `--ops` cycles of: take a lease on 1-2 random globs (waiting), hold it briefly,
//! release it, then bump a counter in `state.json` and append an event. Every grant and
//! release is logged with the lock table's sequence number so the test can check afterwards
//! that conflicting leases never overlapped. Every `--binary-every`th cycle runs the real
//! `droidforge lock`/`unlock` binaries instead of the library. All operations are the real
//! file-locked ones; only process startup is saved.

use std::io::Write;
use std::time::Duration;

use super::Ctx;
use crate::cli::args::InternalStressArgs;
use droidforge::error::{Context, Error, Result};
use droidforge::state::locks::{
    Attempt, DEFAULT_TTL, LockMode, LockRequest, LockStore, WaitPolicy,
};
use droidforge::state::{Event, EventKind};
use droidforge::workspace::{ManifestSource, Workspace};

/// The counter in `state.json` the workers bump.
pub const COUNTER: &str = "stress-ops";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub fn run(ctx: &Ctx, args: &InternalStressArgs) -> Result<i32> {
    let ws = Workspace::load(&ctx.cwd, ManifestSource::WorkingTree, false)?;
    ws.state.ensure()?;
    let droid = ws.droid_arg(Some(&args.droid))?;
    let locks = LockStore::new(&ws.state);
    let store = ws.state.store();
    let journal = ws.state.journal();
    let exe = std::env::current_exe().context("cannot find the droidforge binary")?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.log)
        .with_context(|| format!("cannot open `{}`", args.log.display()))?;
    let mut rng = Rng(args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut logline = |v: serde_json::Value| -> Result<()> {
        let mut line = serde_json::to_vec(&v).context("cannot serialize")?;
        line.push(b'\n');
        log.write_all(&line).context("cannot write the stress log")
    };
    for op in 0..args.ops {
        let n = 1 + rng.below(2);
        let mut globs: Vec<String> = (0..n)
            .map(|_| args.globs[rng.below(args.globs.len())].clone())
            .collect();
        globs.dedup();
        let mode = if rng.below(10) < 6 {
            LockMode::Write
        } else {
            LockMode::Read
        };
        let hold = Duration::from_micros(rng.below(300) as u64);
        let via_binary = args.binary_every > 0 && op % args.binary_every == 0;
        let mut attempts = 0u32;
        let started = std::time::Instant::now();
        let (lease, release_seq) = if via_binary {
            let mut cmd = std::process::Command::new(&exe);
            cmd.current_dir(&ctx.cwd)
                .args(["lock", "--json", "--wait", "--droid", &droid])
                .arg(if mode == LockMode::Read {
                    "--read"
                } else {
                    "--write"
                })
                .args(&globs);
            let got: serde_json::Value = run_json(&mut cmd)?;
            // `--json` prints times as RFC 3339 (docs/json.md); the worker logs the lease's id,
            // globs and mode only, so the times are zeroed before reading it back as a `Lease`.
            let mut printed = got["lease"].clone();
            for field in ["acquired_at", "expires_at"] {
                if let Some(t) = printed.get_mut(field) {
                    *t = serde_json::Value::from(0);
                }
            }
            let lease: droidforge::state::locks::Lease =
                serde_json::from_value(printed).context("`lock --json` printed no lease")?;
            std::thread::sleep(hold);
            let mut cmd = std::process::Command::new(&exe);
            cmd.current_dir(&ctx.cwd)
                .args(["unlock", "--json", "--droid", &droid, &lease.id]);
            let got = run_json(&mut cmd)?;
            let seq = got["released"][0]["seq"]
                .as_u64()
                .ok_or_else(|| Error::failure("`unlock --json` released nothing"))?;
            (lease, seq)
        } else {
            let req = LockRequest {
                droid: droid.clone(),
                globs: globs.clone(),
                mode,
                ttl: DEFAULT_TTL,
                pid: std::process::id(),
                holder: droidforge::state::locks::Holder::Process,
                agent_pid: None,
            };
            let report =
                locks.acquire(&req, WaitPolicy::Forever, Duration::from_millis(1), |_| {
                    attempts += 1
                })?;
            let Attempt::Granted { lease } = report.attempt else {
                return Err(Error::failure(format!(
                    "stress worker `{droid}` was not granted its lock: {:?}",
                    report.attempt
                )));
            };
            std::thread::sleep(hold);
            let released =
                locks.release(Some(&droid), std::slice::from_ref(&lease.id), false, false)?;
            let seq = released
                .first()
                .map(|r| r.seq)
                .ok_or_else(|| Error::failure(format!("lease {} vanished", lease.id)))?;
            (lease, seq)
        };
        logline(serde_json::json!({
            "droid": droid,
            "lease": lease.id,
            "globs": lease.globs,
            "mode": lease.mode,
            "grant": lease.seq,
            "release": release_seq,
            "binary": via_binary,
            "attempts": attempts,
            "micros": started.elapsed().as_micros() as u64,
        }))?;
        store.update(|s| {
            *s.counters.entry(COUNTER.to_owned()).or_default() += 1;
            s.droids.entry(droid.clone()).or_default().last_event = Some(format!("stress op {op}"));
        })?;
        journal.append(&Event::new(
            EventKind::Output,
            Some(&droid),
            format!("stress op {op}"),
        ))?;
    }
    Ok(0)
}

fn run_json(cmd: &mut std::process::Command) -> Result<serde_json::Value> {
    let out = cmd.output().context("cannot run droidforge")?;
    if !out.status.success() {
        return Err(Error::failure(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    serde_json::from_slice(&out.stdout).context("droidforge printed invalid JSON")
}
