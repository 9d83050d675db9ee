//! Gzip bodies and gzip, zstd, xz and bzip2 dump parts on arbitrary bytes (the properties
//! are in `fuzz/checks.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::decompress(data));
