//! The literal index's hit rate on real logs: how many lines hold a literal
//! or keyword of an indexed rule (and so run those rules), how many the
//! automaton's gate flags, and the literals that hit most.
//!
//!     cargo run --release --example literal_hits -- tests/data/loghub/*.log

use logscrub::scan::Scanner;

fn main() {
    let scanner = Scanner::builtin();
    let mut scratch = scanner.scratch();
    let literals = scanner.literals();
    let (mut lines, mut literal_lines, mut flagged_lines) = (0usize, 0usize, 0usize);
    let mut counts = std::collections::HashMap::<usize, usize>::new();
    for path in std::env::args().skip(1) {
        let text = std::fs::read(&path).expect("readable input");
        for line in text.split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            lines += 1;
            let mut hit = false;
            let mut seen = Vec::new();
            literals.hits(line, scanner.line_filter(), |p| {
                hit = true;
                if !seen.contains(&p) {
                    seen.push(p);
                    *counts.entry(p).or_default() += 1;
                }
            });
            literal_lines += usize::from(hit);
            let mut batch = line.to_vec();
            batch.push(b'\n');
            if !scanner.flag_lines(&batch, &mut scratch) || !scratch.flagged.is_empty() {
                flagged_lines += 1;
            }
        }
    }
    println!(
        "{} rules, {} through the literal index",
        scanner.rules().len(),
        scanner.indexed_rules()
    );
    println!(
        "{lines} lines; {literal_lines} hold an indexed literal or keyword ({:.3} %); {flagged_lines} flagged in all ({:.3} %)",
        100.0 * literal_lines as f64 / lines.max(1) as f64,
        100.0 * flagged_lines as f64 / lines.max(1) as f64
    );
    let rest: Vec<&str> = scanner
        .rules()
        .iter()
        .enumerate()
        .filter(|(i, _)| !literals.is_indexed(*i))
        .map(|(_, r)| r.id.as_str())
        .collect();
    println!("in the automaton: {}", rest.join(" "));
    let mut top: Vec<_> = counts.into_iter().collect();
    top.sort_by_key(|b| std::cmp::Reverse(b.1));
    for (p, n) in top.into_iter().take(15) {
        println!(
            "{n:>8} lines  {:?}",
            String::from_utf8_lossy(literals.pattern_bytes(p))
        );
    }
}
