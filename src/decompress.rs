//! Dumps that arrive compressed inside the form (SPEC §2): recognised by their magic bytes,
//! inflated under a cap.
//!
//! Every decoder is bounded twice: in output (reading stops one byte past the cap, so a
//! decompression bomb costs the cap and no more) and in working memory (xz gets a memory
//! limit, a zstd frame whose window is larger than the cap is refused before decoding,
//! bzip2 needs at most a few MiB by design, libdeflate none beyond the output).

use std::io::Read;

use bytes::Bytes;

use crate::gzip::{gunzip, GzipError};

/// Working memory liblzma may use: enough for `xz -9e` (64 MiB dictionary), no more.
const XZ_MEMORY_LIMIT: u64 = 80 << 20;

/// A compression format a dump part may be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// `1f 8b`.
    Gzip,
    /// `28 b5 2f fd`.
    Zstd,
    /// `fd 37 7a 58 5a 00`.
    Xz,
    /// `42 5a 68` (`BZh`).
    Bzip2,
}

impl Codec {
    /// The codec whose magic `bytes` start with.
    pub fn sniff(bytes: &[u8]) -> Option<Codec> {
        const MAGICS: &[(&[u8], Codec)] = &[
            (&[0x1f, 0x8b], Codec::Gzip),
            (&[0x28, 0xb5, 0x2f, 0xfd], Codec::Zstd),
            (&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], Codec::Xz),
            (b"BZh", Codec::Bzip2),
        ];
        MAGICS
            .iter()
            .find(|(magic, _)| bytes.starts_with(magic))
            .map(|&(_, codec)| codec)
    }

    /// The name used in collector notes.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
            Codec::Xz => "xz",
            Codec::Bzip2 => "bzip2",
        }
    }
}

/// Why a compressed dump was not inflated.
#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    /// It inflates to more than the cap.
    #[error("inflates to more than {limit} bytes")]
    TooLarge {
        /// The cap that was passed.
        limit: usize,
    },
    /// It has the magic but is not a valid stream of that format.
    #[error("does not decompress")]
    Damaged(#[source] Option<std::io::Error>),
    /// A zstd frame whose window (output the decoder holds back) is larger than the cap;
    /// not decoded.
    #[error("declares a {window}-byte window, more than the cap")]
    WindowTooLarge {
        /// The declared window.
        window: u64,
    },
}

/// Inflates `bytes`, sent in `codec`, to at most `limit` bytes.
pub fn decompress(codec: Codec, bytes: &[u8], limit: usize) -> Result<Bytes, DecompressError> {
    match codec {
        Codec::Gzip => match gunzip(bytes, limit) {
            Ok(inflated) => Ok(inflated.freeze()),
            Err(GzipError::TooLarge { limit }) => Err(DecompressError::TooLarge { limit }),
            Err(GzipError::NotGzip | GzipError::Damaged) => Err(DecompressError::Damaged(None)),
        },
        Codec::Zstd => {
            // The decoder holds back a window's worth of output: a window over the cap is
            // refused before the decoder allocates what the header asks for.
            match zstd_window(bytes) {
                None => return Err(DecompressError::Damaged(None)),
                Some(window) if window > limit as u64 => {
                    return Err(DecompressError::WindowTooLarge { window })
                }
                Some(_) => {}
            }
            let decoder = ruzstd::decoding::StreamingDecoder::new(bytes)
                .map_err(|error| DecompressError::Damaged(Some(std::io::Error::other(error))))?;
            read_capped(decoder, limit)
        }
        Codec::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMORY_LIMIT,
                liblzma::stream::CONCATENATED,
            )
            .map_err(|error| DecompressError::Damaged(Some(error.into())))?;
            read_capped(liblzma::read::XzDecoder::new_stream(bytes, stream), limit)
        }
        Codec::Bzip2 => read_capped(bzip2::read::MultiBzDecoder::new(bytes), limit),
    }
}

/// Reads `decoder` to its end, failing one byte past `limit`.
fn read_capped(decoder: impl Read, limit: usize) -> Result<Bytes, DecompressError> {
    let mut out = Vec::new();
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| DecompressError::Damaged(Some(error)))?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    Ok(Bytes::from(out))
}

