//! Side-by-side comparison of ringdag's rings with their peers, in one run.
//!
//! Workloads (u64 payload, capacity 8192 everywhere):
//! - `pair`: one push then one pop, single thread;
//! - `burst128`: 128 pushes then 128 pops, single thread;
//! - `batch128`: 128 values in and out through each ring's slice/chunk API, single thread;
//! - `spsc_2threads`: one producer thread and one consumer thread move `SPSC_ITEMS` values;
//! - `mpmc_2p2c`: two producers and two consumers move `MPMC_ITEMS` values in total;
//! - `shared_pairs_2threads`: two threads each push one value then pop one, `SHARED_PAIRS`
//!   times, on a queue kept half full, so both compete for both ends on every operation.
//!
//! Peers: crossbeam `ArrayQueue`, `rtrb`, `heapless::mpmc` (feature `mpmc_large`),
//! `heapless::spsc`, `std::sync::mpsc::sync_channel`, crossbeam-channel `bounded`.
//! In the threaded workloads every queue waits the same way when full/empty: a few
//! `spin_loop` hints, then `yield_now` (the machine may have fewer cores than threads).
//! Read the results as ratios within one run, not as absolute times.
//!
//! Run: `cargo bench --bench ring_peers`.
//!
//! Scaling mode: `RING_PEERS_MPMC=1,2,4,8 cargo bench --bench ring_peers` skips criterion and
//! runs the MPMC queues with 1, 2, 4 and 8 producers and as many consumers, printing median
//! M items/s as a markdown table (`RING_PEERS_RUNS` runs each, default 5).

use core::hint::black_box;
use core::time::Duration;
use std::sync::mpsc;
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, Criterion, SamplingMode, Throughput};
use ringdag::ring::{spsc, RingBuffer};

const CAP: usize = 8192;
const BATCH: usize = 128;
/// Values per iteration of the threaded workloads (smaller in unoptimised test runs).
const SPSC_ITEMS: u64 = if cfg!(debug_assertions) {
    1 << 12
} else {
    1 << 20
};
const MPMC_ITEMS: u64 = if cfg!(debug_assertions) {
    1 << 12
} else {
    1 << 19
};

type Ours = RingBuffer<u64, CAP>;
type OursSpsc = spsc::Queue<u64, CAP>;
type HeaplessMpmc = heapless::mpmc::Queue<u64, CAP>;

/// heapless deprecates `mpmc::Queue::new` because a preempted thread can make others fail
/// (true of every Vyukov ring, ours included, see `ringdag::ring`); it is measured anyway.
#[allow(deprecated)]
fn heapless_mpmc() -> Box<HeaplessMpmc> {
    Box::new(HeaplessMpmc::new())
}
type HeaplessSpsc = heapless::spsc::Queue<u64, CAP>;

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.warm_up_time(Duration::from_millis(700));
    group.measurement_time(Duration::from_secs(2));
    group.sample_size(25);
}

