//! A test that MUST fail: it asserts something false about the ring.
//!
//! `.ci/qemu.sh` runs it on every target and expects a non-zero exit status together with the
//! panic message below; if it ever passes, the script fails. This proves that a failed
//! assertion on the device reaches QEMU's exit code and turns CI red.
#![no_std]
#![no_main]

use ringdag_core::ring::RingBuffer;

ringdag_qemu::test_main!(run);

fn run() {
    let ring: RingBuffer<u32, 4> = RingBuffer::new();
    for i in 0..4 {
        assert_eq!(ring.push(i), Ok(()));
    }
    // Deliberately false: a full ring of capacity 4 refuses a fifth value.
    assert!(
        ring.push(4).is_ok(),
        "expected_fail: deliberate failure (a full ring accepted a value)"
    );
}
