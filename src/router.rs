//! The collector's routes, served by the acceptors: exact paths, as Antenna (Falcon) routes
//! them. Unknown path: 404; known path, wrong method: 405 with `Allow`.

use std::net::SocketAddr;

use http::{header, HeaderValue, Method, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use crate::app::App;
use crate::crashmover::SaveQueue;
use crate::response::{self, FullResponse};
use crate::server::Handler;

impl Handler for App {
    type Local = SaveQueue;

    fn local(&self, index: usize) -> SaveQueue {
        self.submitter.save_queue(index)
    }

    async fn handle(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
        queue: &SaveQueue,
    ) -> FullResponse {
        route(request, peer, self, queue).await
    }

    fn refused_by_http(&self, peer: SocketAddr, refusal: &crate::server::Refusal) {
        self.submitter.refused_by_http(peer, refusal);
    }
}

async fn route(
    request: Request<Incoming>,
    peer: SocketAddr,
    app: &App,
    queue: &SaveQueue,
) -> FullResponse {
    crate::fault::point("route");
    let allowed = match request.uri().path() {
        "/submit" => Method::POST,
        "/__lbheartbeat__" | "/__heartbeat__" | "/__version__" => Method::GET,
        "/__broken__" if app.health.broken_enabled() => Method::GET,
        _ => return response::json(StatusCode::NOT_FOUND, &json!({"title": "404 Not Found"})),
    };
    if request.method() != allowed {
        let mut response = response::json(
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
        "/submit" => app.submitter.handle(request, Some(peer), queue).await,
        "/__lbheartbeat__" => app.health.lbheartbeat(),
        "/__heartbeat__" => app.health.heartbeat().await,
        "/__version__" => app.health.version(),
        _ => app.health.broken(request.headers()),
    }
}
