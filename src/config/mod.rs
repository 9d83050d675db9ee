//! Every setting, read from the environment once at start-up, validated, and converted to
//! finished types (durations, byte counts) so no other module parses text or reads `env`.
//!
//! Names are Antenna's where it has one, so its env files keep working (SPEC §6); ours start
//! with `ANTENNA_`. A bad value stops start-up with an error naming the variable. [`env`]
//! reads and validates, [`backends`] holds each backend's settings.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

mod backends;
mod env;

pub use crate::secret::Secret;
use crate::throttle::{RuleSet, MOZILLA_PRODUCTS};
pub use backends::{AmqpConfig, AwsConnection, PublishConfig, S3Config, SqsConfig, StorageConfig};
use env::{invalid, Reader};
pub use env::{parse_size, Env, ProcessEnv};

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
    /// `ANTENNA_MAX_INFLIGHT_BYTES`: every body byte being received or parsed, together.
    pub max_inflight_bytes: usize,
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
    /// `CRASHMOVER_SPOOL_DIR`: the local spool (SPEC §9).
    pub spool_dir: PathBuf,
    /// `CRASHMOVER_SPOOL_MAX_BYTES`: the spool takes no crash past this size.
    pub spool_max_bytes: u64,
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
    /// `SECRET_SENTRY_DSN`: where errors are reported (SPEC §10); checked to parse.
    pub sentry_dsn: Option<Secret>,
    /// `SENTRY_ENVIRONMENT`: the events' environment.
    pub sentry_environment: Option<String>,
    /// `ANTENNA_BROKEN_CREDENTIALS` (`user:password`): enables `/__broken__` behind basic auth.
    pub broken_credentials: Option<Secret>,
    /// Every variable read, with its value in effect (secrets masked), in reading order.
    listing: Vec<(&'static str, String)>,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// A quarter of the machine's memory (`MemTotal`), at least four largest crashes; 1 GiB
/// when the machine does not say.
fn default_inflight_bytes(max_crash_size: usize) -> usize {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let kib: usize = info
                .lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            kib.checked_mul(1024)
        });
    (total.unwrap_or(4 << 30) / 4).max(max_crash_size.saturating_mul(4))
}

