//! Standard input as a source: read on its own thread (reads of a pipe
//! block), cut into chunks, sent in order. Shutdown ends it at the next read
//! (within the poll interval when the pipe is quiet); what was read is
//! still sent.

use std::io::{self, Read};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::{ChunkSender, Feed, FramingOptions, Stream};

/// Reads standard input to its end (or to shutdown).
pub fn run(tx: ChunkSender, options: FramingOptions, stop: Arc<AtomicBool>) -> io::Result<()> {
    let stream = Arc::new(Stream {
        name: "standard input".into(),
        label: "standard input".into(),
    });
    let input = super::stoppable::StoppableRead::polled(io::stdin(), stop);
    pump(input, Feed::new(stream, options, 0), &tx)
}

/// Reads `input` to its end into `feed`, sending every chunk; stops early
/// (without error) when the receiver is gone.
pub fn pump<R: Read>(mut input: R, mut feed: Feed, tx: &ChunkSender) -> io::Result<()> {
    loop {
        let n = match input.read(feed.framer().spare()) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // What was read before the error still goes out.
                feed.framer().finish();
                send_all(&mut feed, tx);
                return Err(e);
            }
        };
        if n == 0 {
            feed.framer().finish();
        } else {
            feed.framer().filled(n);
        }
        if !send_all(&mut feed, tx) {
            return Ok(());
        }
        if n == 0 {
            return Ok(());
        }
    }
}

/// Sends every chunk `feed` has ready; false when the receiver is gone.
pub(crate) fn send_all(feed: &mut Feed, tx: &ChunkSender) -> bool {
    while let Some(chunk) = feed.next_chunk() {
        if tx.blocking_send(chunk).is_err() {
            return false;
        }
    }
    true
}
