//! Speculative parallel verification (`merge --verify CMD --verify-jobs K`), as Zuul does it:
//! candidate k is replayed and verified on the integration tip *assuming* candidates 1..k-1
//! pass, with up to K verifications running at once in reusable scratch checkouts. When one
//! fails, it is ejected: everything decided after it is thrown away (verifications still
//! running for it are stopped) and decided again on the corrected chain — a replay can
//! conflict, or a dependent be skipped, only because an earlier candidate was assumed to land.
//! Droids are reported (and land) strictly in merge order, so the result is the serial one: the
//! same droids land in the same order with the same commits.
//!
//! With K = 1 nothing is decided ahead of a pending verification: exactly the serial merge.
//! Speculative commits are ordinary objects that no ref points to until the run lands what
//! passed; a dry run keeps them in memory.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::git::{ScratchLease, ScratchPool, catch_interrupts, interrupted};
use crate::ops::pool::Borrowed;
use crate::util::process::signal_group;

use super::plan::PlanEntry;
use super::report::DroidReport;
use super::step::{Progress, Run, Stepped};
use super::{MergeError, MergeEvent};

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

/// A finished verification job.
struct Finished {
    id: u64,
    /// Its scratch checkout.
    slot: usize,
    /// Making the scratch checkout show the candidate.
    prepared: Result<()>,
    /// The command's output; `None` when it did not run (no checkout, or stopped before).
    output: Option<std::io::Result<std::process::Output>>,
    /// How long preparing the checkout and running the command took.
    took: Duration,
}

/// What a worker thread reports to the scheduler.
enum Msg {
    /// A verification job finished.
    Done(Finished),
    /// A new scratch checkout was made (`ok`) or could not be.
    Made {
        slot: usize,
        ok: bool,
        took: Duration,
    },
}

/// Where a verification job is, as far as stopping it goes.
enum Job {
    /// Its scratch checkout is being prepared.
    Preparing,
    /// Its command runs as the leader of this process group.
    Running(u32),
    /// Made moot before its command started: it will not start.
    Cancelled,
}

/// The jobs still running (also those an eject made moot), shared with the worker threads.
#[derive(Default)]
struct Jobs(Mutex<HashMap<u64, Job>>);

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Job>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stop job `id`: kill its command's process group, or keep it from starting.
    fn stop(&self, id: u64) {
        let mut jobs = self.lock();
        match jobs.get(&id) {
            Some(Job::Running(pgid)) => {
                signal_group(*pgid, "KILL");
            }
            Some(Job::Preparing) => {
                jobs.insert(id, Job::Cancelled);
            }
            _ => {}
        }
    }

    /// The worker of job `id`: prepare the checkout, then run `cmd` there unless stopped.
    fn work(&self, id: u64, lease: &ScratchLease, cmd: &str) -> Finished {
        let started = Instant::now();
        let prepared = lease.prepare();
        let mut output = None;
        if prepared.is_ok() {
            let mut jobs = self.lock();
            if !matches!(jobs.get(&id), Some(Job::Cancelled)) {
                match super::gate::spawn_command(lease.dir(), cmd) {
                    Ok(child) => {
                        jobs.insert(id, Job::Running(child.id()));
                        drop(jobs);
                        output = Some(child.wait_with_output());
                    }
                    Err(e) => output = Some(Err(e)),
                }
            }
        }
        Finished {
            id,
            slot: lease.slot,
            prepared,
            output,
            took: started.elapsed(),
        }
    }
}

