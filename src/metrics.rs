//! statsd metrics (SPEC §7), sent through cadence with a queuing sink: a metric call only
//! pushes a line onto a bounded queue, and a background thread does the UDP writes, so
//! metrics never slow a request. When the queue is full, metrics are dropped, not waited
//! for. Lines are batched into packets; a ticker flushes the batch every second.
//!
//! Every metric is an enum variant with one `name()` table, so call sites hold no strings.

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

use cadence::prelude::*;
use cadence::{BufferedUdpMetricSink, NopMetricSink, QueuingMetricSink, StatsdClient};

/// Prefix of every metric name.
pub const PREFIX: &str = "socorro";
/// Lines waiting for the sender thread before new ones are dropped.
const QUEUE_CAPACITY: usize = 64 * 1024;

/// Counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// A gzip-compressed submission arrived.
    GzippedCrash,
    /// A submission was parsed into annotations and dumps.
    IncomingCrash,
    /// A submission was malformed. Tag `reason:<code>`.
    Malformed,
    /// The rule that decided. Tag `rule:<name>`.
    ThrottleRule,
    /// The throttle result. Tag `result:<accept|defer|reject|fakeaccept>`.
    Throttle,
    /// A `uuid` annotation without the submitter token.
    UnauthorizedUuid,
    /// A save or publish attempt failed and is retried. Tag
    /// `count:save_crash_exception.count` or `count:publish_crash_exception.count`.
    RetryCount,
    /// A crash was saved (and published).
    SaveCrash,
    /// A crash could not be saved after every attempt.
    SaveCrashDropped,
    /// A crash id could not be published after every attempt.
    PublishCrashDropped,
    /// A crash was written to the spool instead of storage (SPEC §9).
    Spooled,
    /// A spooled crash was saved to storage and left the spool.
    Unspooled,
    /// A crash id whose publish failed was kept in the spool to publish later.
    PublishSpooled,
    /// `/__broken__` was called.
    HealthBroken,
    /// `/__version__` was called.
    HealthVersion,
    /// `/__lbheartbeat__` was called.
    HealthLbheartbeat,
    /// `/__heartbeat__` was called.
    HealthHeartbeat,
}

/// Timings, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The whole `/submit` request, from head to answer.
    OnPost,
    /// Inflating a gzip body. Tag `result:success|fail`.
    GzippedCrashDecompress,
    /// Save plus publish of one crash.
    CrashHandling,
    /// One successful save.
    CrashSave,
    /// One successful publish.
    CrashPublish,
}

/// Histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Histogram {
    /// Decompressed body size in bytes. Tag `payload:compressed|uncompressed`.
    CrashSize,
}

/// Gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gauge {
    /// Crashes waiting in the save queues; climbing means storage is slower than arrivals.
    SaveQueueSize,
    /// Crashes in the spool.
    SpoolSize,
    /// Bytes in the spool.
    SpoolBytes,
    /// Age of the oldest spooled crash, in seconds (0 when empty).
    SpoolOldestAge,
}

impl Counter {
    /// Name without the prefix.
    pub fn name(self) -> &'static str {
        match self {
            Counter::GzippedCrash => "collector.breakpad_resource.gzipped_crash",
            Counter::IncomingCrash => "collector.breakpad_resource.incoming_crash",
            Counter::Malformed => "collector.breakpad_resource.malformed",
            Counter::ThrottleRule => "collector.breakpad_resource.throttle_rule",
            Counter::Throttle => "collector.breakpad_resource.throttle",
            Counter::UnauthorizedUuid => "collector.breakpad_resource.unauthorized_uuid",
            Counter::RetryCount => "collector.crashmover.retry_count",
            Counter::SaveCrash => "collector.crashmover.save_crash.count",
            Counter::SaveCrashDropped => "collector.crashmover.save_crash_dropped.count",
            Counter::PublishCrashDropped => "collector.crashmover.publish_crash_dropped.count",
            Counter::Spooled => "collector.crashmover.spooled.count",
            Counter::Unspooled => "collector.crashmover.unspooled.count",
            Counter::PublishSpooled => "collector.crashmover.publish_spooled.count",
            Counter::HealthBroken => "collector.health.broken.count",
            Counter::HealthVersion => "collector.health.version.count",
            Counter::HealthLbheartbeat => "collector.health.lbheartbeat.count",
            Counter::HealthHeartbeat => "collector.health.heartbeat.count",
        }
    }
}

