//! Publishing saved crash ids to SQS, against moto's SQS server on loopback.

mod support;

use support::moto::Moto;
use support::*;

const QUEUE: &str = "socorro-normal";

#[test]
fn saved_crash_ids_are_published_to_sqs() {
    let mut moto = Moto::start();
    let env = moto.env(QUEUE);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // No queue yet: start-up refuses, naming queue, region and endpoint.
    let line = refused_start(&pairs);
    assert!(
        line.contains("sqs") && line.contains(&format!("queue {QUEUE}")),
        "{line}"
    );
    assert!(
        line.contains("region us-west-2") && line.contains(&format!("127.0.0.1:{}", moto.port)),
        "{line}"
    );

    moto.create_queue(QUEUE);
    let collector = Collector::start(&pairs);
    let accepted = collector
        .send(&post_crash(&corpus_annotations("firefox_about_crashes")))
        .crash_id();
    let fake = collector
        .send(&post_crash(&corpus_annotations("b2g")))
        .crash_id();
    collector.logs_with(&format!("{accepted} published"));
    let messages = moto.receive(QUEUE);
    assert_eq!(messages, ["test".to_owned(), accepted]);
    assert!(!messages.contains(&fake));

    // SQS gone: the crash is still saved and answered; the publish is dropped, the heartbeat
    // reports it.
    let _ = moto.child.kill();
    let _ = moto.child.wait();
    collector.assert_survives_publish_outage("SQSCrashPublish");
}