/// Waits a little after a failed push/pop: spin first, then give the core away.
#[inline(always)]
fn backoff(spins: &mut u32) {
    if *spins < 64 {
        *spins += 1;
        core::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// Pushes one value, waiting while the queue is full.
#[inline(always)]
fn push_wait<Q: ?Sized>(q: &mut Q, v: u64, push: impl Fn(&mut Q, u64) -> bool) {
    let mut spins = 0;
    while !push(q, v) {
        backoff(&mut spins);
    }
}

/// Pops one value, waiting while the queue is empty.
#[inline(always)]
fn pop_wait<Q: ?Sized>(q: &mut Q, pop: impl Fn(&mut Q) -> Option<u64>) -> u64 {
    let mut spins = 0;
    loop {
        if let Some(v) = pop(q) {
            return v;
        }
        backoff(&mut spins);
    }
}

// ---------------------------------------------------------------------------------------------
// (a) push + pop pair and (b) burst of 128, single thread

/// `BURST` pushes then `BURST` pops per iteration (a constant, so `BURST == 1` is a plain
/// push + pop with no loop around it).
fn single_thread<Q, const BURST: usize>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    q: &mut Q,
    push: impl Fn(&mut Q, u64) -> bool + Copy,
    pop: impl Fn(&mut Q) -> Option<u64> + Copy,
) {
    group.bench_function(name, |b| {
        b.iter(|| {
            for i in 0..BURST {
                let ok = push(q, black_box(i as u64));
                debug_assert!(ok);
                black_box(ok);
            }
            for _ in 0..BURST {
                black_box(pop(q));
            }
        })
    });
}

fn single_thread_group<const BURST: usize>(c: &mut Criterion, group_name: &str) {
    let mut group = c.benchmark_group(group_name);
    configure(&mut group);
    group.throughput(Throughput::Elements(BURST as u64));

    let ours = Box::new(Ours::new());
    single_thread::<_, BURST>(
        &mut group,
        "ringdag_RingBuffer",
        &mut &*ours,
        |q, v| q.push(v).is_ok(),
        |q| q.pop(),
    );
    let mut ours_spsc = Box::new(OursSpsc::new());
    {
        let (p, c) = ours_spsc.split();
        let mut pc = (p, c);
        single_thread::<_, BURST>(
            &mut group,
            "ringdag_spsc",
            &mut pc,
            |q, v| q.0.push(v).is_ok(),
            |q| q.1.pop(),
        );
    }
    let mut aq = crossbeam_queue::ArrayQueue::<u64>::new(CAP);
    single_thread::<_, BURST>(
        &mut group,
        "crossbeam_ArrayQueue",
        &mut aq,
        |q, v| q.push(v).is_ok(),
        |q| q.pop(),
    );
    let mut rt = rtrb::RingBuffer::<u64>::new(CAP);
    single_thread::<_, BURST>(
        &mut group,
        "rtrb",
        &mut rt,
        |q, v| q.0.push(v).is_ok(),
        |q| q.1.pop().ok(),
    );
    let hm = heapless_mpmc();
    single_thread::<_, BURST>(
        &mut group,
        "heapless_mpmc",
        &mut &*hm,
        |q, v| q.enqueue(v).is_ok(),
        |q| q.dequeue(),
    );
    let mut hs = Box::new(HeaplessSpsc::new());
    {
        let mut pc = hs.split();
        single_thread::<_, BURST>(
            &mut group,
            "heapless_spsc",
            &mut pc,
            |q, v| q.0.enqueue(v).is_ok(),
            |q| q.1.dequeue(),
        );
    }
    let mut sc = mpsc::sync_channel::<u64>(CAP);
    single_thread::<_, BURST>(
        &mut group,
        "std_sync_channel",
        &mut sc,
        |q, v| q.0.try_send(v).is_ok(),
        |q| q.1.try_recv().ok(),
    );
    let mut cc = crossbeam_channel::bounded::<u64>(CAP);
    single_thread::<_, BURST>(
        &mut group,
        "crossbeam_channel",
        &mut cc,
        |q, v| q.0.try_send(v).is_ok(),
        |q| q.1.try_recv().ok(),
    );
    group.finish();
    drop((ours, ours_spsc, hm, hs));
}

fn pair(c: &mut Criterion) {
    single_thread_group::<1>(c, "pair");
}

fn burst128(c: &mut Criterion) {
    single_thread_group::<BATCH>(c, "burst128");
}

// ---------------------------------------------------------------------------------------------
// (c) batch of 128 through the slice/chunk APIs, single thread

fn batch128(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch128");
    configure(&mut group);
    group.throughput(Throughput::Elements(BATCH as u64));
    let src: Vec<u64> = (0..BATCH as u64).collect();
    let mut dst = vec![0u64; BATCH];

    let ours = Box::new(Ours::new());
    group.bench_function("ringdag_RingBuffer_slice", |b| {
        b.iter(|| {
            let n = ours.push_slice(black_box(&src));
            debug_assert_eq!(n, BATCH);
            black_box(ours.pop_slice(black_box(&mut dst)));
        })
    });
    let mut ours_spsc = Box::new(OursSpsc::new());
    {
        let (mut p, mut c) = ours_spsc.split();
        group.bench_function("ringdag_spsc_slice", |b| {
            b.iter(|| {
                let n = p.push_slice(black_box(&src));
                debug_assert_eq!(n, BATCH);
                black_box(c.pop_slice(black_box(&mut dst)));
            })
        });
    }
    let (mut p, mut c) = rtrb::RingBuffer::<u64>::new(CAP);
    group.bench_function("rtrb_chunk_copy", |b| {
        b.iter(|| {
            let (_, rest) = p.push_partial_slice(black_box(&src));
            debug_assert!(rest.is_empty());
            let (popped, _) = c.pop_partial_slice(black_box(&mut dst));
            black_box(popped);
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// (d) SPSC across two threads

/// Moves `n` values from a producer thread to this thread; returns the time from the first
/// thread's start to the last value received.
fn run_spsc<P: Send, C>(
    n: u64,
    mut p: P,
    mut c: C,
    push: impl Fn(&mut P, u64) -> bool + Send,
    pop: impl Fn(&mut C) -> Option<u64>,
) -> Duration {
    let start = Barrier::new(2);
    let start = &start;
    thread::scope(|s| {
        let producer = s.spawn(move || {
            start.wait();
            let t = Instant::now();
            for i in 0..n {
                push_wait(&mut p, i, &push);
            }
            t
        });
        start.wait();
        let t = Instant::now();
        let mut sum = 0u64;
        for _ in 0..n {
            sum = sum.wrapping_add(pop_wait(&mut c, &pop));
        }
        let end = Instant::now();
        assert_eq!(sum, n * (n - 1) / 2);
        // From whichever thread started first (this one may have been preempted).
        end - t.min(producer.join().unwrap())
    })
}

/// As `run_spsc`, moving values in slices of up to `BATCH`.
fn run_spsc_slices<P: Send, C>(
    n: u64,
    mut p: P,
    mut c: C,
    push: impl Fn(&mut P, &[u64]) -> usize + Send,
    pop: impl Fn(&mut C, &mut [u64]) -> usize,
) -> Duration {
    let start = Barrier::new(2);
    let start = &start;
    thread::scope(|s| {
        let producer = s.spawn(move || {
            let mut buf = [0u64; BATCH];
            start.wait();
            let t = Instant::now();
            let mut next = 0;
            let mut spins = 0;
            while next < n {
                let k = (n - next).min(BATCH as u64) as usize;
                for (j, slot) in buf[..k].iter_mut().enumerate() {
                    *slot = next + j as u64;
                }
                let mut done = 0;
                while done < k {
                    let m = push(&mut p, &buf[done..k]);
                    if m == 0 {
                        backoff(&mut spins);
                    } else {
                        spins = 0;
                    }
                    done += m;
                }
                next += k as u64;
            }
            t
        });
        let mut buf = [0u64; BATCH];
        start.wait();
        let t = Instant::now();
        let mut sum = 0u64;
        let mut got = 0;
        let mut spins = 0;
        while got < n {
            let m = pop(&mut c, &mut buf);
            if m == 0 {
                backoff(&mut spins);
                continue;
            }
            spins = 0;
            for v in &buf[..m] {
                sum = sum.wrapping_add(*v);
            }
            got += m as u64;
        }
        let end = Instant::now();
        assert_eq!(sum, n * (n - 1) / 2);
        // From whichever thread started first (this one may have been preempted).
        end - t.min(producer.join().unwrap())
    })
}

fn spsc_2threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("spsc_2threads");
    configure(&mut group);
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.throughput(Throughput::Elements(SPSC_ITEMS));
    let n = SPSC_ITEMS;
    let timed = |iters: u64, mut one: Box<dyn FnMut() -> Duration + '_>| {
        (0..iters).map(|_| one()).sum::<Duration>()
    };

    let ours = Box::new(Ours::new());
    group.bench_function("ringdag_RingBuffer", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| run_spsc(n, &*ours, &*ours, |q, v| q.push(v).is_ok(), |q| q.pop())),
            )
        })
    });
    let mut ours_spsc = Box::new(OursSpsc::new());
    group.bench_function("ringdag_spsc", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| {
                    let (p, c) = ours_spsc.split();
                    run_spsc(n, p, c, |p, v| p.push(v).is_ok(), |c| c.pop())
                }),
            )
        })
    });
    let aq = crossbeam_queue::ArrayQueue::<u64>::new(CAP);
    group.bench_function("crossbeam_ArrayQueue", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| run_spsc(n, &aq, &aq, |q, v| q.push(v).is_ok(), |q| q.pop())),
            )
        })
    });
    group.bench_function("rtrb", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| {
                    let (p, c) = rtrb::RingBuffer::<u64>::new(CAP);
                    run_spsc(n, p, c, |p, v| p.push(v).is_ok(), |c| c.pop().ok())
                }),
            )
        })
    });
    let hm = heapless_mpmc();
    group.bench_function("heapless_mpmc", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| run_spsc(n, &*hm, &*hm, |q, v| q.enqueue(v).is_ok(), |q| q.dequeue())),
            )
        })
    });
    let mut hs = Box::new(HeaplessSpsc::new());
    group.bench_function("heapless_spsc", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| {
                    let (p, c) = hs.split();
                    run_spsc(n, p, c, |p, v| p.enqueue(v).is_ok(), |c| c.dequeue())
                }),
            )
        })
    });
    group.bench_function("std_sync_channel", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| {
                    let (tx, rx) = mpsc::sync_channel::<u64>(CAP);
                    run_spsc(
                        n,
                        tx,
                        rx,
                        |p, v| p.try_send(v).is_ok(),
                        |c| c.try_recv().ok(),
                    )
                }),
            )
        })
    });
    group.bench_function("crossbeam_channel", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| {
                    let (tx, rx) = crossbeam_channel::bounded::<u64>(CAP);
                    run_spsc(
                        n,
                        tx,
                        rx,
                        |p, v| p.try_send(v).is_ok(),
                        |c| c.try_recv().ok(),
                    )
                }),
            )
        })
    });
    // Batched variants: the slice / chunk APIs, up to BATCH values per call.
    group.bench_function("ringdag_RingBuffer_slice128", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| {
                    run_spsc_slices(
                        n,
                        &*ours,
                        &*ours,
                        |q, s| q.push_slice(s),
                        |q, s| q.pop_slice(s),
                    )
                }),
            )
        })
    });
    group.bench_function("ringdag_spsc_slice128", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| {
                    let (p, c) = ours_spsc.split();
                    run_spsc_slices(n, p, c, |p, s| p.push_slice(s), |c, s| c.pop_slice(s))
                }),
            )
        })
    });
    group.bench_function("rtrb_chunk128", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| {
                    let (p, c) = rtrb::RingBuffer::<u64>::new(CAP);
                    run_spsc_slices(
                        n,
                        p,
                        c,
                        |p, s| p.push_partial_slice(s).0.len(),
                        |c, s| c.pop_partial_slice(s).0.len(),
                    )
                }),
            )
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// (e) two producers, two consumers

