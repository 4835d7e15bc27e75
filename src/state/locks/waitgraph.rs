//! The wait-for side of the lock table: which leases (and earlier waiters) block a request,
//! and whether a new wait would close a cycle between droids (a deadlock, refused at once and
//! named).

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use super::{Blocker, LockMode, LockRequest, LockTable, WaitEdge};
use crate::forge::ownership::patterns_intersect;

/// One step of a wait-for cycle: `droid` waits for `path`, held by the next step's droid.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CycleStep {
    pub droid: String,
    pub path: String,
}

/// Render a cycle as `a → (src/x.rs) → b → (src/y.rs) → a`.
pub fn format_cycle(cycle: &[CycleStep]) -> String {
    let mut out = String::new();
    for step in cycle {
        out.push_str(&format!("{} → ({}) → ", step.droid, step.path));
    }
    if let Some(first) = cycle.first() {
        out.push_str(&first.droid);
    }
    out
}

/// Leases of other droids that conflict with the request (a droid never conflicts with itself).
pub(super) fn blockers_of(table: &LockTable, req: &LockRequest) -> Vec<Blocker> {
    let mut out = Vec::new();
    for lease in &table.leases {
        if lease.droid == req.droid || (lease.mode == LockMode::Read && req.mode == LockMode::Read)
        {
            continue;
        }
        'globs: for held in &lease.globs {
            for want in &req.globs {
                if let Some(example) = intersect_cached(held, want) {
                    out.push(Blocker {
                        droid: lease.droid.clone(),
                        lease: lease.id.clone(),
                        glob: held.clone(),
                        mode: lease.mode,
                        example,
                    });
                    break 'globs;
                }
            }
        }
    }
    out
}

/// The marker name of a wait ticket (`W<n>`; lease markers are `L<n>`).
pub(super) fn ticket_id(ticket: u64) -> String {
    format!("W{ticket}")
}

/// Fairness: a droid that holds no lease queues behind earlier waiters whose requests
/// conflict with its own, instead of overtaking them. These queue edges never close a
/// cycle (nobody waits on a droid that holds nothing, and they point to earlier tickets
/// only), so they are left out of deadlock detection. A droid that holds leases never
/// queues: making it wait behind others could deadlock.
pub(super) fn queued_ahead(
    table: &LockTable,
    req: &LockRequest,
    ticket: Option<u64>,
) -> Vec<Blocker> {
    if table.leases.iter().any(|l| l.droid == req.droid) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for w in &table.waits {
        if w.waiter == req.droid
            || ticket.is_some_and(|t| w.ticket >= t)
            || (w.mode == LockMode::Read && req.mode == LockMode::Read)
        {
            continue;
        }
        'globs: for theirs in &w.globs {
            for want in &req.globs {
                if let Some(example) = intersect_cached(theirs, want) {
                    out.push(Blocker {
                        droid: w.waiter.clone(),
                        lease: ticket_id(w.ticket),
                        glob: theirs.clone(),
                        mode: w.mode,
                        example,
                    });
                    break 'globs;
                }
            }
        }
    }
    out
}

/// `patterns_intersect`, memoized for the life of the process (a waiting or long-running
/// process asks about the same few pairs over and over).
fn intersect_cached(a: &str, b: &str) -> Option<String> {
    use std::sync::{Mutex, OnceLock};
    type Memo = HashMap<(String, String), Option<String>>;
    static MEMO: OnceLock<Mutex<Memo>> = OnceLock::new();
    let memo = MEMO.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (a.to_owned(), b.to_owned());
    if let Some(hit) = memo.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return hit;
    }
    let value = patterns_intersect(a, b);
    if let Ok(mut m) = memo.lock() {
        if m.len() > 10_000 {
            m.clear();
        }
        m.insert(key, value.clone());
    }
    value
}

/// Would adding `edge` close a cycle? Returns the cycle starting at the new waiter.
pub(super) fn find_cycle(waits: &[WaitEdge], edge: &WaitEdge) -> Option<Vec<CycleStep>> {
    // droid -> [(holder droid, the holder's glob)]
    let mut graph: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for w in waits.iter().chain(std::iter::once(edge)) {
        let entry = graph.entry(w.waiter.as_str()).or_default();
        for b in &w.blockers {
            entry.push((b.droid.as_str(), b.glob.as_str()));
        }
    }
    let start = edge.waiter.as_str();
    // BFS from the waiter; the first time we step back onto it, the parent chain is a cycle.
    let mut parent: HashMap<&str, (&str, &str)> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &(next, glob) in graph.get(node).map(Vec::as_slice).unwrap_or(&[]) {
            if next == start {
                let mut steps = vec![CycleStep {
                    droid: node.to_owned(),
                    path: glob.to_owned(),
                }];
                let mut cur = node;
                while cur != start {
                    let (prev, g) = parent[cur];
                    steps.push(CycleStep {
                        droid: prev.to_owned(),
                        path: g.to_owned(),
                    });
                    cur = prev;
                }
                steps.reverse();
                return Some(steps);
            }
            if next != start && !parent.contains_key(next) {
                parent.insert(next, (node, glob));
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(waiter: &str, holder: &str, glob: &str) -> WaitEdge {
        WaitEdge {
            waiter: waiter.into(),
            pid: 1,
            ticket: 0,
            globs: vec![glob.into()],
            mode: LockMode::Write,
            blockers: vec![Blocker {
                droid: holder.into(),
                lease: "L1".into(),
                glob: glob.into(),
                mode: LockMode::Write,
                example: glob.into(),
            }],
            since: 0,
        }
    }

    #[test]
    fn cycle_is_named_from_the_new_waiter() {
        let waits = vec![edge("b", "c", "src/y.rs"), edge("c", "a", "src/z.rs")];
        let cycle = find_cycle(&waits, &edge("a", "b", "src/x.rs")).unwrap();
        assert_eq!(
            format_cycle(&cycle),
            "a → (src/x.rs) → b → (src/y.rs) → c → (src/z.rs) → a"
        );
        assert!(find_cycle(&waits[..1], &edge("a", "b", "src/x.rs")).is_none());
    }
}
