//! Spare chunk buffers, reused from one chunk to the next.
//!
//! A source's framer hands its read buffer out with a chunk's lines and
//! takes a spare one here in its place ([`take_stale`]: the old bytes stay,
//! so the framer reads into it without zeroing it first); the scrubber takes
//! an empty one for its output ([`take`]); the pipeline gives the input
//! buffer back once the chunk is scrubbed and the output buffer back once
//! the sink wrote it ([`give`]).
//! So a steady stream cycles through the same few buffers instead of
//! allocating fresh ones (each faulting its pages in, each thread's
//! allocator keeping what it freed), and memory stays about what is in
//! flight.
//!
//! Guarantees: a buffer from [`take`] is empty; at most [`KEPT`] buffers of at most
//! [`KEPT_CAPACITY`] bytes each wait here (larger or further ones are
//! freed), so the pool never holds more than that, and never more than was
//! in flight at once.

use std::sync::Mutex;

/// How many spare buffers are kept at most.
pub const KEPT: usize = 16;

/// Buffers with more capacity than this (a batch near a large line limit)
/// are freed rather than kept.
pub const KEPT_CAPACITY: usize = 1 << 20;

static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer: a spare one when there is one.
pub fn take() -> Vec<u8> {
    let mut buf = take_stale();
    buf.clear();
    buf
}

/// A spare buffer as it was given back, its old bytes still in it (a
/// framer reuses its length as room to read into, without zeroing it).
pub fn take_stale() -> Vec<u8> {
    SPARE
        .lock()
        .ok()
        .and_then(|mut spare| spare.pop())
        .unwrap_or_default()
}

/// A buffer holding a copy of `bytes`.
pub fn copy_of(bytes: &[u8]) -> Vec<u8> {
    let mut buf = take();
    buf.extend_from_slice(bytes);
    buf
}

/// Gives `buf` back for reuse (its contents are never read as data again).
pub fn give(buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > KEPT_CAPACITY {
        return;
    }
    if let Ok(mut spare) = SPARE.lock() {
        if spare.len() < KEPT {
            spare.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_the_pool_is_bounded() {
        for _ in 0..(3 * KEPT) {
            give(vec![7u8; 100]);
        }
        give(Vec::with_capacity(KEPT_CAPACITY + 1));
        let held = SPARE.lock().unwrap().len();
        assert!(held <= KEPT, "{held} buffers kept");
        assert!(SPARE
            .lock()
            .unwrap()
            .iter()
            .all(|b| b.capacity() <= KEPT_CAPACITY));
        let copy = copy_of(b"abc");
        assert_eq!(copy, b"abc");
        assert!(take().is_empty());
    }
}
