//! kube-sim's `labelSelector` and `fieldSelector` parsers over any query a client could send.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    kube_sim::fuzzing::selectors(text);
});
