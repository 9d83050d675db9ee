//! Publishing saved crash ids to a real RabbitMQ broker that the test starts itself.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::rabbitmq::Broker;
use support::*;

const QUEUE: &str = "socorro.normal";

#[test]
fn saved_crash_ids_are_published_and_outages_are_survived() {
    let mut broker = Broker::start();
    let url = broker.url();
    let env = [
        ("CRASHMOVER_CRASHPUBLISH_CLASS", "amqp"),
        ("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", QUEUE),
        ("CRASHMOVER_CRASHPUBLISH_AMQP_URL", url.as_str()),
        ("CRASHMOVER_MAX_ATTEMPTS", "2"),
        ("CRASHMOVER_RETRY_SLEEP_SECONDS", "0.1"),
        ("BREAKPAD_THROTTLER_RULES", "mozilla"),
    ];
    let collector = Collector::start(&env);

    // Start-up published `test`; an accepted crash publishes its id and nothing else;
    // rejected and fake-accepted crashes publish nothing.
    let accepted = collector
        .send(&post_crash(&corpus_annotations("firefox_about_crashes")))
        .crash_id();
    let fake = collector
        .send(&post_crash(&corpus_annotations("b2g")))
        .crash_id();
    let rejected = collector.send(&post_crash(&corpus_annotations("unsupported_product")));
    assert_eq!(rejected.text(), "Discarded=rule_unsupported_product");
    assert_eq!(
        broker.wait_for_messages(QUEUE, 2),
        ["test".to_owned(), accepted.clone()]
    );
    assert!(!broker.drain(QUEUE).contains(&fake));
    let logs = collector.logs_with(&format!("{accepted} published"));
    assert!(logs.contains(&format!("{accepted} published")), "{logs}");

    // Broker down: crashes are still saved and answered at once; the id is kept to publish
    // later and the heartbeat says the publisher fails.
    broker.stop();
    let during = collector.assert_survives_publish_outage("AmqpCrashPublish");

    // Broker back: publishing resumes without a restart, and the id kept during the outage
    // is published too (at least once).
    broker.restart();
    let after = collector
        .send(&post_crash(
            &json!({"ProductName": "Firefox", "Throttleable": "0"}),
        ))
        .crash_id();
    let mut published = broker.wait_for_messages(QUEUE, 2);
    published.sort();
    let mut expected = vec![during, after];
    expected.sort();
    assert_eq!(published, expected);
    drop(collector);

    // A collector that cannot publish refuses to start, naming the broker and queue.
    broker.stop();
    let line = refused_start(&env);
    assert!(
        line.contains("amqp") && line.contains(QUEUE) && line.contains("guest:*****@127.0.0.1"),
        "{line}"
    );
    assert!(!line.contains("guest:guest"), "{line}");
}

/// Answers to `clients` clients posting crashes for `span`: (crash id, latency) of each.
fn timed_load(collector: &Collector, clients: usize, span: Duration) -> Vec<(String, Duration)> {
    let addr = collector.addr;
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            std::thread::spawn(move || {
                let request = post_crash(&json!({"ProductName": "Firefox", "Throttleable": "0"}));
                let mut client = Client::connect(addr);
                let started = Instant::now();
                let mut answers = Vec::new();
                while started.elapsed() < span {
                    let sent = Instant::now();
                    let id = client.send(&request).crash_id();
                    answers.push((id, sent.elapsed()));
                }
                answers
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

fn p99(answers: &[(String, Duration)]) -> Duration {
    let mut latencies: Vec<Duration> = answers.iter().map(|(_, l)| *l).collect();
    latencies.sort();
    latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]
}

#[test]
fn a_broker_outage_does_not_slow_answers_and_every_id_is_published_after() {
    let mut broker = Broker::start();
    let url = broker.url();
    let collector = Collector::start(&[
        ("CRASHMOVER_CRASHPUBLISH_CLASS", "amqp"),
        ("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", QUEUE),
        ("CRASHMOVER_CRASHPUBLISH_AMQP_URL", url.as_str()),
    ]);
    let healthy = timed_load(&collector, 4, Duration::from_secs(5));
    broker.stop();
    let outage = timed_load(&collector, 4, Duration::from_secs(20));
    broker.restart();

    let (healthy_p99, outage_p99) = (p99(&healthy), p99(&outage));
    eprintln!(
        "p99 {healthy_p99:?} healthy ({} crashes), {outage_p99:?} broker down ({} crashes)",
        healthy.len(),
        outage.len()
    );
    // Below a few milliseconds p99 is scheduler noise; above it, the outage may not double it.
    let allowed = (healthy_p99 * 2).max(Duration::from_millis(10));
    assert!(
        outage_p99 <= allowed,
        "p99 {outage_p99:?} during the outage, {healthy_p99:?} before"
    );

    let mut expected: Vec<String> = healthy
        .into_iter()
        .chain(outage)
        .map(|(id, _)| id)
        .collect();
    expected.sort();
    let mut published: Vec<String> = broker
        .wait_for_messages(QUEUE, expected.len() + 1)
        .into_iter()
        .filter(|message| message != "test")
        .collect();
    published.sort();
    published.dedup();
    assert_eq!(
        published.len(),
        expected.len(),
        "every saved id is published once the broker is back"
    );
    assert_eq!(published, expected);
}
