//! One acceptor: a thread running a current-thread tokio runtime that accepts on its own
//! listener and serves HTTP/1.1 connections with hyper.
//!
//! Thread-per-core keeps a request on one core from accept to answer: no work stealing, no
//! cross-thread wake-ups, and per-thread state (the gzip decompressor) needs no locks.

use std::convert::Infallible;
use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::http10::Http10Chunked;
use super::{Handler, Refusal};

/// Settings of every acceptor.
#[derive(Debug, Clone, Copy)]
pub struct AcceptorSettings {
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Time allowed for a request head (slow-loris defence).
    pub header_read_timeout: Duration,
    /// On shutdown, how long in-flight requests may take before connections are cut.
    pub shutdown_timeout: Duration,
}

/// Runs acceptor `index` on a current-thread runtime of the calling thread until `shutdown`
/// turns true, then lets in-flight requests finish.
pub fn run<H: Handler>(
    index: usize,
    listener: StdListener,
    handler: Arc<H>,
    settings: AcceptorSettings,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(index, listener, handler, settings, shutdown))
}

/// The accept loop of acceptor `index`, on whatever runtime polls it.
pub async fn serve<H: Handler>(
    index: usize,
    listener: StdListener,
    handler: Arc<H>,
    settings: AcceptorSettings,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    {
        let listener = TcpListener::from_std(listener)?;
        let local = Arc::new(handler.local(index));
        let slots = Arc::new(Semaphore::new(settings.max_connections));
        let graceful = GracefulShutdown::new();
        let mut backoff = Duration::from_millis(5);
        loop {
            let permit = tokio::select! {
                permit = Arc::clone(&slots).acquire_owned() => permit,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let Ok(permit) = permit else { break };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => {
                    backoff = Duration::from_millis(5);
                    accepted
                }
                Err(error) => {
                    // Out of file descriptors or memory: wait, doubling up to a second,
                    // rather than spin on an error that will repeat.
                    tracing::warn!("acceptor {index}: accept failed: {error}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            let refused = Arc::clone(&handler);
            let (handler, local) = (Arc::clone(&handler), Arc::clone(&local));
            let service = service_fn(move |request| {
                let (handler, local) = (Arc::clone(&handler), Arc::clone(&local));
                async move {
                    if let Some(refusal) = super::check_head(&request) {
                        handler.refused_by_http(peer, &refusal);
                        return Ok::<_, Infallible>(super::head_too_large());
                    }
                    Ok(handler.handle(request, peer, &local).await)
                }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                // `Content-Length`, not `content-length`: some reporters (Crashpad's socket
                // transport) look answer headers up by their exact, title-case name.
                .title_case_headers(true)
                .header_read_timeout(settings.header_read_timeout)
                .serve_connection(TokioIo::new(Http10Chunked::new(stream)), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                match connection.await {
                    Err(error) if error.is_parse() || error.is_parse_too_large() => {
                        refused.refused_by_http(peer, &Refusal::Parse(error));
                    }
                    Err(error) => tracing::debug!("connection ended: {error}"),
                    Ok(()) => {}
                }
                drop(permit);
            });
        }
        drop(listener);
        if tokio::time::timeout(settings.shutdown_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("acceptor {index}: connections still open after the shutdown timeout");
        }
        Ok(())
    }
}
