//! Crash id generation and the throttler.

mod support;

use antenna::crash_id::{CrashId, IdKind};
use antenna::throttle::{RuleSet, Throttler, MOZILLA_PRODUCTS};
use antenna::timestamp::{Date, Timestamp};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Value;

fn bench(c: &mut Criterion) {
    let date = Date::new(2026, 11, 27).unwrap();
    let mut rng = rand::rng();
    c.bench_function("crash_id/generate", |b| {
        b.iter(|| CrashId::generate(&mut rng, IdKind::Accept, date))
    });
    c.bench_function("crash_id/parse_strict", |b| {
        b.iter(|| CrashId::parse_strict("de1bb258-cbbf-4589-a673-34f801261124").unwrap())
    });
    c.bench_function("timestamp/isoformat", |b| {
        b.iter(|| Timestamp::now().isoformat())
    });

    let throttler = Throttler::new(
        &RuleSet::Mozilla,
        MOZILLA_PRODUCTS.iter().map(|p| p.to_string()).collect(),
    );
    for name in [
        "firefox_desktop_release",
        "fenix_beta",
        "firefox_nightly_content",
    ] {
        let annotations: Value =
            serde_json::from_slice(&support::testdata(&format!("annotations/{name}.json")))
                .unwrap();
        let Value::Object(map) = annotations else {
            unreachable!()
        };
        c.bench_function(&format!("throttle/{name}"), |b| {
            b.iter(|| throttler.throttle(&map, date, &mut rng))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
