//! loom model of the runtime's park/wake protocol (`runtime/src/sleep.rs`, included here over
//! loom's synchronisation types): workers that find no work park, publishers push work and
//! call `work_available`. In every interleaving (up to the preemption bound) every item is
//! taken and every thread ends; a lost wake-up would leave a worker blocked with work waiting,
//! which loom reports as a deadlock.
//!
//! The model's work is a counter of items: a push is a Relaxed increment (the runtime's rings
//! publish with Release, so this is weaker), `ready` a Relaxed load; only the protocol's own
//! fences order them. `LOOM_MAX_PREEMPTIONS` bounds the search: 2 by default (about 2 s;
//! the suite also runs under qemu-user), 3 in `.ci/loom.sh` (about 40 s). Each model asserts
//! that its runs reached the parking it is about (loom's reduction skips interleavings).
//!
//! Checked by hand: with the Dekker fences of `park` and `work_available` removed, with the
//! woken worker not clearing `wake_pending`, or without the pass-on, a model deadlocks. The
//! fence after that clearing is not needed for liveness (the next `park`'s fence covers it):
//! it makes the pass-on count see the work sooner.
//!
//! Also modelled: work queued while starting is paused, then a resume (a resume that does
//! not wake the parked workers deadlocks); a worker publishing from a body. Not modelled:
//! timed waits for deferred retries (loom's `wait_timeout` never times out) and shutdown
//! through the runtime's lifecycle.

/// The synchronisation types `sleep.rs` is written over.
mod shim {
    pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Condvar, Mutex};
}

#[allow(dead_code)]
#[path = "../src/sleep.rs"]
mod sleep;

#[path = "../../core/tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use loom::sync::Arc;
use loom::thread;

// Each model asserts that its runs reached the parking it is about (loom's reduction skips
// interleavings: a model that never parked would prove nothing).
use common::assert_reached;
use sleep::{Sleep, Work};

/// Items pushed and not yet taken, how many were taken, and the stop flag the last taker
/// sets; whether starting items is paused, and how many taken items still push a successor
/// from their body (a worker publishing, as one that makes successors ready does).
struct Model {
    items: AtomicUsize,
    taken: AtomicUsize,
    total: usize,
    stop: AtomicBool,
    paused: AtomicBool,
    spawn: AtomicUsize,
    sleep: Sleep,
}

impl Work for Model {
    fn ready(&self) -> bool {
        self.items.load(Relaxed) > 0
    }
    fn paused(&self) -> bool {
        self.paused.load(Relaxed)
    }
    fn exiting(&self) -> bool {
        self.stop.load(Acquire)
    }
    fn retry_in(&self) -> Option<u32> {
        None
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

    /// Takes an item if there is one and starting items is not paused; runs its body (which
    /// may push a successor).
    fn take(&self) -> bool {
        if self.paused.load(Acquire) {
            return false;
        }
        let mut n = self.items.load(Relaxed);
        while n > 0 {
            match self.items.compare_exchange(n, n - 1, Relaxed, Relaxed) {
                Ok(_) => {
                    let spawns = self
                        .spawn
                        .fetch_update(Relaxed, Relaxed, |k| k.checked_sub(1))
                        .is_ok();
                    if spawns {
                        self.push();
                    }
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

/// One model's shape.
#[derive(Clone, Copy)]
struct Shape {
    workers: usize,
    publishers: usize,
    per_publisher: usize,
    /// Items a worker takes at most (it stays in the body of its last one).
    cap: usize,
    /// Taken items that push a successor from their body.
    spawn: usize,
    /// The first publisher (the main thread) pushes while starting is paused, then resumes
    /// the way `Runtime::resume` does.
    paused: bool,
}

impl Shape {
    const fn new(workers: usize, publishers: usize, per_publisher: usize) -> Self {
        Self {
            workers,
            publishers,
            per_publisher,
            cap: usize::MAX,
            spawn: 0,
            paused: false,
        }
    }
}

fn model(w: usize, p: usize, per: usize, cap: usize) -> BTreeSet<Outcome> {
    explore(Shape {
        cap,
        ..Shape::new(w, p, per)
    })
}

/// Runs the model under loom (every interleaving up to the preemption bound) and returns the
/// outcomes its runs produced.
fn explore(shape: Shape) -> BTreeSet<Outcome> {
    let Shape {
        workers,
        publishers,
        per_publisher,
        cap,
        spawn,
        paused,
    } = shape;
    let total = publishers * per_publisher + spawn;
    common::explore(move || {
        let m = Arc::new(Model {
            items: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            total,
            stop: AtomicBool::new(false),
            paused: AtomicBool::new(paused),
            spawn: AtomicUsize::new(spawn),
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
        if paused {
            // `Runtime::resume`: the engine's flag, then every parked worker woken.
            m.paused.store(false, Release);
            m.sleep.wake_all();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(m.taken.load(Relaxed), total);
        assert_eq!(m.items.load(Relaxed), 0);
        (m.sleep.parks.load(Relaxed), m.sleep.wakes.load(Relaxed))
    })
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

/// Work pushed while starting is paused is started after the resume: the workers that parked
/// (paused, with work waiting) are all woken by it.
#[test]
fn work_queued_while_paused_starts_after_the_resume() {
    let seen = explore(Shape {
        paused: true,
        ..Shape::new(1, 1, 1)
    });
    assert_reached(&seen, "the worker blocked while paused", |&(parks, _)| {
        parks >= 1
    });
}

/// A worker publishes: the body of the first item pushes a successor and then stays in that
/// body, so the other, parked worker must be woken for the successor.
#[test]
fn a_worker_publishing_from_a_body_wakes_a_parked_one() {
    let seen = explore(Shape {
        cap: 1,
        spawn: 1,
        ..Shape::new(2, 1, 1)
    });
    assert_reached(&seen, "both workers blocked", |&(parks, _)| parks >= 2);
}
