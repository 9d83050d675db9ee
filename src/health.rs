//! Dockerflow endpoints: `/__lbheartbeat__` (this process takes connections),
//! `/__heartbeat__` (every backend works), `/__version__` (which build runs) and
//! `/__broken__` (an intentional error, to test error reporting; off unless configured).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

use crate::config::Config;
use crate::crashmover::Crashmover;
use crate::metrics::{Counter, Metrics};
use crate::response::{self, FullResponse};
use crate::secret::Secret;

/// State behind the health endpoints.
#[derive(Debug)]
pub struct Health {
    crashmover: Arc<Crashmover>,
    /// The movers' runtime: storage clients must be used where they were built.
    storage_runtime: tokio::runtime::Handle,
    basedir: PathBuf,
    /// `Basic <base64(user:password)>`, when `/__broken__` is enabled.
    broken_authorization: Option<Secret>,
    hostname: String,
    started: Instant,
    metrics: Metrics,
}

impl Health {
    /// Health state for `config`.
    pub fn new(
        config: &Config,
        crashmover: Arc<Crashmover>,
        storage_runtime: tokio::runtime::Handle,
        metrics: Metrics,
    ) -> Health {
        Health {
            crashmover,
            storage_runtime,
            basedir: config.basedir.clone(),
            broken_authorization: config.broken_credentials.as_ref().map(|credentials| {
                let encoded = base64(credentials.expose().as_bytes());
                Secret::new(format!("Basic {encoded}"))
            }),
            hostname: config.hostname.clone(),
            started: Instant::now(),
            metrics,
        }
    }

    /// Whether `/__broken__` is enabled (else it is a 404, as if it did not exist).
    pub fn broken_enabled(&self) -> bool {
        self.broken_authorization.is_some()
    }

    /// `/__lbheartbeat__`: 200, empty. Answering at all is the signal.
    pub fn lbheartbeat(&self) -> FullResponse {
        self.metrics.incr(Counter::HealthLbheartbeat, None);
        let mut response = Response::new(Full::new(Bytes::new()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        response
    }

    /// `/__heartbeat__`: checks storage; 503 with the errors when it fails.
    pub async fn heartbeat(&self) -> FullResponse {
        self.metrics.incr(Counter::HealthHeartbeat, None);
        let storage = Arc::clone(self.crashmover.storage());
        let publisher = Arc::clone(self.crashmover.publisher());
        let (storage_name, publisher_name) = (storage.name(), publisher.name());
        let storage_check = self
            .storage_runtime
            .spawn(async move { storage.check_health().await.map_err(|e| e.to_string()) });
        let publisher_check = self
            .storage_runtime
            .spawn(async move { publisher.check_health().await.map_err(|e| e.to_string()) });
        let mut errors = Vec::new();
        let spool = self.crashmover.spool().stats();
        // Above 90% the spool may soon refuse crashes: page someone while there is room.
        if spool.bytes.saturating_mul(10) > spool.max_bytes.saturating_mul(9) {
            errors.push(json!({
                "name": "Spool",
                "msg": format!("spool over 90% full: {} of {} bytes", spool.bytes, spool.max_bytes),
            }));
        }
        for (name, check) in [
            (storage_name, storage_check),
            (publisher_name, publisher_check),
        ] {
            let outcome = check.await.unwrap_or_else(|error| Err(error.to_string()));
            if let Err(msg) = outcome {
                errors.push(json!({"name": name, "msg": msg}));
            }
        }
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let body = json!({
            "errors": errors,
            "info": {
                "hostname": self.hostname,
                "save_queue_size": self.crashmover.queue_depth(),
                "spool": {
                    "crashes": spool.crashes,
                    "bytes": spool.bytes,
                    "max_bytes": spool.max_bytes,
                },
                "uptime_seconds": self.started.elapsed().as_secs(),
            },
        });
        response::json(status, &body)
    }

    /// `/__version__`: `version.json` from the base directory, read on every request so a
    /// deploy that replaces it is seen. Without one (or with an invalid one), what the
    /// binary knows of its own build (commit, version); `{}` only when it knows nothing.
    pub fn version(&self) -> FullResponse {
        self.metrics.incr(Counter::HealthVersion, None);
        let version = std::fs::read(self.basedir.join("version.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .filter(Value::is_object)
            .unwrap_or_else(build_facts);
        response::json(StatusCode::OK, &version)
    }

    /// `/__broken__`: 500 on purpose, for the right credentials; 401 otherwise.
    pub fn broken(&self, headers: &HeaderMap) -> FullResponse {
        self.metrics.incr(Counter::HealthBroken, None);
        let given = headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        let authorized = self
            .broken_authorization
            .as_ref()
            .is_some_and(|expected| expected.matches(given));
        if !authorized {
            let mut answer = response::json(
                StatusCode::UNAUTHORIZED,
                &json!({"title": "401 Unauthorized"}),
            );
            answer.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"antenna private\""),
            );
            return answer;
        }
        tracing::error!("Unhandled exception: intentional exception (/__broken__)");
        response::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"title": "500 Internal Server Error"}),
        )
    }
}

/// The build's own `version.json` fields, recorded by `build.rs`.
fn build_facts() -> Value {
    let commit = env!("ANTENNA_BUILD_COMMIT");
    if commit.is_empty() {
        return json!({});
    }
    json!({
        "build": env!("ANTENNA_BUILD_ID"),
        "commit": commit,
        "source": env!("ANTENNA_BUILD_SOURCE"),
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// Standard base64 with padding (RFC 4648), for the basic-auth header we expect.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("admin:s3cret!", "YWRtaW46czNjcmV0IQ=="),
        ];
        for (input, expected) in vectors {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}
