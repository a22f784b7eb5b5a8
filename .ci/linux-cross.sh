#!/usr/bin/env bash
# The host test suite on aarch64 and armv7 (32-bit) Linux under qemu-user.
# armv7 has a 32-bit usize: the ring's wrap-around tests run with real 32-bit positions.
# Needs: qemu-user, gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf
# libc6-dev-armhf-cross (see .ci/run). qemu-user does not reproduce weak memory ordering on an
# x86 host; Miri and loom cover that.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER="qemu-arm -L /usr/arm-linux-gnueabihf"

for target in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
    echo "=== cargo test --workspace --release --target $target (qemu-user)"
    # Library, integration and doc-less tests; benches and examples are host-only.
    timeout 1200 cargo test --workspace --release --target "$target" --lib --tests
done
