//! Crash bodies: the shared builder (`antenna-testkit`), `testdata/`, digests.

pub use antenna_testkit::{compress, gzip, Multipart, BOUNDARY};

use super::post;

/// A file from `testdata/` (see `testdata/README.md`).
pub fn corpus(relative: &str) -> Vec<u8> {
    antenna_testkit::testdata(relative)
}

/// An annotation set from `testdata/annotations/`.
pub fn corpus_annotations(name: &str) -> serde_json::Value {
    serde_json::from_slice(&corpus(&format!("annotations/{name}.json"))).unwrap()
}

/// A `POST /submit` of `annotations` as form fields and a small main dump.
pub fn post_crash(annotations: &serde_json::Value) -> Vec<u8> {
    post(
        &Multipart::new()
            .fields(annotations)
            .dump("upload_file_minidump", b"MDMP")
            .build(),
        "",
    )
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