/// The scheduler's state between two events.
struct Chain<'r, 'a> {
    run: &'r Run<'a>,
    entries: &'r [PlanEntry],
    /// How many verifications may run at once (K).
    width: usize,
    /// Decided droids not yet reported, in plan order.
    window: VecDeque<Slot>,
    /// The run's state after every droid of the window, assuming all pending ones pass.
    spec: Progress,
    /// The next droid of the plan to decide.
    next: usize,
    pool: Option<ScratchPool>,
    /// Warm pool worktrees (`[forge] pool`) lent to this run as scratch checkouts.
    borrowed: Vec<Borrowed>,
    last_job: u64,
    jobs_running: usize,
    /// Scratch checkouts being made.
    making: usize,
    /// How long making the last new scratch checkout took (see [`worth_a_checkout`]).
    made_took: Option<Duration>,
    /// Verifications finished so far: how many, and their total time (checkout + command).
    verified: (u32, Duration),
    /// When each running verification job started.
    started: HashMap<u64, Instant>,
    jobs: Arc<Jobs>,
}

/// Decide every droid of the plan in order, verifying up to `run.verify_jobs` candidates at
/// once; `at` ends as the serial loop would leave it. Emits `Verifying` when a verification
/// starts and `Decided` in plan order; returns the report lines in plan order.
pub(super) fn decide_all(
    run: &Run,
    entries: &[PlanEntry],
    at: &mut Progress,
) -> Result<Vec<DroidReport>> {
    // Ctrl-C while verifying: running commands are stopped and the scratch checkouts removed
    // before the run stops (exit 130).
    let _signals = run.verify_cmd.as_ref().map(|_| catch_interrupts());
    let mut chain = Chain {
        run,
        entries,
        width: run.verify_jobs.max(1),
        window: VecDeque::new(),
        spec: at.clone(),
        next: 0,
        pool: None,
        borrowed: Vec::new(),
        last_job: 0,
        jobs_running: 0,
        making: 0,
        made_took: None,
        verified: (0, Duration::ZERO),
        started: HashMap::new(),
        jobs: Arc::default(),
    };
    let (tx, rx) = mpsc::channel::<Msg>();
    let reports = std::thread::scope(|scope| {
        let result = chain.drive(scope, &tx, &rx);
        // Whatever ended the run, nothing it started outlives it.
        let ids: Vec<u64> = chain.jobs.lock().keys().copied().collect();
        for id in ids {
            chain.jobs.stop(id);
        }
        if let Some(pool) = &chain.pool {
            pool.stop_making();
        }
        result
    });
    // The threads are joined: the scratch checkouts are free to go (into the trash, emptied
    // by a detached sweep, which also deletes what an earlier run's sweep left), and the
    // borrowed ones go back to the warm pool, cleaned up and moved to what this run leaves as
    // the tip.
    if let Some(mut pool) = chain.pool.take() {
        let tip = match &reports {
            Ok(_) => chain.spec.tip,
            Err(_) => at.tip,
        };
        for (dir, head, clean) in pool.take_borrowed() {
            crate::ops::pool::give_back(run.ws, &dir, head, clean, tip);
        }
        drop(pool);
        crate::state::trash::sweep_later(&run.ws.state);
    }
    chain.borrowed.clear(); // their locks
    let reports = reports?;
    *at = chain.spec;
    Ok(reports)
}

