//! Thread-safety markers of the ring types.
//!
//! Positive cases are compile-time assertions: this file does not compile if they break.
//! Negative cases ("is not `Sync`") use an inherent-constant probe that the compiler resolves
//! per concrete type, so they are ordinary tests that fail (not compile errors) when a type
//! is `Send`/`Sync` although it must not be.
// The probes are constants on purpose: a regression fails one named test, not the build.
#![allow(clippy::assertions_on_constants)]

use std::cell::Cell;
use std::marker::PhantomData;
use std::rc::Rc;

use ringdag::ring::spsc::{Consumer, Producer, Queue, ReadChunk};
use ringdag::ring::{RingBuffer, StreamingRingBuffer};

const fn assert_send_sync<T: Send + Sync>() {}
const fn assert_send<T: Send>() {}

// The rings share `T` values between threads by moving them: `T: Send` is all they need.
const _: () = {
    assert_send_sync::<RingBuffer<u64, 4>>();
    assert_send_sync::<StreamingRingBuffer<u64, 4, 2>>();
    assert_send_sync::<Queue<u64, 4>>();
    assert_send_sync::<Producer<'static, u64, 4>>();
    assert_send_sync::<Consumer<'static, u64, 4>>();
    // `Cell` is `Send + !Sync`: a ring of cells hands out no `&Cell`, so it may be shared.
    assert_send_sync::<RingBuffer<Cell<u64>, 4>>();
    assert_send_sync::<Queue<Cell<u64>, 4>>();
    assert_send::<Producer<'static, Cell<u64>, 4>>();
    assert_send::<Consumer<'static, Cell<u64>, 4>>();
};

/// `Probe::<T>::IS_SYNC` is `true` exactly when `T: Sync` (the inherent constant exists only
/// under that bound; otherwise the trait's default is found). Same for `IS_SEND`.
struct Probe<T: ?Sized>(PhantomData<T>);

trait Fallback {
    const IS_SYNC: bool = false;
    const IS_SEND: bool = false;
}

impl<T: ?Sized> Fallback for Probe<T> {}

#[allow(dead_code)]
impl<T: ?Sized + Sync> Probe<T> {
    const IS_SYNC: bool = true;
}

struct SendProbe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Fallback for SendProbe<T> {}

#[allow(dead_code)]
impl<T: ?Sized + Send> SendProbe<T> {
    const IS_SEND: bool = true;
}

#[test]
fn probe_tells_sync_from_not_sync() {
    assert!(Probe::<u8>::IS_SYNC);
    assert!(!Probe::<Cell<u8>>::IS_SYNC);
    assert!(SendProbe::<u8>::IS_SEND);
    assert!(!SendProbe::<Rc<u8>>::IS_SEND);
}

#[test]
fn ring_of_a_non_send_type_is_neither_send_nor_sync() {
    assert!(!Probe::<RingBuffer<Rc<u8>, 4>>::IS_SYNC);
    assert!(!SendProbe::<RingBuffer<Rc<u8>, 4>>::IS_SEND);
    assert!(!Probe::<StreamingRingBuffer<Rc<u8>, 4, 2>>::IS_SYNC);
    assert!(!Probe::<Queue<Rc<u8>, 4>>::IS_SYNC);
    assert!(!SendProbe::<Queue<Rc<u8>, 4>>::IS_SEND);
}

#[test]
fn spsc_handles_of_a_non_send_type_are_not_send() {
    assert!(!SendProbe::<Producer<'static, Rc<u8>, 4>>::IS_SEND);
    assert!(!SendProbe::<Consumer<'static, Rc<u8>, 4>>::IS_SEND);
}

/// `ReadChunk::as_slices(&self)` hands out `&T`. If a chunk of a `Send + !Sync` type (such as
/// `Cell`) were `Sync`, two threads holding `&ReadChunk` could both call `as_slices` and
/// mutate the same `Cell` at once: a data race in safe code. So the chunk must not be `Sync`
/// unless `T: Sync`.
#[test]
fn spsc_read_chunk_of_a_non_sync_type_is_not_sync() {
    assert!(
        !Probe::<ReadChunk<'static, 'static, Cell<u64>, 4>>::IS_SYNC,
        "ReadChunk<Cell<_>> is Sync: `as_slices(&self)` then shares `&Cell` across threads"
    );
}
