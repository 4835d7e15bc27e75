//! A small cache of decoded objects in fixed slots whose buffers are reused, for a repository
//! handle that reads the same few trees again and again (a merge run: the integration tip's
//! root and the directories the droids touch, each re-read by the pick, the merge and the
//! diffs of every replayed commit).
//!
//! gix's own object cache (an LRU map) allocates a buffer per object it keeps and frees one per
//! object it evicts; in a long run those buffers, interleaved with everything the run keeps,
//! fragment the heap, and the process's memory grew with the number of commits replayed (3x
//! that of no cache at all at 10 x 2,000 commits) although the cache itself is bounded. Here
//! every slot keeps its buffer, so after the first few objects a put copies bytes and allocates
//! nothing. The buffers together stay within `BUDGET` bytes: the trees a run re-reads grow with
//! the directories its commits touch (a droid adding a file per commit to one directory makes
//! that directory's tree grow with the commits), and 32 of the largest would make the memory
//! grow with them; over the budget, the least recently used slots give their buffers back.

use gix::odb::pack::cache::Object;

use super::Oid;

/// How many objects the cache holds (least recently used out first).
const SLOTS: usize = 32;
/// Larger objects are not kept (a slot's buffer never grows beyond this).
const MAX_OBJECT: usize = 256 * 1024;
/// The most the slots' buffers hold together (their capacities), in bytes.
const BUDGET: usize = 2 * 1024 * 1024;

struct Slot {
    id: Oid,
    kind: gix::objs::Kind,
    data: Vec<u8>,
    used: u64,
}

/// The cache; see the module documentation.
#[derive(Default)]
pub(super) struct SlotCache {
    slots: Vec<Slot>,
    clock: u64,
}

impl Object for SlotCache {
    fn put(&mut self, id: Oid, kind: gix::objs::Kind, data: &[u8]) {
        if data.len() > MAX_OBJECT {
            return;
        }
        self.clock += 1;
        let at = match self.slots.iter().position(|s| s.id == id) {
            Some(i) => i,
            None if self.slots.len() < SLOTS => {
                self.slots.push(Slot {
                    id,
                    kind,
                    data: Vec::new(),
                    used: 0,
                });
                self.slots.len() - 1
            }
            None => {
                let (i, _) = self
                    .slots
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| s.used)
                    .expect("the cache has slots");
                i
            }
        };
        let slot = &mut self.slots[at];
        slot.id = id;
        slot.kind = kind;
        slot.data.clear();
        slot.data.extend_from_slice(data);
        slot.used = self.clock;
        self.trim(id);
    }

    fn get(&mut self, id: &Oid, out: &mut Vec<u8>) -> Option<gix::objs::Kind> {
        let slot = self.slots.iter_mut().find(|s| s.id == *id)?;
        self.clock += 1;
        slot.used = self.clock;
        out.clear();
        out.extend_from_slice(&slot.data);
        Some(slot.kind)
    }
}

impl SlotCache {
    /// Drop the least recently used slots (never `keep`, the object just put) while the
    /// buffers hold more than [`BUDGET`].
    fn trim(&mut self, keep: Oid) {
        let mut total: usize = self.slots.iter().map(|s| s.data.capacity()).sum();
        while total > BUDGET {
            let Some((i, _)) = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.id != keep)
                .min_by_key(|(_, s)| s.used)
            else {
                return;
            };
            total -= self.slots[i].data.capacity();
            self.slots.swap_remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Oid {
        Oid::from_bytes_or_panic(&[n; 20])
    }

    /// The cache is bounded (32 objects, none over 256 KiB) and never answers with another
    /// object's bytes: the least recently used one goes first, a put of a known id replaces it.
    #[test]
    fn the_slot_cache_is_bounded_and_answers_only_what_it_holds() {
        let mut cache = SlotCache::default();
        let mut out = Vec::new();
        for n in 0..SLOTS as u8 {
            cache.put(id(n), gix::objs::Kind::Tree, &[n; 100]);
        }
        // Touch object 0, then add one more: object 1 (least recently used) is evicted.
        assert_eq!(cache.get(&id(0), &mut out), Some(gix::objs::Kind::Tree));
        cache.put(id(200), gix::objs::Kind::Blob, b"new");
        assert_eq!(cache.slots.len(), SLOTS);
        assert_eq!(cache.get(&id(1), &mut out), None);
        assert_eq!(cache.get(&id(0), &mut out), Some(gix::objs::Kind::Tree));
        assert_eq!(out, vec![0u8; 100]);
        assert_eq!(cache.get(&id(200), &mut out), Some(gix::objs::Kind::Blob));
        assert_eq!(out, b"new");
        cache.put(id(200), gix::objs::Kind::Blob, b"newer");
        cache.get(&id(200), &mut out);
        assert_eq!(out, b"newer");
        cache.put(id(201), gix::objs::Kind::Blob, &vec![1; MAX_OBJECT + 1]);
        assert_eq!(cache.get(&id(201), &mut out), None);
    }

    /// Large objects (a directory's tree that grew with the commits) do not fill all 32
    /// slots: the buffers stay within the byte budget, the least recently used going first,
    /// and what is kept still answers with its own bytes.
    #[test]
    fn the_slot_cache_stays_within_its_byte_budget() {
        let mut cache = SlotCache::default();
        let mut out = Vec::new();
        let big = 200 * 1024;
        for n in 0..SLOTS as u8 {
            cache.put(id(n), gix::objs::Kind::Tree, &vec![n; big]);
            let held: usize = cache.slots.iter().map(|s| s.data.capacity()).sum();
            assert!(held <= BUDGET, "{held} bytes held after {n}");
        }
        assert!(cache.slots.len() < SLOTS);
        let last = SLOTS as u8 - 1;
        assert_eq!(cache.get(&id(last), &mut out), Some(gix::objs::Kind::Tree));
        assert_eq!(out, vec![last; big]);
        assert_eq!(cache.get(&id(0), &mut out), None, "the oldest went first");
        // Small objects fill the slots again.
        for n in 100..100 + SLOTS as u8 {
            cache.put(id(n), gix::objs::Kind::Blob, &[n; 10]);
        }
        assert_eq!(cache.slots.len(), SLOTS);
    }
}
