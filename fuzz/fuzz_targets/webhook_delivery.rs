//! A GitHub webhook delivery as anyone on the internet could send it: the first byte picks a
//! JSON or form-encoded body, the next line is the signature header, the rest the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&first, rest)) = input.split_first() else {
        return;
    };
    let (signature, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&rest[..0], rest),
    };
    let signature = String::from_utf8_lossy(signature);
    server::fuzzing::webhook_delivery(body, &signature, first % 2 == 1);
});
