//! The reference scan for `benches/throughput.sh`: the default catalog's
//! regexes compiled into one regex-automata multi-pattern regex, run over
//! every line of standard input to count matches, and nothing else (no
//! validators, decoded views, structure or output). Throughput targets are
//! stated as ratios to this scan on the same machine in the same run.
//!
//!     cargo build --release --example detect_only
//!     target/release/examples/detect_only < FILE

use std::io::{self, Read};

use regex_automata::meta::Regex;

fn main() -> io::Result<()> {
    let rules = logscrub::rules::default_rules();
    let patterns: Vec<&str> = rules.iter().map(|r| r.regex.as_str()).collect();
    let re = Regex::builder()
        .syntax(logscrub::rules::syntax_config())
        .configure(logscrub::rules::regex_config())
        .build_many(&patterns)
        .expect("the default catalog compiles as one regex");
    let mut text = Vec::new();
    io::stdin().lock().read_to_end(&mut text)?;
    let mut matches = 0usize;
    for line in text.split(|&b| b == b'\n') {
        matches += re.find_iter(line).count();
    }
    eprintln!("{} rules, {matches} matches", patterns.len());
    Ok(())
}
