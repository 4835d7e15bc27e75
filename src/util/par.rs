//! Independent jobs on a few scoped threads, with their results back in input order: for work
//! that waits on the disk more than on the CPU (moving several checkouts at once), where the
//! caller reports per item in a fixed order whatever finished first.

use std::sync::Mutex;

/// `f` over `items` on at most `available_parallelism` threads (none spawned for one item);
/// the results come back in the order of `items`. A panic in `f` is re-raised here.
pub fn map_in_order<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let queue = Mutex::new(items.into_iter().enumerate());
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        // A poisoned queue means another worker panicked; that panic wins below.
                        let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                        let Some((i, item)) = next else { break out };
                        out.push((i, f(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_input_order_whatever_finishes_first() {
        let items: Vec<u64> = (0..40).collect();
        // Early items sleep longest, so they finish last on any number of threads.
        let out = map_in_order(items.clone(), |i| {
            std::thread::sleep(std::time::Duration::from_millis(40 - i));
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(map_in_order(Vec::<u8>::new(), |i| i).is_empty());
        assert_eq!(map_in_order(vec![7], |i| i + 1), vec![8]);
    }
}
