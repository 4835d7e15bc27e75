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
//! nothing, and the memory is bounded by `SLOTS x MAX_OBJECT`.

use gix::odb::pack::cache::Object;

use super::Oid;

/// How many objects the cache holds (least recently used out first).
const SLOTS: usize = 32;
/// Larger objects are not kept (a slot's buffer never grows beyond this).
const MAX_OBJECT: usize = 256 * 1024;

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
