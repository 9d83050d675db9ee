//! Reading a submission body off the connection, under the size cap and the idle timeout,
//! into multipart parts.
//!
//! Plain multipart bodies stream straight into the multipart parser as chunks arrive, so the
//! boundary scan overlaps the upload and the body is copied once (into the parser's buffer,
//! sized from Content-Length). Gzip bodies are gathered, then inflated ([`crate::gzip`]) into
//! one buffer that the parser adopts without a copy. A bare minidump body is gathered and
//! becomes the dump as it is.

use std::time::{Duration, Instant};

use bytes::{Buf as _, Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Body;

use super::reject::Reject;
use super::request::{Form, Head};
use crate::budget::Reservation;
use crate::gzip::gunzip;
use crate::metrics::{Histogram, Metrics, Timer};
use crate::multipart::{self, Limits, Next, Parser, Part};
use crate::BoxError;

/// What a body holds, as its form says.
#[derive(Debug)]
pub enum Content {
    /// Every part of a multipart body, in order.
    Parts(Vec<Part>),
    /// A bare minidump (its `MDMP` magic checked).
    RawMinidump(Bytes),
}

/// The content of a body and what the raw crash's metadata says about it.
#[derive(Debug)]
pub struct Received {
    /// Parts or a bare minidump.
    pub content: Content,
    /// Bytes as received on the wire (the compressed size for gzip bodies).
    pub wire_size: usize,
}

/// Limits on reading one body.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Caps the wire bytes and the decompressed bytes alike (`ANTENNA_MAX_CRASH_SIZE`).
    pub max_size: usize,
    /// Longest wait for the next chunk (`ANTENNA_BODY_TIMEOUT_SECONDS`).
    pub idle_timeout: Duration,
}

impl BodyLimits {
    fn parser(self) -> Limits {
        Limits {
            max_body: self.max_size,
            ..Limits::default()
        }
    }
}

/// The first bytes of every minidump.
const MINIDUMP_MAGIC: &[u8] = b"MDMP";

/// Reads and parses `body`, holding its bytes in `budget`.
pub async fn receive<B>(
    body: &mut B,
    head: &Head,
    limits: BodyLimits,
    budget: &mut Reservation,
    metrics: &Metrics,
) -> Result<Received, Reject>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    match &head.form {
        Form::Multipart { boundary } if !head.compressed => {
            stream_multipart(body, boundary, head, limits, budget, metrics).await
        }
        form => receive_whole(body, form, head, limits, budget, metrics).await,
    }
}

/// A plain multipart body, parsed as its chunks arrive.
async fn stream_multipart<B>(
    body: &mut B,
    boundary: &str,
    head: &Head,
    limits: BodyLimits,
    budget: &mut Reservation,
    metrics: &Metrics,
) -> Result<Received, Reject>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    let expected = head.content_length.unwrap_or(0);
    let mut parser = Parser::with_capacity(boundary, limits.parser(), expected);
    let mut parts = Vec::new();
    read_chunks(body, limits.idle_timeout, budget, |chunk| {
        parser.feed(chunk)?;
        drain(&mut parser, &mut parts)
    })
    .await?;
    if parser.received() == 0 {
        return Err(Reject::NoContentLength);
    }
    parser.finish();
    drain(&mut parser, &mut parts)?;
    metrics.histogram(
        Histogram::CrashSize,
        parser.received() as u64,
        Some(("payload", "uncompressed")),
    );
    Ok(Received {
        content: Content::Parts(parts),
        wire_size: parser.received(),
    })
}

/// A body gathered whole: gzip inflates in one call, a bare minidump is one dump.
async fn receive_whole<B>(
    body: &mut B,
    form: &Form,
    head: &Head,
    limits: BodyLimits,
    budget: &mut Reservation,
    metrics: &Metrics,
) -> Result<Received, Reject>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    let expected = head.content_length.unwrap_or(0);
    let gathered = gather(body, expected, limits, budget).await?;
    let wire_size = gathered.len();
    let (decoded, payload) = if head.compressed {
        let inflated = inflate(&gathered, limits.max_size, budget, metrics).await?;
        (inflated, "compressed")
    } else {
        (gathered, "uncompressed")
    };
    metrics.histogram(
        Histogram::CrashSize,
        decoded.len() as u64,
        Some(("payload", payload)),
    );
    let content = match form {
        Form::RawMinidump if decoded.starts_with(MINIDUMP_MAGIC) => {
            Content::RawMinidump(decoded.freeze())
        }
        Form::RawMinidump => return Err(Reject::WrongContentType),
        Form::Multipart { boundary } => {
            Content::Parts(multipart::parse_all(boundary, decoded, limits.parser())?)
        }
    };
    Ok(Received { content, wire_size })
}

