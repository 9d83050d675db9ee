//! The null sink: the least any HTTP server must do for a crash — read the request and its
//! body, throw the body away, answer a fixed `CrashID`. Its rate on this machine is the
//! physical limit the collector's rate is compared with.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const ANSWER: &[u8] = b"CrashID=bp-00000000-0000-4000-8000-000000261127\n";

async fn discard(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut body = request.into_body();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
    let mut response = Response::new(Full::new(Bytes::from_static(ANSWER)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    Ok(response)
}

/// Serves on `listen` with `threads` runtime threads until killed; prints
/// `listening on <addr>` once bound.
pub fn run(listen: SocketAddr, threads: usize) -> std::io::Result<()> {
    serve(listen, threads, service_fn(discard))
}

/// Serves HTTP/1.1 with `service` on `listen`, on `threads` runtime threads, until killed;
/// prints `listening on <addr>` once bound (the harness's own servers: this sink and the
/// S3 scenario's server).
pub fn serve<S, B>(listen: SocketAddr, threads: usize, service: S) -> std::io::Result<()>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let service = service.clone();
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
