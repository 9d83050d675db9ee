//! Bench inputs: crash bodies built from `testdata/`, and the collector in-process.
#![allow(dead_code, unused_imports)] // each bench uses its own subset

use std::collections::HashMap;
use std::sync::Arc;

use antenna::app::{self, Collector};
use antenna::config::Config;
use antenna::metrics::Metrics;
use antenna::publish::NonePublisher;
use antenna::storage::CrashStorage;
pub use antenna_testkit::{gzip, testdata, Multipart, BOUNDARY};
use bytes::Bytes;
use http_body_util::Full;

/// A multipart crash body whose dump is `dump_size` bytes: a real minidump, then its bytes
/// repeated (varied) up to the size.
pub fn crash_body(dump_size: usize) -> Vec<u8> {
    let seed = testdata("minidumps/breakpad__minidump_crashpad_annotation.dmp");
    let mut dump = Vec::with_capacity(dump_size);
    let mut round = 0u8;
    while dump.len() < dump_size {
        let take = (dump_size - dump.len()).min(seed.len());
        let start = dump.len();
        dump.extend_from_slice(&seed[..take]);
        dump[start] ^= round;
        round = round.wrapping_add(1);
    }
    let annotations: serde_json::Value =
        serde_json::from_slice(&testdata("annotations/firefox_nightly_content.json")).unwrap();
    Multipart::new()
        .fields(&annotations)
        .dump("upload_file_minidump", &dump)
        .build()
}

/// The collector in-process, no sockets, saving into `storage`.
pub fn collector(storage: Arc<dyn CrashStorage>) -> Collector {
    let env: HashMap<String, String> = [
        ("BREAKPAD_THROTTLER_RULES", "accept_all"),
        ("ANTENNA_WORKERS", "1"),
        ("CRASHMOVER_CONCURRENT_CRASHMOVERS", "4"),
        ("CRASHMOVER_QUEUE_CAPACITY", "64"),
        ("CRASHMOVER_MAX_ATTEMPTS", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([(
        "CRASHMOVER_SPOOL_DIR".to_string(),
        std::env::temp_dir()
            .join(format!("antenna-bench-spool-{}", std::process::id()))
            .display()
            .to_string(),
    )])
    .collect();
    let config = Config::from(&env).unwrap();
    let runtime = app::movers_runtime(&config).unwrap();
    app::build(
        &config,
        runtime,
        storage,
        Arc::new(NonePublisher),
        Metrics::disabled(),
    )
    .unwrap()
}

/// A `POST /submit` of `body` (gzip-compressed when `gzip`).
pub fn request(body: &Bytes, gzip: bool) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::post("/submit")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={}", BOUNDARY),
        )
        .header("content-length", body.len());
    if gzip {
        builder = builder.header("content-encoding", "gzip");
    }
    builder.body(Full::new(body.clone())).unwrap()
}
