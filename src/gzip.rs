//! Inflating gzip bodies: libdeflate in one call into one buffer, bounded by a cap.

use std::cell::RefCell;

use bytes::BytesMut;
use libdeflater::{DecompressionError, Decompressor};

/// Why a gzip body could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GzipError {
    /// No gzip header (or too short to be gzip at all).
    #[error("not a gzip stream")]
    NotGzip,
    /// The deflate data or the trailer's checksum or size is wrong.
    #[error("invalid gzip data")]
    Damaged,
    /// Inflates to more than the cap.
    #[error("inflates to more than {limit} bytes")]
    TooLarge {
        /// The cap that was passed.
        limit: usize,
    },
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
pub fn gunzip(compressed: &[u8], max_size: usize) -> Result<BytesMut, GzipError> {
    if compressed.len() < 18 || compressed[..2] != [0x1f, 0x8b] {
        return Err(GzipError::NotGzip);
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
                    return Err(GzipError::TooLarge { limit: max_size })
                }
                Err(DecompressionError::BadData) => return Err(GzipError::Damaged),
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
            Err(GzipError::TooLarge {
                limit: data.len() - 1
            })
        );
    }

    #[test]
    fn size_trailer_is_only_a_hint() {
        // A bomb: 64 MiB of zeros in ~64 KB. Its honest trailer is over the cap, so sizing
        // starts small and stops at the cap.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert_eq!(
            gunzip(&bomb, 1 << 20),
            Err(GzipError::TooLarge { limit: 1 << 20 })
        );
        // A trailer that lies is a damaged stream (libdeflate checks it), not an allocation
        // of what it claims.
        let mut lying = gzip(&vec![0u8; 1 << 20]);
        let len = lying.len();
        lying[len - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(gunzip(&lying, 2 << 20), Err(GzipError::Damaged)));
    }

    #[test]
    fn damaged_gzip_is_bad_gzip_never_a_panic() {
        use rand::{Rng, SeedableRng};
        let valid = gzip(&b"MDMP and some annotations ".repeat(200));
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        assert_eq!(
            gunzip(b"not gzip at all, honestly", 1 << 20),
            Err(GzipError::NotGzip)
        );
        for _ in 0..2000 {
            let mut damaged = valid.clone();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..damaged.len());
                damaged[at] = rng.random();
            }
            damaged.truncate(rng.random_range(0..=damaged.len()));
            match gunzip(&damaged, 1 << 20) {
                Ok(_) | Err(_) => {}
            }
        }
    }
}
