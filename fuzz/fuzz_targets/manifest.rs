//! Fuzz the manifest parser and validator through `droidforge::forge::manifest::fuzz_manifest`, the
//! same entry point the proptest in `cargo test` drives: no panic, every rejection exit 2 with
//! a position.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = droidforge::forge::manifest::fuzz_manifest(data) {
        panic!("{broken}");
    }
});
