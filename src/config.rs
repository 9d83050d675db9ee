//! Every setting, read from the environment once at start-up, validated, and converted to
//! finished types (durations, byte counts) so no other module parses text or reads `env`.
//!
//! Names are Antenna's where it has one, so its env files keep working (SPEC §6); ours start
//! with `ANTENNA_`. A bad value stops start-up with an error naming the variable.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::throttle::{RuleSet, MOZILLA_PRODUCTS};

/// A secret setting: its `Debug` never shows the value, so it cannot leak into a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

/// A setting that cannot be used, naming the variable and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {var}={value:?}: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub var: &'static str,
    /// Its value as given (secrets are never put here).
    pub value: String,
    /// What was expected.
    pub reason: String,
}

/// How acceptors are scheduled (`ANTENNA_RUNTIME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeModel {
    /// `per-core`: a thread with a current-thread runtime per acceptor; a request stays on
    /// one core from accept to answer.
    PerCore,
    /// `shared`: one multi-threaded, work-stealing runtime runs every acceptor.
    Shared,
}

/// Where crashes are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// Files under a root directory (SPEC §4 fs layout).
    Fs {
        /// `CRASHMOVER_CRASHSTORAGE_FS_ROOT`.
        root: PathBuf,
    },
    /// An S3 bucket.
    S3(S3Config),
    /// Nothing is stored (benchmarks, smoke tests).
    Noop,
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
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return self.url.clone();
        };
        match rest.split_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:*****@{host}")
            }
            None => self.url.clone(),
        }
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

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ANTENNA_HOST`: listen address.
    pub host: IpAddr,
    /// `ANTENNA_PORT`: listen port; 0 picks a free one (tests).
    pub port: u16,
    /// `ANTENNA_WORKERS` (alias `GUNICORN_WORKERS`): acceptor threads.
    pub workers: usize,
    /// `ANTENNA_WORKER_CONNECTIONS` (alias `GUNICORN_WORKER_CONNECTIONS`): open connections
    /// per acceptor; further clients wait in the kernel's accept backlog.
    pub worker_connections: usize,
    /// `ANTENNA_RUNTIME`: `per-core` or `shared`.
    pub runtime: RuntimeModel,
    /// `ANTENNA_BACKLOG`: listen(2) backlog of each acceptor socket.
    pub backlog: u32,
    /// `ANTENNA_HEADER_TIMEOUT_SECONDS`: time allowed to send the request head.
    pub header_read_timeout: Duration,
    /// `ANTENNA_BODY_TIMEOUT_SECONDS`: longest silence allowed while a body is being sent.
    pub body_idle_timeout: Duration,
    /// `ANTENNA_SHUTDOWN_TIMEOUT_SECONDS`: on SIGTERM, how long in-flight requests may take.
    pub shutdown_timeout: Duration,
    /// `ANTENNA_MAX_CRASH_SIZE`: largest body, compressed and decompressed.
    pub max_crash_size: usize,
    /// `CRASHMOVER_CRASHSTORAGE_CLASS` and its settings.
    pub storage: StorageConfig,
    /// `CRASHMOVER_CRASHPUBLISH_CLASS` and its settings.
    pub publish: PublishConfig,
    /// `CRASHMOVER_CONCURRENT_CRASHMOVERS`: saves in progress at once.
    pub concurrent_crashmovers: usize,
    /// `CRASHMOVER_MAX_ATTEMPTS`: tries per save before the client gets a 500.
    pub max_attempts: u32,
    /// `CRASHMOVER_RETRY_SLEEP_SECONDS`: pause between tries (jittered ±50%).
    pub retry_sleep: Duration,
    /// `CRASHMOVER_QUEUE_CAPACITY`: crashes waiting for a crashmover, per acceptor; when
    /// full, clients get 503 + Retry-After.
    pub queue_capacity: usize,
    /// `BREAKPAD_DUMP_FIELD`: the main dump's field name.
    pub dump_field: String,
    /// `BREAKPAD_THROTTLER_RULES`.
    pub throttle_rules: RuleSet,
    /// `BREAKPAD_THROTTLER_PRODUCTS`: supported products; empty = all.
    pub throttle_products: Vec<String>,
    /// `BREAKPAD_STAGE_SUBMITTER_BEARER_TOKEN`: lets a trusted submitter choose crash ids.
    pub submitter_token: Option<Secret>,
    /// `STATSD_HOST`.
    pub statsd_host: String,
    /// `STATSD_PORT`.
    pub statsd_port: u16,
    /// `LOGGING_LEVEL`.
    pub logging_level: tracing::Level,
    /// `HOSTNAME`: shown in logs and the heartbeat.
    pub hostname: String,
    /// `BASEDIR`: where `version.json` is looked for.
    pub basedir: PathBuf,
    /// `SECRET_SENTRY_DSN`: accepted for compatibility; see README.
    pub sentry_dsn: Option<Secret>,
    /// `ANTENNA_BROKEN_CREDENTIALS` (`user:password`): enables `/__broken__` behind basic auth.
    pub broken_credentials: Option<Secret>,
}

/// The process environment, or a map in tests.
pub trait Env {
    /// The variable's value; unset and empty are the same.
    fn get(&self, name: &str) -> Option<String>;
}

/// Reads `std::env`.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

struct Reader<'a, E: Env> {
    env: &'a E,
}

impl<E: Env> Reader<'_, E> {
    fn text(&self, var: &'static str) -> Option<String> {
        self.env.get(var).map(|v| v.trim().to_owned())
    }

    /// A setting that must be set because another one (`because`) asks for it.
    fn required(&self, var: &'static str, because: &str) -> Result<String, ConfigError> {
        self.text(var)
            .ok_or_else(|| invalid(var, "", format!("required when {because}")))
    }

    fn text_or(&self, var: &'static str, default: &str) -> String {
        self.text(var).unwrap_or_else(|| default.to_owned())
    }

    /// A whole number in `min..=max`, or `default` when unset.
    fn number<T>(&self, vars: &[&'static str], default: T, min: T, max: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        for &var in vars {
            if let Some(value) = self.text(var) {
                return match value.parse::<T>() {
                    Ok(n) if n >= min && n <= max => Ok(n),
                    _ => Err(invalid(
                        var,
                        &value,
                        format!("expected a whole number from {min} to {max}"),
                    )),
                };
            }
        }
        Ok(default)
    }

    fn seconds(&self, var: &'static str, default: f64, min: f64) -> Result<Duration, ConfigError> {
        let Some(value) = self.text(var) else {
            return Ok(Duration::from_secs_f64(default));
        };
        match value.parse::<f64>() {
            Ok(secs) if secs.is_finite() && secs >= min && secs <= 86_400.0 => {
                Ok(Duration::from_secs_f64(secs))
            }
            _ => Err(invalid(
                var,
                &value,
                format!("expected seconds from {min} to 86400"),
            )),
        }
    }
}

fn aws_connection(r: &Reader<'_, impl Env>, vars: &AwsVars) -> Result<AwsConnection, ConfigError> {
    let credentials = match (r.text(vars.key), r.text(vars.secret)) {
        (Some(key), Some(secret)) => Some((key, secret)),
        (None, None) => None,
        _ => {
            return Err(invalid(
                vars.key,
                "*****",
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

fn describe_aws(out: &mut Vec<(&'static str, String)>, vars: &AwsVars, connection: &AwsConnection) {
    out.push((vars.region, connection.region.clone()));
    out.push((
        vars.endpoint,
        connection.endpoint_url.clone().unwrap_or_default(),
    ));
    let key = connection.credentials.as_ref().map(|(key, _)| key.clone());
    out.push((vars.key, key.unwrap_or_default()));
    let secret = connection.credentials.as_ref().map_or("", |_| "*****");
    out.push((vars.secret, secret.to_owned()));
}

/// Parses `26214400`, `512KiB`, `25MiB`, `1GiB` (binary units; `KB`/`MB` read as the same).
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: usize = digits.parse().ok()?;
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from(&ProcessEnv)
    }

    /// Reads any [`Env`]; unset variables take their defaults.
    pub fn from(env: &impl Env) -> Result<Config, ConfigError> {
        let r = Reader { env };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

        let host_text = r.text_or("ANTENNA_HOST", "0.0.0.0");
        let host = host_text
            .parse::<IpAddr>()
            .map_err(|_| invalid("ANTENNA_HOST", &host_text, "expected an IP address"))?;

        let max_crash_size = match r.text("ANTENNA_MAX_CRASH_SIZE") {
            None => 25 << 20,
            Some(text) => parse_size(&text)
                .filter(|&n| (1024..=(1 << 30)).contains(&n))
                .ok_or_else(|| {
                    invalid(
                        "ANTENNA_MAX_CRASH_SIZE",
                        &text,
                        "expected a size from 1KiB to 1GiB, such as 26214400 or 25MiB",
                    )
                })?,
        };

        let storage = Config::storage(&r)?;

        let runtime_text = r.text_or("ANTENNA_RUNTIME", "per-core");
        let runtime = match runtime_text.as_str() {
            "per-core" => RuntimeModel::PerCore,
            "shared" => RuntimeModel::Shared,
            _ => {
                return Err(invalid(
                    "ANTENNA_RUNTIME",
                    &runtime_text,
                    "expected per-core or shared",
                ))
            }
        };

        let rules_text = r.text_or("BREAKPAD_THROTTLER_RULES", "mozilla");
        let throttle_rules = RuleSet::parse(&rules_text)
            .map_err(|reason| invalid("BREAKPAD_THROTTLER_RULES", &rules_text, reason))?;
        let throttle_products = match r.text("BREAKPAD_THROTTLER_PRODUCTS").as_deref() {
            None | Some("antenna.throttler.MOZILLA_PRODUCTS") => {
                MOZILLA_PRODUCTS.iter().map(|p| p.to_string()).collect()
            }
            Some("antenna.throttler.ALL_PRODUCTS") => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        };

        let level_text = r.text_or("LOGGING_LEVEL", "INFO");
        let logging_level = match level_text.to_ascii_uppercase().as_str() {
            "TRACE" => tracing::Level::TRACE,
            "DEBUG" => tracing::Level::DEBUG,
            "INFO" => tracing::Level::INFO,
            "WARNING" | "WARN" => tracing::Level::WARN,
            "ERROR" | "CRITICAL" => tracing::Level::ERROR,
            _ => {
                return Err(invalid(
                    "LOGGING_LEVEL",
                    &level_text,
                    "expected DEBUG, INFO, WARNING or ERROR",
                ))
            }
        };

        let broken_credentials = r.text("ANTENNA_BROKEN_CREDENTIALS");
        if let Some(credentials) = &broken_credentials {
            if !credentials.contains(':') {
                return Err(invalid(
                    "ANTENNA_BROKEN_CREDENTIALS",
                    "*****",
                    "expected user:password",
                ));
            }
        }

        let publish = Config::publish(&r)?;

        Ok(Config {
            host,
            port: r.number(&["ANTENNA_PORT", "PORT"], 8000, 0, u16::MAX)?,
            workers: r.number(&["ANTENNA_WORKERS", "GUNICORN_WORKERS"], cores, 1, 256)?,
            worker_connections: r.number(
                &["ANTENNA_WORKER_CONNECTIONS", "GUNICORN_WORKER_CONNECTIONS"],
                1000,
                1,
                1_000_000,
            )?,
            runtime,
            backlog: r.number(&["ANTENNA_BACKLOG"], 1024, 1, 65_535)?,
            header_read_timeout: r.seconds("ANTENNA_HEADER_TIMEOUT_SECONDS", 10.0, 0.1)?,
            body_idle_timeout: r.seconds("ANTENNA_BODY_TIMEOUT_SECONDS", 30.0, 0.1)?,
            shutdown_timeout: r.seconds("ANTENNA_SHUTDOWN_TIMEOUT_SECONDS", 30.0, 0.0)?,
            max_crash_size,
            storage,
            publish,
            concurrent_crashmovers: r.number(&["CRASHMOVER_CONCURRENT_CRASHMOVERS"], 8, 1, 1024)?,
            max_attempts: r.number(&["CRASHMOVER_MAX_ATTEMPTS"], 5, 1, 100)?,
            retry_sleep: r.seconds("CRASHMOVER_RETRY_SLEEP_SECONDS", 2.0, 0.0)?,
            queue_capacity: r.number(&["CRASHMOVER_QUEUE_CAPACITY"], 256, 1, 1_000_000)?,
            dump_field: r.text_or("BREAKPAD_DUMP_FIELD", "upload_file_minidump"),
            throttle_rules,
            throttle_products,
            submitter_token: r.text("BREAKPAD_STAGE_SUBMITTER_BEARER_TOKEN").map(Secret),
            statsd_host: r.text_or("STATSD_HOST", "localhost"),
            statsd_port: r.number(&["STATSD_PORT"], 8125, 1, u16::MAX)?,
            logging_level,
            hostname: r.text("HOSTNAME").unwrap_or_else(host_name),
            basedir: r
                .text("BASEDIR")
                .map(PathBuf::from)
                .or_else(|| std::env::current_dir().ok())
                .unwrap_or_else(|| PathBuf::from(".")),
            sentry_dsn: r.text("SECRET_SENTRY_DSN").map(Secret),
            broken_credentials: broken_credentials.map(Secret),
        })
    }

    fn publish(r: &Reader<'_, impl Env>) -> Result<PublishConfig, ConfigError> {
        let class = r.text_or("CRASHMOVER_CRASHPUBLISH_CLASS", "none");
        Ok(match class.as_str() {
            "none" | "antenna.ext.crashpublish_base.NoOpCrashPublish" => PublishConfig::None,
            "amqp" => {
                let queue = r.required(
                    "CRASHMOVER_CRASHPUBLISH_QUEUE_NAME",
                    "CRASHMOVER_CRASHPUBLISH_CLASS is amqp",
                )?;
                let url = r.text_or(
                    "CRASHMOVER_CRASHPUBLISH_AMQP_URL",
                    "amqp://guest:guest@127.0.0.1:5672/%2f",
                );
                if !url.starts_with("amqp://") {
                    return Err(invalid(
                        "CRASHMOVER_CRASHPUBLISH_AMQP_URL",
                        "*****",
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

    fn storage(r: &Reader<'_, impl Env>) -> Result<StorageConfig, ConfigError> {
        let class = r.text_or("CRASHMOVER_CRASHSTORAGE_CLASS", "fs");
        Ok(match class.as_str() {
            "fs" | "antenna.ext.fs.crashstorage.FSCrashStorage" => StorageConfig::Fs {
                root: PathBuf::from(r.text_or("CRASHMOVER_CRASHSTORAGE_FS_ROOT", "./crashdata")),
            },
            "noop" | "antenna.ext.crashstorage_base.NoOpCrashStorage" => StorageConfig::Noop,
            "s3" | "antenna.ext.s3.crashstorage.S3CrashStorage" => {
                let bucket = r.required(
                    "CRASHMOVER_CRASHSTORAGE_BUCKET_NAME",
                    "CRASHMOVER_CRASHSTORAGE_CLASS is s3",
                )?;
                let connection = aws_connection(r, &STORAGE_AWS)?;
                let threshold_text = r.text_or("ANTENNA_S3_MULTIPART_THRESHOLD", "8MiB");
                let multipart_threshold = parse_size(&threshold_text)
                    .filter(|&n| n >= 5 << 20)
                    .ok_or_else(|| {
                        invalid(
                            "ANTENNA_S3_MULTIPART_THRESHOLD",
                            &threshold_text,
                            "expected a size of at least 5MiB (S3's smallest part)",
                        )
                    })?;
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

    /// Memory that crash bodies in flight can hold at most, in bytes: every connection
    /// receiving a largest body, plus every queue full of largest crashes. Logged at start.
    pub fn memory_bound(&self) -> u128 {
        let connections = (self.workers * self.worker_connections) as u128;
        let queued = (self.workers * self.queue_capacity) as u128;
        // A gzip body holds the compressed and the decompressed copy while it is parsed.
        (connections * 2 + queued) * self.max_crash_size as u128
    }

    /// The effective settings as `NAME=value` pairs, secrets masked, for the start-up log.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let mask = |secret: Option<&Secret>| secret.map_or("", |_| "*****").to_owned();
        let mut out = vec![
            ("ANTENNA_HOST", self.host.to_string()),
            ("ANTENNA_PORT", self.port.to_string()),
            ("ANTENNA_WORKERS", self.workers.to_string()),
            (
                "ANTENNA_WORKER_CONNECTIONS",
                self.worker_connections.to_string(),
            ),
            (
                "ANTENNA_RUNTIME",
                match self.runtime {
                    RuntimeModel::PerCore => "per-core",
                    RuntimeModel::Shared => "shared",
                }
                .to_owned(),
            ),
            ("ANTENNA_BACKLOG", self.backlog.to_string()),
            (
                "ANTENNA_HEADER_TIMEOUT_SECONDS",
                self.header_read_timeout.as_secs_f64().to_string(),
            ),
            (
                "ANTENNA_BODY_TIMEOUT_SECONDS",
                self.body_idle_timeout.as_secs_f64().to_string(),
            ),
            (
                "ANTENNA_SHUTDOWN_TIMEOUT_SECONDS",
                self.shutdown_timeout.as_secs_f64().to_string(),
            ),
            ("ANTENNA_MAX_CRASH_SIZE", self.max_crash_size.to_string()),
        ];
        match &self.storage {
            StorageConfig::Fs { root } => {
                out.push(("CRASHMOVER_CRASHSTORAGE_CLASS", "fs".into()));
                out.push((
                    "CRASHMOVER_CRASHSTORAGE_FS_ROOT",
                    root.display().to_string(),
                ));
            }
            StorageConfig::Noop => out.push(("CRASHMOVER_CRASHSTORAGE_CLASS", "noop".into())),
            StorageConfig::S3(s3) => {
                out.push(("CRASHMOVER_CRASHSTORAGE_CLASS", "s3".into()));
                out.push(("CRASHMOVER_CRASHSTORAGE_BUCKET_NAME", s3.bucket.clone()));
                describe_aws(&mut out, &STORAGE_AWS, &s3.connection);
                out.push((
                    "ANTENNA_S3_MULTIPART_THRESHOLD",
                    s3.multipart_threshold.to_string(),
                ));
            }
        }
        match &self.publish {
            PublishConfig::None => out.push(("CRASHMOVER_CRASHPUBLISH_CLASS", "none".into())),
            PublishConfig::Amqp(amqp) => {
                out.push(("CRASHMOVER_CRASHPUBLISH_CLASS", "amqp".into()));
                out.push(("CRASHMOVER_CRASHPUBLISH_AMQP_URL", amqp.redacted_url()));
                out.push(("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", amqp.queue.clone()));
                out.push(("CRASHMOVER_CRASHPUBLISH_EXCHANGE", amqp.exchange.clone()));
                out.push((
                    "CRASHMOVER_CRASHPUBLISH_ROUTING_KEY",
                    amqp.routing_key.clone(),
                ));
            }
            PublishConfig::Sqs(sqs) => {
                out.push(("CRASHMOVER_CRASHPUBLISH_CLASS", "sqs".into()));
                out.push(("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", sqs.queue.clone()));
                describe_aws(&mut out, &PUBLISH_AWS, &sqs.connection);
            }
        }
        out.extend([
            (
                "CRASHMOVER_CONCURRENT_CRASHMOVERS",
                self.concurrent_crashmovers.to_string(),
            ),
            ("CRASHMOVER_MAX_ATTEMPTS", self.max_attempts.to_string()),
            (
                "CRASHMOVER_RETRY_SLEEP_SECONDS",
                self.retry_sleep.as_secs_f64().to_string(),
            ),
            ("CRASHMOVER_QUEUE_CAPACITY", self.queue_capacity.to_string()),
            ("BREAKPAD_DUMP_FIELD", self.dump_field.clone()),
            ("BREAKPAD_THROTTLER_RULES", self.throttle_rules.describe()),
            (
                "BREAKPAD_THROTTLER_PRODUCTS",
                self.throttle_products.join(","),
            ),
            (
                "BREAKPAD_STAGE_SUBMITTER_BEARER_TOKEN",
                mask(self.submitter_token.as_ref()),
            ),
            ("STATSD_HOST", self.statsd_host.clone()),
            ("STATSD_PORT", self.statsd_port.to_string()),
            ("LOGGING_LEVEL", self.logging_level.to_string()),
            ("HOSTNAME", self.hostname.clone()),
            ("BASEDIR", self.basedir.display().to_string()),
            ("SECRET_SENTRY_DSN", mask(self.sentry_dsn.as_ref())),
            (
                "ANTENNA_BROKEN_CREDENTIALS",
                mask(self.broken_credentials.as_ref()),
            ),
        ]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_work_out_of_the_box() {
        let config = Config::from(&env(&[])).unwrap();
        assert_eq!(config.port, 8000);
        assert_eq!(config.max_crash_size, 26_214_400);
        assert_eq!(
            config.storage,
            StorageConfig::Fs {
                root: PathBuf::from("./crashdata")
            }
        );
        assert_eq!(config.throttle_rules, RuleSet::Mozilla);
        assert_eq!(config.throttle_products.len(), 7);
        assert_eq!(config.concurrent_crashmovers, 8);
        assert_eq!(config.max_attempts, 5);
        assert_eq!(config.retry_sleep, Duration::from_secs(2));
    }

    #[test]
    fn sizes_and_aliases() {
        assert_eq!(parse_size("25MiB"), Some(26_214_400));
        assert_eq!(parse_size("512 KiB"), Some(524_288));
        assert_eq!(parse_size("12x"), None);
        let config = Config::from(&env(&[
            ("GUNICORN_WORKERS", "3"),
            (
                "CRASHMOVER_CRASHSTORAGE_CLASS",
                "antenna.ext.crashstorage_base.NoOpCrashStorage",
            ),
            (
                "BREAKPAD_THROTTLER_PRODUCTS",
                "antenna.throttler.ALL_PRODUCTS",
            ),
            ("ANTENNA_MAX_CRASH_SIZE", "1MiB"),
        ]))
        .unwrap();
        assert_eq!(config.workers, 3);
        assert_eq!(config.storage, StorageConfig::Noop);
        assert!(config.throttle_products.is_empty());
        assert_eq!(config.max_crash_size, 1 << 20);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases = [
            ("ANTENNA_PORT", "http"),
            ("ANTENNA_WORKERS", "0"),
            ("ANTENNA_HOST", "example.com"),
            ("ANTENNA_MAX_CRASH_SIZE", "lots"),
            ("CRASHMOVER_CRASHSTORAGE_CLASS", "gcs"),
            ("CRASHMOVER_MAX_ATTEMPTS", "-1"),
            ("CRASHMOVER_RETRY_SLEEP_SECONDS", "soon"),
            ("BREAKPAD_THROTTLER_RULES", "strict"),
            ("LOGGING_LEVEL", "LOUD"),
            ("ANTENNA_RUNTIME", "green-threads"),
            ("ANTENNA_BROKEN_CREDENTIALS", "nocolon"),
        ];
        for (var, value) in cases {
            let error = Config::from(&env(&[(var, value)])).unwrap_err();
            assert_eq!(error.var, var);
        }
        let error = Config::from(&env(&[("CRASHMOVER_CRASHSTORAGE_CLASS", "s3")])).unwrap_err();
        assert_eq!(error.var, "CRASHMOVER_CRASHSTORAGE_BUCKET_NAME");
        let error = Config::from(&env(&[("CRASHMOVER_CRASHPUBLISH_CLASS", "amqp")])).unwrap_err();
        assert_eq!(error.var, "CRASHMOVER_CRASHPUBLISH_QUEUE_NAME");
    }

    #[test]
    fn amqp_settings_and_masked_password() {
        let config = Config::from(&env(&[
            ("CRASHMOVER_CRASHPUBLISH_CLASS", "amqp"),
            ("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", "socorro.normal"),
            (
                "CRASHMOVER_CRASHPUBLISH_AMQP_URL",
                "amqp://user:hunter2@broker:5672/%2f",
            ),
        ]))
        .unwrap();
        let PublishConfig::Amqp(amqp) = &config.publish else {
            panic!()
        };
        assert_eq!(amqp.routing_key, "socorro.normal");
        assert_eq!(amqp.exchange, "");
        assert_eq!(amqp.redacted_url(), "amqp://user:*****@broker:5672/%2f");
        let text = format!("{:?} {config:?}", config.describe());
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn sqs_settings() {
        let config = Config::from(&env(&[
            (
                "CRASHMOVER_CRASHPUBLISH_CLASS",
                "antenna.ext.sqs.crashpublish.SQSCrashPublish",
            ),
            ("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", "socorro-standard"),
            ("CRASHMOVER_CRASHPUBLISH_REGION", "eu-west-1"),
        ]))
        .unwrap();
        let PublishConfig::Sqs(sqs) = &config.publish else {
            panic!()
        };
        assert_eq!(sqs.queue, "socorro-standard");
        assert_eq!(sqs.connection.region, "eu-west-1");
        assert_eq!(sqs.connection.credentials, None);
        let half = Config::from(&env(&[
            ("CRASHMOVER_CRASHPUBLISH_CLASS", "sqs"),
            ("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", "q"),
            ("CRASHMOVER_CRASHPUBLISH_ACCESS_KEY", "only-the-key"),
        ]));
        assert_eq!(half.unwrap_err().var, "CRASHMOVER_CRASHPUBLISH_ACCESS_KEY");
    }

    #[test]
    fn secrets_are_masked() {
        let config = Config::from(&env(&[
            ("BREAKPAD_STAGE_SUBMITTER_BEARER_TOKEN", "hunter2"),
            ("SECRET_SENTRY_DSN", "https://key@sentry"),
        ]))
        .unwrap();
        let text = format!("{:?} {config:?}", config.describe());
        assert!(!text.contains("hunter2") && !text.contains("key@sentry"));
        assert!(text.contains("*****"));
    }
}
