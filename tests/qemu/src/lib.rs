//! Support code shared by the bare-metal test binaries in `src/bin/`.
//!
//! One crate serves four targets (three Cortex-M boards and RISC-V `virt`, see Cargo.toml);
//! everything platform-specific is chosen here by `cfg(target_arch)`, so a test binary is
//! plain Rust plus two macros:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! ringdag_qemu::test_main!(run);
//! fn run() { assert_eq!(1 + 1, 2); }       // returning = PASS; any panic = FAIL
//! ```
//!
//! - [`test_main!`]: the reset entry point; prints `NAME: PASS` and exits with status 0 through
//!   semihosting when `run` returns.
//! - the panic handler (in this crate): prints `NAME: FAIL: <panic message>` and exits with a
//!   non-zero status, so a failed `assert!` turns the QEMU run, and CI, red.
//! - [`on_timer_tick!`] + [`timer`]: a periodic interrupt (SysTick on ARM, the machine timer
//!   of the CLINT on RISC-V) calling a function of the test.
//! - [`println!`]: semihosting output (host stdout). Slow (a trap per call): not for interrupt
//!   handlers or timed loops.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

use core::fmt;

#[cfg(not(any(target_arch = "arm", target_arch = "riscv32")))]
compile_error!("ringdag-qemu runs on the bare-metal ARM and riscv32 targets listed in Cargo.toml");

/// The QEMU machine this build is for, for log lines (set by build.rs from the target).
pub const MACHINE: &str = env!("RINGDAG_QEMU_MACHINE");

/// Prints to the host's stdout through semihosting, with a newline.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::_print(::core::format_args!("{}\n", ::core::format_args!($($arg)*)))
    };
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    #[cfg(target_arch = "arm")]
    {
        use core::fmt::Write as _;
        if let Ok(mut out) = cortex_m_semihosting::hio::hstdout() {
            let _ = out.write_fmt(args);
        }
    }
    #[cfg(target_arch = "riscv32")]
    semihosting::print!("{}", args);
}

/// Ends the QEMU run with exit status 0.
pub fn exit_success() -> ! {
    #[cfg(target_arch = "arm")]
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_SUCCESS);
    #[cfg(target_arch = "riscv32")]
    semihosting::process::exit(0);
    #[allow(unreachable_code)]
    loop {
        core::hint::spin_loop();
    }
}

/// Ends the QEMU run with a non-zero exit status (1).
pub fn exit_failure() -> ! {
    #[cfg(target_arch = "arm")]
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    #[cfg(target_arch = "riscv32")]
    semihosting::process::exit(1);
    #[allow(unreachable_code)]
    loop {
        core::hint::spin_loop();
    }
}

/// Any panic (a failed `assert!`, an `unwrap` on `Err`, ...) fails the test: it prints the
/// message and exits with a non-zero status. Interrupts are masked first so that a timer
/// handler cannot interleave with the report.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    #[cfg(target_arch = "arm")]
    cortex_m::interrupt::disable();
    #[cfg(target_arch = "riscv32")]
    riscv::interrupt::disable();
    println!("FAIL: {}", info);
    exit_failure()
}

/// Defines the reset entry point of a test binary: prints a start line, calls `$run()`, then
/// prints `NAME: PASS` and exits with status 0. A panic inside `$run` is a failure.
#[macro_export]
macro_rules! test_main {
    ($run:path) => {
        #[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
        #[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
        fn __ringdag_qemu_entry() -> ! {
            $crate::println!(
                "{}: start on {}, usize = {} bits",
                ::core::env!("CARGO_CRATE_NAME"),
                $crate::MACHINE,
                usize::BITS
            );
            $run();
            $crate::println!("{}: PASS", ::core::env!("CARGO_CRATE_NAME"));
            $crate::exit_success()
        }
    };
}

/// Routes the periodic timer interrupt of [`timer`] to `$handler: fn()`.
///
/// ARM: defines the `SysTick` exception handler. RISC-V: defines the machine-timer interrupt
/// handler, which re-arms the timer and then calls `$handler`.
#[macro_export]
macro_rules! on_timer_tick {
    ($handler:path) => {
        #[cfg(target_arch = "arm")]
        #[cortex_m_rt::exception]
        #[allow(non_snake_case)]
        fn SysTick() {
            $handler();
        }

        #[cfg(target_arch = "riscv32")]
        #[riscv_rt::core_interrupt(riscv::interrupt::Interrupt::MachineTimer)]
        fn __ringdag_qemu_machine_timer() {
            $crate::timer::rearm();
            $handler();
        }
    };
}