/// The window size a zstd frame header declares (RFC 8878 §3.1.1.1): the output its
/// decoder holds back. `None` for a header too short or invalid to say.
fn zstd_window(bytes: &[u8]) -> Option<u64> {
    let descriptor = *bytes.get(4)?;
    let single_segment = descriptor & 0x20 != 0;
    if !single_segment {
        let window = *bytes.get(5)?;
        let exponent = u32::from(window >> 3);
        let base = 1u64 << (10 + exponent);
        return Some(base + base / 8 * u64::from(window & 7));
    }
    // A single-segment frame's window is its content size, which follows the optional
    // dictionary id.
    let dictionary_id_len = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let content_size_len = [1, 2, 4, 8][usize::from(descriptor >> 6)];
    let at = 5 + dictionary_id_len;
    let field = bytes.get(at..at + content_size_len)?;
    let mut le = [0u8; 8];
    le[..content_size_len].copy_from_slice(field);
    let size = u64::from_le_bytes(le);
    Some(if content_size_len == 2 {
        size + 256
    } else {
        size
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump() -> Vec<u8> {
        let mut dump = b"MDMP\x93\xa7".to_vec();
        for i in 0..50_000u32 {
            dump.extend_from_slice(&(i % 251).to_le_bytes());
        }
        dump
    }

    fn compress(codec: Codec, data: &[u8]) -> Vec<u8> {
        antenna_testkit::compress(codec.name(), data)
    }

    const CODECS: [Codec; 4] = [Codec::Gzip, Codec::Zstd, Codec::Xz, Codec::Bzip2];

    #[test]
    fn each_codec_round_trips_and_stops_at_the_cap() {
        let dump = dump();
        for codec in CODECS {
            let compressed = compress(codec, &dump);
            assert_eq!(Codec::sniff(&compressed), Some(codec));
            let inflated = decompress(codec, &compressed, dump.len()).unwrap();
            assert!(inflated[..] == dump[..], "{codec:?} round trip");
            assert!(
                matches!(
                    decompress(codec, &compressed, dump.len() - 1),
                    Err(DecompressError::TooLarge { .. })
                ),
                "{codec:?} over the cap"
            );
        }
        assert_eq!(Codec::sniff(b"MDMP"), None);
    }

    #[test]
    fn bombs_stop_at_the_cap() {
        let zeros = vec![0u8; 64 << 20];
        for codec in CODECS {
            let bomb = compress(codec, &zeros);
            assert!(bomb.len() < 4 << 20, "{codec:?} bomb is small");
            assert!(
                matches!(
                    decompress(codec, &bomb, 1 << 20),
                    Err(DecompressError::TooLarge { limit }) if limit == 1 << 20
                ),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn zstd_windows_are_read_from_the_header() {
        // Window descriptor 0x58: exponent 11, mantissa 0 → 2 MiB.
        assert_eq!(
            zstd_window(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]),
            Some(2 << 20)
        );
        // Single segment, 2-byte content size 0x0100 (+256).
        assert_eq!(
            zstd_window(&[0x28, 0xb5, 0x2f, 0xfd, 0x60, 0x00, 0x01]),
            Some(0x100 + 256)
        );
        // A header that declares a 1 TiB window is refused without decoding.
        let huge = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 30 << 3, 0, 0, 0];
        assert!(matches!(
            decompress(Codec::Zstd, &huge, 1 << 20),
            Err(DecompressError::WindowTooLarge { window }) if window == 1 << 40
        ));
        assert!(matches!(
            decompress(Codec::Zstd, &[0x28, 0xb5, 0x2f, 0xfd], 1 << 20),
            Err(DecompressError::Damaged(_))
        ));
    }

    #[test]
    fn damaged_streams_are_errors_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let dump = dump();
        for codec in CODECS {
            let valid = compress(codec, &dump[..20_000]);
            for _ in 0..300 {
                let mut damaged = valid.clone();
                for _ in 0..rng.random_range(1..6) {
                    let at = rng.random_range(0..damaged.len());
                    damaged[at] = rng.random();
                }
                damaged.truncate(rng.random_range(0..=damaged.len()));
                if let Ok(inflated) = decompress(codec, &damaged, 1 << 20) {
                    assert!(inflated.len() <= 1 << 20);
                }
            }
        }
    }
}
