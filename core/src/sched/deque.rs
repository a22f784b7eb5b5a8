//! [`WorkDeque`]: one worker's own queue of ready entries, which idle workers steal from.
//!
//! A bounded Chase–Lev deque (Chase and Lev, SPAA 2005) with the C11 orderings of Lê, Pop,
//! Cohen and Zappa Nardelli ("Correct and Efficient Work-Stealing for Weak Memory Models",
//! PPoPP 2013), over a fixed array. The owner pushes and pops at the bottom (last in, first
//! out: the successor it just made ready is the one whose data is in its cache); thieves take
//! from the top (the oldest entry: on trees, the largest subtree). Slots are atomics holding
//! an [`Entry`]'s 8 bytes, so a thief that reads a slot the owner is overwriting reads a
//! stale value but never a torn one, and its CAS on `top` then fails.
//!
//! Indices grow without bound (wrapping `u64`); `bottom - top` (wrapping, as `i64`) is the
//! length, `-1` transiently while the owner pops from an empty deque. They are 64-bit on every
//! target (the deque needs 64-bit atomics anyway): with `usize` indices on a 32-bit target, a
//! thief stalled between its slot read and its CAS while `top` moved on by exactly 2^32 would
//! win the CAS with a stale entry (one entry run twice, another lost). At 2^64 that cannot
//! happen.

use crate::cache_padded::CachePadded;
use crate::sync::{fence, AtomicU32, AtomicU64, Ordering::*};

use super::Entry;

/// One worker's deque of ready entries, capacity `N` (a power of two, at least 2).
///
/// Only the owning worker may [`push`](Self::push) and [`pop`](Self::pop) (they are `unsafe`
/// for that reason); any thread may [`steal`](Self::steal).
pub struct WorkDeque<const N: usize> {
    /// The owner's line: `bottom` and the owner's batch counter.
    owner: CachePadded<Owner>,
    /// The oldest entry's index. Advanced by a CAS, by thieves and by the owner taking the
    /// last entry.
    top: CachePadded<AtomicU64>,
    slots: [AtomicU64; N],
}

/// The owner's cache line.
struct Owner {
    /// Next index the owner pushes at. Written by the owner only.
    bottom: AtomicU64,
    /// Batches taken by the owning worker (its fairness counter).
    round: AtomicU32,
}

impl<const N: usize> core::fmt::Debug for WorkDeque<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WorkDeque")
            .field("len", &self.len())
            .field("capacity", &N)
            .finish()
    }
}

impl<const N: usize> Default for WorkDeque<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> WorkDeque<N> {
    const MASK: u64 = {
        assert!(
            N >= 2 && N.is_power_of_two(),
            "WorkDeque: N must be a power of two >= 2"
        );
        assert!(N <= isize::MAX as usize / 2, "WorkDeque: N too large");
        N as u64 - 1
    };
    /// `N` as an index difference.
    const LEN: u64 = N as u64;

