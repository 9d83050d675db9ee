//! The settings of each storage and publishing backend, and reading them.

use std::fmt;
use std::path::PathBuf;

use super::env::{invalid, Env, Reader, MASK};
use super::ConfigError;

/// Where crashes are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// Files under a root directory (SPEC §4 fs layout).
    Fs {
        /// `CRASHMOVER_CRASHSTORAGE_FS_ROOT`.
        root: PathBuf,
        /// `CRASHMOVER_CRASHSTORAGE_FS_FSYNC`: saves are on stable storage before the answer.
        fsync: bool,
    },
    /// An S3 bucket.
    S3(S3Config),
    /// Nothing is stored (benchmarks, smoke tests).
    Noop,
}

impl StorageConfig {
    /// The backend and where it stores, for start-up errors.
    pub fn label(&self) -> String {
        match self {
            StorageConfig::Fs { root, .. } => format!("fs (root {})", root.display()),
            StorageConfig::S3(_) => "s3".to_owned(),
            StorageConfig::Noop => "noop".to_owned(),
        }
    }
}

/// How to reach an AWS service (or an API-compatible one): `<PREFIX>_REGION`,
/// `<PREFIX>_ENDPOINT_URL`, `<PREFIX>_ACCESS_KEY` / `<PREFIX>_SECRET_ACCESS_KEY`.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsConnection {
    /// Region, `us-west-2` by default.
    pub region: String,
    /// An API-compatible endpoint instead of AWS's.
    pub endpoint_url: Option<String>,
    /// Static keys; `None` = the standard AWS credential chain (env, profile, instance role).
    pub credentials: Option<(String, String)>,
}

impl fmt::Debug for AwsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsConnection")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("credentials", &self.credentials.as_ref().map(|_| "*****"))
            .finish()
    }
}

impl AwsConnection {
    /// `region R endpoint E`, for error messages.
    pub fn describe(&self) -> String {
        format!(
            "region {} endpoint {}",
            self.region,
            self.endpoint_url.as_deref().unwrap_or("(AWS)")
        )
    }
}

/// The variable names of one [`AwsConnection`].
struct AwsVars {
    region: &'static str,
    endpoint: &'static str,
    key: &'static str,
    secret: &'static str,
}

const STORAGE_AWS: AwsVars = AwsVars {
    region: "CRASHMOVER_CRASHSTORAGE_REGION",
    endpoint: "CRASHMOVER_CRASHSTORAGE_ENDPOINT_URL",
    key: "CRASHMOVER_CRASHSTORAGE_ACCESS_KEY",
    secret: "CRASHMOVER_CRASHSTORAGE_SECRET_ACCESS_KEY",
};

const PUBLISH_AWS: AwsVars = AwsVars {
    region: "CRASHMOVER_CRASHPUBLISH_REGION",
    endpoint: "CRASHMOVER_CRASHPUBLISH_ENDPOINT_URL",
    key: "CRASHMOVER_CRASHPUBLISH_ACCESS_KEY",
    secret: "CRASHMOVER_CRASHPUBLISH_SECRET_ACCESS_KEY",
};

/// S3 storage settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `CRASHMOVER_CRASHSTORAGE_BUCKET_NAME`.
    pub bucket: String,
    /// `CRASHMOVER_CRASHSTORAGE_{REGION,ENDPOINT_URL,ACCESS_KEY,SECRET_ACCESS_KEY}`;
    /// the endpoint is addressed path-style.
    pub connection: AwsConnection,
    /// `ANTENNA_S3_MULTIPART_THRESHOLD`: objects at least this large go up as a multipart
    /// upload with parts in parallel.
    pub multipart_threshold: usize,
}

/// SQS publishing settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsConfig {
    /// `CRASHMOVER_CRASHPUBLISH_QUEUE_NAME`: resolved to its URL at start.
    pub queue: String,
    /// `CRASHMOVER_CRASHPUBLISH_{REGION,ENDPOINT_URL,ACCESS_KEY,SECRET_ACCESS_KEY}`.
    pub connection: AwsConnection,
}

/// Where saved crash ids are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishConfig {
    /// Nothing is published.
    None,
    /// An AMQP 0-9-1 broker (RabbitMQ).
    Amqp(AmqpConfig),
    /// An AWS SQS queue.
    Sqs(SqsConfig),
}

impl PublishConfig {
    /// The backend's setting value, for start-up errors.
    pub fn label(&self) -> &'static str {
        match self {
            PublishConfig::None => "none",
            PublishConfig::Amqp(_) => "amqp",
            PublishConfig::Sqs(_) => "sqs",
        }
    }
}

/// AMQP publishing settings.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpConfig {
    /// `CRASHMOVER_CRASHPUBLISH_AMQP_URL`, credentials included.
    pub url: String,
    /// `CRASHMOVER_CRASHPUBLISH_QUEUE_NAME`: declared durable at start.
    pub queue: String,
    /// `CRASHMOVER_CRASHPUBLISH_EXCHANGE`: `""` is the default exchange.
    pub exchange: String,
    /// `CRASHMOVER_CRASHPUBLISH_ROUTING_KEY`: defaults to the queue name.
    pub routing_key: String,
}

