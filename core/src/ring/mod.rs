//! Fixed-capacity, cache-padded, lock-free ring buffers.
//!
//! - [`RingBuffer`]: bounded multi-producer multi-consumer (MPMC), single and batch operations.
//! - [`StreamingRingBuffer`]: the same ring with a default batch size for `pop_batch()`.
//! - [`spsc`]: single-producer single-consumer, split into `Producer`/`Consumer`.
//!
//! # Algorithm
//!
//! [`RingBuffer`] is Dmitry Vyukov's bounded MPMC queue ("Bounded MPMC queue", 1024cores.net,
//! 2010), with per-slot sequence numbers ("stamps"). A producer *claims* position `p` by
//! compare-exchanging the tail from `p` to `p + 1` after it has seen slot `p % N` empty for
//! that lap, then writes the value and *publishes* it by storing the slot's stamp with Release.
//! A consumer does the mirror image on the head. The stamp, not the claim, tells the other
//! side that the data is there: a consumer can never read a slot that is claimed but not yet
//! written (the defect of the "CAS the head, then write the slot" design this replaces).
//!
//! Stamps here are `(p & !(N - 1)) * 2 + state` (state 0 = empty, 1 = full), compared by
//! signed wrapping difference with what a position expects. Doubling the lap base makes
//! capacity 1 work and makes a freshly created ring all zeros (`.bss`, no flash);
//! the signed difference keeps Full/Empty exact when the position counters wrap, including
//! 32-bit `usize` targets.
//!
//! Batches (`push_batch`, `pop_batch`, `push_slice`, `pop_slice`) first check that `k`
//! consecutive slots are ready, then claim all `k` with ONE compare-exchange, then publish
//! slot by slot. When fewer than `k` are ready they take the ready prefix. No user code (no
//! iterator, `Drop` or closure) runs between a claim and its publication.
//!
//! # Progress guarantee, stated honestly
//!
//! Operations never block, never spin-wait on another thread and never allocate: each one
//! returns `Full`/`Empty` (`Err(value)` / `None` / 0) or succeeds. A retry happens when
//! another thread's compare-exchange won, i.e. the system made progress (lock-free), or, on
//! targets with load-linked/store-conditional (ARM, RISC-V), when the weak compare-exchange
//! failed spuriously (an interrupt or a cache event cleared the reservation): a retry that
//! made no progress, but not a wait for another thread. They are safe to call from an
//! interrupt handler.
//!
//! A claim that lost a race (another thread took the position it was about to take) backs
//! off before it tries again: `2^k` `core::hint::spin_loop` hints after the `k + 1`-th lost
//! race it detects in the same call, at most 64 per race, as crossbeam's `ArrayQueue` does.
//! This refines "never spins" in the project's design: it is contention management, not a
//! wait. It happens only after another thread made progress, it is bounded per lost race,
//! and a full or empty ring still fails at once (the number of lost races in one call was
//! and is unbounded: lock-free, not wait-free). Without it, two threads on one ring ran 5x to
//! 7x slower than `ArrayQueue` on 2 cores, presumably by taking the cursor's cache line from
//! each other on every retry (not measured with coherence counters; see the README's "Rings").
//!
//! The price of never waiting: a thread that is preempted (or interrupted) **between its claim
//! and its publication** makes that slot unavailable to the other side until it resumes.
//! Consumers then see `Empty` at that slot even if later slots are already published, and
//! producers see `Full` when the ring wraps around to a slot a stalled consumer is still
//! reading. Nothing is lost or reordered: the values appear once the stalled thread publishes.
//! So strictly this is not a lock-free *queue* in the linearizable sense (a stalled thread
//! can make others fail), exactly as for crossbeam's `ArrayQueue` and every Vyukov ring.
//! `len()` counts claimed positions, published or not, and is a snapshot.
//!
//! On a single core (firmware), an interrupt handler that pushes while main is between claim
//! and publish sees the main loop's slot as busy and gets `Full` or succeeds on the next slot;
//! it never deadlocks.
//!
//! Position counters are `usize`. A thread that read a position and then sleeps until the
//! cursor comes back to the same value, `2^usize::BITS` positions later (items pushed or
//! popped by others; one batch moves up to `N`), could win its compare-exchange on a stale
//! claim (ABA). On 32-bit targets that is about 4.3·10^9 items; on 16-bit targets (AVR,
//! MSP430 through portable-atomic) 65 536. A read stale by `2^(usize::BITS - 2)` positions or
//! more, but less than a full wrap, only gets a spurious `Full`/`Empty` (the signed difference
//! has the wrong sign), which is harmless.
//!
//! # Memory layout
//!
//! `head` and `tail` each sit on their own [`CachePadded`](crate::CachePadded) line (128 bytes on
//! x86_64 and aarch64, 32 on 32-bit ARM, 64 on RISC-V); the slots follow, packed: one `usize`
//! stamp plus the value each.
//!
//! | type | x86_64 / aarch64 | thumbv7 (32-bit ARM) |
//! | --- | --- | --- |
//! | `RingBuffer<u32, 64>` | 256 + 64 × 16 = 1280 bytes | 64 + 64 × 8 = 576 bytes |
//! | `RingBuffer<u64, 1024>` | 256 + 1024 × 16 = 16640 bytes | 64 + 1024 × 16 = 16448 bytes |
//! | `spsc::Queue<u32, 64>` | 384 + 64 × 4 = 640 bytes | 96 + 64 × 4 = 352 bytes |
//!
//! In general `size_of::<RingBuffer<T, N>>() == round_up(2 * align + N * slot, align)` with
//! `slot = round_up(size_of::<usize>() + size_of::<T>(), align_of::<T>().max(align_of::<usize>()))`,
//! where `align` is the cache-padding alignment (the struct's alignment, so its size is
//! a multiple of it: `RingBuffer<u8, 4>` is 384 bytes on x86_64, not 256 + 4 × 16); the unit
//! tests check the x86_64 rows.
//!
//! A new ring is all zero bytes (positions 0, every stamp "empty for lap 0"), and conversely
//! all-zero memory is a valid empty ring: a `static` costs no flash (`.bss`), and a driver may
//! allocate a large ring zeroed instead of building it on the stack (the std runtime does).
//!
//! # Zero-sized types
//!
//! Work: a ring of `()` counts pushes and pops exactly like any other ring.

mod mpmc;
pub mod spsc;
mod streaming;

pub use mpmc::RingBuffer;
pub use streaming::StreamingRingBuffer;

#[cfg(all(test, target_arch = "x86_64"))]
mod layout_tests {
    use super::{spsc, RingBuffer};

    #[test]
    fn documented_sizes_hold_on_x86_64() {
        assert_eq!(core::mem::size_of::<RingBuffer<u32, 64>>(), 256 + 64 * 16);
        assert_eq!(
            core::mem::size_of::<RingBuffer<u64, 1024>>(),
            256 + 1024 * 16
        );
        assert_eq!(core::mem::size_of::<spsc::Queue<u32, 64>>(), 384 + 64 * 4);
        // The struct's size rounds up to its 128-byte alignment.
        assert_eq!(core::mem::size_of::<RingBuffer<u8, 4>>(), 384);
    }
}
