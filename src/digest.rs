//! SHA-256 of dumps, computed once per dump: its hex goes into `metadata.dump_checksums`,
//! and S3 storage sends the same digest as the object's `x-amz-checksum-sha256`, so S3
//! checks the bytes end to end without a second pass over them.
//!
//! aws-lc-rs is already in the tree (rustls's crypto provider); its SHA-256 is the
//! assembly of BoringSSL/OpenSSL (SHA extensions where the CPU has them). On this 2-core
//! machine a 400 KB dump takes 215 µs with it, 214 µs with the `sha2` crate (0.11, also in
//! the tree) and 211 µs with OpenSSL through Python's hashlib: all at the hardware's speed
//! (`cargo bench --bench hashes`). aws-lc-rs keeps the tests' own check (`sha2`) an
//! independent implementation.

/// The SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Lowercase hex, as `dump_checksums` holds it.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// A digest back from its hex; `None` unless `hex` is 64 hex digits.
pub fn sha256_from_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |b: u8| char::from(b).to_digit(16);
        *byte = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_round_trip_through_hex() {
        let empty = to_hex(&sha256(b""));
        assert_eq!(
            empty,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(sha256_from_hex(&empty), Some(sha256(b"")));
        let abc = sha256(b"abc");
        assert_eq!(
            to_hex(&abc),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_from_hex(&to_hex(&abc).to_uppercase()), Some(abc));
        assert_eq!(sha256_from_hex("abc"), None);
        assert_eq!(sha256_from_hex(&"g".repeat(64)), None);
    }
}