impl<'r, 'a> Chain<'r, 'a> {
    fn drive<'s>(
        &mut self,
        scope: &'s std::thread::Scope<'s, '_>,
        tx: &mpsc::Sender<Msg>,
        rx: &mpsc::Receiver<Msg>,
    ) -> Result<Vec<DroidReport>>
    where
        'r: 's,
    {
        let mut reports = Vec::with_capacity(self.entries.len());
        loop {
            // What finished so far; a failure ejects and rewinds the speculative chain.
            while let Ok(msg) = rx.try_recv() {
                self.receive(msg)?;
            }
            if interrupted() {
                return Err(MergeError::VerifyInterrupted.into());
            }
            // The oldest droids whose fate is known are final: report them in order.
            while self
                .window
                .front()
                .is_some_and(|s| matches!(s.check, Check::Done))
            {
                let slot = self.window.pop_front().expect("front exists");
                let stepped = slot.stepped?;
                (self.run.progress)(MergeEvent::Decided {
                    droid: &self.entries[slot.index].droid,
                    outcome: &stepped.outcome,
                    dry_run: self.run.opts.dry_run,
                });
                reports.push(stepped.dr);
            }
            if self.window.is_empty() && self.next == self.entries.len() {
                return Ok(reports);
            }
            self.start_queued(scope, tx)?;
            // Decide the next droid on the speculative chain while verifications run.
            let pending = self
                .window
                .iter()
                .filter(|s| !matches!(s.check, Check::Done))
                .count();
            let stuck = self.window.back().is_some_and(|s| s.stepped.is_err());
            if self.next < self.entries.len() && pending < self.width && !stuck {
                self.step_next();
                continue;
            }
            if self.jobs_running == 0 && self.making == 0 {
                return Err(Error::failure(
                    "the verification scheduler has nothing to wait for",
                ));
            }
            // Wake up now and then to notice a Ctrl-C, and to see whether a waiting
            // verification is worth a new checkout by now.
            let wait = Duration::from_millis(100);
            if let Ok(msg) = rx.recv_timeout(wait) {
                self.receive(msg)?;
            }
        }
    }

    /// Decide the next droid of the plan on the speculative chain.
    fn step_next(&mut self) {
        let entry = &self.entries[self.next];
        let stepped = self.run.step(entry, &mut self.spec);
        let after_step = self.spec.clone();
        let check = match &stepped {
            Ok(s) => {
                self.spec.apply(&entry.droid, &s.outcome);
                match s.verify {
                    Some(_) => Check::Queued,
                    None => Check::Done,
                }
            }
            Err(_) => Check::Done,
        };
        self.window.push_back(Slot {
            index: self.next,
            after_step,
            stepped,
            check,
        });
        self.next += 1;
    }

    fn receive(&mut self, msg: Msg) -> Result<()> {
        match msg {
            Msg::Done(done) => self.finish(done),
            Msg::Made { slot, ok, took } => {
                self.making -= 1;
                if ok {
                    self.made_took = Some(took);
                }
                if let Some(pool) = &mut self.pool {
                    pool.made(slot, ok);
                }
                Ok(())
            }
        }
    }

    /// Start queued verifications, oldest first, on free scratch checkouts; when one is left
    /// waiting and every checkout is busy, have one more made (bound to no job: the first free
    /// checkout, new or reused, goes to the oldest waiting job).
    fn start_queued<'s>(
        &mut self,
        scope: &'s std::thread::Scope<'s, '_>,
        tx: &mpsc::Sender<Msg>,
    ) -> Result<()>
    where
        'r: 's,
    {
        let Some(cmd) = self.run.verify_cmd.as_deref() else {
            return Ok(());
        };
        // Verifications still to come: those waiting for a checkout and the undecided droids.
        let mut waiting = self.entries.len() - self.next
            + self
                .window
                .iter()
                .filter(|s| matches!(s.check, Check::Queued))
                .count();
        for slot in self.window.iter_mut() {
            let (Check::Queued, Ok(stepped)) = (&slot.check, &slot.stepped) else {
                continue;
            };
            let tip = stepped.verify.expect("queued droids have a tip to verify");
            let run = self.run;
            let borrowed = &mut self.borrowed;
            let pool = self.pool.get_or_insert_with(|| {
                let (state, merge_id) = (run.ws.state.clone(), run.merge_id.clone());
                let trash = state.trash_dir();
                let mut pool =
                    ScratchPool::new(&run.repo.borrow(), self.width, run.opts.dry_run, move |i| {
                        state.verify_dir(&format!("{merge_id}-{i}"))
                    });
                // Done with, a checkout is moved aside at once and deleted by a detached
                // sweep: deleting its files is not on the user's time.
                if let Ok(trash) = trash {
                    pool = pool.trash(trash);
                }
                if !run.opts.dry_run {
                    // Warm pool worktrees are full checkouts already: moving one to a
                    // candidate costs the changed paths, not the whole tree.
                    *borrowed = crate::ops::pool::borrow(run.ws, self.width);
                    for b in borrowed.iter() {
                        pool.adopt(b.path.clone(), b.head);
                    }
                }
                pool
            });
            let Some(lease) = pool.acquire(&run.repo.borrow(), tip) else {
                let worth = worth_a_checkout(
                    pool.checkouts(),
                    self.made_took,
                    self.verified,
                    &self.started,
                    waiting,
                );
                if self.making == 0 && pool.wants_more() && worth {
                    let maker = pool.open(&run.repo.borrow(), tip);
                    self.making += 1;
                    let tx = tx.clone();
                    scope.spawn(move || {
                        let started = Instant::now();
                        let ok = maker.make().is_ok();
                        let _ = tx.send(Msg::Made {
                            slot: maker.slot,
                            ok,
                            took: started.elapsed(),
                        });
                    });
                }
                break;
            };
            (run.progress)(MergeEvent::Verifying {
                droid: &self.entries[slot.index].droid,
                command: cmd,
            });
            self.last_job += 1;
            let id = self.last_job;
            slot.check = Check::Running(id);
            waiting -= 1;
            self.started.insert(id, Instant::now());
            self.jobs.lock().insert(id, Job::Preparing);
            self.jobs_running += 1;
            let (tx, jobs) = (tx.clone(), self.jobs.clone());
            scope.spawn(move || {
                let _ = tx.send(Msg::Done(jobs.work(id, &lease, cmd)));
            });
        }
        Ok(())
    }

    /// A verification finished: free its scratch checkout; if its droid is still on the chain,
    /// settle it. A failure ejects the droid: verifications after it are stopped, and the droids
    /// after it are decided again, on the chain without it.
    fn finish(&mut self, done: Finished) -> Result<()> {
        let id = done.id;
        self.jobs.lock().remove(&id);
        self.jobs_running -= 1;
        self.started.remove(&id);
        if done.output.is_some() {
            self.verified.0 += 1;
            self.verified.1 += done.took;
        }
        if let Some(pool) = &mut self.pool {
            pool.release(done.slot, done.prepared.is_ok(), done.output.is_some());
        }
        if interrupted() {
            // The command was probably stopped by the same signal: not its verdict.
            return Err(MergeError::VerifyInterrupted.into());
        }
        let Some(pos) = self
            .window
            .iter()
            .position(|s| matches!(s.check, Check::Running(j) if j == id))
        else {
            return Ok(()); // thrown away by an eject meanwhile
        };
        done.prepared?;
        let cmd = self.run.verify_cmd.as_deref().unwrap_or_default();
        let output = done
            .output
            .unwrap_or_else(|| Err(std::io::Error::other("not started")));
        let verified = super::gate::verdict(cmd, output)?;
        let slot = &mut self.window[pos];
        slot.check = Check::Done;
        if verified.ok {
            return Ok(());
        }
        let Ok(stepped) = &mut slot.stepped else {
            return Ok(());
        };
        stepped.verify_failed(verified);
        self.spec = slot.after_step.clone();
        self.spec
            .apply(&self.entries[slot.index].droid, &stepped.outcome);
        self.next = slot.index + 1;
        for moot in self.window.drain(pos + 1..) {
            if let Check::Running(j) = moot.check {
                self.jobs.stop(j);
            }
        }
        Ok(())
    }
}

