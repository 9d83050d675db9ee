//! One way to reach AWS services (S3 storage, SQS publishing): region, optional endpoint,
//! static keys or the standard credential chain, our timeouts, and the SDK's own retries
//! off — the crashmover retries whole saves and publishes, and two retry layers would
//! multiply the worst-case latency.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

use crate::config::AwsConnection;

/// Time to open a connection.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for one request (one object, one part, one message), including the upload: a
/// 25 MiB object at a slow 1 MB/s still fits.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The shared SDK configuration for `connection`. Must run on the runtime that will use
/// the clients (the movers').
pub async fn sdk_config(connection: &AwsConnection) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(connection.region.clone()))
        .retry_config(RetryConfig::disabled())
        // The attempt timeout below bounds every request already; the SDK's throughput
        // monitor on every body (a clock read per chunk) would only duplicate it.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
    if let Some(url) = &connection.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some((key, secret)) = &connection.credentials {
        loader = loader.credentials_provider(Credentials::new(key, secret, None, None, "antenna"));
    }
    loader.load().await
}
