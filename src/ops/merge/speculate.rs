//! Speculative parallel verification (`merge --verify CMD --verify-jobs K`), as Zuul does it:
//! candidate k is replayed and verified on the integration tip *assuming* candidates 1..k-1
//! pass, with up to K verifications running at once in K reusable scratch checkouts. When one
//! fails, it is ejected: everything decided after it is thrown away and decided again on the
//! corrected chain (a replay can conflict, or a dependent be skipped, only because an earlier
//! candidate was assumed to land). Droids are reported (and land) strictly in merge order, so
//! the result is the serial one: the same droids land in the same order with the same commits.
//!
//! With K = 1 nothing is decided ahead of a pending verification: exactly the serial merge.
//! Speculative commits are ordinary objects that no ref points to until the run lands what
//! passed; a dry run keeps them in memory.

use std::collections::VecDeque;
use std::sync::mpsc;

use crate::error::{Error, Result};
use crate::git::ScratchPool;

use super::MergeEvent;
use super::plan::PlanEntry;
use super::report::DroidReport;
use super::step::{Progress, Run, Stepped};

/// Where a droid's verification stands.
enum Check {
    /// Decided without one, or it passed.
    Done,
    /// Waiting for a free scratch checkout.
    Queued,
    /// Running as job `id`.
    Running(u64),
}

/// One droid decided on the speculative chain.
struct Slot {
    /// Its index in the plan.
    index: usize,
    /// The run's state after its step, before its outcome applies (to go back to on eject).
    after_step: Progress,
    stepped: Result<Stepped>,
    check: Check,
}

/// A finished verification: (job id, scratch slot, its output).
type Finished = (u64, usize, std::io::Result<std::process::Output>);

/// Decide every droid of the plan in order, verifying up to `run.verify_jobs` candidates at
/// once; `at` ends as the serial loop would leave it. Emits `Verifying` when a verification
/// starts and `Decided` in plan order; returns the report lines in plan order.
pub(super) fn decide_all(
    run: &Run,
    entries: &[PlanEntry],
    at: &mut Progress,
) -> Result<Vec<DroidReport>> {
    let jobs = run.verify_jobs.max(1);
    let mut pool: Option<ScratchPool> = None;
    let (tx, rx) = mpsc::channel::<Finished>();
    std::thread::scope(|scope| {
        let mut reports = Vec::with_capacity(entries.len());
        let mut window: VecDeque<Slot> = VecDeque::new();
        let mut spec = at.clone();
        let mut next = 0;
        let mut job_id = 0u64;
        // Verifications started and not yet collected (also those an eject made moot).
        let mut in_flight = 0usize;
        loop {
            // What finished so far; a failure ejects and rewinds the speculative chain.
            while let Ok(done) = rx.try_recv() {
                in_flight -= 1;
                finish(run, done, &mut window, &mut spec, &mut next, &mut pool)?;
            }
            // The oldest droids whose fate is known are final: report them in order.
            while window
                .front()
                .is_some_and(|s| matches!(s.check, Check::Done))
            {
                let slot = window.pop_front().expect("front exists");
                let stepped = slot.stepped?;
                (run.progress)(MergeEvent::Decided {
                    droid: &entries[slot.index].droid,
                    outcome: &stepped.outcome,
                    dry_run: run.opts.dry_run,
                });
                reports.push(stepped.dr);
            }
            if window.is_empty() && next == entries.len() {
                *at = spec;
                return Ok(reports);
            }
            // Start queued verifications, oldest first, on free scratch checkouts.
            for slot in window.iter_mut() {
                if !matches!(slot.check, Check::Queued) {
                    continue;
                }
                let (Ok(stepped), Some(cmd)) = (&slot.stepped, &run.verify_cmd) else {
                    continue;
                };
                let tip = stepped.verify.expect("queued droids have a tip to verify");
                let pool = pool.get_or_insert_with(|| new_pool(run, jobs));
                let Some((scratch, dir)) = pool.acquire(&run.repo, tip)? else {
                    break;
                };
                (run.progress)(MergeEvent::Verifying {
                    droid: &entries[slot.index].droid,
                    command: cmd,
                });
                job_id += 1;
                in_flight += 1;
                slot.check = Check::Running(job_id);
                let (tx, id) = (tx.clone(), job_id);
                scope.spawn(move || {
                    let output = super::gate::run_command(&dir, cmd);
                    let _ = tx.send((id, scratch, output));
                });
            }
            // Decide the next droid on the speculative chain while verifications run.
            let pending = window
                .iter()
                .filter(|s| !matches!(s.check, Check::Done))
                .count();
            let stuck = window.back().is_some_and(|s| s.stepped.is_err());
            if next < entries.len() && pending < jobs && !stuck {
                let entry = &entries[next];
                let stepped = run.step(entry, &mut spec);
                let after_step = spec.clone();
                let check = match &stepped {
                    Ok(s) => {
                        spec.apply(&entry.droid, &s.outcome);
                        match s.verify {
                            Some(_) => Check::Queued,
                            None => Check::Done,
                        }
                    }
                    Err(_) => Check::Done,
                };
                window.push_back(Slot {
                    index: next,
                    after_step,
                    stepped,
                    check,
                });
                next += 1;
                continue;
            }
            let done = match in_flight {
                0 => None,
                _ => rx.recv().ok(),
            }
            .ok_or_else(|| Error::failure("the verification scheduler has nothing to wait for"))?;
            in_flight -= 1;
            finish(run, done, &mut window, &mut spec, &mut next, &mut pool)?;
        }
    })
}

fn new_pool(run: &Run, jobs: usize) -> ScratchPool {
    let state = run.ws.state.clone();
    let merge_id = run.merge_id.clone();
    ScratchPool::new(&run.repo, jobs, run.opts.dry_run, move |i| {
        state.verify_dir(&format!("{merge_id}-{i}"))
    })
}

/// A verification finished: free its scratch checkout; if its droid is still on the chain,
/// settle it. A failure ejects the droid: the droids after it are decided again, on the chain
/// without it.
fn finish(
    run: &Run,
    (id, scratch, output): Finished,
    window: &mut VecDeque<Slot>,
    spec: &mut Progress,
    next: &mut usize,
    pool: &mut Option<ScratchPool>,
) -> Result<()> {
    if let Some(pool) = pool {
        pool.release(scratch);
    }
    let Some(pos) = window
        .iter()
        .position(|s| matches!(s.check, Check::Running(j) if j == id))
    else {
        return Ok(()); // thrown away by an eject meanwhile
    };
    let cmd = run.verify_cmd.as_deref().unwrap_or_default();
    let verified = super::gate::verdict(cmd, output)?;
    let slot = &mut window[pos];
    slot.check = Check::Done;
    if verified.ok {
        return Ok(());
    }
    let Ok(stepped) = &mut slot.stepped else {
        return Ok(());
    };
    stepped.verify_failed(verified);
    *spec = slot.after_step.clone();
    spec.apply(&run.selected[slot.index], &stepped.outcome);
    *next = slot.index + 1;
    window.truncate(pos + 1);
    Ok(())
}