/// `k` producer threads push `n / k` values each and `k` consumer threads pop `n / k` each
/// (`n` a multiple of `k`); returns the time from the first thread's start to the last
/// thread's end (each thread reads the clock itself, so a preempted coordinator cannot
/// shorten the measurement). Every value is checked to arrive once, by its sum.
fn run_mpmc_k<Q: Sync + ?Sized>(
    k: u64,
    n: u64,
    q: &Q,
    push: impl Fn(&Q, u64) -> bool + Sync,
    pop: impl Fn(&Q) -> Option<u64> + Sync,
) -> Duration {
    let start = Barrier::new(2 * k as usize);
    let share = n / k;
    assert_eq!(share * k, n, "n must be a multiple of k");
    thread::scope(|s| {
        let mut threads = Vec::new();
        for id in 0..k {
            let (start, push) = (&start, &push);
            threads.push(s.spawn(move || {
                start.wait();
                let t = Instant::now();
                for i in 0..share {
                    push_wait(&mut &*q, id * share + i, |q, v| push(*q, v));
                }
                (t, Instant::now(), 0u64)
            }));
        }
        for _ in 0..k {
            let (start, pop) = (&start, &pop);
            threads.push(s.spawn(move || {
                start.wait();
                let t = Instant::now();
                let mut sum = 0u64;
                for _ in 0..share {
                    sum = sum.wrapping_add(pop_wait(&mut &*q, |q| pop(*q)));
                }
                (t, Instant::now(), sum)
            }));
        }
        let spans: Vec<_> = threads.into_iter().map(|h| h.join().unwrap()).collect();
        let sum: u64 = spans.iter().map(|s| s.2).sum();
        assert_eq!(sum, n * (n - 1) / 2);
        let first = spans.iter().map(|s| s.0).min().unwrap();
        let last = spans.iter().map(|s| s.1).max().unwrap();
        last - first
    })
}