    /// An empty deque.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        let _ = Self::MASK;
        Self {
            owner: CachePadded::new(Owner {
                bottom: AtomicU64::new(0),
                round: AtomicU32::new(0),
            }),
            top: CachePadded::new(AtomicU64::new(0)),
            slots: [const { AtomicU64::new(0) }; N],
        }
    }

    /// An empty deque (loom build).
    #[cfg(loom)]
    pub fn new() -> Self {
        let _ = Self::MASK;
        Self {
            owner: CachePadded::new(Owner {
                bottom: AtomicU64::new(0),
                round: AtomicU32::new(0),
            }),
            top: CachePadded::new(AtomicU64::new(0)),
            slots: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// The owner's batch counter: returns it and counts one more (owner-side bookkeeping kept
    /// on the owner's cache line).
    #[inline(always)]
    pub(crate) fn next_round(&self) -> u32 {
        let r = self.owner.round.load(Relaxed);
        self.owner.round.store(r.wrapping_add(1), Relaxed);
        r
    }

    /// An empty deque whose indices start at `index` (tests: crossing the index wrap).
    #[doc(hidden)]
    pub fn starting_at(index: u64) -> Self {
        let d = Self::new();
        d.owner.bottom.store(index, Relaxed);
        d.top.store(index, Relaxed);
        d
    }

    /// Capacity.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Entries in the deque (a snapshot; exact when no other thread uses it).
    pub fn len(&self) -> usize {
        let b = self.owner.bottom.load(Relaxed);
        let t = self.top.load(Relaxed);
        let len = b.wrapping_sub(t) as i64;
        len.clamp(0, Self::LEN as i64) as usize
    }

    /// Whether the deque looks empty (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pushes `e` at the bottom; gives it back when the deque is full.
    ///
    /// # Safety
    ///
    /// Only the deque's owner calls `push` and `pop`, from one thread at a time (a worker and
    /// its successor on the same deque must be ordered by a happens-before edge, such as a
    /// thread join or a lock hand-over).
    #[inline]
    pub unsafe fn push(&self, e: Entry) -> Result<(), Entry> {
        let b = self.owner.bottom.load(Relaxed);
        // Acquire: pairs with the CAS on `top` in `steal` (and `pop`): a thief's read of the
        // slot at its old top happens-before our overwrite of that slot below.
        let t = self.top.load(Acquire);
        if b.wrapping_sub(t) >= Self::LEN {
            return Err(e);
        }
        self.slots[(b & Self::MASK) as usize].store(e.to_bits(), Relaxed);
        // Release fence, not a Release store: pairs with the Acquire load of `bottom` in
        // `steal`; the slot write (and everything this worker did before, e.g. the node values
        // the entry's successors will read) happens-before a thief's use of the entry. A fence
        // also covers a thief that reads a *later* store to `bottom` by the owner (the
        // decrement in `pop` is Relaxed): a Release store would not (a plain store does not
        // continue its release sequence), and the thief could read the slot unsynchronised.
        // loom found that case (`loom_deque::owner_push_pop_against_a_thief_reuses_slots`).
        fence(Release);
        self.owner.bottom.store(b.wrapping_add(1), Relaxed);
        Ok(())
    }

    /// Pops the most recently pushed entry.
    ///
    /// # Safety
    ///
    /// As for [`push`](Self::push): owner only.
    #[inline]
    pub unsafe fn pop(&self) -> Option<Entry> {
        let b = self.owner.bottom.load(Relaxed).wrapping_sub(1);
        self.owner.bottom.store(b, Relaxed);
        // SeqCst fence: pairs with the SeqCst fence in `steal`. Either a thief's load of
        // `bottom` sees our decrement (and it does not take index `b`, unless it is also the
        // top, where the CAS decides), or our load of `top` below sees that thief's CAS.
        fence(SeqCst);
        let t = self.top.load(Relaxed);
        let len = b.wrapping_sub(t) as i64;
        if len < 0 {
            // Empty: undo the decrement.
            self.owner.bottom.store(b.wrapping_add(1), Relaxed);
            return None;
        }
        let e = Entry::from_bits(self.slots[(b & Self::MASK) as usize].load(Relaxed));
        if len > 0 {
            // More than one entry: no thief can reach index `b` (they take `top` < `b`).
            return Some(e);
        }
        // The last entry: race the thieves for it through `top`.
        // SeqCst: in the total order with the thieves' CASes and fences (see above).
        let won = self
            .top
            .compare_exchange(t, t.wrapping_add(1), SeqCst, Relaxed)
            .is_ok();
        self.owner.bottom.store(b.wrapping_add(1), Relaxed);
        won.then_some(e)
    }

    /// [`pop`](Self::pop) without the fence and CAS that guard against thieves: for a deque
    /// nobody steals from (a runtime with one worker).
    ///
    /// # Safety
    ///
    /// As for [`pop`](Self::pop), and no thread calls [`steal`](Self::steal) on this deque
    /// while the owner uses it.
    #[inline]
    pub unsafe fn pop_unshared(&self) -> Option<Entry> {
        let b = self.owner.bottom.load(Relaxed);
        let t = self.top.load(Relaxed);
        if b == t {
            return None;
        }
        let b = b.wrapping_sub(1);
        self.owner.bottom.store(b, Relaxed);
        Some(Entry::from_bits(
            self.slots[(b & Self::MASK) as usize].load(Relaxed),
        ))
    }

    /// Takes the oldest entry, if any. `None` when the deque is empty or another thread took
    /// that entry first (try again, or elsewhere).
    #[inline]
    pub fn steal(&self) -> Option<Entry> {
        // Acquire: pairs with the CAS that moved `top` to `t` (another thief, or the owner
        // taking its last entry), as in Lê et al.; a stale `t` is harmless: the slot read
        // below is validated by our CAS, which fails unless `top` is still `t`.
        let t = self.top.load(Acquire);
        // SeqCst fence: pairs with the one in `pop` (see there).
        fence(SeqCst);
        // Acquire: pairs with the Release fence in `push` (through this or any later store of
        // `bottom` by the owner): the slot holds the pushed entry and what the pusher did
        // before is visible.
        let b = self.owner.bottom.load(Acquire);
        if (b.wrapping_sub(t) as i64) <= 0 {
            return None;
        }
        let e = Entry::from_bits(self.slots[(t & Self::MASK) as usize].load(Relaxed));
        // SeqCst: claims index `t` (against other thieves and the owner's last-entry pop);
        // its Release half orders our slot read before the owner's next overwrite of the
        // slot (pairs with the Acquire load of `top` in `push`).
        self.top
            .compare_exchange(t, t.wrapping_add(1), SeqCst, Relaxed)
            .ok()
            .map(|_| e)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate alloc;
    extern crate std;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

    use super::*;

    #[test]
    fn pop_unshared_is_lifo_across_the_index_wrap_and_none_when_empty() {
        let d = WorkDeque::<4>::starting_at(u64::MAX - 1);
        for v in 0..3 {
            // SAFETY: one thread, nobody steals.
            assert!(unsafe { d.push(Entry::from_bits(v)) }.is_ok());
        }
        // SAFETY: as above.
        let popped: Vec<u64> = core::iter::from_fn(|| unsafe { d.pop_unshared() })
            .map(Entry::to_bits)
            .collect();
        assert_eq!(popped, [2, 1, 0]);
        assert!(d.is_empty());
        // SAFETY: as above; the deque still works after being emptied this way.
        assert!(unsafe { d.push(Entry::from_bits(7)) }.is_ok());
        assert_eq!(d.steal().map(Entry::to_bits), Some(7));
        // SAFETY: as above.
        assert_eq!(unsafe { d.pop_unshared() }, None);
    }

    #[test]
    fn lifo_for_the_owner_fifo_for_thieves_and_full_refuses() {
        let d = WorkDeque::<4>::starting_at(u64::MAX - 2);
        for v in 0..4 {
            // SAFETY: one thread.
            assert!(unsafe { d.push(Entry::from_bits(v)) }.is_ok());
        }
        // SAFETY: one thread.
        let full = unsafe { d.push(Entry::from_bits(9)) };
        assert_eq!(full, Err(Entry::from_bits(9)));
        assert_eq!(d.len(), 4);
        assert_eq!(d.steal().map(Entry::to_bits), Some(0));
        // SAFETY: one thread.
        assert_eq!(unsafe { d.pop() }.map(Entry::to_bits), Some(3));
        assert_eq!(d.steal().map(Entry::to_bits), Some(1));
        // SAFETY: one thread.
        assert_eq!(unsafe { d.pop() }.map(Entry::to_bits), Some(2));
        // SAFETY: one thread.
        assert_eq!(unsafe { d.pop() }, None);
        assert_eq!(d.steal(), None);
        assert!(d.is_empty());
    }

    /// The owner pushes and pops while two thieves steal: every value is taken exactly once.
    /// (Also run under Miri, with several seeds: `.ci/miri.sh`.)
    #[test]
    fn every_value_taken_once_under_stealing() {
        let n: u64 = if cfg!(miri) { 200 } else { 200_000 };
        let d = WorkDeque::<8>::starting_at(u64::MAX - 50);
        let done = AtomicBool::new(false);
        let (mine, stolen) = std::thread::scope(|s| {
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let mut got = Vec::new();
                        loop {
                            let finished = done.load(Relaxed);
                            match d.steal() {
                                Some(e) => got.push(e.to_bits()),
                                None if finished => break got,
                                None => core::hint::spin_loop(),
                            }
                        }
                    })
                })
                .collect();
            let mut mine = Vec::new();
            let mut v = 0;
            while v < n {
                // Pushes two, pops one (when the deque is full, pops until there is room).
                for _ in 0..2 {
                    // SAFETY: this thread is the owner.
                    if v < n && unsafe { d.push(Entry::from_bits(v)) }.is_ok() {
                        v += 1;
                    }
                }
                // SAFETY: this thread is the owner.
                if let Some(e) = unsafe { d.pop() } {
                    mine.push(e.to_bits());
                }
            }
            // SAFETY: this thread is the owner.
            while let Some(e) = unsafe { d.pop() } {
                mine.push(e.to_bits());
            }
            done.store(true, Relaxed);
            let stolen: Vec<Vec<u64>> = thieves.into_iter().map(|t| t.join().unwrap()).collect();
            (mine, stolen)
        });
        let mut all: Vec<u64> = mine
            .into_iter()
            .chain(stolen.into_iter().flatten())
            .collect();
        all.sort_unstable();
        assert_eq!(all.len() as u64, n, "a value was lost or taken twice");
        assert!(
            all.iter().copied().eq(0..n),
            "a value was lost or taken twice"
        );
    }
}
