#![doc = include_str!("../README.md")]
//!
//! ---
//!
//! This facade re-exports [`ringdag_core`] (always) and `ringdag_runtime` as [`runtime`]
//! (with the default `std` feature). The names most code starts from are at the root as well
//! as in their modules: [`RingBuffer`], [`StreamingRingBuffer`], [`spsc`], [`TaskManager`],
//! [`Dag`], [`DagBuilder`], [`DagError`], [`NodeId`], and with `std` `Runtime`, `RunHandle`
//! and `Graph`.
#![no_std]
#![warn(missing_docs)]

pub use ringdag_core::*;

#[cfg(feature = "std")]
pub use ringdag_runtime as runtime;
/// The runtime's entry points, at the root as well (with the default `std` feature).
#[cfg(feature = "std")]
pub use ringdag_runtime::{Graph, RunHandle, Runtime};
