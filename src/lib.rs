//! antenna: a crash-report collector speaking Mozilla Antenna's wire protocol.
//!
//! The path of one crash: [`server`] accepts it, [`submit`] checks and parses it (with
//! [`multipart`], [`throttle`] and [`crash_id`]), [`crashmover`] saves it through a
//! [`storage`] backend, and only then is the client answered.
#![warn(missing_docs)]

pub mod app;
pub mod aws;
pub mod config;
pub mod crash;
pub mod crash_id;
pub mod crashmover;
pub mod fail_on_demand;
pub mod gzip;
pub mod health;
pub mod metrics;
pub mod multipart;
pub mod publish;
pub mod pyjson;
pub mod response;
pub mod router;
pub mod secret;
pub mod server;
pub mod storage;
pub mod submit;
pub mod throttle;
pub mod timestamp;

/// Any error of a client library or I/O layer, kept as a cause (`#[source]`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
