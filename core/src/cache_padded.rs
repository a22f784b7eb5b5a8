//! [`CachePadded`]: keeps a value on its own cache line(s) so that two values written by
//! different cores never share a line (false sharing).

use core::fmt;
use core::ops::{Deref, DerefMut};

/// Pads and aligns `T` to the length of a cache line (or of the unit the hardware prefetches
/// together) on the target architecture.
///
/// | architecture | alignment | why |
/// | --- | --- | --- |
/// | x86_64 | 128 | Intel's spatial prefetcher pulls cache lines in 64-byte *pairs* (Intel 64 and IA-32 Architectures Optimization Reference Manual, "L2 spatial prefetcher"); AMD Zen likewise benefits |
/// | aarch64 | 128 | Apple M-series and some Neoverse cores have 128-byte lines (`sysctl hw.cachelinesize` reports 128 on Apple silicon) |
/// | powerpc64 | 128 | POWER7 and later: 128-byte L1/L2 lines (IBM POWER ISA / POWER8 user manual) |
/// | s390x | 256 | z/Architecture caches use 256-byte lines (IBM z13 technical guide) |
/// | arm (32-bit), mips, mips64, sparc, hexagon | 32 | Cortex-A/R cores (e.g. Cortex-A7/A9: 32-byte lines, ARM TRMs); Cortex-M has at most small caches, 32 keeps statics small |
/// | m68k | 16 | 68040/68060 caches use 16-byte lines (Motorola user manuals) |
/// | everything else (riscv, x86, ...) | 64 | the common line size of current cores |
///
/// The same table is used by crossbeam-utils; the numbers are facts of the hardware above.
///
/// # Examples
///
/// ```
/// use ringdag_core::CachePadded;
/// let a = CachePadded::new(7u64);
/// assert_eq!(*a, 7);
/// assert!(core::mem::align_of::<CachePadded<u64>>() >= 16);
/// ```
#[cfg_attr(
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    ),
    repr(align(128))
)]
#[cfg_attr(target_arch = "s390x", repr(align(256)))]
#[cfg_attr(
    any(
        target_arch = "arm",
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "hexagon"
    ),
    repr(align(32))
)]
#[cfg_attr(target_arch = "m68k", repr(align(16)))]
#[cfg_attr(
    not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64",
        target_arch = "s390x",
        target_arch = "arm",
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "hexagon",
        target_arch = "m68k"
    )),
    repr(align(64))
)]
#[derive(Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CachePadded<T> {
    value: T,
}

impl<T> CachePadded<T> {
    /// Pads `value`.
    pub const fn new(value: T) -> Self {
        Self { value }
    }

    /// Returns the inner value.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for CachePadded<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for CachePadded<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for CachePadded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachePadded")
            .field("value", &self.value)
            .finish()
    }
}
