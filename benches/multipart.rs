//! Multipart parse throughput: ours beside the `multer` crate on the same input.

mod support;

use antenna::multipart::{Limits, Next, Parser};
use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

/// The parse of an owned buffer, as the gzip path hands one over (nothing copied).
fn parse_ours(body: BytesMut) -> usize {
    let mut parser = Parser::new(
        support::BOUNDARY,
        Limits {
            max_body: 64 << 20,
            ..Limits::default()
        },
    );
    parser.feed_buffer(body).unwrap();
    parser.finish();
    let mut total = 0;
    while let Next::Part(part) = parser.next_part().unwrap() {
        total += part.body.len();
    }
    total
}

/// A plain body as it comes off a socket, in 64 KiB chunks (copied once into the parser).
fn parse_ours_chunked(body: &Bytes) -> usize {
    let mut parser = Parser::with_capacity(
        support::BOUNDARY,
        Limits {
            max_body: 64 << 20,
            ..Limits::default()
        },
        body.len(),
    );
    let mut total = 0;
    for chunk in body.chunks(64 * 1024) {
        parser.feed(chunk).unwrap();
        while let Next::Part(part) = parser.next_part().unwrap() {
            total += part.body.len();
        }
    }
    parser.finish();
    while let Next::Part(part) = parser.next_part().unwrap() {
        total += part.body.len();
    }
    total
}

fn parse_multer(runtime: &tokio::runtime::Runtime, body: &Bytes) -> usize {
    runtime.block_on(async {
        let chunks: Vec<Result<Bytes, std::io::Error>> = (0..body.len())
            .step_by(64 * 1024)
            .map(|at| Ok(body.slice(at..(at + 64 * 1024).min(body.len()))))
            .collect();
        let stream = futures_util::stream::iter(chunks);
        let mut multipart = multer::Multipart::new(stream, support::BOUNDARY);
        let mut total = 0;
        while let Some(field) = multipart.next_field().await.unwrap() {
            total += field.bytes().await.unwrap().len();
        }
        total
    })
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("multipart");
    for (label, size) in [("400KB", 400 * 1024), ("20MB", 20 << 20)] {
        let body = Bytes::from(support::crash_body(size));
        let owned = || BytesMut::from(&body[..]);
        assert_eq!(parse_ours(owned()), parse_multer(&runtime, &body));
        assert_eq!(parse_ours(owned()), parse_ours_chunked(&body));
        group.throughput(Throughput::Bytes(body.len() as u64));
        // The copy that makes the owned buffer is set-up, outside the timing.
        group.bench_function(BenchmarkId::new("antenna_owned_buffer", label), |b| {
            b.iter_batched(owned, parse_ours, BatchSize::LargeInput)
        });
        group.bench_with_input(
            BenchmarkId::new("antenna_64k_chunks", label),
            &body,
            |b, body| b.iter(|| parse_ours_chunked(body)),
        );
        group.bench_with_input(
            BenchmarkId::new("multer_64k_chunks", label),
            &body,
            |b, body| b.iter(|| parse_multer(&runtime, body)),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
