//! Bench inputs: crash bodies built from `testdata/`.
#![allow(dead_code, unused_imports)] // each bench uses its own subset

pub use antenna_testkit::{gzip, testdata, Multipart, BOUNDARY};

/// A multipart crash body whose dump is `dump_size` bytes: a real minidump, then its bytes
/// repeated (varied) up to the size.
pub fn crash_body(dump_size: usize) -> Vec<u8> {
    let seed = testdata("minidumps/breakpad__minidump_crashpad_annotation.dmp");
    let mut dump = Vec::with_capacity(dump_size);
    let mut round = 0u8;
    while dump.len() < dump_size {
        let take = (dump_size - dump.len()).min(seed.len());
        let start = dump.len();
        dump.extend_from_slice(&seed[..take]);
        dump[start] ^= round;
        round = round.wrapping_add(1);
    }
    let annotations: serde_json::Value =
        serde_json::from_slice(&testdata("annotations/firefox_nightly_content.json")).unwrap();
    Multipart::new()
        .fields(&annotations)
        .dump("upload_file_minidump", &dump)
        .build()
}
