//! Every way a submission can fail, and the one place that turns a failure into an answer:
//! status, `Discarded=` body, headers, metric and log level (SPEC §2, "Answers").

use http::{header, HeaderValue, StatusCode};

use crate::gzip::GzipError;
use crate::metrics::{Counter, Metrics};
use crate::multipart;
use crate::response::{self, FullResponse};
use crate::BoxError;

/// A submission we do not keep. The variant decides the whole answer ([`Reject::respond`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Reject {
    /// No `Content-Type` header.
    #[error("no content type")]
    NoContentType,
    /// Not `multipart/form-data` or `multipart/mixed`.
    #[error("wrong content type")]
    WrongContentType,
    /// No usable `boundary=` parameter (missing, empty, or over 70 characters).
    #[error("no boundary")]
    NoBoundary,
    /// `Content-Length: 0`, or no body at all.
    #[error("no content length")]
    NoContentLength,
    /// `Content-Encoding: gzip` over a body that is not gzip.
    #[error("bad gzip: {0}")]
    BadGzip(#[source] GzipError),
    /// Not multipart for the declared boundary (or truncated, or junk).
    #[error("invalid payload structure: {0}")]
    InvalidPayloadStructure(#[source] multipart::Error),
    /// The body ended before its declared length, or its chunked framing is broken.
    #[error("invalid payload structure: reading body: {0}")]
    BodyBroken(#[source] BoxError),
    /// The JSON annotations part is not valid UTF-8 JSON.
    #[error("invalid json: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// The JSON annotations part is JSON but not an object.
    #[error("json is not an object")]
    InvalidJsonValue,
    /// Not a single annotation.
    #[error("no annotations")]
    NoAnnotations,
    /// A dump named like one of the storage's own objects.
    #[error("invalid dump name {0:?}")]
    InvalidDumpName(String),
    /// A client-chosen `uuid` without the submitter's bearer token.
    #[error("uuid annotation without the submitter token")]
    UnauthorizedUuid,
    /// A trusted submitter's `uuid` that is not a valid crash id.
    #[error("invalid uuid {0:?}")]
    InvalidUuid(String),
    /// Body over `ANTENNA_MAX_CRASH_SIZE`, before or after decompression.
    #[error("crash larger than {0} bytes")]
    TooLarge(usize),
    /// The client went silent mid-body for longer than `ANTENNA_BODY_TIMEOUT_SECONDS`.
    #[error("body timed out")]
    BodyTimeout,
    /// Storage kept failing after every retry; the client keeps its crash and retries.
    #[error("storage failed")]
    StorageFailed,
    /// Every save queue slot is taken: back-pressure.
    #[error("save queue full")]
    QueueFull,
    /// The in-flight body budget (`ANTENNA_MAX_INFLIGHT_BYTES`) stayed full: back-pressure.
    #[error("in-flight body budget full")]
    Overloaded,
}

/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 5;

impl From<multipart::Error> for Reject {
    fn from(error: multipart::Error) -> Reject {
        match error {
            multipart::Error::TooLarge { limit } => Reject::TooLarge(limit),
            other => Reject::InvalidPayloadStructure(other),
        }
    }
}

impl From<GzipError> for Reject {
    fn from(error: GzipError) -> Reject {
        match error {
            GzipError::TooLarge { limit } => Reject::TooLarge(limit),
            other => Reject::BadGzip(other),
        }
    }
}

impl Reject {
    /// HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Reject::UnauthorizedUuid => StatusCode::UNAUTHORIZED,
            Reject::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Reject::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Reject::StorageFailed => StatusCode::INTERNAL_SERVER_ERROR,
            Reject::QueueFull | Reject::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The `malformed` metric's reason tag (the code without `malformed_`), or `None` for
    /// failures that are not the client's input.
    pub fn reason(&self) -> Option<&'static str> {
        Some(match self {
            Reject::NoContentType => "no_content_type",
            Reject::WrongContentType => "wrong_content_type",
            Reject::NoBoundary => "no_boundary",
            Reject::NoContentLength => "no_content_length",
            Reject::BadGzip(_) => "bad_gzip",
            Reject::InvalidPayloadStructure(_) | Reject::BodyBroken(_) => {
                "invalid_payload_structure"
            }
            Reject::InvalidJson(_) => "invalid_json",
            Reject::InvalidJsonValue => "invalid_json_value",
            Reject::NoAnnotations => "no_annotations",
            Reject::InvalidDumpName(_) => "invalid_dump_name",
            Reject::InvalidUuid(_) => "invalid_uuid",
            Reject::TooLarge(_) => "too_large",
            Reject::UnauthorizedUuid
            | Reject::BodyTimeout
            | Reject::StorageFailed
            | Reject::QueueFull
            | Reject::Overloaded => return None,
        })
    }

    /// The answer body. Server-side failures answer empty, so a client never mistakes them
    /// for a verdict on its crash.
    pub fn body(&self) -> String {
        match self {
            Reject::UnauthorizedUuid => "Discarded=unauthorized_uuid".to_owned(),
            Reject::BodyTimeout
            | Reject::StorageFailed
            | Reject::QueueFull
            | Reject::Overloaded => String::new(),
            other => format!(
                "Discarded=malformed_{}",
                other.reason().unwrap_or("unknown")
            ),
        }
    }

    /// Whether the failure is ours (logged at error) rather than the client's (logged at
    /// info: a flood of bad clients must not drown the log).
    pub fn is_server_error(&self) -> bool {
        self.status().is_server_error()
    }

    /// The whole answer: counts the refusal, logs it at its level, and builds the response
    /// with its headers.
    pub fn respond(&self, metrics: &Metrics) -> FullResponse {
        if let Some(reason) = self.reason() {
            metrics.incr(Counter::Malformed, Some(("reason", reason)));
        } else if matches!(self, Reject::UnauthorizedUuid) {
            metrics.incr(Counter::UnauthorizedUuid, None);
        }
        if self.is_server_error() {
            tracing::error!("submit failed: {self}");
        } else {
            tracing::info!("submit discarded: {self}");
        }
        let mut answer = response::text(self.status(), self.body());
        // The body may be partly unread: the connection cannot be reused.
        answer
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        if matches!(self, Reject::QueueFull | Reject::Overloaded) {
            answer
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_match_the_spec_table() {
        let table = [
            (
                Reject::NoContentType,
                400,
                "Discarded=malformed_no_content_type",
            ),
            (
                Reject::WrongContentType,
                400,
                "Discarded=malformed_wrong_content_type",
            ),
            (Reject::NoBoundary, 400, "Discarded=malformed_no_boundary"),
            (
                Reject::NoContentLength,
                400,
                "Discarded=malformed_no_content_length",
            ),
            (
                Reject::BadGzip(GzipError::Damaged),
                400,
                "Discarded=malformed_bad_gzip",
            ),
            (
                Reject::InvalidPayloadStructure(multipart::Error::Truncated),
                400,
                "Discarded=malformed_invalid_payload_structure",
            ),
            (
                Reject::BodyBroken("connection closed".into()),
                400,
                "Discarded=malformed_invalid_payload_structure",
            ),
            (
                Reject::InvalidJson(serde_json::from_str::<u8>("x").unwrap_err()),
                400,
                "Discarded=malformed_invalid_json",
            ),
            (
                Reject::InvalidJsonValue,
                400,
                "Discarded=malformed_invalid_json_value",
            ),
            (
                Reject::NoAnnotations,
                400,
                "Discarded=malformed_no_annotations",
            ),
            (
                Reject::InvalidDumpName("raw_crash".into()),
                400,
                "Discarded=malformed_invalid_dump_name",
            ),
            (Reject::UnauthorizedUuid, 401, "Discarded=unauthorized_uuid"),
            (
                Reject::InvalidUuid("x".into()),
                400,
                "Discarded=malformed_invalid_uuid",
            ),
            (Reject::TooLarge(1), 413, "Discarded=malformed_too_large"),
            (Reject::StorageFailed, 500, ""),
            (Reject::QueueFull, 503, ""),
            (Reject::Overloaded, 503, ""),
        ];
        for (reject, status, body) in table {
            assert_eq!(reject.status().as_u16(), status, "{reject:?}");
            assert_eq!(reject.body(), body, "{reject:?}");
            let answer = reject.respond(&Metrics::disabled());
            assert_eq!(answer.status().as_u16(), status, "{reject:?}");
            assert_eq!(answer.headers()[header::CONNECTION], "close");
            assert_eq!(
                answer.headers().contains_key(header::RETRY_AFTER),
                status == 503,
                "{reject:?}"
            );
        }
    }
}
