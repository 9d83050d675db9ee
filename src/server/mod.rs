//! The HTTP front: listeners, acceptor threads, graceful stop. It knows nothing of
//! crashes: it serves any [`Handler`].
//!
//! Socket setup ([`listener`]) and the accept loop ([`acceptor`]) are kept apart from
//! request logic (the handler: the collector's is `app::App`).

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use hyper::body::Incoming;
use tokio::sync::watch;

use crate::config::RuntimeModel;
use crate::response::FullResponse;

pub mod acceptor;
pub mod http10;
pub mod listener;

pub use acceptor::AcceptorSettings;

/// What the acceptors serve: a request and the facts of its connection in, an answer out.
pub trait Handler: Send + Sync + 'static {
    /// State each acceptor owns and shares between its connections (the collector's: the
    /// acceptor's own save queue).
    type Local: Send + Sync + 'static;

    /// The state of acceptor `index` (`0..listeners`).
    fn local(&self, index: usize) -> Self::Local;

    /// Answers one request that arrived from `peer` on the acceptor owning `local`.
    fn handle<'a>(
        &'a self,
        request: http::Request<Incoming>,
        peer: SocketAddr,
        local: &'a Self::Local,
    ) -> impl Future<Output = FullResponse> + Send + 'a;

    /// The HTTP layer refused a request from `peer` before any handler saw it (it has
    /// answered 400 or 431 itself).
    fn refused_by_http(&self, peer: SocketAddr, refusal: &Refusal) {
        let _ = (peer, refusal);
    }
}

/// Largest request head (request line and headers) a handler is given. Crash reporters send
/// well under 8 KiB; nginx's default buffers take 32 KiB in all.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Why the HTTP layer refused a request before any handler saw it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// hyper could not parse the head (bad request line or header, or far too large).
    #[error(transparent)]
    Parse(hyper::Error),
    /// The head parsed but is larger than [`MAX_HEAD_BYTES`].
    #[error("request head of {size} bytes is over the {MAX_HEAD_BYTES}-byte limit")]
    HeadTooLarge {
        /// The head's size as sent, give or take the spaces around header values.
        size: usize,
    },
}

/// [`Refusal::HeadTooLarge`] for a head over [`MAX_HEAD_BYTES`]. hyper's own limit is its
/// read buffer (about 400 KiB), which a head may overshoot by a read's worth.
fn check_head<B>(request: &http::Request<B>) -> Option<Refusal> {
    let uri = request.uri();
    let target = uri
        .path_and_query()
        .map_or(1, |target| target.as_str().len())
        + uri
            .authority()
            .map_or(0, |authority| authority.as_str().len());
    let line = request.method().as_str().len() + target + 11;
    let size = request.headers().iter().fold(line, |size, (name, value)| {
        size + name.as_str().len() + value.len() + 4
    });
    (size > MAX_HEAD_BYTES).then_some(Refusal::HeadTooLarge { size })
}

/// The answer to [`Refusal::HeadTooLarge`]: hyper's own for heads too large to parse.
fn head_too_large() -> FullResponse {
    let mut response = crate::response::text(http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "");
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

/// The running acceptor threads.
#[derive(Debug)]
pub struct Acceptors {
    threads: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Acceptors {
    /// Starts the acceptors: a thread with its own runtime per listener (`PerCore`), or one
    /// multi-threaded runtime polling every listener's accept loop (`Shared`).
    pub fn start<H: Handler>(
        listeners: Vec<TcpListener>,
        handler: &Arc<H>,
        settings: AcceptorSettings,
        model: RuntimeModel,
    ) -> std::io::Result<Acceptors> {
        let (stop, stopped) = watch::channel(false);
        if model == RuntimeModel::Shared {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(listeners.len().max(1))
                .thread_name("acceptor")
                .enable_all()
                .build()?;
            let handler = Arc::clone(handler);
            let thread = std::thread::Builder::new()
                .name("acceptors".into())
                .spawn(move || {
                    runtime.block_on(async move {
                        let mut loops = tokio::task::JoinSet::new();
                        for (index, listener) in listeners.into_iter().enumerate() {
                            let serve = acceptor::serve(
                                index,
                                listener,
                                Arc::clone(&handler),
                                settings,
                                stopped.clone(),
                            );
                            loops.spawn(serve);
                        }
                        while let Some(done) = loops.join_next().await {
                            if let Ok(Err(error)) = done {
                                tracing::error!("acceptor failed: {error}");
                            }
                        }
                    });
                })?;
            return Ok(Acceptors {
                threads: vec![thread],
                stop,
            });
        }
        let mut threads = Vec::with_capacity(listeners.len());
        for (index, listener) in listeners.into_iter().enumerate() {
            let handler = Arc::clone(handler);
            let stopped = stopped.clone();
            let thread = std::thread::Builder::new()
                .name(format!("acceptor-{index}"))
                .spawn(move || {
                    if let Err(error) = acceptor::run(index, listener, handler, settings, stopped) {
                        tracing::error!("acceptor {index} failed: {error}");
                    }
                })?;
            threads.push(thread);
        }
        Ok(Acceptors { threads, stop })
    }

    /// Stops accepting, lets in-flight requests finish (up to the shutdown timeout), and
    /// waits for every acceptor thread.
    pub fn shutdown(self) {
        let _ = self.stop.send(true);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// The address the listeners are bound to (the real port when 0 was asked for).
pub fn local_addr(listeners: &[TcpListener]) -> std::io::Result<SocketAddr> {
    listeners
        .first()
        .ok_or_else(|| std::io::Error::other("no listener"))?
        .local_addr()
}
