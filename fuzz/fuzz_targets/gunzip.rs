//! Gzip inflation on arbitrary bytes: a clean error or at most the cap, never a panic.
#![no_main]

use antenna::submit::body::gunzip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(inflated) = gunzip(data, 1 << 20) {
        assert!(inflated.len() <= 1 << 20);
    }
});
