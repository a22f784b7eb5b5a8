//! Puts the memory layouts into OUT_DIR (on the linker's search path) and names the QEMU
//! machine of the target for log lines.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let machine = match env::var("TARGET").unwrap_or_default().as_str() {
        "thumbv7m-none-eabi" => "lm3s6965evb (Cortex-M3)",
        "thumbv6m-none-eabi" => "microbit (Cortex-M0)",
        "thumbv7em-none-eabihf" => "mps2-an386 (Cortex-M4F)",
        "riscv32imc-unknown-none-elf" => "virt (RV32IMC)",
        _ => "an unlisted machine",
    };
    println!("cargo:rustc-env=RINGDAG_QEMU_MACHINE={machine}");
    // Both layouts, under their own names: cortex-m-rt's link.x does `INCLUDE memory.x`;
    // riscv targets link with `-Tmemory-riscv.x` (see .cargo/config.toml). A distinct name
    // matters: the linker looks in its working directory (this folder) before -L paths.
    for layout in ["memory.x", "memory-riscv.x"] {
        fs::copy(layout, out.join(layout)).expect("copy memory layout to OUT_DIR");
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=memory-riscv.x");
    println!("cargo:rerun-if-changed=build.rs");
}
