//! Error reporting to Sentry (SPEC §10): with `SECRET_SENTRY_DSN` set, every ERROR-level log
//! event (start-up exceptions, saves given up, spool failures, `/__broken__`) and every panic
//! becomes a Sentry event.
//!
//! Nothing of a crash ever leaves in an event. At the source, nothing logged at ERROR holds
//! annotation values, dump bytes or client addresses (those appear at INFO only, and INFO is
//! never sent: not even as breadcrumbs). As a second line of defence, [`scrub`] runs on every
//! event before it is sent: it drops request, user and breadcrumb data and masks anything
//! shaped like an IP address.
//!
//! Sending never blocks a request: the SDK hands events to its own thread through a queue of
//! 30, and drops events when it is full; shutdown waits at most two seconds for the rest.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sentry::protocol::Event;
use sentry::ClientInitGuard;

use crate::secret::Secret;

/// How long shutdown (or a failed start-up) waits for queued events.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Where events go and what they carry.
#[derive(Debug, Clone)]
pub struct ReportingConfig {
    /// `SECRET_SENTRY_DSN` (checked to parse at start-up).
    pub dsn: Secret,
    /// `SENTRY_ENVIRONMENT`.
    pub environment: Option<String>,
    /// `HOSTNAME`: the events' `server_name`.
    pub server_name: String,
}

/// Checks that `dsn` is a Sentry DSN; the reason if not.
pub fn check_dsn(dsn: &str) -> Result<(), String> {
    dsn.parse::<sentry::types::Dsn>()
        .map(drop)
        .map_err(|error| error.to_string())
}

/// The running client; dropping it flushes queued events (bounded by two seconds).
pub struct Reporting {
    _guard: ClientInitGuard,
}

impl std::fmt::Debug for Reporting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reporting")
    }
}

impl Reporting {
    /// Starts the client for `config`; `basedir` holds `version.json` for the release.
    pub fn start(config: &ReportingConfig, basedir: &Path) -> Reporting {
        let options = sentry::ClientOptions {
            dsn: config.dsn.expose().parse().ok(),
            release: Some(Cow::Owned(release(basedir))),
            environment: config.environment.clone().map(Cow::Owned),
            server_name: Some(Cow::Owned(config.server_name.clone())),
            send_default_pii: false,
            max_breadcrumbs: 0,
            shutdown_timeout: FLUSH_TIMEOUT,
            before_send: Some(Arc::new(|event| Some(scrub(event)))),
            ..sentry::ClientOptions::default()
        };
        Reporting {
            _guard: sentry::init(options),
        }
    }

    /// Sends what is queued, waiting at most two seconds (before exiting on an error).
    pub fn flush(&self) {
        if let Some(client) = sentry::Hub::current().client() {
            client.flush(Some(FLUSH_TIMEOUT));
        }
    }
}

/// The tracing layer that turns ERROR events into Sentry events and ignores the rest.
pub fn layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use sentry::integrations::tracing::EventFilter;
    use tracing_subscriber::Layer as _;
    sentry::integrations::tracing::layer()
        .event_filter(|metadata| match *metadata.level() {
            tracing::Level::ERROR => EventFilter::Event,
            _ => EventFilter::Ignore,
        })
        .span_filter(|_| false)
        // A level filter on the layer itself, not only on what it sends: without it the
        // layer takes an interest in every callsite, so every DEBUG and TRACE span and event
        // of the AWS SDK, hyper and rustls is built and recorded on every request, for
        // nothing (a third of the SDK's per-request cost in `perf`).
        .with_filter(tracing_subscriber::filter::LevelFilter::ERROR)
}

/// `version.json`'s `version`, else its `commit`, else the binary's own commit (or version).
fn release(basedir: &Path) -> String {
    let file: Option<serde_json::Value> = std::fs::read(basedir.join("version.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let field = |name: &str| {
        file.as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    field("version")
        .or_else(|| field("commit"))
        .unwrap_or_else(|| {
            let commit = env!("ANTENNA_BUILD_COMMIT");
            if commit.is_empty() {
                env!("CARGO_PKG_VERSION").to_owned()
            } else {
                commit.to_owned()
            }
        })
}

/// The last line of defence: no request, user, breadcrumbs or extra data, and no IP
/// addresses in any text.
pub fn scrub(mut event: Event<'static>) -> Event<'static> {
    event.request = None;
    event.user = None;
    event.breadcrumbs = Default::default();
    event.extra.clear();
    if let Some(message) = event.message.take() {
        event.message = Some(mask_addresses(&message));
    }
    if let Some(entry) = event.logentry.as_mut() {
        entry.message = mask_addresses(&entry.message);
        entry.params.clear();
    }
    for exception in event.exception.values.iter_mut() {
        if let Some(value) = exception.value.take() {
            exception.value = Some(mask_addresses(&value));
        }
    }
    event
}

/// `text` with every dotted-quad IPv4 address replaced by `[address]`.
fn mask_addresses(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < bytes.len() {
        if let Some(len) = ipv4_at(bytes, at) {
            out.push_str("[address]");
            at += len;
            continue;
        }
        let ch = text[at..].chars().next().unwrap_or(' ');
        out.push(ch);
        at += ch.len_utf8();
    }
    out
}

/// The length of an IPv4 address starting at `at` (not inside a longer number), if any.
fn ipv4_at(bytes: &[u8], at: usize) -> Option<usize> {
    if at > 0 && (bytes[at - 1].is_ascii_digit() || bytes[at - 1] == b'.') {
        return None;
    }
    let mut pos = at;
    for octet in 0..4 {
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() && pos - start < 3 {
            pos += 1;
        }
        if pos == start {
            return None;
        }
        if octet < 3 {
            if bytes.get(pos) != Some(&b'.') {
                return None;
            }
            pos += 1;
        }
    }
    let continues = bytes.get(pos).is_some_and(|b| {
        b.is_ascii_digit() || (*b == b'.' && bytes.get(pos + 1).is_some_and(u8::is_ascii_digit))
    });
    (!continues).then_some(pos - at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_and_versions_kept() {
        assert_eq!(
            mask_addresses("client 10.0.12.7 via 127.0.0.1:8000, build 1.2.3"),
            "client [address] via [address]:8000, build 1.2.3"
        );
        assert_eq!(
            mask_addresses("v1.2.3.4.5 and 300.1"),
            "v1.2.3.4.5 and 300.1"
        );
        assert_eq!(mask_addresses("ünïcode 192.168.0.1!"), "ünïcode [address]!");
    }

    #[test]
    fn scrub_drops_request_and_user() {
        let mut event = Event {
            message: Some("from 192.168.1.20".into()),
            ..Event::default()
        };
        event.user = Some(sentry::User {
            ip_address: Some(sentry::protocol::IpAddress::Auto),
            ..Default::default()
        });
        event.request = Some(Default::default());
        let event = scrub(event);
        assert!(event.user.is_none() && event.request.is_none());
        assert_eq!(event.message.as_deref(), Some("from [address]"));
    }

    #[test]
    fn dsns_are_checked() {
        assert!(check_dsn("https://public@sentry.example.com/42").is_ok());
        assert!(check_dsn("not a dsn").is_err());
    }
}
