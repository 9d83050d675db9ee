//! An in-process `POST /submit` of a 400 KB crash, no sockets: head checks, body reading,
//! multipart, extraction, throttle, checksum, raw crash, queue hand-off and the save itself
//! (fs into a temporary directory, or noop to see the request path alone).

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use antenna::config::Config;
use antenna::crashmover::{Crashmover, MoverPool, RetryPolicy};
use antenna::metrics::Metrics;
use antenna::publish::NonePublisher;
use antenna::storage::fs::FsStorage;
use antenna::storage::noop::NoopStorage;
use antenna::storage::CrashStorage;
use antenna::submit::Submitter;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http_body_util::Full;

fn submitter(storage: Arc<dyn CrashStorage>) -> (Submitter, MoverPool) {
    let env: HashMap<String, String> = [("BREAKPAD_THROTTLER_RULES", "accept_all")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::from(&env).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let policy = RetryPolicy {
        max_attempts: 1,
        sleep: std::time::Duration::ZERO,
    };
    let crashmover = Arc::new(Crashmover::new(
        storage,
        Arc::new(NonePublisher),
        Metrics::disabled(),
        1,
        64,
        policy,
    ));
    let pool = MoverPool::start(runtime, Arc::clone(&crashmover), 4);
    (
        Submitter::new(&config, crashmover, Metrics::disabled()),
        pool,
    )
}

fn request(body: &Bytes, gzip: bool) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::post("/submit")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={}", support::BOUNDARY),
        )
        .header("content-length", body.len());
    if gzip {
        builder = builder.header("content-encoding", "gzip");
    }
    builder.body(Full::new(body.clone())).unwrap()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = Bytes::from(support::crash_body(400 * 1024));
    let compressed = Bytes::from(support::gzip(&body));
    let root = std::env::temp_dir().join(format!("antenna-bench-{}", std::process::id()));

    let mut group = c.benchmark_group("submit_400KB");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let (noop, noop_pool) = submitter(Arc::new(NoopStorage));
    group.bench_function("noop", |b| {
        b.iter(|| {
            let response = runtime.block_on(noop.handle(request(&body, false), 0));
            assert_eq!(response.status(), 200);
        })
    });
    group.bench_function("noop_gzip", |b| {
        b.iter(|| {
            let response = runtime.block_on(noop.handle(request(&compressed, true), 0));
            assert_eq!(response.status(), 200);
        })
    });
    let (fs, fs_pool) = submitter(Arc::new(FsStorage::new(&root)));
    group.bench_function("fs", |b| {
        b.iter(|| {
            let response = runtime.block_on(fs.handle(request(&body, false), 0));
            assert_eq!(response.status(), 200);
        })
    });
    group.finish();
    noop_pool.shutdown();
    fs_pool.shutdown();
    let _ = std::fs::remove_dir_all(&root);
}

criterion_group!(benches, bench);
criterion_main!(benches);
