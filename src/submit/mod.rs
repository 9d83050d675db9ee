//! `POST /submit`: from an HTTP request to a saved crash and a `CrashID=bp-<id>` answer.
//!
//! The steps, each in its own module: [`request`] checks the head, [`body`] reads and
//! parses the body, [`extract`] sorts parts into annotations and dumps, [`Submitter::decide`]
//! throttles, assigns the crash id and builds the raw crash (pure: time and randomness are
//! passed in), and the crashmover saves it. Every failure is a [`Reject`], which alone
//! decides the answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use hyper::body::Body;
use rand::Rng;
use serde_json::{json, Map, Value};

use crate::budget::InflightBudget;
use crate::config::Config;
use crate::crash::CrashReport;
use crate::crash_id::{CrashId, IdKind};
use crate::crashmover::{Crashmover, NotSaved, SaveQueue};
use crate::digest;
use crate::metrics::{Counter, Metrics, Timer};
use crate::response::{self, FullResponse};
use crate::secret::Secret;
use crate::throttle::{Outcome, Throttler, Verdict};
use crate::timestamp::Timestamp;
use crate::BoxError;

pub mod body;
pub mod extract;
pub mod reject;
pub mod request;

pub use extract::Extracted;
pub use reject::Reject;

/// Annotations never stored: personal data Antenna strips before saving (in this order,
/// each leaving a collector note).
const BAD_FIELDS: &[&str] = &[
    "Email",
    "TelemetryClientId",
    "TelemetryServerURL",
    "TelemetrySessionId",
];

/// What happens to a well-formed report.
#[derive(Debug)]
pub enum Decision<'t> {
    /// ACCEPT or DEFER: save it, then answer with its id.
    Save(CrashReport),
    /// FAKEACCEPT: answer with an id, keep nothing.
    FakeAccept(CrashId),
    /// REJECT: answer `Discarded=rule_<rule>`.
    Discard(&'t str),
}

/// Request facts the raw crash records.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Body was gzip-compressed.
    pub compressed: bool,
    /// Bytes on the wire.
    pub wire_size: usize,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// The request carried the configured submitter bearer token.
    pub from_submitter: bool,
}

/// The submit endpoint with everything it needs, built once at start-up.
#[derive(Debug)]
pub struct Submitter {
    throttler: Throttler,
    crashmover: Arc<Crashmover>,
    metrics: Metrics,
    submitter_token: Option<Secret>,
    max_crash_size: usize,
    body_idle_timeout: Duration,
    budget: Arc<InflightBudget>,
}

impl Submitter {
    /// The endpoint for `config`, saving through `crashmover`.
    pub fn new(config: &Config, crashmover: Arc<Crashmover>, metrics: Metrics) -> Submitter {
        Submitter {
            throttler: Throttler::new(&config.throttle_rules, config.throttle_products.clone()),
            crashmover,
            metrics,
            submitter_token: config.submitter_token.clone(),
            max_crash_size: config.max_crash_size,
            body_idle_timeout: config.body_idle_timeout,
            budget: InflightBudget::new(config.max_inflight_bytes),
        }
    }

    /// Counts and logs a request the HTTP layer refused before it reached us (SPEC §2:
    /// `malformed`, reason `http`), so such clients are seen.
    pub fn refused_by_http(&self, peer: std::net::SocketAddr, refusal: &crate::server::Refusal) {
        self.metrics
            .incr(Counter::Malformed, Some(("reason", "http")));
        tracing::info!("submit discarded: http: {refusal}; client {}", peer.ip());
    }

    /// The save queue of acceptor `index`, for [`handle`](Self::handle).
    pub fn save_queue(&self, index: usize) -> SaveQueue {
        self.crashmover.save_queue(index)
    }

