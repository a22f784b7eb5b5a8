//! Firmware example: a sampling interrupt feeds a `static` ring; the main loop drains it in
//! batches, keeps statistics, and feeds every sample into a run of a `static` DAG that a
//! `static` `TaskManager` executes: `submit` per sample, `step` and `poll` in the same loop.
//! No heap, no `alloc`, and no panic path in the hot loop (every fallible step is a
//! `Result`/`Option` that is handled, arithmetic wraps or saturates, no indexing).
//!
//! The DAG classifies a sample: `calib` converts the 12-bit reading to millivolts, the
//! condition `check` takes the `alarm` branch at or above `ALARM_MV` and the default branch
//! `normal` below, and the join `log` yields the millivolts with `ALARM_BIT` set for an
//! alarm. Main adds up the runs' results and, independently, the same figures computed from
//! the samples by plain functions; the two must agree.
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
//! books do not balance (produced != received + still queued + dropped, or a received sample
//! without its finished run, or DAG results that differ from the plain computation).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use ringdag_core::dag::{Dag, DagBuilder, NodeId};
use ringdag_core::heapless::Vec;
use ringdag_core::ring::RingBuffer;
use ringdag_core::sched::{Context, Finished, SubmitError, TaskManager};
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

// ------------------------------------------------------------------------------ the DAG

/// Readings at or above this many millivolts raise an alarm.
const ALARM_MV: u32 = 2_500;
/// Set in `log`'s value for an alarm (millivolts fit in the low 12 bits).
const ALARM_BIT: u32 = 1 << 31;

type Cx<'a> = Context<'a, Sample, u32>;

/// 12-bit reading -> millivolts (3.3 V full scale). The plain function the DAG is checked
/// against, and the body of `calib`.
fn millivolts(value: u16) -> u32 {
    u32::from(value).wrapping_mul(3_300) / 4_095
}

/// The value of the single predecessor that ran (0 if none did).
fn upstream(cx: &Cx<'_>) -> u32 {
    cx.inputs().fold(0, |acc, (_, v)| acc | v)
}

fn calib(cx: &mut Cx<'_>) -> Result<u32, ()> {
    Ok(millivolts(cx.input().value))
}

/// Condition: branch 0 (`alarm`) at or above `ALARM_MV`, the default (`normal`) below.
fn check(cx: &mut Cx<'_>) -> Result<u32, ()> {
    let mv = upstream(cx);
    cx.choose(if mv >= ALARM_MV { 0 } else { 1 });
    Ok(mv)
}

fn alarm(cx: &mut Cx<'_>) -> Result<u32, ()> {
    Ok(upstream(cx) | ALARM_BIT)
}

fn normal(cx: &mut Cx<'_>) -> Result<u32, ()> {
    Ok(upstream(cx))
}

/// Join of the two branches: exactly one of them ran.
fn log(cx: &mut Cx<'_>) -> Result<u32, ()> {
    Ok(upstream(cx))
}

/// Checked when the `static` is compiled: a malformed DAG does not build.
static DAG: Dag<Sample, u32, (), 5, 5> = Dag::new_or_panic(
    DagBuilder::new()
        .task("calib", calib)
        .condition("check", check)
        .task("alarm", alarm)
        .task("normal", normal)
        .task("log", log)
        .edge("calib", "check")
        .branch("check", "alarm", 0)
        .default_branch("check", "normal")
        .edge("alarm", "log")
        .edge("normal", "log")
        .build(),
);
/// `log`, the 5th node declared.
const LOG: NodeId = NodeId::from_index(4);

/// 4 runs in flight, no iterator items, task and result rings of 16. All zero: `.bss`.
static TM: TaskManager<'static, Sample, u32, (), 5, 5, 4, 0, 16> = TaskManager::new(&DAG);

