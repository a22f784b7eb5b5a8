//! loom model of the runtime's park/wake protocol (`runtime/src/sleep.rs`, included here over
//! loom's synchronisation types): workers that find no work park, publishers push work and
//! call `work_available`. In every interleaving (up to the preemption bound) every item is
//! taken and every thread ends; a lost wake-up would leave a worker blocked with work waiting,
//! which loom reports as a deadlock.
//!
//! The model's work is a counter of items: a push is a Relaxed increment (the runtime's rings
//! publish with Release, so this is weaker), `ready` a Relaxed load; only the protocol's own
//! fences order them. `LOOM_MAX_PREEMPTIONS` bounds the search: 2 by default (about a second;
//! the suite also runs under qemu-user), 3 in `.ci/loom.sh` (about 25 s). With the Dekker
//! fences of `park` and `work_available` removed, or the woken worker not clearing
//! `wake_pending`, the models deadlock (checked by hand). The fence after that clearing is not
//! needed for liveness (the next `park`'s fence covers it): it makes the pass-on count see
//! the work sooner.

/// The synchronisation types `sleep.rs` is written over.
mod shim {
    pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Condvar, Mutex};
}

#[allow(dead_code)]
#[path = "../src/sleep.rs"]
mod sleep;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use loom::sync::Arc;
use loom::thread;

use sleep::{Sleep, Work};

/// Items pushed and not yet taken, how many were taken, and the stop flag the last taker
/// sets.
struct Model {
    items: AtomicUsize,
    taken: AtomicUsize,
    total: usize,
    stop: AtomicBool,
    sleep: Sleep,
}

impl Work for Model {
    fn ready(&self) -> bool {
        self.items.load(Relaxed) > 0
    }
    fn paused(&self) -> bool {
        false
    }
    fn exiting(&self) -> bool {
        self.stop.load(Acquire)
    }
    fn deferred(&self) -> usize {
        0
    }
    fn backlog(&self) -> usize {
        self.items.load(Relaxed)
    }
}

impl Model {
    fn push(&self) {
        self.items.fetch_add(1, Relaxed);
        self.sleep.work_available();
    }

    /// Takes an item if there is one.
    fn take(&self) -> bool {
        let mut n = self.items.load(Relaxed);
        while n > 0 {
            match self.items.compare_exchange(n, n - 1, Relaxed, Relaxed) {
                Ok(_) => {
                    if self.taken.fetch_add(1, AcqRel) + 1 == self.total {
                        // Release: pairs with the Acquire loads of `stop`.
                        self.stop.store(true, Release);
                        self.sleep.wake_all();
                    }
                    return true;
                }
                Err(now) => n = now,
            }
        }
        false
    }

    /// A worker's loop: take while there is work, park when there is none, leave once
    /// everything was taken.
    fn work(&self) {
        loop {
            if self.take() {
                continue;
            }
            if self.stop.load(Acquire) {
                return;
            }
            self.sleep.park(self);
        }
    }
}

fn model(workers: usize, publishers: usize, per_publisher: usize) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(move || {
        let m = Arc::new(Model {
            items: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            total: publishers * per_publisher,
            stop: AtomicBool::new(false),
            sleep: Sleep::new(),
        });
        let mut threads = Vec::new();
        for _ in 0..workers {
            let m = Arc::clone(&m);
            threads.push(thread::spawn(move || m.work()));
        }
        for _ in 1..publishers {
            let m = Arc::clone(&m);
            threads.push(thread::spawn(move || {
                for _ in 0..per_publisher {
                    m.push();
                }
            }));
        }
        // The main thread is the first publisher.
        for _ in 0..per_publisher {
            m.push();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(m.taken.load(Relaxed), publishers * per_publisher);
        assert_eq!(m.items.load(Relaxed), 0);
    });
}

/// One worker, one publisher pushing twice: the worker parks between the items.
#[test]
fn a_parked_worker_is_woken_for_every_push() {
    model(1, 1, 2);
}

/// Two workers, one publisher: the one wake-up in flight is passed on.
#[test]
fn two_parked_workers_and_a_publisher_lose_no_wake_up() {
    model(2, 1, 2);
}

/// One worker, two publishers racing.
#[test]
fn racing_publishers_lose_no_wake_up() {
    model(1, 2, 1);
}