impl AmqpConfig {
    /// The URL with its password masked, for logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("url", &self.redacted_url())
            .field("queue", &self.queue)
            .field("exchange", &self.exchange)
            .field("routing_key", &self.routing_key)
            .finish()
    }
}

/// `url` with its password masked.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:{MASK}@{host}")
        }
        None => url.to_owned(),
    }
}

fn aws_connection(r: &Reader<'_, impl Env>, vars: &AwsVars) -> Result<AwsConnection, ConfigError> {
    let credentials = match (r.text(vars.key), r.secret(vars.secret)) {
        (Some(key), Some(secret)) => Some((key, secret.expose().to_owned())),
        (None, None) => None,
        _ => {
            return Err(invalid(
                vars.key,
                MASK,
                "set both ACCESS_KEY and SECRET_ACCESS_KEY, or neither",
            ))
        }
    };
    Ok(AwsConnection {
        region: r.text_or(vars.region, "us-west-2"),
        endpoint_url: r.text(vars.endpoint),
        credentials,
    })
}

/// Reads `CRASHMOVER_CRASHPUBLISH_CLASS` and the settings of the publisher it names.
pub fn read_publish(r: &Reader<'_, impl Env>) -> Result<PublishConfig, ConfigError> {
    let class = r.text_or("CRASHMOVER_CRASHPUBLISH_CLASS", "none");
    Ok(match class.as_str() {
        "none" | "antenna.ext.crashpublish_base.NoOpCrashPublish" => PublishConfig::None,
        "amqp" => {
            let queue = r.required(
                "CRASHMOVER_CRASHPUBLISH_QUEUE_NAME",
                "CRASHMOVER_CRASHPUBLISH_CLASS is amqp",
            )?;
            let url = r.text_shown_as(
                "CRASHMOVER_CRASHPUBLISH_AMQP_URL",
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                redact_url,
            );
            if !url.starts_with("amqp://") {
                return Err(invalid(
                    "CRASHMOVER_CRASHPUBLISH_AMQP_URL",
                    MASK,
                    "expected an amqp:// URL (TLS brokers are not supported in this build)",
                ));
            }
            PublishConfig::Amqp(AmqpConfig {
                url,
                exchange: r.text_or("CRASHMOVER_CRASHPUBLISH_EXCHANGE", ""),
                routing_key: r.text_or("CRASHMOVER_CRASHPUBLISH_ROUTING_KEY", &queue),
                queue,
            })
        }
        "sqs" | "antenna.ext.sqs.crashpublish.SQSCrashPublish" => {
            let queue = r.required(
                "CRASHMOVER_CRASHPUBLISH_QUEUE_NAME",
                "CRASHMOVER_CRASHPUBLISH_CLASS is sqs",
            )?;
            PublishConfig::Sqs(SqsConfig {
                queue,
                connection: aws_connection(r, &PUBLISH_AWS)?,
            })
        }
        _ => {
            return Err(invalid(
                "CRASHMOVER_CRASHPUBLISH_CLASS",
                &class,
                "expected none, sqs or amqp",
            ))
        }
    })
}

/// Reads `CRASHMOVER_CRASHSTORAGE_CLASS` and the settings of the storage it names.
pub fn read_storage(r: &Reader<'_, impl Env>) -> Result<StorageConfig, ConfigError> {
    let class = r.text_or("CRASHMOVER_CRASHSTORAGE_CLASS", "fs");
    Ok(match class.as_str() {
        "fs" | "antenna.ext.fs.crashstorage.FSCrashStorage" => StorageConfig::Fs {
            root: PathBuf::from(r.text_or("CRASHMOVER_CRASHSTORAGE_FS_ROOT", "./crashdata")),
            fsync: r.flag("CRASHMOVER_CRASHSTORAGE_FS_FSYNC", true)?,
        },
        "noop" | "antenna.ext.crashstorage_base.NoOpCrashStorage" => StorageConfig::Noop,
        "s3" | "antenna.ext.s3.crashstorage.S3CrashStorage" => {
            let bucket = r.required(
                "CRASHMOVER_CRASHSTORAGE_BUCKET_NAME",
                "CRASHMOVER_CRASHSTORAGE_CLASS is s3",
            )?;
            let connection = aws_connection(r, &STORAGE_AWS)?;
            let multipart_threshold = r.size(
                "ANTENNA_S3_MULTIPART_THRESHOLD",
                8 << 20,
                (5 << 20, usize::MAX),
                "expected a size of at least 5MiB (S3's smallest part)",
            )?;
            StorageConfig::S3(S3Config {
                bucket,
                connection,
                multipart_threshold,
            })
        }
        _ => {
            return Err(invalid(
                "CRASHMOVER_CRASHSTORAGE_CLASS",
                &class,
                "expected fs, s3 or noop",
            ))
        }
    })
}
