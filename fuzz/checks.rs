#![allow(dead_code)] // each fuzz target calls its own property
//! The properties the fuzz targets check, shared with the seeded random-input tests
//! (`tests/fuzz_seeded.rs`) so that CI checks them on every change; the fuzz targets
//! (coverage-guided, run by hand) are one call each into this file.

use antenna::decompress::{self, Codec};
use antenna::gzip::gunzip;
use antenna::multipart::{Error, Limits, Next, Parser, Part};
use antenna::submit::extract;

/// The boundary of every multipart input.
pub const BOUNDARY: &str = "fuzzboundary";
/// The cap on bodies and stored dumps.
const CAP: usize = 1 << 20;
const MAX_PARTS: usize = 64;

fn parse(chunks: &[&[u8]]) -> Result<Vec<Part>, Error> {
    let limits = Limits {
        max_body: CAP,
        max_header_block: 1024,
        max_parts: MAX_PARTS,
    };
    let mut parser = Parser::new(BOUNDARY, limits);
    let mut parts = Vec::new();
    for chunk in chunks {
        parser.feed(chunk)?;
        loop {
            match parser.next_part()? {
                Next::Part(part) => parts.push(part),
                Next::NeedMore => break,
                Next::End => return Ok(parts),
            }
        }
    }
    parser.finish();
    loop {
        match parser.next_part()? {
            Next::Part(part) => parts.push(part),
            Next::NeedMore | Next::End => return Ok(parts),
        }
    }
}

/// A multipart body (its first byte picks a chunk size): the parser never panics or hangs,
/// finds the same parts however the body is chunked and keeps within its limits; what it
/// finds then goes through extraction (nested forms) and dump inflation (compressed parts),
/// which never panic and keep the stored dumps under the cap.
pub fn multipart(data: &[u8]) {
    let Some((&split, body)) = data.split_first() else {
        return;
    };
    let whole = parse(&[body]);
    let pieces: Vec<&[u8]> = body.chunks(usize::from(split).max(1)).collect();
    assert_eq!(whole, parse(&pieces), "chunking changed the result");
    let Ok(parts) = whole else { return };
    assert!(parts.len() <= MAX_PARTS);
    let Ok(mut extracted) = extract::extract(parts) else {
        return;
    };
    if extract::inflate_dumps(&mut extracted, CAP).is_ok() {
        let stored: usize = extracted.dumps.values().map(|dump| dump.len()).sum();
        assert!(stored <= CAP, "{stored} stored bytes");
    }
}

/// Arbitrary bytes through the body's gzip inflation and every dump codec: a clean error
/// or at most the cap, never a panic.
pub fn decompress(data: &[u8]) {
    if let Ok(inflated) = gunzip(data, CAP) {
        assert!(inflated.len() <= CAP);
    }
    for codec in [Codec::Gzip, Codec::Zstd, Codec::Xz, Codec::Bzip2] {
        if let Ok(inflated) = decompress::decompress(codec, data, CAP) {
            assert!(inflated.len() <= CAP, "{codec:?}");
        }
    }
}
