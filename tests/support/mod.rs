//! Test helpers, one concern per file: [`process`] starts the real `antenna` binary and
//! reads its logs, [`http`] talks raw HTTP/1.1 to it, [`bodies`] builds crash uploads,
//! [`store`] reads what it stored; [`s3`], [`rabbitmq`] and [`moto`] run the real servers
//! the backends talk to, [`ingest`] stands in for Sentry, [`crashpad`] speaks like
//! Crashpad's socket transport, [`tls`] makes certificates and runs nginx.
#![allow(dead_code, unused_imports)] // each test file uses its own subset

mod bodies;
pub mod crashpad;
mod http;
pub mod ingest;
pub mod moto;
mod process;
pub mod rabbitmq;
pub mod s3;
mod store;
pub mod tls;

pub use bodies::*;
pub use http::*;
pub use process::*;
pub use store::*;
