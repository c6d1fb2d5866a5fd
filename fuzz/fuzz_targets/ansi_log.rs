//! The dashboard's ANSI log renderer over any line a step could print: it never panics and
//! loses no printable text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &str| {
    app::fuzzing::ansi(line);
});