/// Two producers and two consumers (the criterion workload).
fn run_mpmc<Q: Sync + ?Sized>(
    n: u64,
    q: &Q,
    push: impl Fn(&Q, u64) -> bool + Sync,
    pop: impl Fn(&Q) -> Option<u64> + Sync,
) -> Duration {
    run_mpmc_k(2, n, q, push, pop)
}

fn mpmc_2p2c(c: &mut Criterion) {
    let mut group = c.benchmark_group("mpmc_2p2c");
    configure(&mut group);
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.throughput(Throughput::Elements(MPMC_ITEMS));
    let n = MPMC_ITEMS;
    let timed = |iters: u64, mut one: Box<dyn FnMut() -> Duration + '_>| {
        (0..iters).map(|_| one()).sum::<Duration>()
    };

    let ours = Box::new(Ours::new());
    group.bench_function("ringdag_RingBuffer", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| run_mpmc(n, &*ours, |q, v| q.push(v).is_ok(), |q| q.pop())),
            )
        })
    });
    let aq = crossbeam_queue::ArrayQueue::<u64>::new(CAP);
    group.bench_function("crossbeam_ArrayQueue", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| run_mpmc(n, &aq, |q, v| q.push(v).is_ok(), |q| q.pop())),
            )
        })
    });
    let hm = heapless_mpmc();
    group.bench_function("heapless_mpmc", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| run_mpmc(n, &*hm, |q, v| q.enqueue(v).is_ok(), |q| q.dequeue())),
            )
        })
    });
    let cc = crossbeam_channel::bounded::<u64>(CAP);
    group.bench_function("crossbeam_channel", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| {
                    run_mpmc(
                        n,
                        &cc,
                        |q, v| q.0.try_send(v).is_ok(),
                        |q| q.1.try_recv().ok(),
                    )
                }),
            )
        })
    });
    // std's sync_channel has a single receiver, so it has no 2-consumer entry.
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// (f) two threads sharing both ends: each pushes then pops, on a ring kept half full

