//! loom model of the runtime's park/wake protocol (`runtime/src/sleep.rs`, included here over
//! loom's synchronisation types): workers that find no work park, publishers push work and
//! call `work_available`. In every interleaving (up to the preemption bound) every item is
//! taken and every thread ends; a lost wake-up would leave a worker blocked with work waiting,
//! which loom reports as a deadlock.
//!
//! The model's work is a counter of items: a push is a Relaxed increment (the runtime's rings
//! publish with Release, so this is weaker), `ready` a Relaxed load; only the protocol's own
//! fences order them. `LOOM_MAX_PREEMPTIONS` bounds the search: 2 by default (about 1.5 s;
//! the suite also runs under qemu-user), 3 in `.ci/loom.sh` (about 33 s). Each model asserts
//! that its runs reached the parking it is about (loom's reduction skips interleavings).
//!
//! Checked by hand: with the Dekker fences of `park` and `work_available` removed, with the
//! woken worker not clearing `wake_pending`, or without the pass-on, a model deadlocks. The
//! fence after that clearing is not needed for liveness (the next `park`'s fence covers it):
//! it makes the pass-on count see the work sooner.
//!
//! Not modelled: timed waits for deferred retries (loom's `wait_timeout` never times out),
//! pause and resume, shutdown through the runtime's lifecycle, and workers that publish.

/// The synchronisation types `sleep.rs` is written over.
mod shim {
    pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Condvar, Mutex};
}

#[allow(dead_code)]
#[path = "../src/sleep.rs"]
mod sleep;

use std::collections::BTreeSet;

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

    /// A worker's loop: take while there is work (at most `cap` items: a worker that took
    /// its last one stays in that item's body for good, as one blocked in a body does),
    /// park when there is none, leave once everything was taken.
    fn work(&self, cap: usize) {
        let mut mine = 0;
        while mine < cap {
            if self.take() {
                mine += 1;
                continue;
            }
            if self.stop.load(Acquire) {
                return;
            }
            self.sleep.park(self);
        }
    }
}

/// What one run of a model did: (times a worker blocked, notifications sent to one worker).
type Outcome = (u64, u64);

/// Runs the model under loom (every interleaving up to the preemption bound) and returns the
/// outcomes its runs produced. Workers take at most `cap` items each.
fn model(workers: usize, publishers: usize, per_publisher: usize, cap: usize) -> BTreeSet<Outcome> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let sink = std::sync::Arc::clone(&seen);
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
            threads.push(thread::spawn(move || m.work(cap)));
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
        let outcome = (m.sleep.parks.load(Relaxed), m.sleep.wakes.load(Relaxed));
        sink.lock().unwrap().insert(outcome);
    });
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    seen
}

/// Asserts that some run of the model reached what `pred` describes (loom's reduction skips
/// interleavings: a model that never parked would prove nothing).
#[track_caller]
fn assert_reached(outcomes: &BTreeSet<Outcome>, what: &str, pred: impl Fn(&Outcome) -> bool) {
    assert!(
        outcomes.iter().any(pred),
        "no run reached: {what}; (parks, wakes) seen: {outcomes:?}"
    );
}

/// One worker, one publisher pushing twice: the worker parks between the items.
#[test]
fn a_parked_worker_is_woken_for_every_push() {
    let seen = model(1, 1, 2, usize::MAX);
    assert_reached(&seen, "the worker blocked twice", |&(parks, _)| parks >= 2);
}

/// Two workers, one publisher.
#[test]
fn two_parked_workers_and_a_publisher_lose_no_wake_up() {
    let seen = model(2, 1, 2, usize::MAX);
    assert_reached(&seen, "both workers blocked", |&(parks, _)| parks >= 2);
}

/// One worker, two publishers racing.
#[test]
fn racing_publishers_lose_no_wake_up() {
    let seen = model(1, 2, 1, usize::MAX);
    assert_reached(&seen, "the worker blocked", |&(parks, wakes)| {
        parks >= 1 && wakes >= 1
    });
}

/// Two workers, each of which stays in the body of the first item it takes (as a worker
/// blocked in a body does), and two items from one publisher. While the first wake-up is in
/// flight the publisher skips notifying; the woken worker must pass the wake-up on, or the
/// second item waits for ever: the pass-on is what this model checks.
#[test]
fn the_woken_worker_passes_the_wake_up_on() {
    let seen = model(2, 1, 2, 1);
    assert_reached(
        &seen,
        "both workers blocked and were woken",
        |&(parks, wakes)| parks >= 2 && wakes >= 2,
    );
}
