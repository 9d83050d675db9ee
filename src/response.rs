//! Building plain answers: the response helpers every handler shares.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;

/// An answer with a complete body.
pub type FullResponse = Response<Full<Bytes>>;

/// `text/plain` answer with `body`.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> FullResponse {
    with_type(status, body.into(), "text/plain")
}

/// `application/json` answer with `body`.
pub fn json(status: StatusCode, body: &Value) -> FullResponse {
    with_type(
        status,
        Bytes::from(body.to_string()),
        "application/json; charset=utf-8",
    )
}

fn with_type(status: StatusCode, body: Bytes, content_type: &'static str) -> FullResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