/// Pairs per thread per iteration of `shared_pairs` (smaller in unoptimised test runs).
const SHARED_PAIRS: u64 = if cfg!(debug_assertions) {
    1 << 12
} else {
    1 << 19
};

/// Two threads each push one value then pop one, `pairs` times, on a queue holding `CAP / 2`
/// values at the start, so that neither side finds it full or empty and both compete for
/// both cursors on every operation. Returns the time from the first thread's start to the
/// last thread's end. (The group checks afterwards that ringdag's ring, `ArrayQueue` and the
/// channel still hold `CAP / 2` values; `heapless::mpmc` has no `len`. `tests/ring_stress.rs`
/// checks contents under contention.)
fn run_shared_pairs<Q: Sync + ?Sized>(
    pairs: u64,
    q: &Q,
    push: impl Fn(&Q, u64) -> bool + Sync,
    pop: impl Fn(&Q) -> Option<u64> + Sync,
) -> Duration {
    let start = Barrier::new(2);
    let spans: Vec<(Instant, Instant, u64)> = thread::scope(|s| {
        let threads: Vec<_> = (0..2u64)
            .map(|id| {
                let (start, push, pop) = (&start, &push, &pop);
                s.spawn(move || {
                    start.wait();
                    let t = Instant::now();
                    let mut sum = 0u64;
                    for i in 0..pairs {
                        push_wait(&mut &*q, id * pairs + i, |q, v| push(*q, v));
                        sum = sum.wrapping_add(pop_wait(&mut &*q, |q| pop(*q)));
                    }
                    (t, Instant::now(), sum)
                })
            })
            .collect();
        threads.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Each thread popped as many values as it pushed, so the queue holds as many as before;
    // which values may differ (this iteration's replaced older ones).
    let popped: u64 = spans.iter().map(|s| s.2).fold(0, u64::wrapping_add);
    let first = spans.iter().map(|s| s.0).min().unwrap();
    let last = spans.iter().map(|s| s.1).max().unwrap();
    black_box(popped);
    last - first
}

fn shared_pairs(c: &mut Criterion) {
    let mut group = c.benchmark_group("shared_pairs_2threads");
    configure(&mut group);
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.throughput(Throughput::Elements(2 * SHARED_PAIRS));
    let n = SHARED_PAIRS;
    let timed = |iters: u64, mut one: Box<dyn FnMut() -> Duration + '_>| {
        (0..iters).map(|_| one()).sum::<Duration>()
    };
    let half = CAP as u64 / 2;

    let ours = Box::new(Ours::new());
    (0..half).for_each(|v| ours.push(v).unwrap());
    group.bench_function("ringdag_RingBuffer", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| run_shared_pairs(n, &*ours, |q, v| q.push(v).is_ok(), |q| q.pop())),
            )
        })
    });
    assert_eq!(ours.len() as u64, half);
    let aq = crossbeam_queue::ArrayQueue::<u64>::new(CAP);
    (0..half).for_each(|v| aq.push(v).unwrap());
    group.bench_function("crossbeam_ArrayQueue", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| run_shared_pairs(n, &aq, |q, v| q.push(v).is_ok(), |q| q.pop())),
            )
        })
    });
    assert_eq!(aq.len() as u64, half);
    let hm = heapless_mpmc();
    (0..half).for_each(|v| assert!(hm.enqueue(v).is_ok()));
    group.bench_function("heapless_mpmc", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| {
                    run_shared_pairs(n, &*hm, |q, v| q.enqueue(v).is_ok(), |q| q.dequeue())
                }),
            )
        })
    });
    let cc = crossbeam_channel::bounded::<u64>(CAP);
    (0..half).for_each(|v| cc.0.try_send(v).unwrap());
    group.bench_function("crossbeam_channel", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                Box::new(|| {
                    run_shared_pairs(
                        n,
                        &cc,
                        |q, v| q.0.try_send(v).is_ok(),
                        |q| q.1.try_recv().ok(),
                    )
                }),
            )
        })
    });
    assert_eq!(cc.0.len() as u64, half);
    group.finish();
}

