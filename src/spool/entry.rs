//! The on-disk form of one spooled crash: a single file, so that one fsync and one rename
//! make it durable and visible at once.
//!
//! ```text
//! "ANTSPOOL1"                      magic and format version
//! u8                               1 when the id is to be published after the save
//! u8, bytes                        the crash id
//! u32 LE, bytes                    the raw crash as JSON
//! u32 LE                           number of dumps
//!   u16 LE, bytes                  dump name
//!   u64 LE, bytes                  dump bytes, exactly as received
//! ```
//!
//! Decoding checks every length against what is left, so a damaged file is an error, never
//! a panic or a huge allocation.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::crash::CrashReport;
use crate::crash_id::CrashId;

const MAGIC: &[u8] = b"ANTSPOOL1";

/// Why an entry file cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not a spool entry of this version.
    #[error("not a spool entry (bad magic)")]
    Magic,
    /// A length runs past the end of the file.
    #[error("entry truncated")]
    Truncated,
    /// The raw crash is not a JSON object.
    #[error("raw crash is not a JSON object: {0}")]
    RawCrash(#[source] serde_json::Error),
    /// The crash id is not one.
    #[error("invalid crash id")]
    CrashId,
    /// A dump name is not UTF-8.
    #[error("dump name is not UTF-8")]
    DumpName,
}

/// Encodes `crash` (and whether to publish it) as an entry file's bytes.
pub fn encode(crash: &CrashReport, publish: bool) -> Vec<u8> {
    let raw = serde_json::to_vec(&crash.raw_crash).unwrap_or_else(|_| b"{}".to_vec());
    let dumps: usize = crash
        .dumps
        .iter()
        .map(|(n, d)| 10 + n.len() + d.len())
        .sum();
    let mut out = Vec::with_capacity(MAGIC.len() + 46 + raw.len() + dumps);
    out.extend_from_slice(MAGIC);
    out.push(u8::from(publish));
    let id = crash.crash_id.as_str().as_bytes();
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(&raw);
    out.extend_from_slice(&(crash.dumps.len() as u32).to_le_bytes());
    for (name, bytes) in &crash.dumps {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// Decodes an entry file; dumps are zero-copy slices of `file`.
pub fn decode(file: Bytes) -> Result<(CrashReport, bool), DecodeError> {
    let mut reader = Reader { file, at: 0 };
    if reader.take(MAGIC.len())? != MAGIC {
        return Err(DecodeError::Magic);
    }
    let publish = reader.take(1)?[0] == 1;
    let id_len = usize::from(reader.take(1)?[0]);
    let crash_id = std::str::from_utf8(&reader.take(id_len)?)
        .ok()
        .and_then(|id| CrashId::parse_strict(id).ok())
        .ok_or(DecodeError::CrashId)?;
    let raw_len = reader.u32()? as usize;
    let raw_crash: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&reader.take(raw_len)?).map_err(DecodeError::RawCrash)?;
    let count = reader.u32()?;
    let mut dumps = BTreeMap::new();
    for _ in 0..count {
        let name_len = usize::from(reader.u16()?);
        let name = String::from_utf8(reader.take(name_len)?.to_vec())
            .map_err(|_| DecodeError::DumpName)?;
        let len = usize::try_from(reader.u64()?).map_err(|_| DecodeError::Truncated)?;
        dumps.insert(name, reader.take(len)?);
    }
    Ok((
        CrashReport {
            crash_id,
            raw_crash,
            dumps,
        },
        publish,
    ))
}

struct Reader {
    file: Bytes,
    at: usize,
}

impl Reader {
    fn take(&mut self, len: usize) -> Result<Bytes, DecodeError> {
        let end = self.at.checked_add(len).ok_or(DecodeError::Truncated)?;
        if end > self.file.len() {
            return Err(DecodeError::Truncated);
        }
        let bytes = self.file.slice(self.at..end);
        self.at = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(&bytes);
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::crash_id::IdKind;
    use crate::timestamp::Date;

    fn crash() -> CrashReport {
        let crash_id = CrashId::generate(
            &mut rand::rng(),
            IdKind::Accept,
            Date::new(2026, 12, 2).unwrap(),
        );
        let mut raw_crash = serde_json::Map::new();
        raw_crash.insert("ProductName".into(), "Firefox".into());
        raw_crash.insert("uuid".into(), crash_id.as_str().into());
        let mut dumps = BTreeMap::new();
        dumps.insert(
            "upload_file_minidump".to_owned(),
            Bytes::from_static(b"MDMP\0\x01"),
        );
        dumps.insert(String::new(), Bytes::from_static(b""));
        CrashReport {
            crash_id,
            raw_crash,
            dumps,
        }
    }

    #[test]
    fn round_trips() {
        let original = crash();
        let (decoded, publish) = decode(Bytes::from(encode(&original, true))).unwrap();
        assert!(publish);
        assert_eq!(decoded.crash_id, original.crash_id);
        assert_eq!(decoded.raw_crash, original.raw_crash);
        assert_eq!(decoded.dumps, original.dumps);
        assert_eq!(decoded.raw_crash_json(), original.raw_crash_json());
    }

    #[test]
    fn damage_is_an_error_never_a_panic() {
        let valid = encode(&crash(), false);
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        for cut in 0..valid.len() {
            assert!(
                decode(Bytes::copy_from_slice(&valid[..cut])).is_err(),
                "{cut}"
            );
        }
        for _ in 0..2000 {
            let mut damaged = valid.clone();
            let at = rng.random_range(0..damaged.len());
            damaged[at] = rng.random();
            let _ = decode(Bytes::from(damaged));
        }
    }
}
