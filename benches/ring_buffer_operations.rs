//! ringdag's MPMC ring on its own: single-thread push/pop, multi-thread push/pop, and the
//! streaming ring's batches (u64 payload, capacity 8192).
//!
//! Run: `cargo bench --bench ring_buffer_operations`. Peers: see `ring_peers`.

use core::hint::black_box;
use core::time::Duration;
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use ringdag::ring::{RingBuffer, StreamingRingBuffer};

const CAP: usize = 8192;
const BATCH: usize = 128;
/// Values per iteration of the threaded workloads (smaller in unoptimised test runs).
const ITEMS: u64 = if cfg!(debug_assertions) {
    1 << 12
} else {
    1 << 19
};

type Ring = RingBuffer<u64, CAP>;
type Stream = StreamingRingBuffer<u64, CAP, BATCH>;

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

fn push_single_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("push_single_thread");
    configure(&mut group);
    let ring = Box::new(Ring::new());

    group.throughput(Throughput::Elements(1));
    group.bench_function("push_pop_pair", |b| {
        b.iter(|| {
            let ok = ring.push(black_box(7)).is_ok();
            debug_assert!(ok);
            black_box(ring.pop())
        })
    });
    group.bench_function("push_only_then_drain", |b| {
        // Pushes until full (timed), then drains untimed.
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let k = left.min(CAP as u64);
                let t = Instant::now();
                for i in 0..k {
                    black_box(ring.push(black_box(i)).is_ok());
                }
                total += t.elapsed();
                while ring.pop().is_some() {}
                left -= k;
            }
            total
        })
    });
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("push_128_then_pop_128", |b| {
        b.iter(|| {
            for i in 0..BATCH as u64 {
                black_box(ring.push(black_box(i)).is_ok());
            }
            for _ in 0..BATCH {
                black_box(ring.pop());
            }
        })
    });
    group.finish();
}

/// `producers` threads push `n / producers` values each and `consumers` threads pop
/// `n / consumers` each; returns the time from the first thread's start to the last thread's
/// end (each thread reads the clock itself).
fn run_threads(ring: &Ring, n: u64, producers: u64, consumers: u64) -> Duration {
    let start = Barrier::new((producers + consumers) as usize);
    let (per_producer, per_consumer) = (n / producers, n / consumers);
    thread::scope(|s| {
        let mut threads = Vec::new();
        for id in 0..producers {
            let start = &start;
            threads.push(s.spawn(move || {
                start.wait();
                let t = Instant::now();
                for i in 0..per_producer {
                    let mut spins = 0;
                    while ring.push(id * per_producer + i).is_err() {
                        backoff(&mut spins);
                    }
                }
                (t, Instant::now(), 0u64)
            }));
        }
        for _ in 0..consumers {
            let start = &start;
            threads.push(s.spawn(move || {
                start.wait();
                let t = Instant::now();
                let mut sum = 0u64;
                for _ in 0..per_consumer {
                    let mut spins = 0;
                    loop {
                        if let Some(v) = ring.pop() {
                            sum = sum.wrapping_add(v);
                            break;
                        }
                        backoff(&mut spins);
                    }
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

fn push_multi_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("push_multi_thread");
    configure(&mut group);
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.throughput(Throughput::Elements(ITEMS));
    let ring = Box::new(Ring::new());
    for (name, producers, consumers) in [("1p1c", 1, 1), ("2p1c", 2, 1), ("2p2c", 2, 2)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run_threads(&ring, ITEMS, producers, consumers))
                    .sum()
            })
        });
    }
    group.finish();
}

fn streaming_batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("streaming_batch");
    configure(&mut group);
    group.throughput(Throughput::Elements(BATCH as u64));
    let stream = Box::new(Stream::new());

    // One batch circulates: pop_batch() hands out a full vector, push_batch moves it back.
    let mut seed: heapless::Vec<u64, BATCH> = (0..BATCH as u64).collect();
    assert_eq!(stream.push_batch(&mut seed), BATCH);
    group.bench_function("push_batch_pop_batch_128", |b| {
        b.iter(|| {
            let mut batch = stream.pop_batch();
            debug_assert_eq!(batch.len(), BATCH);
            let n = stream.push_batch(black_box(&mut batch));
            debug_assert_eq!(n, BATCH);
            black_box(n)
        })
    });
    while !stream.pop_batch().is_empty() {}

    group.throughput(Throughput::Elements(ITEMS));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.bench_function("two_threads_128", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let start = Barrier::new(2);
                    thread::scope(|s| {
                        s.spawn(|| {
                            start.wait();
                            let mut next = 0u64;
                            let mut batch = heapless::Vec::<u64, BATCH>::new();
                            let mut spins = 0;
                            while next < ITEMS || !batch.is_empty() {
                                while next < ITEMS && !batch.is_full() {
                                    batch.push(next).unwrap();
                                    next += 1;
                                }
                                if stream.push_batch(&mut batch) == 0 {
                                    backoff(&mut spins);
                                } else {
                                    spins = 0;
                                }
                            }
                        });
                        start.wait();
                        let t = Instant::now();
                        let (mut got, mut sum, mut spins) = (0u64, 0u64, 0);
                        while got < ITEMS {
                            let batch = stream.pop_batch();
                            if batch.is_empty() {
                                backoff(&mut spins);
                                continue;
                            }
                            spins = 0;
                            got += batch.len() as u64;
                            sum = batch.iter().fold(sum, |a, v| a.wrapping_add(*v));
                        }
                        let elapsed = t.elapsed();
                        assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
                        elapsed
                    })
                })
                .sum()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    push_single_thread,
    push_multi_thread,
    streaming_batch
);
criterion_main!(benches);