/// `SECRET_SENTRY_DSN`, refused when it does not parse as a DSN.
fn sentry_dsn(r: &Reader<'_, impl Env>) -> Result<Option<Secret>, ConfigError> {
    let dsn = r.secret("SECRET_SENTRY_DSN");
    if let Some(dsn) = &dsn {
        crate::reporting::check_dsn(dsn.expose()).map_err(|reason| {
            invalid(
                "SECRET_SENTRY_DSN",
                env::MASK,
                format!("not a DSN: {reason}"),
            )
        })?;
    }
    Ok(dsn)
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from(&ProcessEnv)
    }

    /// Reads any [`Env`]; unset variables take their defaults.
    pub fn from(env: &impl Env) -> Result<Config, ConfigError> {
        let r = Reader::new(env);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

        let host_text = r.text_or("ANTENNA_HOST", "0.0.0.0");
        let host = host_text
            .parse::<IpAddr>()
            .map_err(|_| invalid("ANTENNA_HOST", &host_text, "expected an IP address"))?;

        let max_crash_size = r.size(
            "ANTENNA_MAX_CRASH_SIZE",
            25 << 20,
            (1024, 1 << 30),
            "expected a size from 1KiB to 1GiB, such as 26214400 or 25MiB",
        )?;

        let storage = backends::read_storage(&r)?;

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
            .map_err(|error| invalid("BREAKPAD_THROTTLER_RULES", &rules_text, error.to_string()))?;
        let products_text = r.text_or(
            "BREAKPAD_THROTTLER_PRODUCTS",
            "antenna.throttler.MOZILLA_PRODUCTS",
        );
        let throttle_products = match products_text.as_str() {
            "antenna.throttler.MOZILLA_PRODUCTS" => {
                MOZILLA_PRODUCTS.iter().map(|p| p.to_string()).collect()
            }
            "antenna.throttler.ALL_PRODUCTS" => Vec::new(),
            list => list
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

        let broken_credentials = r.secret("ANTENNA_BROKEN_CREDENTIALS");
        if let Some(credentials) = &broken_credentials {
            if !credentials.expose().contains(':') {
                return Err(invalid(
                    "ANTENNA_BROKEN_CREDENTIALS",
                    env::MASK,
                    "expected user:password",
                ));
            }
        }

        let publish = backends::read_publish(&r)?;

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
            max_inflight_bytes: r.size(
                "ANTENNA_MAX_INFLIGHT_BYTES",
                default_inflight_bytes(max_crash_size),
                (max_crash_size, usize::MAX),
                "expected a size at least ANTENNA_MAX_CRASH_SIZE, such as 4GiB",
            )?,
            storage,
            publish,
            concurrent_crashmovers: r.number(&["CRASHMOVER_CONCURRENT_CRASHMOVERS"], 8, 1, 1024)?,
            max_attempts: r.number(&["CRASHMOVER_MAX_ATTEMPTS"], 5, 1, 100)?,
            retry_sleep: r.seconds("CRASHMOVER_RETRY_SLEEP_SECONDS", 2.0, 0.0)?,
            queue_capacity: r.number(&["CRASHMOVER_QUEUE_CAPACITY"], 256, 1, 1_000_000)?,
            spool_dir: PathBuf::from(r.text_or("CRASHMOVER_SPOOL_DIR", "./spool")),
            spool_max_bytes: r.size(
                "CRASHMOVER_SPOOL_MAX_BYTES",
                10 << 30,
                (1 << 10, usize::MAX),
                "expected a size of at least 1KiB, such as 10GiB",
            )? as u64,
            dump_field: r.text_or("BREAKPAD_DUMP_FIELD", "upload_file_minidump"),
            throttle_rules,
            throttle_products,
            submitter_token: r.secret("BREAKPAD_STAGE_SUBMITTER_BEARER_TOKEN"),
            statsd_host: r.text_or("STATSD_HOST", "localhost"),
            statsd_port: r.number(&["STATSD_PORT"], 8125, 1, u16::MAX)?,
            logging_level,
            hostname: r.text_or_else("HOSTNAME", host_name),
            basedir: PathBuf::from(r.text_or_else("BASEDIR", || {
                std::env::current_dir()
                    .map_or_else(|_| ".".to_owned(), |dir| dir.display().to_string())
            })),
            sentry_dsn: sentry_dsn(&r)?,
            sentry_environment: r.text("SENTRY_ENVIRONMENT"),
            broken_credentials,
            listing: r.into_listing(),
        })
    }

    /// Memory that crash bytes can hold at most, in bytes: the in-flight budget (bodies
    /// being received and parsed, a gzip body's decompressed copy included) plus every queue
    /// full of largest crashes. Logged at start.
    pub fn memory_bound(&self) -> u128 {
        let queued = (self.workers * self.queue_capacity) as u128;
        self.max_inflight_bytes as u128 + queued * self.max_crash_size as u128
    }

    /// Where errors are reported, when `SECRET_SENTRY_DSN` is set.
    pub fn reporting(&self) -> Option<crate::reporting::ReportingConfig> {
        Some(crate::reporting::ReportingConfig {
            dsn: self.sentry_dsn.clone()?,
            environment: self.sentry_environment.clone(),
            server_name: self.hostname.clone(),
        })
    }

    /// The effective settings as `NAME=value` pairs, secrets masked, for the start-up log:
    /// every variable that was read, in reading order.
    pub fn describe(&self) -> &[(&'static str, String)] {
        &self.listing
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
                root: PathBuf::from("./crashdata"),
                fsync: true,
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
            ("CRASHMOVER_CRASHSTORAGE_FS_FSYNC", "sometimes"),
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
            ("SECRET_SENTRY_DSN", "https://key@sentry.example.com/1"),
        ]))
        .unwrap();
        let text = format!("{:?} {config:?}", config.describe());
        assert!(!text.contains("hunter2") && !text.contains("key@sentry"));
        let error = Config::from(&env(&[("SECRET_SENTRY_DSN", "key@sentry")])).unwrap_err();
        assert_eq!(error.var, "SECRET_SENTRY_DSN");
        assert!(!error.to_string().contains("key@sentry"), "{error}");
        assert!(text.contains("*****"));
    }

    #[test]
    fn listing_is_what_was_read_with_secrets_masked() {
        let config = Config::from(&env(&[
            ("GUNICORN_WORKERS", "3"),
            ("CRASHMOVER_CRASHSTORAGE_CLASS", "s3"),
            ("CRASHMOVER_CRASHSTORAGE_BUCKET_NAME", "crashes"),
            ("CRASHMOVER_CRASHSTORAGE_ACCESS_KEY", "AKIA"),
            ("CRASHMOVER_CRASHSTORAGE_SECRET_ACCESS_KEY", "hunter2"),
            ("ANTENNA_MAX_CRASH_SIZE", "1MiB"),
        ]))
        .unwrap();
        let listing: HashMap<&str, &str> = config
            .describe()
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        assert_eq!(listing["ANTENNA_WORKERS"], "3");
        assert_eq!(listing["ANTENNA_MAX_CRASH_SIZE"], "1048576");
        assert_eq!(listing["CRASHMOVER_CRASHSTORAGE_BUCKET_NAME"], "crashes");
        assert_eq!(
            listing["CRASHMOVER_CRASHSTORAGE_SECRET_ACCESS_KEY"],
            "*****"
        );
        assert_eq!(listing["ANTENNA_S3_MULTIPART_THRESHOLD"], "8388608");
        assert_eq!(listing["SECRET_SENTRY_DSN"], "");
        assert!(!listing.contains_key("CRASHMOVER_CRASHSTORAGE_FS_ROOT"));
        let names: Vec<_> = config.describe().iter().map(|(name, _)| name).collect();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(names.len(), unique.len(), "each variable is listed once");
    }

    #[test]
    fn every_variable_read_is_documented_in_the_readme() {
        let readme = include_str!("../../README.md");
        let setups = [
            vec![],
            vec![("CRASHMOVER_CRASHSTORAGE_CLASS", "noop")],
            vec![
                ("CRASHMOVER_CRASHSTORAGE_CLASS", "s3"),
                ("CRASHMOVER_CRASHSTORAGE_BUCKET_NAME", "b"),
                ("CRASHMOVER_CRASHPUBLISH_CLASS", "sqs"),
                ("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", "q"),
            ],
            vec![
                ("CRASHMOVER_CRASHPUBLISH_CLASS", "amqp"),
                ("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", "q"),
            ],
        ];
        for setup in setups {
            let config = Config::from(&env(&setup)).unwrap();
            for (name, _) in config.describe() {
                assert!(
                    readme.contains(&format!("`{name}`")),
                    "{name} is not in the README's configuration table"
                );
            }
        }
    }
}
