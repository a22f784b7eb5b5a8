#!/usr/bin/env bash
# loom models of the MPMC ring (core/tests/loom_ring.rs), the SPSC queue (core/tests/loom_spsc.rs), the worker deque (core/tests/loom_deque.rs), the scheduler's completion paths (core/tests/loom_sched.rs), the runtime's park/wake protocol (runtime/tests/loom_park.rs), its run-handle protocol (runtime/tests/loom_waiter.rs) and the wait of `submit_wait` for a free run slot (runtime/tests/loom_slot_wait.rs): every interleaving of 2 to 3 threads
# on rings of capacity 1 to 4, up to LOOM_MAX_PREEMPTIONS preemptions per run (the park model:
# LOOM_PARK_PREEMPTIONS, see the end).
#
# Separate target dir for the core models: `--cfg loom` in RUSTFLAGS changes every crate's
# build (~45 s cold; the scheduler models take about 80 s with 2 preemptions).
#
#   LOOM_MAX_PREEMPTIONS=3 .ci/loom.sh     # deeper search of the core models (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTFLAGS="--cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

cargo test -p ringdag-core --release --test loom_ring --test loom_spsc --test loom_sched --test loom_deque --target-dir target/loom "$@"

# The runtime's park/wake, run-handle and slot-wait protocols (runtime/src/sleep.rs, waiter.rs
# and slot_wait.rs over loom's types): no `--cfg loom` needed (each model includes its file
# itself). The test suite runs them with 2 preemptions; here 3 by default
# (LOOM_PARK_PREEMPTIONS), about 40 s for the park model, under a second for the handle model
# and about 7 s for the slot-wait model. Arguments above are for the core models only.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
LOOM_MAX_PREEMPTIONS="${LOOM_PARK_PREEMPTIONS:-3}" \
    cargo test -p ringdag-runtime --release --test loom_park --test loom_waiter --test loom_slot_wait
