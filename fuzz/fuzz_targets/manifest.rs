//! Fuzz target: the manifest decoder (checks in core/tests/common/fuzz_checks.rs).
#![no_main]

#[path = "../../core/tests/common/fuzz_checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::manifest(data));