pub mod timer {
    //! A periodic timer interrupt, delivered to the function named in [`on_timer_tick!`].
    //!
    //! The period is in the platform's timer ticks: core clock cycles on ARM (SysTick,
    //! 24-bit reload), `mtime` ticks on RISC-V `virt` (10 MHz). Under QEMU these follow the
    //! host's clock, so the number of interrupts per run is not exact: tests must not depend
    //! on it.
    //!
    //! [`on_timer_tick!`]: crate::on_timer_tick

    /// Starts the periodic interrupt, first firing after `period` ticks, and unmasks
    /// interrupts.
    pub fn start(period: u32) {
        imp::start(period);
    }

    /// Stops the periodic interrupt (no further ticks after this returns).
    pub fn stop() {
        imp::stop();
    }

    /// Schedules the next tick `period` ticks from now. Called by the RISC-V handler that
    /// [`on_timer_tick!`](crate::on_timer_tick) defines; SysTick reloads by itself.
    #[doc(hidden)]
    pub fn rearm() {
        #[cfg(target_arch = "riscv32")]
        imp::rearm();
    }

    #[cfg(target_arch = "arm")]
    mod imp {
        use cortex_m::peripheral::{syst::SystClkSource, SYST};

        /// SysTick's reload register is 24 bits wide.
        const MAX_RELOAD: u32 = 0x00FF_FFFF;

        fn syst() -> SYST {
            // SAFETY: SYST is used only from here (start/stop in thread mode, never inside
            // the tick handler), so this stolen handle never races with another user.
            unsafe { cortex_m::Peripherals::steal() }.SYST
        }

        pub(super) fn start(period: u32) {
            let mut syst = syst();
            syst.disable_counter();
            syst.set_clock_source(SystClkSource::Core);
            syst.set_reload(period.clamp(2, MAX_RELOAD + 1) - 1);
            syst.clear_current();
            syst.enable_interrupt();
            syst.enable_counter();
            // SAFETY: enabling interrupts is sound here: the tests' shared state lives in
            // atomics and lock-free rings, never behind a critical-section-only assumption.
            unsafe { cortex_m::interrupt::enable() };
        }

        pub(super) fn stop() {
            let mut syst = syst();
            syst.disable_interrupt();
            syst.disable_counter();
        }
    }

    #[cfg(target_arch = "riscv32")]
    mod imp {
        use core::ptr::{read_volatile, write_volatile};
        use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

        /// QEMU `virt` CLINT: `mtimecmp` of hart 0 and `mtime`, both 64 bits (lo word first).
        const MTIMECMP: usize = 0x0200_4000;
        const MTIME: usize = 0x0200_BFF8;

        /// The period of [`start`], read by [`rearm`] in the interrupt handler. Load/store
        /// only: riscv32imc has no compare-and-swap.
        static PERIOD: AtomicU32 = AtomicU32::new(0);

        fn mtime() -> u64 {
            loop {
                // SAFETY: MTIME is the CLINT's always-mapped, read-only-to-us timer register on
                // QEMU `virt`; 32-bit volatile reads of it are side-effect free.
                let (hi, lo, hi2) = unsafe {
                    (
                        read_volatile((MTIME + 4) as *const u32),
                        read_volatile(MTIME as *const u32),
                        read_volatile((MTIME + 4) as *const u32),
                    )
                };
                if hi == hi2 {
                    return (u64::from(hi) << 32) | u64::from(lo);
                }
            }
        }

        fn set_mtimecmp(at: u64) {
            // SAFETY: MTIMECMP (hart 0) is a CLINT register on QEMU `virt`, written only here
            // (thread mode before the timer is enabled, or the timer handler itself). The
            // high word goes to MAX first so no spurious interrupt fires between the halves.
            unsafe {
                write_volatile((MTIMECMP + 4) as *mut u32, u32::MAX);
                write_volatile(MTIMECMP as *mut u32, at as u32);
                write_volatile((MTIMECMP + 4) as *mut u32, (at >> 32) as u32);
            }
        }

        pub(super) fn start(period: u32) {
            let period = period.max(1);
            PERIOD.store(period, Relaxed);
            set_mtimecmp(mtime() + u64::from(period));
            // SAFETY: unmasking the machine timer and global interrupts is sound here: the
            // handler (`on_timer_tick!`) only touches atomics and lock-free rings.
            unsafe {
                riscv::register::mie::set_mtimer();
                riscv::interrupt::enable();
            }
        }

        pub(super) fn rearm() {
            // Relative to now, not to the last deadline: no burst of catch-up ticks after the
            // host deschedules QEMU for a while.
            set_mtimecmp(mtime() + u64::from(PERIOD.load(Relaxed)));
        }

        pub(super) fn stop() {
            // SAFETY: masking an interrupt source is always sound.
            unsafe { riscv::register::mie::clear_mtimer() };
            set_mtimecmp(u64::MAX);
        }
    }
}
