//! Fuzz the TODO checkbox parser through `droidforge::forge::progress::fuzz_todo` (shared with
//! the proptest in `cargo test`): no panic, counts that add up.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = droidforge::forge::progress::fuzz_todo(data) {
        panic!("{broken}");
    }
});
