//! antenna: a crash-report collector speaking Mozilla Antenna's wire protocol.
//!
//! The path of one crash: [`server`] accepts it and hands it to the [`router`], [`submit`]
//! checks and parses it (with [`multipart`], [`gzip`], [`throttle`] and [`crash_id`]),
//! [`crashmover`] saves it through a [`storage`] backend, and only then is the client
//! answered; the id is then published through a [`publish`] backend. [`app`] builds it all
//! from [`config`].
#![deny(missing_docs, missing_debug_implementations)]

pub mod app;
pub mod aws;
pub mod budget;
pub mod config;
pub mod crash;
pub mod crash_id;
pub mod crashmover;
pub mod decompress;
pub mod digest;
pub mod fail_on_demand;
pub mod fault;
pub mod gzip;
pub mod health;
pub mod metrics;
pub mod multipart;
pub mod publish;
pub mod pyjson;
pub mod reporting;
pub mod response;
pub mod router;
pub mod secret;
pub mod server;
pub mod spool;
pub mod storage;
pub mod submit;
pub mod throttle;
pub mod timestamp;

/// Any error of a client library or I/O layer, kept as a cause (`#[source]`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
