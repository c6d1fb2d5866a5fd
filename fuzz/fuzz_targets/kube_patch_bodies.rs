//! kube-sim's apply, strategic merge and protobuf decoding over any body a client could send.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    kube_sim::fuzzing::patch_bodies(body);
});