impl Timer {
    /// Name without the prefix.
    pub fn name(self) -> &'static str {
        match self {
            Timer::OnPost => "collector.breakpad_resource.on_post.time",
            Timer::GzippedCrashDecompress => "collector.breakpad_resource.gzipped_crash_decompress",
            Timer::CrashHandling => "collector.crashmover.crash_handling.time",
            Timer::CrashSave => "collector.crashmover.crash_save.time",
            Timer::CrashPublish => "collector.crashmover.crash_publish.time",
        }
    }
}

impl Histogram {
    /// Name without the prefix.
    pub fn name(self) -> &'static str {
        match self {
            Histogram::CrashSize => "collector.breakpad_resource.crash_size",
        }
    }
}

impl Gauge {
    /// Name without the prefix.
    pub fn name(self) -> &'static str {
        match self {
            Gauge::SaveQueueSize => "collector.crashmover.save_queue_size",
            Gauge::SpoolSize => "collector.crashmover.spool_size",
            Gauge::SpoolBytes => "collector.crashmover.spool_bytes",
            Gauge::SpoolOldestAge => "collector.crashmover.spool_oldest_age",
        }
    }
}

/// A tag, `key:value`.
pub type Tag<'a> = (&'a str, &'a str);

/// The metrics client; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    client: Arc<StatsdClient>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Sends to `host:port`, tagging every metric `host:<hostname>`. Fails when the host
    /// does not resolve or no UDP socket can be made.
    pub fn statsd(host: &str, port: u16, hostname: &str) -> std::io::Result<Metrics> {
        let socket = UdpSocket::bind(if host.contains(':') {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        })?;
        socket.set_nonblocking(true)?;
        let udp = BufferedUdpMetricSink::from((host, port), socket)
            .map_err(|error| std::io::Error::other(error.to_string()))?;
        let sink = QueuingMetricSink::with_capacity(udp, QUEUE_CAPACITY);
        let client = StatsdClient::builder(PREFIX, sink)
            .with_tag("host", hostname)
            // A dropped metric must not cost a log line per drop under load.
            .with_error_handler(|_| {})
            .build();
        Ok(Metrics {
            client: Arc::new(client),
        })
    }

    /// Metrics that go nowhere (benches, unit tests).
    pub fn disabled() -> Metrics {
        Metrics {
            client: Arc::new(StatsdClient::from_sink(PREFIX, NopMetricSink)),
        }
    }

    /// Adds one to `counter`.
    pub fn incr(&self, counter: Counter, tag: Option<Tag<'_>>) {
        let mut builder = self.client.incr_with_tags(counter.name());
        if let Some((key, value)) = tag {
            builder = builder.with_tag(key, value);
        }
        builder.send();
    }

    /// Records a duration.
    pub fn time(&self, timer: Timer, elapsed: Duration, tag: Option<Tag<'_>>) {
        let mut builder = self.client.time_with_tags(timer.name(), elapsed);
        if let Some((key, value)) = tag {
            builder = builder.with_tag(key, value);
        }
        builder.send();
    }

    /// Records a value in a histogram.
    pub fn histogram(&self, histogram: Histogram, value: u64, tag: Option<Tag<'_>>) {
        let mut builder = self.client.histogram_with_tags(histogram.name(), value);
        if let Some((key, value)) = tag {
            builder = builder.with_tag(key, value);
        }
        builder.send();
    }

    /// Sets a gauge.
    pub fn gauge(&self, gauge: Gauge, value: u64) {
        self.client.gauge_with_tags(gauge.name(), value).send();
    }

    /// Sends what is batched.
    pub fn flush(&self) {
        let _ = self.client.flush();
    }
}
