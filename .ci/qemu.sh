#!/usr/bin/env bash
# Bare-metal tests under QEMU: builds every test binary of tests/qemu (src/bin/*.rs) for every
# target and boots each one in QEMU; the semihosting exit status is the result.
#
#   - a binary named expected_fail* must FAIL (non-zero exit, not a timeout, with the panic
#     handler's "FAIL:" line): it proves a failing test turns this script red. If it passes,
#     the script fails.
#   - every other binary must exit 0 and print "NAME: PASS".
#   - then the firmware example (examples/firmware_demo.rs) is built for thumbv7em at
#     opt-level "s" (release) and 3 (release-o3), run, and its size printed, with a note of
#     whether any panic code is left in the ELF (a panic path somewhere). With
#     QEMU_STRICT_NO_PANIC=1 that note is a check: panic code in the firmware is a failure.
#
# Every QEMU run is wrapped in `timeout` (QEMU_TIMEOUT, default 60 s). Prints one line per
# build or run and a final "N passed, N failed"; exits non-zero if anything failed.
# Needs qemu-system-arm and qemu-system-riscv32: .ci/install-qemu.sh.
#
# Environment: QEMU_TARGETS (space-separated subset of the four targets), QEMU_TIMEOUT,
# QEMU_STRICT_NO_PANIC.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
crate=$root/tests/qemu

targets=(${QEMU_TARGETS:-thumbv7m-none-eabi thumbv6m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf})
limit=${QEMU_TIMEOUT:-60}
firmware_target=thumbv7em-none-eabihf

# The crate's own .cargo/config.toml supplies the linker scripts as target rustflags; a global
# RUSTFLAGS would replace them (and the link would fail), so it is not passed through.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
export CARGO_TARGET_DIR=$crate/target
logs=$CARGO_TARGET_DIR/qemu-logs
mkdir -p "$logs"

for tool in qemu-system-arm qemu-system-riscv32 timeout; do
    if ! command -v "$tool" >/dev/null; then
        echo "qemu.sh: $tool not found; run .ci/install-qemu.sh first" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
done

# The runner command of a target, read from the crate's .cargo/config.toml (single source).
runner_for() {
    awk -v section="[target.$1]" '
        $0 == section { inside = 1; next }
        /^\[/ { inside = 0 }
        inside && /^runner *=/ { sub(/^runner *= *"/, ""); sub(/" *$/, ""); print; exit }
    ' "$crate/.cargo/config.toml"
}

mapfile -t bins < <(find "$crate/src/bin" -maxdepth 1 -name '*.rs' -printf '%f\n' | sed 's/\.rs$//' | sort)

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS  $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }

# run_one TARGET PROFILE_DIR KIND NAME [expect-fail]
run_one() {
    local target=$1 profile=$2 kind=$3 name=$4 expect=${5:-pass}
    local runner elf log rc start
    runner=$(runner_for "$target")
    elf=$CARGO_TARGET_DIR/$target/$profile/$kind$name
    log=$logs/$target-$profile-$name.log
    start=$EPOCHREALTIME
    # shellcheck disable=SC2086  # the runner is a command line, split on purpose
    timeout -k 5 "$limit" $runner "$elf" </dev/null >"$log" 2>&1
    rc=$?
    local what="$target  $profile  $name  (exit $rc, $(elapsed "$start"))"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        fail "$what: timed out after ${limit} s"
        tail -n 20 "$log"
    elif [ "$expect" = fail ]; then
        if [ "$rc" -ne 0 ] && grep -q "FAIL:" "$log"; then
            pass "$what: failed as expected"
        else
            fail "$what: expected a failure (non-zero exit and a FAIL: line)"
            tail -n 20 "$log"
        fi
    elif [ "$rc" -eq 0 ] && grep -q "^$name: PASS" "$log"; then
        pass "$what"
    else
        fail "$what"
        tail -n 20 "$log"
    fi
}

# build TARGET DESCRIPTION CARGO_ARGS...
build() {
    local target=$1 desc=$2 start log
    shift 2
    log=$logs/build-$target-$desc.log
    start=$EPOCHREALTIME
    if (cd "$crate" && cargo build --target "$target" "$@") >"$log" 2>&1; then
        echo "built $target $desc ($(elapsed "$start"))"
        return 0
    fi
    fail "$target  build $desc ($(elapsed "$start"))"
    tail -n 40 "$log"
    return 1
}

for target in "${targets[@]}"; do
    if ! build "$target" tests --bins; then
        continue
    fi
    for name in "${bins[@]}"; do
        case $name in
            expected_fail*) run_one "$target" debug "" "$name" fail ;;
            *) run_one "$target" debug "" "$name" ;;
        esac
    done
done

# The firmware example, at opt-level "s" and 3.
# find_tool NAME...: the first of llvm-NAME / arm-none-eabi-NAME / rustup's llvm-tools found.
find_tool() {
    local name=$1 llvm_tools candidate
    llvm_tools="$(rustc --print sysroot 2>/dev/null)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
    for candidate in "llvm-$name" "arm-none-eabi-$name" "$llvm_tools/llvm-$name"; do
        if command -v "$candidate" >/dev/null 2>&1; then echo "$candidate"; return; fi
    done
}
size_tool=$(find_tool size)
nm_tool=$(find_tool nm)
for profile in release release-o3; do
    if build "$firmware_target" "firmware-$profile" --profile "$profile" --example firmware_demo; then
        run_one "$firmware_target" "$profile" examples/ firmware_demo
        elf=$CARGO_TARGET_DIR/$firmware_target/$profile/examples/firmware_demo
        if [ -n "$size_tool" ]; then
            "$size_tool" "$elf" | sed "s|$CARGO_TARGET_DIR/||"
        fi
        if [ -z "$nm_tool" ]; then
            echo "NOTE  no llvm-nm / arm-none-eabi-nm: panic-code check skipped"
            continue
        fi
        # Every panic ends in core::panicking::*; with fat LTO and no reachable panic the
        # linker drops them all (and the panic handler with them).
        panics=$("$nm_tool" -C "$elf" | grep -cE 'core::panicking::|rust_begin_unwind')
        what="$firmware_target  $profile  firmware_demo"
        if [ "$panics" -eq 0 ]; then
            if [ "${QEMU_STRICT_NO_PANIC:-0}" = 1 ]; then pass "$what: no panic code in the ELF"; else
                echo "NOTE  $what: no panic code in the ELF"; fi
        elif [ "${QEMU_STRICT_NO_PANIC:-0}" = 1 ]; then
            fail "$what: $panics panic symbols in the ELF (a panic path is reachable)"
        else
            echo "NOTE  $what: $panics panic symbols in the ELF (a panic path is reachable; see tests/qemu/README.md)"
        fi
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