    /// Handles one `POST /submit` from `peer`; `queue` is the calling acceptor's.
    pub async fn handle<B>(
        &self,
        request: http::Request<B>,
        peer: Option<std::net::SocketAddr>,
        queue: &SaveQueue,
    ) -> FullResponse
    where
        B: Body + Send + Unpin + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let started = Instant::now();
        let (parts, mut body) = request.into_parts();
        let response = match self.submit(parts, &mut body, peer, queue).await {
            Ok(response) => response,
            Err(reject) => {
                if !body.is_end_stream() {
                    // Answered before the end of the body: read the rest off the wire so
                    // the client can read the answer.
                    tokio::spawn(body::discard_rest(body));
                }
                reject.respond(&self.metrics)
            }
        };
        self.metrics.time(Timer::OnPost, started.elapsed(), None);
        response
    }

    async fn submit<B>(
        &self,
        parts: http::request::Parts,
        body: &mut B,
        peer: Option<std::net::SocketAddr>,
        queue: &SaveQueue,
    ) -> Result<FullResponse, Reject>
    where
        B: Body + Unpin,
        B::Error: Into<BoxError>,
    {
        let head = request::check(&parts.headers, self.max_crash_size)?;
        let client = head
            .forwarded_for
            .clone()
            .or_else(|| peer.map(|peer| peer.ip().to_string()));
        if head.compressed {
            self.metrics.incr(Counter::GzippedCrash, None);
        }
        let limits = body::BodyLimits {
            max_size: self.max_crash_size,
            idle_timeout: self.body_idle_timeout,
        };
        // Held until the answer: the body's bytes count against the budget until then.
        let mut reservation = self.budget.reserve();
        let received = body::receive(body, &head, limits, &mut reservation, &self.metrics).await?;
        let mut extracted = match received.content {
            body::Content::Parts(parts) => extract::extract(parts)?,
            body::Content::RawMinidump(dump) => extract::raw_minidump(dump, parts.uri.query())?,
        };
        let inflated = extract::inflate_dumps(&mut extracted, self.max_crash_size)?;
        if !reservation.grow(inflated, body::BUDGET_PATIENCE).await {
            return Err(Reject::Overloaded);
        }
        self.metrics.incr(Counter::IncomingCrash, None);
        let from_submitter = match (&self.submitter_token, &head.bearer_token) {
            (Some(expected), Some(given)) => expected.matches(given.as_bytes()),
            _ => false,
        };
        let facts = Facts {
            compressed: head.compressed,
            wire_size: received.wire_size,
            user_agent: head.user_agent,
            from_submitter,
        };
        let (decision, verdict) =
            self.decide(extracted, &facts, Timestamp::now(), &mut rand::rng())?;
        self.metrics
            .incr(Counter::ThrottleRule, Some(("rule", verdict.rule)));
        self.metrics.incr(
            Counter::Throttle,
            Some(("result", verdict.outcome.as_str())),
        );
        match decision {
            Decision::Discard(rule) => Ok(response::text(
                StatusCode::OK,
                format!("Discarded=rule_{rule}"),
            )),
            Decision::FakeAccept(crash_id) => Ok(crash_id_response(&crash_id)),
            Decision::Save(crash) => {
                let crash_id = crash.crash_id.clone();
                tracing::info!(
                    "{crash_id} received; matched by {}; client {}",
                    verdict.rule,
                    client.as_deref().unwrap_or("unknown")
                );
                match queue.save(crash, verdict.outcome != Outcome::Defer).await {
                    Ok(_) => Ok(crash_id_response(&crash_id)),
                    Err(NotSaved::QueueFull) => Err(Reject::QueueFull),
                    Err(NotSaved::Failed) => Err(Reject::StorageFailed),
                }
            }
        }
    }

    /// Throttles, assigns the crash id and builds the raw crash. Pure: `now` and `rng` are
    /// the only sources of time and chance.
    pub fn decide(
        &self,
        extracted: Extracted,
        facts: &Facts,
        now: Timestamp,
        rng: &mut impl Rng,
    ) -> Result<(Decision<'_>, Verdict<'_>), Reject> {
        let Extracted {
            mut annotations,
            dumps,
            mut notes,
            payload,
            compressed_files: _,
        } = extracted;
        let verdict = self.throttler.throttle(&annotations, now.date(), rng);
        let kind = match verdict.outcome {
            Outcome::Defer => IdKind::Defer,
            Outcome::FakeAccept => IdKind::FakeAccept,
            _ => IdKind::Accept,
        };
        // A client may choose its crash id only with the submitter's token (re-submission
        // of a crash whose id is already known downstream).
        let crash_id = match annotations.get("uuid") {
            Some(_) if !facts.from_submitter => return Err(Reject::UnauthorizedUuid),
            Some(Value::String(text)) => {
                CrashId::parse_strict(text).map_err(|invalid| Reject::InvalidUuid(invalid.0))?
            }
            Some(other) => return Err(Reject::InvalidUuid(other.to_string())),
            None => CrashId::generate(rng, kind, now.date()),
        };
        match verdict.outcome {
            Outcome::Reject | Outcome::Continue => {
                return Ok((Decision::Discard(verdict.rule), verdict))
            }
            Outcome::FakeAccept => return Ok((Decision::FakeAccept(crash_id), verdict)),
            Outcome::Accept | Outcome::Defer => {}
        }
        for field in BAD_FIELDS {
            if annotations.remove(*field).is_some() {
                notes.push(format!("Removed {field} from raw crash."));
            }
        }
        let checksums: Map<String, Value> = dumps
            .iter()
            .map(|(name, bytes)| {
                (
                    name.clone(),
                    Value::String(digest::to_hex(&digest::sha256(bytes))),
                )
            })
            .collect();
        let metadata = json!({
            "collector_notes": notes,
            "dump_checksums": checksums,
            "payload": payload.as_str(),
            "payload_compressed": if facts.compressed { "1" } else { "0" },
            "payload_size": facts.wire_size,
            "throttle_rule": verdict.rule,
            "user_agent": facts.user_agent.as_deref().unwrap_or("None"),
        });
        annotations.insert("metadata".into(), metadata);
        annotations.insert("submitted_timestamp".into(), now.isoformat().into());
        annotations.insert("uuid".into(), crash_id.as_str().into());
        annotations.insert("version".into(), 2.into());
        let crash = CrashReport {
            crash_id,
            raw_crash: annotations,
            dumps,
        };
        Ok((Decision::Save(crash), verdict))
    }
}

fn crash_id_response(crash_id: &CrashId) -> FullResponse {
    response::text(StatusCode::OK, format!("CrashID=bp-{crash_id}\n"))
}
