//! The rings at work: an MPMC ring shared by several threads, a streaming ring moving
//! batches, and an SPSC queue between two threads. Prints the throughput of each.
//!
//! Run: `cargo run --release --example rings` (well under 3 s).

use core::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Instant;

use heapless::Vec;
use ringdag::ring::{spsc, RingBuffer, StreamingRingBuffer};

/// Values moved by each demo.
const ITEMS: u64 = 1 << 21;

/// A ring in a `static`: no heap, no lazy initialisation (it is all zeros, so it lands in
/// `.bss`).
static JOBS: RingBuffer<u64, 4096> = RingBuffer::new();

/// Spins briefly, then yields: the rings never block, so waiting is the caller's choice.
fn backoff(spins: &mut u32) {
    if *spins < 64 {
        *spins += 1;
        core::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

fn report(what: &str, items: u64, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what:<48} {items:>8} items in {:>6.1} ms = {:>7.1} M items/s",
        secs * 1e3,
        items as f64 / secs / 1e6
    );
}

/// Several producers and consumers share one `static` MPMC ring; every value arrives once.
fn mpmc(producers: u64, consumers: u64) {
    let per_producer = ITEMS / producers;
    let total = per_producer * producers;
    let per_consumer = total / consumers;
    assert_eq!(per_consumer * consumers, total);
    let sum = AtomicU64::new(0);
    let start = Instant::now();
    thread::scope(|s| {
        for p in 0..producers {
            s.spawn(move || {
                for i in 0..per_producer {
                    let mut value = p * per_producer + i;
                    let mut spins = 0;
                    // `push` gives the value back when the ring is full.
                    while let Err(back) = JOBS.push(value) {
                        value = back;
                        backoff(&mut spins);
                    }
                }
            });
        }
        for _ in 0..consumers {
            s.spawn(|| {
                let (mut local_sum, mut spins) = (0u64, 0);
                for _ in 0..per_consumer {
                    loop {
                        if let Some(v) = JOBS.pop() {
                            local_sum += v;
                            break;
                        }
                        backoff(&mut spins);
                    }
                }
                sum.fetch_add(local_sum, Ordering::Relaxed);
            });
        }
    });
    assert_eq!(
        sum.into_inner(),
        total * (total - 1) / 2,
        "every value exactly once"
    );
    report(
        &format!("RingBuffer MPMC, {producers} producers x {consumers} consumers"),
        total,
        start,
    );
}

/// A producer hands over batches of 128 (one atomic claim per batch); the consumer takes
/// them with `pop_batch()`.
fn streaming() {
    let stream = Box::new(StreamingRingBuffer::<u64, 8192, 128>::new());
    let start = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            let mut batch: Vec<u64, 128> = Vec::new();
            let (mut next, mut spins) = (0u64, 0);
            while next < ITEMS || !batch.is_empty() {
                while next < ITEMS && !batch.is_full() {
                    batch.push(next).unwrap();
                    next += 1;
                }
                // Moves what fits; the rest stays in `batch`, in order.
                if stream.push_batch(&mut batch) == 0 {
                    backoff(&mut spins);
                }
            }
        });
        let (mut expected, mut spins) = (0u64, 0);
        while expected < ITEMS {
            let batch = stream.pop_batch();
            if batch.is_empty() {
                backoff(&mut spins);
            }
            for v in batch {
                assert_eq!(v, expected, "one producer: values arrive in order");
                expected += 1;
            }
        }
    });
    report(
        "StreamingRingBuffer, push_batch/pop_batch of 128",
        ITEMS,
        start,
    );
}

/// The SPSC queue: one value at a time, then slices of 128.
fn spsc_pair() {
    let mut queue = Box::new(spsc::Queue::<u64, 8192>::new());
    for sliced in [false, true] {
        let (mut tx, mut rx) = queue.split();
        let start = Instant::now();
        thread::scope(|s| {
            s.spawn(move || {
                let (mut next, mut spins) = (0u64, 0);
                let mut buf = [0u64; 128];
                while next < ITEMS {
                    let pushed = if sliced {
                        let k = (ITEMS - next).min(128) as usize;
                        for (j, v) in buf[..k].iter_mut().enumerate() {
                            *v = next + j as u64;
                        }
                        tx.push_slice(&buf[..k]) as u64
                    } else {
                        u64::from(tx.push(next).is_ok())
                    };
                    if pushed == 0 {
                        backoff(&mut spins);
                    }
                    next += pushed;
                }
            });
            let (mut expected, mut spins) = (0u64, 0);
            let mut buf = [0u64; 128];
            while expected < ITEMS {
                let got = if sliced {
                    rx.pop_slice(&mut buf)
                } else {
                    match rx.pop() {
                        Some(v) => {
                            buf[0] = v;
                            1
                        }
                        None => 0,
                    }
                };
                if got == 0 {
                    backoff(&mut spins);
                }
                for v in &buf[..got] {
                    assert_eq!(*v, expected, "SPSC keeps order");
                    expected += 1;
                }
            }
        });
        let what = if sliced {
            "spsc::Queue, push_slice/pop_slice of 128"
        } else {
            "spsc::Queue, push/pop one at a time"
        };
        report(what, ITEMS, start);
    }
}

fn main() {
    println!(
        "{} cores; RingBuffer<u64, 4096> is {} bytes, no heap",
        thread::available_parallelism().map_or(1, |n| n.get()),
        core::mem::size_of::<RingBuffer<u64, 4096>>()
    );
    mpmc(2, 2);
    mpmc(4, 4);
    streaming();
    spsc_pair();
}
