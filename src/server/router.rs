//! Routing: exact paths, as Antenna (Falcon) routes them. Unknown path: 404; known path,
//! wrong method: 405 with `Allow`.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use serde_json::json;

use crate::app::App;
use crate::health::json_response;

/// Answers one request. `queue` is the acceptor's save queue.
pub async fn route<B>(request: Request<B>, app: &App, queue: usize) -> Response<Full<Bytes>>
where
    B: Body + Unpin,
    B::Error: std::fmt::Display,
{
    let allowed = match request.uri().path() {
        "/submit" => Method::POST,
        "/__lbheartbeat__" | "/__heartbeat__" | "/__version__" => Method::GET,
        "/__broken__" if app.health.broken_enabled() => Method::GET,
        _ => return json_response(StatusCode::NOT_FOUND, &json!({"title": "404 Not Found"})),
    };
    if request.method() != allowed {
        let mut response = json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"title": "405 Method Not Allowed"}),
        );
        let allow = HeaderValue::from_static(if allowed == Method::POST {
            "POST"
        } else {
            "GET"
        });
        response.headers_mut().insert(header::ALLOW, allow);
        return response;
    }
    match request.uri().path() {
        "/submit" => app.submitter.handle(request, queue).await,
        "/__lbheartbeat__" => app.health.lbheartbeat(),
        "/__heartbeat__" => app.health.heartbeat().await,
        "/__version__" => app.health.version(),
        _ => app.health.broken(request.headers()),
    }
}
