//! Inflating gzip bodies (libdeflate, one call into one buffer).

mod support;

use antenna::gzip::gunzip;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("gunzip");
    for (label, size) in [("400KB", 400 * 1024), ("20MB", 20 << 20)] {
        let body = support::crash_body(size);
        let compressed = support::gzip(&body);
        assert_eq!(gunzip(&compressed, 64 << 20).unwrap().len(), body.len());
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(label),
            &compressed,
            |b, compressed| b.iter(|| gunzip(compressed, 64 << 20).unwrap()),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
