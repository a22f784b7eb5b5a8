//! A timer interrupt produces, the main loop consumes, through one `static RingBuffer`.
//!
//! The interrupt (SysTick on ARM, the CLINT machine timer on RISC-V) pushes 0, 1, 2, ... into
//! `RING`. When the ring is full it counts a Full event and retries the same value on the next
//! tick, so nothing is lost. Main pops (single `pop` and `pop_slice`, alternately) and checks
//! that every value arrives exactly once, in order. Twice per 1000 values main stops popping
//! until the interrupt has hit Full several times, so the Full path is exercised for certain;
//! at the end both the Full path and the normal path must have been taken (counters > 0).
//!
//! On thumbv6m and riscv32imc the ring's atomics are portable-atomic's, with CAS emulated in a
//! critical section (interrupts masked), so this also checks that emulation against a real
//! interrupt.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use ringdag_core::ring::RingBuffer;
use ringdag_qemu::{println, timer};

ringdag_qemu::test_main!(run);
ringdag_qemu::on_timer_tick!(tick);

/// Values to transfer.
const TOTAL: u32 = 2000;
/// Timer period: core cycles on ARM, 10 MHz `mtime` ticks on RISC-V (0.5 ms).
const PERIOD: u32 = 5_000;
/// Main stalls (stops popping) when it has received `STALL_AT (mod STALL_EVERY)` values...
const STALL_EVERY: u32 = 500;
const STALL_AT: u32 = 250;
/// ...until the interrupt has reported this many more Full events.
const STALL_FULLS: u32 = 3;
/// Give up (fail) after this many ticks: a lost value would otherwise hang the test.
const TICK_LIMIT: u32 = 4 * TOTAL + 1000;

static RING: RingBuffer<u32, 16> = RingBuffer::new();

// Written only by the interrupt handler, read by main: load/store suffices (and is all that
// thumbv6m and riscv32imc have natively).
/// The next value to push.
static NEXT: AtomicU32 = AtomicU32::new(0);
/// Pushes that succeeded (the normal path).
static PUSH_OK: AtomicU32 = AtomicU32::new(0);
/// Pushes refused because the ring was full (the full path); the value is retried.
static PUSH_FULL: AtomicU32 = AtomicU32::new(0);
/// Timer interrupts taken.
static TICKS: AtomicU32 = AtomicU32::new(0);

fn bump(counter: &AtomicU32) {
    counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
}

/// The interrupt handler's work: push one value, or count Full and retry it next tick.
fn tick() {
    bump(&TICKS);
    let value = NEXT.load(Relaxed);
    if value >= TOTAL {
        return;
    }
    match RING.push(value) {
        Ok(()) => {
            NEXT.store(value + 1, Relaxed);
            bump(&PUSH_OK);
        }
        // The value comes back; NEXT is unchanged, so the next tick pushes it again.
        Err(_) => bump(&PUSH_FULL),
    }
}

fn run() {
    let mut expected = 0u32;
    let mut single_pops = 0u32;
    let mut slice_pops = 0u32;
    let mut empty_polls = 0u32;
    let mut stalls = 0u32;
    let mut stalled_at = u32::MAX;
    let mut use_slice = false;

    timer::start(PERIOD);
    while expected < TOTAL {
        let ticks = TICKS.load(Relaxed);
        assert!(
            ticks < TICK_LIMIT,
            "no progress: {} ticks, {} of {} received",
            ticks,
            expected,
            TOTAL
        );

        if expected % STALL_EVERY == STALL_AT && stalled_at != expected {
            stalled_at = expected;
            stalls += 1;
            let fulls = PUSH_FULL.load(Relaxed);
            while PUSH_FULL.load(Relaxed) < fulls + STALL_FULLS {
                let ticks = TICKS.load(Relaxed);
                assert!(
                    ticks < TICK_LIMIT,
                    "the interrupt never found the ring full"
                );
                core::hint::spin_loop();
            }
            // Main does not pop while stalled, so the ring is exactly full.
            assert!(RING.is_full(), "Full was reported but the ring is not full");
            assert_eq!(RING.len(), 16);
        }

        use_slice = !use_slice;
        if use_slice {
            let mut out = [0u32; 4];
            let n = RING.pop_slice(&mut out);
            if n == 0 {
                empty_polls += 1;
            }
            for &v in &out[..n] {
                assert_eq!(v, expected, "values out of order or lost");
                expected += 1;
                slice_pops += 1;
            }
        } else {
            match RING.pop() {
                Some(v) => {
                    assert_eq!(v, expected, "values out of order or lost");
                    expected += 1;
                    single_pops += 1;
                }
                None => empty_polls += 1,
            }
        }
    }
    timer::stop();

    let ok = PUSH_OK.load(Relaxed);
    let full = PUSH_FULL.load(Relaxed);
    println!(
        "  {} values: {} by pop, {} by pop_slice; interrupt: {} ticks, {} pushes ok, {} Full (retried); main: {} stalls, {} empty polls",
        expected,
        single_pops,
        slice_pops,
        TICKS.load(Relaxed),
        ok,
        full,
        stalls,
        empty_polls
    );
    assert_eq!(RING.pop(), None, "nothing beyond TOTAL was pushed");
    assert_eq!(NEXT.load(Relaxed), TOTAL);
    assert_eq!(ok, TOTAL, "every value pushed exactly once");
    assert!(ok > 0, "the normal push path was never taken");
    assert!(full > 0, "the Full path was never taken");
    assert!(full >= stalls * STALL_FULLS);
    assert!(single_pops > 0 && slice_pops > 0);
}
