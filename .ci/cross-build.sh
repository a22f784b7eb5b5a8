#!/usr/bin/env bash
# Builds the library ringdag-core alone for the bare-metal targets, with the features each one
# needs. The library never picks a critical-section implementation, so a library build with
# `critical-section` compiles without one (the final binary supplies it: see tests/qemu).
#
#   thumbv7em-none-eabihf         native CAS; also with `defmt`
#   thumbv7m-none-eabi            native CAS
#   thumbv6m-none-eabi            no CAS: portable-atomic + critical-section
#   riscv32imc-unknown-none-elf   no CAS: portable-atomic + critical-section
#
# Run from anywhere; prints a line per build and "N passed, N failed"; exits non-zero on any
# failure. Uses the workspace's target dir.
set -uo pipefail
cd "$(dirname "$0")/.."

builds=(
    "thumbv7em-none-eabihf"
    "thumbv7em-none-eabihf --features defmt"
    "thumbv7m-none-eabi"
    "thumbv6m-none-eabi --features critical-section"
    "riscv32imc-unknown-none-elf --features critical-section"
)

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for spec in "${builds[@]}"; do
    # shellcheck disable=SC2086  # $spec is a target plus flags, split on purpose
    set -- $spec
    target=$1
    shift
    start=$EPOCHREALTIME
    if cargo build -p ringdag-core --target "$target" "$@" >"$log" 2>&1; then
        result=PASS
        passed=$((passed + 1))
    else
        result=FAIL
        failed=$((failed + 1))
    fi
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    echo "cross-build: $result  cargo build -p ringdag-core --target $target $*  (${secs} s)"
    if [ "$result" = FAIL ]; then
        tail -n 40 "$log"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
