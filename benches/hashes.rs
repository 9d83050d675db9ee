//! SHA-256 of a 400 KB dump with the implementations at hand: aws-lc-rs (what
//! `antenna::digest` uses; already in the tree as rustls's crypto provider) and the `sha2`
//! crate (already in the tree through the AWS SDK; its x86 path uses the SHA extensions
//! when the CPU has them). ring and the `openssl` crate would each add a C/assembly build to
//! the tree for the same BoringSSL/OpenSSL assembly aws-lc-rs already carries, so they are
//! not built here; `python3 -c 'import hashlib'` (OpenSSL) is the outside reference.
//!
//!   cargo bench --bench hashes

mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha2::Digest;

fn bench(c: &mut Criterion) {
    let seed = support::testdata("minidumps/breakpad__minidump_crashpad_annotation.dmp");
    let dump: Vec<u8> = seed.iter().copied().cycle().take(400 * 1024).collect();
    let mut group = c.benchmark_group("sha256_400KB");
    group.throughput(Throughput::Bytes(dump.len() as u64));
    group.bench_function("aws_lc_rs", |b| b.iter(|| antenna::digest::sha256(&dump)));
    group.bench_function("sha2", |b| b.iter(|| sha2::Sha256::digest(&dump)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