/// Is one more scratch checkout worth making, for `waiting` verifications still to come (the
/// one that found every checkout busy and the droids not decided yet) when `slots` are busy?
/// The `slots` checkouts drain the work left, `R = waiting × V`, by `R / slots`; one more,
/// ready after it costs `c` to make, drains it by `(R + c) / (slots + 1)`, which is sooner
/// exactly when `c < R / slots` — `V` being what a verification takes (the mean of those
/// finished, or longer if a running one has taken longer already) and `c` what the last new
/// checkout took to make. The checkout is made on a thread of its own while the verifications
/// run. So a verification that takes no time on a large tree (`true` on 20,000 files) is served
/// by the checkout it has instead of paying for K full ones, while `sleep 1` on a small tree
/// gets K checkouts. With no checkout made yet (none at all, or only borrowed ones) the cost
/// is unknown: yes.
fn worth_a_checkout(
    slots: usize,
    made_took: Option<Duration>,
    verified: (u32, Duration),
    started: &HashMap<u64, Instant>,
    waiting: usize,
) -> bool {
    let Some(cost) = made_took else {
        return true;
    };
    if slots == 0 {
        return true;
    }
    let mean = match verified {
        (0, _) => Duration::ZERO,
        (n, total) => total / n,
    };
    let running = started
        .values()
        .map(|t| t.elapsed())
        .max()
        .unwrap_or_default();
    let v = mean.max(running).as_secs_f64();
    waiting as f64 * v / slots as f64 > cost.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running_for(secs: f64) -> HashMap<u64, Instant> {
        let at = Instant::now()
            .checked_sub(Duration::from_secs_f64(secs))
            .expect("the clock goes back that far");
        HashMap::from([(1, at)])
    }

    /// `--verify true` on a large tree with `--verify-jobs 4` used to check out up to four
    /// full scratch worktrees while the first one was free again within milliseconds.
    #[test]
    fn an_instant_verification_on_a_large_tree_is_not_worth_a_second_checkout() {
        let finished = (3, Duration::from_millis(300));
        let cost = Some(Duration::from_secs(5));
        assert!(!worth_a_checkout(1, cost, finished, &running_for(0.1), 7));
        assert!(!worth_a_checkout(
            1,
            cost,
            (0, Duration::ZERO),
            &HashMap::new(),
            7
        ));
    }

    /// `sleep 1` on a small tree: a checkout costs far less than the verifications it lets run
    /// at the same time, up to K; the last ones are not worth one when few remain.
    #[test]
    fn a_slow_verification_on_a_small_tree_gets_more_checkouts() {
        let cost = Some(Duration::from_millis(100));
        let none = (0, Duration::ZERO);
        assert!(worth_a_checkout(1, cost, none, &running_for(0.5), 7));
        assert!(worth_a_checkout(3, cost, none, &running_for(1.0), 5));
        assert!(!worth_a_checkout(
            3,
            cost,
            (4, Duration::from_millis(800)),
            &HashMap::new(),
            1
        ));
    }

    /// `sleep 1` on 2,000 files where a checkout takes 1.4 s (a disk slow at creating files):
    /// the drain rule asked `waiting × V × (1/n − 1/(n+1)) > c`, as if the new checkout's cost
    /// were added to the whole run, and stopped at two checkouts for four jobs (K = 4 took
    /// 5.9 s). A checkout is made beside the running verifications: with 5 to go on 3 busy
    /// checkouts it still pays (`5 × 1 s / 3 > 1.4 s`).
    #[test]
    fn a_checkout_made_beside_running_verifications_was_counted_as_added_wall_time() {
        let cost = Some(Duration::from_millis(1400));
        let done = (1, Duration::from_secs(1));
        assert!(worth_a_checkout(2, cost, done, &running_for(0.5), 6));
        assert!(worth_a_checkout(3, cost, done, &running_for(0.5), 5));
        assert!(!worth_a_checkout(3, cost, done, &running_for(0.5), 4));
    }

    /// Before any checkout was made (the first one, or only borrowed pool worktrees so far)
    /// its cost is unknown: one is made.
    #[test]
    fn without_a_checkout_made_yet_one_is_made() {
        let none = (0, Duration::ZERO);
        assert!(worth_a_checkout(0, None, none, &HashMap::new(), 1));
        assert!(worth_a_checkout(1, None, none, &HashMap::new(), 1));
    }
}