criterion_group!(
    benches,
    pair,
    burst128,
    batch128,
    spsc_2threads,
    mpmc_2p2c,
    shared_pairs
);

/// Scaling mode (`RING_PEERS_MPMC=1,2,4,8`): `k` producers and `k` consumers for each `k`,
/// every MPMC queue in turn, plain timing; prints the median M items/s of
/// `RING_PEERS_RUNS` runs (default 5) as a markdown table. Each run moves `MPMC_ITEMS * 4`
/// values (rounded down to a multiple of `k`) and checks their sum.
fn mpmc_scaling(list: &str) {
    let ks: Vec<u64> = list
        .split(',')
        .map(|t| match t.trim().parse() {
            Ok(k) if k > 0 => k,
            _ => panic!("RING_PEERS_MPMC={list}: want thread pairs like 1,2,4,8"),
        })
        .collect();
    let runs: usize = match std::env::var("RING_PEERS_RUNS") {
        Ok(r) => r.trim().parse().expect("RING_PEERS_RUNS: a number of runs"),
        Err(_) => 5,
    };
    let median = |k: u64, one: &dyn Fn(u64) -> Duration| {
        let n = (MPMC_ITEMS * 4) / k * k;
        one(n); // warm-up, untimed
        let mut rates: Vec<f64> = (0..runs.max(1))
            .map(|_| n as f64 / one(n).as_secs_f64() / 1e6)
            .collect();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    println!("| producers x consumers | ringdag `RingBuffer` | crossbeam `ArrayQueue` | heapless mpmc | crossbeam-channel |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let ours = Box::new(Ours::new());
    let aq = crossbeam_queue::ArrayQueue::<u64>::new(CAP);
    let hm = heapless_mpmc();
    let cc = crossbeam_channel::bounded::<u64>(CAP);
    for k in ks {
        let a = median(k, &|n| {
            run_mpmc_k(k, n, &*ours, |q, v| q.push(v).is_ok(), |q| q.pop())
        });
        let b = median(k, &|n| {
            run_mpmc_k(k, n, &aq, |q, v| q.push(v).is_ok(), |q| q.pop())
        });
        let c = median(k, &|n| {
            run_mpmc_k(k, n, &*hm, |q, v| q.enqueue(v).is_ok(), |q| q.dequeue())
        });
        let d = median(k, &|n| {
            run_mpmc_k(
                k,
                n,
                &cc,
                |q, v| q.0.try_send(v).is_ok(),
                |q| q.1.try_recv().ok(),
            )
        });
        println!("| {k} x {k} | {a:.1} | {b:.1} | {c:.1} | {d:.1} |");
    }
}

fn main() {
    if let Ok(list) = std::env::var("RING_PEERS_MPMC") {
        mpmc_scaling(&list);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
