//! A linear stream of u64 values through a `StreamingRingBuffer` (capacity 8192) with
//! `push_slice` + `pop_slice`, for batch sizes 1, 8, 32, 128 and 256: how much batching buys.
//!
//! - `single_thread/B`: push B values, pop B values, one thread (the ring's own cost);
//! - `two_threads/B`: one producer thread, one consumer thread, `ITEMS` values per iteration.
//!
//! Run: `cargo bench --bench linear_streaming`.

use core::hint::black_box;
use core::time::Duration;
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use ringdag::ring::StreamingRingBuffer;

const CAP: usize = 8192;
const SIZES: [usize; 5] = [1, 8, 32, 128, 256];
/// Values per iteration of the two-thread stream (smaller in unoptimised test runs).
const ITEMS: u64 = if cfg!(debug_assertions) {
    1 << 12
} else {
    1 << 20
};

type Stream = StreamingRingBuffer<u64, CAP>;

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

fn single_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("single_thread");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_millis(1500));
    group.sample_size(25);
    let stream = Box::new(Stream::new());
    let src: Vec<u64> = (0..256).collect();
    let mut dst = vec![0u64; 256];
    for size in SIZES {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter(|| {
                let n = stream.push_slice(black_box(&src[..size]));
                debug_assert_eq!(n, size);
                black_box(stream.pop_slice(black_box(&mut dst[..size])))
            })
        });
    }
    group.finish();
}

/// Streams `ITEMS` values from a producer thread to this thread in slices of `size`.
fn stream_two_threads(stream: &Stream, size: usize) -> Duration {
    let start = Barrier::new(2);
    thread::scope(|s| {
        s.spawn(|| {
            let mut buf = [0u64; 256];
            start.wait();
            let (mut next, mut spins) = (0u64, 0);
            while next < ITEMS {
                let k = (ITEMS - next).min(size as u64) as usize;
                for (j, v) in buf[..k].iter_mut().enumerate() {
                    *v = next + j as u64;
                }
                let mut done = 0;
                while done < k {
                    let m = stream.push_slice(&buf[done..k]);
                    if m == 0 {
                        backoff(&mut spins);
                    } else {
                        spins = 0;
                    }
                    done += m;
                }
                next += k as u64;
            }
        });
        let mut buf = [0u64; 256];
        start.wait();
        let t = Instant::now();
        let (mut got, mut sum, mut spins) = (0u64, 0u64, 0);
        while got < ITEMS {
            let m = stream.pop_slice(&mut buf[..size]);
            if m == 0 {
                backoff(&mut spins);
                continue;
            }
            spins = 0;
            sum = buf[..m].iter().fold(sum, |a, v| a.wrapping_add(*v));
            got += m as u64;
        }
        let elapsed = t.elapsed();
        assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
        elapsed
    })
}

fn two_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("two_threads");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(15);
    group.throughput(Throughput::Elements(ITEMS));
    let stream = Box::new(Stream::new());
    for size in SIZES {
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter_custom(|iters| (0..iters).map(|_| stream_two_threads(&stream, size)).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, single_thread, two_threads);
criterion_main!(benches);
