//! Fuzz target: the structured-log paths. A line that is a valid JSON
//! object comes out as a valid JSON object (whatever secrets it holds,
//! sensitive keys included), in every input format that reads JSON, and as
//! one line. (A bare JSON scalar line, such as a lone card number, is plain
//! text to logscrub and is replaced by a label.)

#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use logscrub::format::Format;
use logscrub::redact::Redactor;
use logscrub::scan::Scanner;

fn scanner() -> &'static Arc<Scanner> {
    static SCANNER: OnceLock<Arc<Scanner>> = OnceLock::new();
    SCANNER.get_or_init(|| Arc::new(Scanner::builtin()))
}

fuzz_target!(|data: &[u8]| {
    let is_object = matches!(
        serde_json::from_slice::<serde_json::Value>(data),
        Ok(serde_json::Value::Object(_))
    );
    if data.contains(&b'\n') || !is_object {
        return;
    }
    for format in [Format::Auto, Format::Json, Format::Docker] {
        let mut redactor = Redactor::new(Arc::clone(scanner()));
        redactor.set_format(format);
        let mut out = Vec::new();
        redactor.scrub_lines(data, &mut out);
        assert!(!out.contains(&b'\n'), "one line in, one line out");
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&out) {
            panic!(
                "{format:?}: valid JSON in, invalid out ({e}):\n{}\n{}",
                String::from_utf8_lossy(data),
                String::from_utf8_lossy(&out)
            );
        }
    }
});
