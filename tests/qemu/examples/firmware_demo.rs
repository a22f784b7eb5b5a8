//! Firmware example: a sampling interrupt feeds a `static` ring; the main loop drains it in
//! batches and keeps statistics. No heap, no `alloc`, and no panic path in the hot loop
//! (every fallible step is a `Result`/`Option` that is handled, arithmetic wraps or
//! saturates, no indexing).
//!
//! Built for thumbv7em-none-eabihf (QEMU mps2-an386, a Cortex-M4F) and measured there; it
//! builds and runs unchanged on the other three targets of this crate. See README.md:
//!
//! ```text
//! cd tests/qemu
//! cargo run --release --example firmware_demo --target thumbv7em-none-eabihf
//! ```
//!
//! The run ends after `SAMPLES_WANTED` samples with a report and exit status 0, or 1 if the
//! books do not balance (produced != received + still queued + dropped).
//!
//! (Later: a `static` DAG of tasks fed by this ring; the ring part stays the same.)
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use ringdag_core::heapless::Vec;
use ringdag_core::ring::RingBuffer;
use ringdag_qemu::{println, timer};

/// One reading of the (simulated) sensor.
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// Sequence number given by the interrupt; a gap means samples were dropped.
    seq: u32,
    /// 12-bit ADC-style reading.
    value: u16,
}

/// Capacity 64: 2^6, checked at compile time. Zero-initialised, so it lives in `.bss`.
static SAMPLES: RingBuffer<Sample, 64> = RingBuffer::new();
/// Next sequence number; written only by the interrupt.
static PRODUCED: AtomicU32 = AtomicU32::new(0);
/// Samples the interrupt could not queue (ring full); written only by the interrupt.
static DROPPED: AtomicU32 = AtomicU32::new(0);

/// Sampling period in core cycles (SysTick) or `mtime` ticks (RISC-V).
const PERIOD: u32 = 5_000;
const SAMPLES_WANTED: u32 = 1_000;
/// Samples taken out of the ring per batch: one atomic claim per batch.
const BATCH: usize = 16;

ringdag_qemu::on_timer_tick!(on_sample_tick);

/// Interrupt handler: take a sample and queue it. Never blocks; if the ring is full the sample
/// is dropped and counted (the main loop sees the gap in `seq`).
fn on_sample_tick() {
    let seq = PRODUCED.load(Relaxed);
    PRODUCED.store(seq.wrapping_add(1), Relaxed);
    let sample = Sample {
        seq,
        value: fake_adc(seq),
    };
    if SAMPLES.push(sample).is_err() {
        DROPPED.store(DROPPED.load(Relaxed).wrapping_add(1), Relaxed);
    }
}

/// A deterministic stand-in for an ADC: a 12-bit sawtooth with some noise.
fn fake_adc(seq: u32) -> u16 {
    let noise = seq.wrapping_mul(2_654_435_761) >> 28; // 0..=15
    ((seq.wrapping_mul(37).wrapping_add(noise)) & 0x0FFF) as u16
}

/// Running statistics over the samples received.
#[derive(Debug)]
struct Stats {
    received: u32,
    next_seq: u32,
    gaps: u32,
    min: u16,
    max: u16,
    sum: u64,
}

/// A sample arrived after a gap in the sequence (samples were dropped before it).
#[derive(Debug)]
struct Gap {
    missing: u32,
}

impl Stats {
    const fn new() -> Self {
        Self {
            received: 0,
            next_seq: 0,
            gaps: 0,
            min: u16::MAX,
            max: 0,
            sum: 0,
        }
    }

    /// Accounts one sample. `Err` reports a gap; the sample itself is still counted.
    fn add(&mut self, s: Sample) -> Result<(), Gap> {
        let missing = s.seq.wrapping_sub(self.next_seq);
        self.next_seq = s.seq.wrapping_add(1);
        self.received = self.received.wrapping_add(1);
        self.min = self.min.min(s.value);
        self.max = self.max.max(s.value);
        self.sum = self.sum.wrapping_add(u64::from(s.value));
        if missing == 0 {
            Ok(())
        } else {
            Err(Gap { missing })
        }
    }
}

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    println!("firmware_demo: start on {}", ringdag_qemu::MACHINE);
    timer::start(PERIOD);
    let stats = hot_loop();
    timer::stop();
    report(&stats)
}

/// The hot loop: drain the ring in batches until enough samples arrived. No panic path.
#[inline(never)]
fn hot_loop() -> Stats {
    let mut stats = Stats::new();
    let mut batch: Vec<Sample, BATCH> = Vec::new();
    while stats.received < SAMPLES_WANTED {
        batch.clear();
        if SAMPLES.pop_batch(&mut batch) == 0 {
            // Nothing queued: sleep until the next interrupt. (If it fires between the pop
            // and the wait, we sleep one period longer; the ring absorbs that.)
            wait_for_interrupt();
            continue;
        }
        for &sample in batch.iter() {
            if let Err(gap) = stats.add(sample) {
                stats.gaps = stats.gaps.wrapping_add(gap.missing);
            }
        }
    }
    stats
}

fn wait_for_interrupt() {
    #[cfg(target_arch = "arm")]
    cortex_m::asm::wfi();
    #[cfg(target_arch = "riscv32")]
    riscv::asm::wfi();
}

fn report(stats: &Stats) -> ! {
    let produced = PRODUCED.load(Relaxed);
    let dropped = DROPPED.load(Relaxed);
    let queued = SAMPLES.len() as u32;
    let mean = stats
        .sum
        .checked_div(u64::from(stats.received))
        .unwrap_or(0);
    println!(
        "firmware_demo: produced {}, received {}, still queued {}, dropped {} (gaps seen {}); min {} max {} mean {}",
        produced, stats.received, queued, dropped, stats.gaps, stats.min, stats.max, mean
    );
    let balanced = produced == stats.received + queued + dropped && stats.gaps <= dropped;
    if balanced && stats.received >= SAMPLES_WANTED {
        println!("firmware_demo: PASS");
        ringdag_qemu::exit_success()
    } else {
        println!("firmware_demo: FAIL: the books do not balance");
        ringdag_qemu::exit_failure()
    }
}
