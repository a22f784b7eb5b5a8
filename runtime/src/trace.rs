//! Per-node timing events and their export as Chrome trace JSON (opens in Perfetto and
//! `chrome://tracing`), one track per worker.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use ringdag_core::dag::DagView;
use ringdag_core::ring::RingBuffer;
use ringdag_core::sched::RunId;

/// Events recorded and not yet exported that the runtime keeps: up to this many in the
/// trace ring (more are counted as dropped), and up to this many more, of runs not exported
/// yet, between two exports (the oldest beyond that are dropped and counted).
pub const TRACE_EVENTS: usize = 1 << 16;

/// One node execution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceEvent {
    /// [`RunId::to_bits`] of the run.
    pub run: u32,
    /// Node index.
    pub node: u32,
    /// Item index for iterator bodies, `u32::MAX` otherwise.
    pub item: u32,
    /// Worker thread index.
    pub worker: u16,
    /// Start, nanoseconds since the runtime started.
    pub start_ns: u64,
    /// End, nanoseconds since the runtime started.
    pub end_ns: u64,
}

pub(crate) struct TraceLog {
    enabled: AtomicBool,
    ring: Option<Box<RingBuffer<TraceEvent, TRACE_EVENTS>>>,
    archive: Mutex<Vec<TraceEvent>>,
    dropped: AtomicU64,
}

impl TraceLog {
    pub(crate) fn new(enabled: bool) -> Self {
        let ring = enabled.then(|| {
            // SAFETY: all-zero bytes are a valid empty `RingBuffer` (see `ringdag_core::ring`).
            let ring: Box<RingBuffer<TraceEvent, TRACE_EVENTS>> =
                unsafe { Box::new_zeroed().assume_init() };
            ring
        });
        Self {
            enabled: AtomicBool::new(enabled),
            ring,
            archive: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub(crate) fn record(&self, event: TraceEvent) {
        if let Some(ring) = &self.ring {
            if ring.push(event).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Moves the recorded events into the archive and returns those of `run`.
    pub(crate) fn events_of(&self, run: RunId) -> Vec<TraceEvent> {
        let mut archive = self.archive.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ring) = &self.ring {
            let mut buf = [TraceEvent::default(); 256];
            loop {
                let n = ring.pop_slice(&mut buf);
                if n == 0 {
                    break;
                }
                archive.extend_from_slice(&buf[..n]);
            }
        }
        let (mine, mut rest): (Vec<_>, Vec<_>) =
            archive.drain(..).partition(|e| e.run == run.to_bits());
        // Events of runs nobody exports would pile up here: keep the newest `TRACE_EVENTS`,
        // and count the older ones as dropped.
        if rest.len() > TRACE_EVENTS {
            let excess = rest.len() - TRACE_EVENTS;
            rest.drain(..excess);
            self.dropped.fetch_add(excess as u64, Ordering::Relaxed);
        }
        *archive = rest;
        mine
    }
}

/// Writes `events` as Chrome trace JSON: one complete ("X") event per node execution, one
/// track (thread) per worker, named `worker N`.
pub(crate) fn write_chrome_trace<W: Write>(
    dag: &DagView<'_>,
    run: RunId,
    workers: usize,
    events: &[TraceEvent],
    out: &mut W,
) -> io::Result<()> {
    writeln!(out, "{{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")?;
    writeln!(
        out,
        "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{{\"name\":\"ringdag {run}\"}}}}"
    )?;
    for w in 0..workers {
        writeln!(
            out,
            ",{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{w},\"args\":{{\"name\":\"worker {w}\"}}}}"
        )?;
    }
    for e in events {
        let name = dag.nodes.get(e.node as usize).map_or("?", |n| n.name);
        let ts = e.start_ns as f64 / 1000.0;
        let dur = e.end_ns.saturating_sub(e.start_ns) as f64 / 1000.0;
        write!(
            out,
            ",{{\"name\":\"{}\",\"cat\":\"node\",\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{ts:.3},\"dur\":{dur:.3},\"args\":{{\"node\":{}",
            escape(name),
            e.worker,
            e.node
        )?;
        if e.item != u32::MAX {
            write!(out, ",\"item\":{}", e.item)?;
        }
        writeln!(out, "}}}}")?;
    }
    writeln!(out, "]}}")
}

/// `s` as the inside of a JSON string: quotes, backslashes and control characters escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}
