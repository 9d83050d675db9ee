//! Reading a submission body off the connection, under the size cap and the idle timeout,
//! into multipart parts.
//!
//! Plain bodies stream straight into the multipart parser as chunks arrive, so the boundary
//! scan overlaps the upload and the body is copied once (into the parser's buffer, sized
//! from Content-Length). Gzip bodies are gathered, then inflated by libdeflate in one call
//! into one buffer that the parser adopts without a copy.

use std::cell::RefCell;
use std::fmt::Display;
use std::time::{Duration, Instant};

use bytes::{Buf as _, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Body;
use libdeflater::{DecompressionError, Decompressor};

use super::reject::Reject;
use super::request::Head;
use crate::metrics::{Histogram, Metrics, Timer};
use crate::multipart::{self, Limits, Next, Parser, Part};

/// The parts of a body and what the raw crash's metadata says about it.
#[derive(Debug)]
pub struct Received {
    /// Every part, in order.
    pub parts: Vec<Part>,
    /// Bytes as received on the wire (the compressed size for gzip bodies).
    pub wire_size: usize,
    /// Bytes after decompression (equal to `wire_size` for plain bodies).
    pub decoded_size: usize,
}

/// Limits on reading one body.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Caps the wire bytes and the decompressed bytes alike (`ANTENNA_MAX_CRASH_SIZE`).
    pub max_size: usize,
    /// Longest wait for the next chunk (`ANTENNA_BODY_TIMEOUT_SECONDS`).
    pub idle_timeout: Duration,
}

/// Reads and parses `body`.
pub async fn receive<B>(
    mut body: B,
    head: &Head,
    limits: BodyLimits,
    metrics: &Metrics,
) -> Result<Received, Reject>
where
    B: Body + Unpin,
    B::Error: Display,
{
    let BodyLimits {
        max_size,
        idle_timeout: idle,
    } = limits;
    let parser_limits = Limits {
        max_body: max_size,
        ..Limits::default()
    };
    let expected = head.content_length.unwrap_or(0);
    if head.compressed {
        let mut compressed = BytesMut::with_capacity(expected.min(max_size));
        read_chunks(&mut body, idle, |chunk| {
            if compressed.len() + chunk.len() > max_size {
                return Err(Reject::TooLarge(max_size));
            }
            compressed.extend_from_slice(chunk);
            Ok(())
        })
        .await?;
        if compressed.is_empty() {
            return Err(Reject::NoContentLength);
        }
        let started = Instant::now();
        let inflated = gunzip(&compressed, max_size);
        let result = if inflated.is_ok() { "success" } else { "fail" };
        metrics.time(
            Timer::GzippedCrashDecompress,
            started.elapsed(),
            Some(("result", result)),
        );
        let inflated = inflated?;
        let decoded_size = inflated.len();
        metrics.histogram(
            Histogram::CrashSize,
            decoded_size as u64,
            Some(("payload", "compressed")),
        );
        let mut parser = Parser::new(&head.boundary, parser_limits);
        parser.feed_buffer(inflated).map_err(structure)?;
        parser.finish();
        let mut parts = Vec::new();
        drain(&mut parser, &mut parts)?;
        return Ok(Received {
            parts,
            wire_size: compressed.len(),
            decoded_size,
        });
    }

    let mut parser = Parser::with_capacity(&head.boundary, parser_limits, expected);
    let mut parts = Vec::new();
    read_chunks(&mut body, idle, |chunk| {
        parser.feed(chunk).map_err(structure)?;
        drain(&mut parser, &mut parts)
    })
    .await?;
    if parser.received() == 0 {
        return Err(Reject::NoContentLength);
    }
    parser.finish();
    drain(&mut parser, &mut parts)?;
    metrics.histogram(
        Histogram::CrashSize,
        parser.received() as u64,
        Some(("payload", "uncompressed")),
    );
    Ok(Received {
        parts,
        wire_size: parser.received(),
        decoded_size: parser.received(),
    })
}

/// Pulls every complete part out of the parser.
fn drain(parser: &mut Parser, parts: &mut Vec<Part>) -> Result<(), Reject> {
    loop {
        match parser.next_part().map_err(structure)? {
            Next::Part(part) => parts.push(part),
            Next::NeedMore | Next::End => return Ok(()),
        }
    }
}

