//! antenna: a crash-report collector speaking Mozilla Antenna's wire protocol.
#![warn(missing_docs)]

pub mod multipart;
pub mod crash_id;
pub mod pyjson;
pub mod timestamp;
