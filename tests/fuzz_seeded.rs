//! The fuzz targets' properties (`fuzz/checks.rs`) on seeded random inputs, so that every
//! CI run checks them: random bytes, and random mutations of the forms real reporters send
//! (plain parts, a nested Electron form, gzip/zstd/xz/bzip2 dump parts), randomly chunked.

#[path = "../fuzz/checks.rs"]
mod checks;

use antenna::multipart;
use antenna::submit::extract;
use antenna_testkit::{compress, Multipart};
use bytes::BytesMut;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CODECS: [&str; 4] = ["gzip", "zstd", "xz", "bzip2"];

/// Valid bodies with the boundary the checks parse with.
fn samples() -> Vec<Vec<u8>> {
    let dump = antenna_testkit::testdata("minidumps/linux-mini.dmp");
    let form = |part: &[u8]| {
        Multipart::with_boundary(checks::BOUNDARY)
            .field("ProductName", "Firefox")
            .field("Version", "133.0")
            .dump("upload_file_minidump", part)
            .build()
    };
    let nested = Multipart::with_boundary("inner")
        .field("ProductName", "Inner")
        .dump("upload_file_minidump", &dump[..2000.min(dump.len())])
        .build();
    let mut samples = vec![form(&dump[..4000.min(dump.len())]), form(&nested)];
    for codec in CODECS {
        samples.push(form(&compress(codec, &dump)));
    }
    samples
}

/// `bytes` with a few random byte changes, deletions, insertions (biased to framing bytes)
/// and maybe a truncation.
fn mutate(rng: &mut StdRng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.random_range(0..6) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..4) {
            0 => bytes[at] = rng.random(),
            1 => {
                bytes.remove(at);
            }
            2 => bytes.insert(at, b"\r\n-"[rng.random_range(0..3)]),
            _ => bytes.truncate(at),
        }
    }
    bytes
}

#[test]
fn multipart_extraction_and_inflation() {
    let mut rng = StdRng::seed_from_u64(2026);
    let samples = samples();
    for round in 0..3000 {
        let body = match round % 4 {
            0 => (0..rng.random_range(0..3000))
                .map(|_| rng.random())
                .collect(),
            _ => mutate(&mut rng, samples[round % samples.len()].clone()),
        };
        let mut input = vec![rng.random::<u8>()];
        input.extend_from_slice(&body);
        checks::multipart(&input);
    }
    // The mutations start from forms that work: each sample parses, and its main dump is
    // a minidump once nested forms are unwrapped and compressed parts inflated.
    for sample in &samples {
        let parts = multipart::parse_all(
            checks::BOUNDARY,
            BytesMut::from(&sample[..]),
            multipart::Limits::default(),
        )
        .unwrap();
        let mut extracted = extract::extract(parts).unwrap();
        extract::inflate_dumps(&mut extracted, 1 << 20).unwrap();
        assert!(extracted.dumps["upload_file_minidump"].starts_with(b"MDMP"));
    }
}

#[test]
fn decompression_of_damaged_streams() {
    let mut rng = StdRng::seed_from_u64(2027);
    let dump = antenna_testkit::testdata("minidumps/linux-mini.dmp");
    let streams: Vec<Vec<u8>> = CODECS.iter().map(|codec| compress(codec, &dump)).collect();
    for round in 0..2000 {
        let input = match round % 5 {
            0 => (0..rng.random_range(0..512))
                .map(|_| rng.random())
                .collect(),
            _ => mutate(&mut rng, streams[round % streams.len()].clone()),
        };
        checks::decompress(&input);
    }
}