/// Feeds every data frame of `body` to `sink`, with `idle` as the longest wait per frame.
async fn read_chunks<B>(
    body: &mut B,
    idle: Duration,
    mut sink: impl FnMut(&[u8]) -> Result<(), Reject>,
) -> Result<(), Reject>
where
    B: Body + Unpin,
    B::Error: Display,
{
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(Reject::BodyTimeout),
            Ok(None) => return Ok(()),
            Ok(Some(Err(error))) => {
                // The client closed early (body shorter than its Content-Length) or broke
                // the chunked framing.
                return Err(Reject::InvalidPayloadStructure(format!(
                    "reading body: {error}"
                )));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Some(data) = frame.data_ref() {
            sink(data.chunk())?;
        }
    }
}

fn structure(error: multipart::Error) -> Reject {
    match error {
        multipart::Error::TooLarge { limit } => Reject::TooLarge(limit),
        other => Reject::InvalidPayloadStructure(other.to_string()),
    }
}

thread_local! {
    /// One libdeflate decompressor per thread: it is `!Sync`, cheap to keep, and each
    /// acceptor thread inflates one body at a time (inflating never awaits).
    static DECOMPRESSOR: RefCell<Decompressor> = RefCell::new(Decompressor::new());
}

/// Inflates a gzip body into one buffer of at most `max_size` bytes.
///
/// The gzip trailer's ISIZE (uncompressed size mod 2^32) sizes the buffer in one go for
/// honest bodies; a lying or missing ISIZE costs a few doublings, never more than
/// `max_size`, so a decompression bomb stops at the cap.
pub fn gunzip(compressed: &[u8], max_size: usize) -> Result<BytesMut, Reject> {
    if compressed.len() < 18 || compressed[..2] != [0x1f, 0x8b] {
        return Err(Reject::BadGzip("not a gzip stream".into()));
    }
    let trailer = &compressed[compressed.len() - 4..];
    let isize = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) as usize;
    let mut size = if (1..=max_size).contains(&isize) {
        isize
    } else {
        compressed.len().saturating_mul(4).clamp(1024, max_size)
    };
    DECOMPRESSOR.with(|cell| {
        let mut decompressor = cell.borrow_mut();
        loop {
            // Zeroed through calloc: fresh pages from the kernel, no memset for big sizes.
            let mut out = BytesMut::zeroed(size);
            match decompressor.gzip_decompress(compressed, &mut out) {
                Ok(len) => {
                    out.truncate(len);
                    return Ok(out);
                }
                Err(DecompressionError::InsufficientSpace) if size < max_size => {
                    size = size.saturating_mul(2).min(max_size);
                }
                Err(DecompressionError::InsufficientSpace) => {
                    return Err(Reject::TooLarge(max_size))
                }
                Err(DecompressionError::BadData) => {
                    return Err(Reject::BadGzip("invalid gzip data".into()))
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
        let mut out = vec![0; compressor.gzip_compress_bound(data.len())];
        let len = compressor.gzip_compress(data, &mut out).unwrap();
        out.truncate(len);
        out
    }

    #[test]
    fn inflates_within_the_cap() {
        let data = b"crash ".repeat(10_000);
        assert_eq!(&gunzip(&gzip(&data), data.len()).unwrap()[..], &data[..]);
        assert_eq!(
            gunzip(&gzip(&data), data.len() - 1),
            Err(Reject::TooLarge(data.len() - 1))
        );
    }

    #[test]
    fn size_trailer_is_only_a_hint() {
        // A bomb: 64 MiB of zeros in ~64 KB. Its honest trailer is over the cap, so sizing
        // starts small and stops at the cap.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert_eq!(gunzip(&bomb, 1 << 20), Err(Reject::TooLarge(1 << 20)));
        // A trailer that lies is a damaged stream (libdeflate checks it), not an allocation
        // of what it claims.
        let mut lying = gzip(&vec![0u8; 1 << 20]);
        let len = lying.len();
        lying[len - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(gunzip(&lying, 2 << 20), Err(Reject::BadGzip(_))));
    }

    #[test]
    fn damaged_gzip_is_bad_gzip_never_a_panic() {
        use rand::{Rng, SeedableRng};
        let valid = gzip(&b"MDMP and some annotations ".repeat(200));
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        assert!(matches!(
            gunzip(b"not gzip at all, honestly", 1 << 20),
            Err(Reject::BadGzip(_))
        ));
        for _ in 0..2000 {
            let mut damaged = valid.clone();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..damaged.len());
                damaged[at] = rng.random();
            }
            damaged.truncate(rng.random_range(0..=damaged.len()));
            match gunzip(&damaged, 1 << 20) {
                Ok(_) | Err(Reject::BadGzip(_)) | Err(Reject::TooLarge(_)) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
    }
}
