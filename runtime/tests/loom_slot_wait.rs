//! loom model of the protocol `Runtime::submit_wait` blocks on (`runtime/src/slot_wait.rs`,
//! included here over loom's synchronisation types): submitters that find no free run slot
//! wait; whoever frees a slot calls `slot_freed`. loom's `wait_timeout` never times out, so
//! the timeout that backs the protocol up in the runtime is no help here: a lost wake-up
//! leaves a submitter blocked with a slot free, which loom reports as a deadlock. In every
//! interleaving (up to the preemption bound) every submitter gets a slot.
//!
//! The model's slots are a counter of free ones: taking one is a compare-exchange (Acquire,
//! as the engine's claim of a slot), freeing one a Release increment (as the engine's release
//! of a taken run), each followed by `slot_freed`, as the runtime's `RunResult` drop and its
//! discard of an abandoned run do. Only the protocol's fences order the submitter's try
//! against a freer's count check.
//!
//! Checked by hand: with either fence removed (in `enter` or in `slot_freed`), or with the
//! epoch check in `Waiting::wait` removed (blocking unconditionally), a model deadlocks.

/// The synchronisation types `slot_wait.rs` is written over.
mod shim {
    pub(crate) use loom::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Condvar, Mutex};
}

#[allow(dead_code)]
#[path = "../src/slot_wait.rs"]
mod slot_wait;

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering::*};
use loom::sync::Arc;
use loom::thread;

use common::assert_reached;
use slot_wait::SlotWait;

/// Free run slots, and the protocol.
struct Model {
    free: AtomicUsize,
    wait: SlotWait,
}

impl Model {
    /// `Engine::submit`'s claim of a slot: takes one if any is free.
    fn try_take(&self) -> bool {
        let mut n = self.free.load(Relaxed);
        while n > 0 {
            match self.free.compare_exchange(n, n - 1, Acquire, Relaxed) {
                Ok(_) => return true,
                Err(now) => n = now,
            }
        }
        false
    }

    /// `Runtime::submit_wait` past its quick tries: count in, try, wait.
    fn submit_wait(&self) {
        loop {
            let waiting = self.wait.enter();
            if self.try_take() {
                return;
            }
            waiting.wait(Duration::from_millis(1));
        }
    }

    /// A `RunResult` dropped: its slot freed, then the waiting submitters told.
    fn free_one(&self) {
        self.free.fetch_add(1, Release);
        self.wait.slot_freed();
    }
}

/// Runs `submitters` submitters (threads) against `freers` threads freeing one slot each,
/// with no slot free at the start; returns how often a submitter blocked.
fn explore(submitters: usize, freers: usize) -> std::collections::BTreeSet<u64> {
    common::explore(move || {
        let m = Arc::new(Model {
            free: AtomicUsize::new(0),
            wait: SlotWait::new(),
        });
        let mut threads = Vec::new();
        for _ in 1..submitters {
            let m = Arc::clone(&m);
            threads.push(thread::spawn(move || m.submit_wait()));
        }
        for _ in 0..freers {
            let m = Arc::clone(&m);
            threads.push(thread::spawn(move || m.free_one()));
        }
        // The main thread is the first submitter.
        m.submit_wait();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(m.free.load(Relaxed), freers - submitters);
        m.wait.blocked.load(Relaxed)
    })
}

/// One submitter, one slot freed by another thread: the submitter may try before the free,
/// between the free and its count check, or after it.
#[test]
fn a_submitter_is_woken_by_the_slot_freed_after_its_try() {
    let seen = explore(1, 1);
    assert_reached(&seen, "the submitter blocked", |&b| b >= 1);
}

/// Two submitters racing for the one slot freed, and a second freed later by the thread
/// that freed the first: the loser of the race waits for the second.
#[test]
fn the_submitter_that_loses_the_race_waits_for_the_next_slot() {
    let seen = common::explore(|| {
        let m = Arc::new(Model {
            free: AtomicUsize::new(0),
            wait: SlotWait::new(),
        });
        let other = {
            let m = Arc::clone(&m);
            thread::spawn(move || m.submit_wait())
        };
        let freer = {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                m.free_one();
                m.free_one();
            })
        };
        m.submit_wait();
        other.join().unwrap();
        freer.join().unwrap();
        assert_eq!(m.free.load(Relaxed), 0);
        m.wait.blocked.load(Relaxed)
    });
    assert_reached(&seen, "both submitters blocked", |&b| b >= 2);
}
