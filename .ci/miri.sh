#!/usr/bin/env bash
# Miri (pinned nightly) on the ring and scheduler code, under strict provenance:
#   1. ringdag-core: unit tests and doctests, 8 scheduler seeds;
#   2. the facade's single-threaded ring tests (tests/ring_*.rs but the two below): one seed
#      (a seed only changes thread scheduling and weak-memory choices; these tests have one
#      thread, and each extra seed would cost the whole run again);
#   3. the multi-threaded ring tests (ring_stress, ring_zero_sized): 8 seeds;
#   4. the scheduler's integration tests (tests/sched_*.rs) and tests/dag_validation.rs: one seed,
#      in two halves side by side (Miri interprets on one core; cargo takes the target dir's
#      lock to build, not while the tests run, so the second half waits only for the build).
# Loop counts shrink under `cfg(miri)`; proptest properties are `cfg_attr(miri, ignore)`d and
# fixed-sequence runs of the same models replace them.
#
# Installs nothing: CI installs the toolchain first with
#   rustup toolchain install nightly-2026-05-20 --profile minimal -c miri,rust-src
# Runs every step even if one fails; exits non-zero if any failed. Prints each step's time.
#
#   MIRI_SEEDS=0..2 .ci/miri.sh     # quicker local run
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain=nightly-2026-05-20
seeds="${MIRI_SEEDS:-0..8}"
base_flags="-Zmiri-strict-provenance"
# The sysroot Miri builds lives in the target dir, not in the home folder.
export MIRI_SYSROOT="${MIRI_SYSROOT:-$PWD/target/miri-sysroot}"
miri=(cargo "+$toolchain" miri)
test_args=(test --no-fail-fast --target-dir target/miri)

threaded=(ring_stress ring_zero_sized)
single=()
for file in tests/ring_*.rs; do
    name=$(basename "$file" .rs)
    if [[ " ${threaded[*]} " != *" $name "* ]]; then
        single+=(--test "$name")
    fi
done
# The scheduler's integration tests (the engine's unsafe cell and input accesses, single- and
# multi-threaded TaskManager use), one seed: about 9 minutes of Miri here, in two halves side
# by side. (The runtime's tests are too slow under Miri: its idle workers spin; its deques are
# covered by the core unit tests above.)
# Split in two halves of about equal time (Miri's real time per file, measured here: roots 114 s,
# priorities 73, throughput 57, property 55, failures 50, slot_reuse 47, backpressure 34,
# iterators 30, dag_validation 23, counters 16, conditions 15, the rest under 5 each). A new
# file goes to the second half.
first_half=(sched_roots sched_failures sched_slot_reuse sched_conditions sched_counters)
sched_a=()
sched_b=()
for file in tests/sched_*.rs; do
    name=$(basename "$file" .rs)
    if [[ " ${first_half[*]} " == *" $name "* ]]; then
        sched_a+=(--test "$name")
    else
        sched_b+=(--test "$name")
    fi
done
# DAG validation, compilation and DOT export: single-threaded.
sched_b+=(--test dag_validation)
threaded_args=()
for name in "${threaded[@]}"; do
    threaded_args+=(--test "$name")
done

failed=()
step() {
    local flags=$1 start=$SECONDS
    shift
    echo "miri.sh: MIRIFLAGS='$flags' $*" >&2
    if MIRIFLAGS="$flags" "$@"; then
        echo "miri.sh: ok, $((SECONDS - start)) s" >&2
    else
        echo "miri.sh: FAILED, $((SECONDS - start)) s: $*" >&2
        failed+=("$*")
    fi
}

step "$base_flags" "${miri[@]}" setup
step "$base_flags -Zmiri-many-seeds=$seeds" "${miri[@]}" "${test_args[@]}" -p ringdag-core
step "$base_flags" "${miri[@]}" "${test_args[@]}" -p ringdag "${single[@]}"
step "$base_flags -Zmiri-many-seeds=$seeds" "${miri[@]}" "${test_args[@]}" -p ringdag "${threaded_args[@]}"
# The two halves of the scheduler's tests side by side: the first half's output goes to a log,
# printed after the second half's; a failure in either is reported as its own step.
sched_log="target/miri-sched-a.log"
mkdir -p target
step "$base_flags" "${miri[@]}" "${test_args[@]}" -p ringdag "${sched_a[@]}" "${sched_b[@]}" --no-run
(
    before=${#failed[@]}
    step "$base_flags" "${miri[@]}" "${test_args[@]}" -p ringdag "${sched_a[@]}"
    [ "${#failed[@]}" -eq "$before" ]
) > "$sched_log" 2>&1 &
sched_a_pid=$!
step "$base_flags" "${miri[@]}" "${test_args[@]}" -p ringdag "${sched_b[@]}"
if ! wait "$sched_a_pid"; then
    failed+=("the first half of the scheduler's tests (see its log above)")
fi
echo "miri.sh: the first half of the scheduler's tests, run alongside:" >&2
cat "$sched_log" >&2

echo "miri.sh: total ${SECONDS} s" >&2
if ((${#failed[@]})); then
    printf 'miri.sh: failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
