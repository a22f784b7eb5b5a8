//! `ringdag-core`: the `no_std`, allocation-free core of ringdag.
//!
//! - [`ring`]: fixed-capacity, cache-padded, lock-free ring buffers (MPMC, batch, SPSC).
//! - [`dag`]: DAG definition, validation (also at compile time), CSR adjacency, DOT export.
//! - [`sched`]: the scheduler ([`sched::TaskManager`] over static storage, [`sched::Engine`]
//!   over any storage).
//! - [`CachePadded`]: per-architecture cache-line padding.
//!
//! Everything here lives in fixed storage chosen by const generics and can be placed in a
//! `static`. No `alloc`, no OS, no threads: the same code runs on a microcontroller and under
//! the std runtime.
//!
//! # Features
//!
//! - `portable-atomic`: atomics from the `portable-atomic` crate (targets without CAS).
//! - `critical-section`: forwards to `portable-atomic/critical-section`; the final binary
//!   provides the critical-section implementation.
//! - `defmt`: `defmt::Format` for public types.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

#[cfg(all(loom, feature = "portable-atomic"))]
compile_error!("`--cfg loom` replaces the atomics; build loom models without `portable-atomic`.");

mod cache_padded;
pub mod dag;
#[cfg(feature = "defmt")]
mod defmt;
pub mod ring;
pub mod sched;
mod sync;

pub use cache_padded::CachePadded;
// The names most code starts from, at the root as well as in their modules.
pub use dag::{Dag, DagBuilder, DagError, NodeId};
pub use heapless;
pub use ring::{spsc, RingBuffer, StreamingRingBuffer};
pub use sched::TaskManager;
