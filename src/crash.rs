//! A crash as it is handed to storage: its id, the raw crash document and the dumps.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::crash_id::CrashId;
use crate::pyjson;

/// One accepted crash, ready to save.
#[derive(Debug, Clone)]
pub struct CrashReport {
    /// Its id; also the `uuid` field of the raw crash.
    pub crash_id: CrashId,
    /// Annotations plus `metadata`, `submitted_timestamp`, `uuid`, `version` (SPEC §4).
    pub raw_crash: Map<String, Value>,
    /// Sanitised dump name → bytes exactly as received. Sorted, so `dump_names` is too.
    pub dumps: BTreeMap<String, Bytes>,
}

impl CrashReport {
    /// The raw crash as stored: Antenna-compatible JSON bytes.
    pub fn raw_crash_json(&self) -> String {
        pyjson::object_to_string(&self.raw_crash)
    }

    /// The SHA-256 of dump `name`, from `metadata.dump_checksums` (computed once, when
    /// the crash was accepted); `None` if the raw crash does not carry it.
    pub fn dump_sha256(&self, name: &str) -> Option<[u8; 32]> {
        let hex = self
            .raw_crash
            .get("metadata")?
            .get("dump_checksums")?
            .get(name)?;
        crate::digest::sha256_from_hex(hex.as_str()?)
    }

    /// The sorted list of dump names as stored (`[]` when there are none).
    pub fn dump_names_json(&self) -> String {
        let names = self.dumps.keys().cloned().map(Value::String).collect();
        pyjson::to_string(&Value::Array(names))
    }
}
