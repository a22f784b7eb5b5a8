//! The one place atomics and interior-mutability cells come from.
//!
//! - default: `core::sync::atomic`;
//! - feature `portable-atomic`: `portable_atomic` (targets without CAS, with its
//!   `critical-section` feature or `--cfg portable_atomic_unsafe_assume_single_core`);
//! - `--cfg loom`: loom's model-checked atomics and cells.
//!
//! Nothing else in the crate names `core::sync::atomic` or `core::cell::UnsafeCell`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize};

#[cfg(all(not(loom), feature = "portable-atomic", target_has_atomic = "64"))]
pub(crate) use portable_atomic::AtomicU64;
#[cfg(all(not(loom), feature = "portable-atomic"))]
#[allow(unused_imports)]
pub(crate) use portable_atomic::{fence, AtomicBool, AtomicU32, AtomicUsize};

// `fence` is used by the work deque, which needs 64-bit atomics.
#[cfg(all(not(loom), not(feature = "portable-atomic"), target_has_atomic = "64"))]
pub(crate) use core::sync::atomic::AtomicU64;
#[cfg(all(not(loom), not(feature = "portable-atomic")))]
#[allow(unused_imports)]
pub(crate) use core::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicUsize};

pub(crate) use core::sync::atomic::Ordering;

/// `UnsafeCell` with loom's closure API, so the same code runs under loom and natively.
#[cfg(not(loom))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    #[inline(always)]
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a mutable pointer to the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Tells the processor it is in a spin-wait loop (no-op under loom: loom yields instead).
#[inline(always)]
#[allow(dead_code)]
pub(crate) fn spin_loop_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}
