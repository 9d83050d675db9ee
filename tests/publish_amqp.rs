//! Publishing saved crash ids to a real RabbitMQ broker that the test starts itself.

mod support;

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