/// Running statistics over the samples received.
#[derive(Debug)]
struct Stats {
    received: u32,
    next_seq: u32,
    gaps: u32,
    min: u16,
    max: u16,
    sum: u64,
    /// Computed from the samples directly (plain functions).
    expected_alarms: u32,
    expected_mv: u64,
    /// From the finished runs of the DAG.
    runs_submitted: u32,
    runs_ok: u32,
    runs_bad: u32,
    busy: u32,
    alarms: u32,
    mv: u64,
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
            expected_alarms: 0,
            expected_mv: 0,
            runs_submitted: 0,
            runs_ok: 0,
            runs_bad: 0,
            busy: 0,
            alarms: 0,
            mv: 0,
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
        let mv = millivolts(s.value);
        self.expected_alarms = self.expected_alarms.wrapping_add(u32::from(mv >= ALARM_MV));
        self.expected_mv = self.expected_mv.wrapping_add(u64::from(mv));
        if missing == 0 {
            Ok(())
        } else {
            Err(Gap { missing })
        }
    }

    /// Accounts one finished run of the DAG.
    fn finish(&mut self, done: &Finished<'_, Sample, u32, ()>) {
        match (done.outcome(), done.value(LOG)) {
            (Ok(()), Some(v)) => {
                self.runs_ok = self.runs_ok.wrapping_add(1);
                self.alarms = self.alarms.wrapping_add(u32::from(v & ALARM_BIT != 0));
                self.mv = self.mv.wrapping_add(u64::from(v & !ALARM_BIT));
            }
            _ => self.runs_bad = self.runs_bad.wrapping_add(1),
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

/// The hot loop: drain the ring in batches until enough samples arrived, submit a run per
/// sample, execute and collect runs. No panic path in this code.
#[inline(never)]
fn hot_loop() -> Stats {
    let mut stats = Stats::new();
    let mut batch: Vec<Sample, BATCH> = Vec::new();
    while stats.received < SAMPLES_WANTED {
        batch.clear();
        let popped = SAMPLES.pop_batch(&mut batch);
        for &sample in batch.iter() {
            if let Err(gap) = stats.add(sample) {
                stats.gaps = stats.gaps.wrapping_add(gap.missing);
            }
            submit(&mut stats, sample);
        }
        if popped == 0 && drive(&mut stats) == 0 {
            // Nothing queued and nothing to execute: sleep until the next interrupt. (If it
            // fires between the pop and the wait, we sleep one period longer; the ring
            // absorbs that.)
            wait_for_interrupt();
        }
    }
    // Finish the runs still in flight (no new ones: the timer is about to stop).
    while stats.runs_ok.wrapping_add(stats.runs_bad) < stats.runs_submitted {
        if drive(&mut stats) == 0 {
            break; // nothing left to do: the books will not balance and say so
        }
    }
    stats
}

/// Submits a run for `sample`. When every run slot is in use (`Busy`), executes and collects
/// runs until one is free, then submits again: no sample goes without its run.
#[inline(always)]
fn submit(stats: &mut Stats, sample: Sample) {
    let mut input = sample;
    loop {
        match TM.submit(input) {
            Ok(_) => {
                stats.runs_submitted = stats.runs_submitted.wrapping_add(1);
                return;
            }
            Err(SubmitError::Busy(back)) => {
                input = back;
                stats.busy = stats.busy.wrapping_add(1);
                if drive(stats) == 0 {
                    // No progress possible (cannot happen with this DAG): count and drop.
                    stats.runs_bad = stats.runs_bad.wrapping_add(1);
                    stats.runs_submitted = stats.runs_submitted.wrapping_add(1);
                    return;
                }
            }
            Err(SubmitError::EmptyDag(_)) => {
                stats.runs_bad = stats.runs_bad.wrapping_add(1);
                stats.runs_submitted = stats.runs_submitted.wrapping_add(1);
                return;
            }
        }
    }
}

/// One `step` of the scheduler, then every finished run (dropping each frees its slot).
/// Returns the work done (nodes executed or skipped + runs collected); 0 = idle.
#[inline(always)]
fn drive(stats: &mut Stats) -> usize {
    let mut work = TM.step();
    while let Some(done) = TM.poll() {
        stats.finish(&done);
        work = work.wrapping_add(1);
    }
    work
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
    let c = TM.counters();
    println!(
        "firmware_demo: DAG: {} runs submitted, {} ok, {} bad, {} Busy; alarms {} (expected {}), mV sum {} (expected {}); scheduler: {} tasks run, runs high water {}",
        stats.runs_submitted,
        stats.runs_ok,
        stats.runs_bad,
        stats.busy,
        stats.alarms,
        stats.expected_alarms,
        stats.mv,
        stats.expected_mv,
        c.tasks_run,
        c.runs_high_water
    );
    let balanced = produced == stats.received + queued + dropped && stats.gaps <= dropped;
    let dag_ok = stats.runs_submitted == stats.received
        && stats.runs_ok == stats.received
        && stats.runs_bad == 0
        && c.runs_completed == stats.received as usize
        && stats.alarms == stats.expected_alarms
        && stats.mv == stats.expected_mv;
    if balanced && dag_ok && stats.received >= SAMPLES_WANTED {
        println!("firmware_demo: PASS");
        ringdag_qemu::exit_success()
    } else {
        println!("firmware_demo: FAIL: the books do not balance");
        ringdag_qemu::exit_failure()
    }
}
