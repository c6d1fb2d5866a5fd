//! Slipway's configuration file (`--config FILE`, TOML) as an operator could write it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    server::fuzzing::config_file(text);
});