/// Reads the whole body into one buffer, grown as bytes arrive (a declared length costs
/// nothing until they do).
async fn gather<B>(
    body: &mut B,
    expected: usize,
    limits: BodyLimits,
    budget: &mut Reservation,
) -> Result<BytesMut, Reject>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    let max_size = limits.max_size;
    let mut gathered = BytesMut::with_capacity(expected.min(max_size).min(4 << 10));
    read_chunks(body, limits.idle_timeout, budget, |chunk| {
        if gathered.len() + chunk.len() > max_size {
            return Err(Reject::TooLarge(max_size));
        }
        gathered.extend_from_slice(chunk);
        Ok(())
    })
    .await?;
    if gathered.is_empty() {
        return Err(Reject::NoContentLength);
    }
    Ok(gathered)
}

/// Inflates a gzip body under the cap, timing it, and takes the inflated bytes from the
/// budget.
async fn inflate(
    compressed: &[u8],
    max_size: usize,
    budget: &mut Reservation,
    metrics: &Metrics,
) -> Result<BytesMut, Reject> {
    let started = Instant::now();
    let inflated = gunzip(compressed, max_size);
    let result = if inflated.is_ok() { "success" } else { "fail" };
    metrics.time(
        Timer::GzippedCrashDecompress,
        started.elapsed(),
        Some(("result", result)),
    );
    let inflated = inflated?;
    if !budget.grow(inflated.len(), BUDGET_PATIENCE).await {
        return Err(Reject::Overloaded);
    }
    Ok(inflated)
}

/// Pulls every complete part out of the parser.
fn drain(parser: &mut Parser, parts: &mut Vec<Part>) -> Result<(), Reject> {
    loop {
        match parser.next_part()? {
            Next::Part(part) => parts.push(part),
            Next::NeedMore | Next::End => return Ok(()),
        }
    }
}

/// After an early answer, the rest of a body is read and thrown away until the client is
/// silent this long...
const LINGER_SILENCE: Duration = Duration::from_secs(5);
/// ...or for this long in all (nginx's lingering close uses the same figures).
const LINGER_TOTAL: Duration = Duration::from_secs(30);

/// Reads what the client still sends of `body` and throws it away, bounded by time (not
/// bytes): a client that writes its whole body before reading — as most HTTP libraries do —
/// then reads the answer it was given early instead of a reset connection. Memory stays
/// flat: each frame is dropped as it arrives.
pub async fn discard_rest<B>(mut body: B)
where
    B: Body + Unpin,
{
    let started = Instant::now();
    let mut discarded = 0usize;
    loop {
        let left = LINGER_TOTAL.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(LINGER_SILENCE.min(left), body.frame()).await {
            Ok(Some(Ok(frame))) => discarded += frame.data_ref().map_or(0, |d| d.remaining()),
            _ => break,
        }
    }
    tracing::debug!("discarded {discarded} body bytes after an early answer");
}

/// How long a request waits for room in the in-flight budget before it is refused.
pub const BUDGET_PATIENCE: Duration = Duration::from_secs(2);

/// Feeds every data frame of `body` to `sink`, with `idle` as the longest wait per frame;
/// each frame's bytes are taken from `budget` first.
async fn read_chunks<B>(
    body: &mut B,
    idle: Duration,
    budget: &mut Reservation,
    mut sink: impl FnMut(&[u8]) -> Result<(), Reject>,
) -> Result<(), Reject>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(Reject::BodyTimeout),
            Ok(None) => return Ok(()),
            // The client closed early (body shorter than its Content-Length) or broke the
            // chunked framing.
            Ok(Some(Err(error))) => return Err(Reject::BodyBroken(error.into())),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Some(data) = frame.data_ref() {
            if !budget.grow(data.remaining(), BUDGET_PATIENCE).await {
                return Err(Reject::Overloaded);
            }
            sink(data.chunk())?;
        }
    }
}
