//! Bench inputs: crash bodies built from `testdata/`.
#![allow(dead_code)] // each bench uses its own subset

use std::path::Path;

pub const BOUNDARY: &str = "------------------------b3nchb0undary";

/// A file from `testdata/` (see `testdata/README.md`).
pub fn testdata(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

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
    let mut body = Vec::new();
    for (name, value) in annotations.as_object().unwrap() {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n",
                value.as_str().unwrap_or_default()
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"a.dmp\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(&dump);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
    let mut out = vec![0; compressor.gzip_compress_bound(data.len())];
    let len = compressor.gzip_compress(data, &mut out).unwrap();
    out.truncate(len);
    out
}
