//! An in-process `POST /submit` of a 400 KB crash, no sockets: head checks, body reading,
//! multipart, extraction, throttle, checksum, raw crash, queue hand-off and the save itself
//! (fs into a temporary directory, with and without fsync, or noop to see the request path
//! alone).

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use antenna::app::{self, Collector};
use antenna::config::Config;
use antenna::metrics::Metrics;
use antenna::publish::NonePublisher;
use antenna::storage::fs::FsStorage;
use antenna::storage::noop::NoopStorage;
use antenna::storage::CrashStorage;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http_body_util::Full;

fn collector(storage: Arc<dyn CrashStorage>) -> Collector {
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
    let noop = collector(Arc::new(NoopStorage));
    let noop_queue = noop.app.submitter.save_queue(0);
    group.bench_function("noop", |b| {
        b.iter(|| {
            let response = runtime.block_on(noop.app.submitter.handle(
                request(&body, false),
                None,
                &noop_queue,
            ));
            assert_eq!(response.status(), 200);
        })
    });
    group.bench_function("noop_gzip", |b| {
        b.iter(|| {
            let response = runtime.block_on(noop.app.submitter.handle(
                request(&compressed, true),
                None,
                &noop_queue,
            ));
            assert_eq!(response.status(), 200);
        })
    });
    let mut collectors = vec![noop];
    for (name, fsync) in [("fs_fsync", true), ("fs_no_fsync", false)] {
        let fs = collector(Arc::new(FsStorage::new(root.join(name), fsync)));
        let queue = fs.app.submitter.save_queue(0);
        group.bench_function(name, |b| {
            b.iter(|| {
                let response =
                    runtime.block_on(fs.app.submitter.handle(request(&body, false), None, &queue));
                assert_eq!(response.status(), 200);
            })
        });
        collectors.push(fs);
    }
    group.finish();
    for collector in collectors {
        collector.shutdown();
    }
    let _ = std::fs::remove_dir_all(&root);
}

criterion_group!(benches, bench);
criterion_main!(benches);
