//! An in-process `POST /submit` of a 400 KB crash, no sockets: head checks, body reading,
//! multipart, extraction, throttle, checksum, raw crash, queue hand-off and the save itself
//! (fs into a temporary directory, with and without fsync, or noop to see the request path
//! alone).

mod support;

use std::sync::Arc;

use antenna::storage::fs::FsStorage;
use antenna::storage::noop::NoopStorage;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use support::{collector, request};

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
