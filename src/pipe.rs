//! The pipe: source → framing → scan → redact → sink, for one stream.
//!
//! Lines come out in input order, one output line per input line. A line
//! longer than the limit is replaced by [`OVERLONG_MARKER`] (fail closed)
//! and counted. Output is written once per batch, so a reader of the output
//! sees each batch as soon as it is scrubbed.

use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::framing::{Batch, LineReader};
use crate::redact::Redactor;
use crate::scan::Scanner;
use crate::stats::Stats;

/// What replaces a line that is longer than the limit.
pub const OVERLONG_MARKER: &[u8] = b"[LINE_TOO_LONG_REDACTED]";

/// Why a pipe stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipeError {
    /// The input could not be read.
    #[error("reading {input}: {source}")]
    Read {
        input: String,
        #[source]
        source: io::Error,
    },
    /// The output could not be written.
    #[error("writing output: {0}")]
    Write(#[source] io::Error),
}

/// Options of a pipe.
#[derive(Clone, Debug)]
pub struct PipeOptions {
    /// Lines longer than this many bytes (terminator excluded) are replaced.
    pub max_line_bytes: usize,
}

impl Default for PipeOptions {
    fn default() -> PipeOptions {
        PipeOptions {
            max_line_bytes: crate::framing::DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// Scrubs everything `input` yields into `output`. `name` names the input
/// in errors. Counts are added to `stats`.
pub fn run<R: Read, W: Write>(
    name: &str,
    input: R,
    output: &mut W,
    scanner: &Arc<Scanner>,
    options: &PipeOptions,
    stats: &mut Stats,
) -> Result<(), PipeError> {
    let mut reader = LineReader::new(input, options.max_line_bytes);
    let mut redactor = Redactor::new(Arc::clone(scanner));
    redactor.set_max_line_bytes(options.max_line_bytes);
    let mut out = Vec::with_capacity(crate::framing::READ_CHUNK + 4096);
    loop {
        let batch = reader.next_batch().map_err(|source| PipeError::Read {
            input: name.to_string(),
            source,
        })?;
        out.clear();
        match batch {
            None => break,
            Some(Batch::Lines(lines)) => redactor.scrub_lines(lines, &mut out),
            Some(Batch::OverLong { terminated }) => redactor.fail_closed(terminated, &mut out),
        }
        output.write_all(&out).map_err(PipeError::Write)?;
    }
    output.flush().map_err(PipeError::Write)?;
    stats.drain_from(redactor.stats_mut());
    Ok(())
}
