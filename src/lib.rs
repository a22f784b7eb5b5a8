#![doc = include_str!("../README.md")]
//!
//! ---
//!
//! This facade re-exports [`ringdag_core`] (always) and `ringdag_runtime` as [`runtime`]
//! (with the default `std` feature).
#![no_std]
#![warn(missing_docs)]

pub use ringdag_core::*;

#[cfg(feature = "std")]
pub use ringdag_runtime as runtime;
