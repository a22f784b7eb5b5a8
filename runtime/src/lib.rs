//! `ringdag-runtime`: the std side of ringdag (worker pools sized to the CPU count).
#![warn(missing_docs)]

pub use ringdag_core as core;

/// The default number of worker threads: one per logical CPU.
pub fn default_workers() -> usize {
    num_cpus::get().max(1)
}
