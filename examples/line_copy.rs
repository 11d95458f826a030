//! The floor of any line filter, for `benches/throughput.sh`: copies
//! standard input to standard output line by line, finding each newline
//! with `memchr` and writing every line through a buffered writer, as
//! logscrub's framing and sink do, with no scanning at all.
//!
//!     cargo build --release --example line_copy
//!     target/release/examples/line_copy < FILE > /dev/null

use std::io::{self, BufWriter, Read, Write};

fn main() -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut output = BufWriter::with_capacity(256 * 1024, io::stdout().lock());
    let mut buf = vec![0u8; 256 * 1024];
    let mut held = 0;
    loop {
        if held == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = input.read(&mut buf[held..])?;
        let end = held + n;
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', &buf[held..end]) {
            let line_end = held + nl + 1;
            output.write_all(&buf[start..line_end])?;
            start = line_end;
        }
        if n == 0 {
            output.write_all(&buf[start..end])?;
            return output.flush();
        }
        buf.copy_within(start..end, 0);
        held = end - start;
    }
}
