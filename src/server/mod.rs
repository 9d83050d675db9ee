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

    /// The HTTP layer refused a request from `peer` before any handler saw it (a head it
    /// cannot parse: hyper has answered 400 or 431 itself).
    fn refused_by_http(&self, peer: SocketAddr, error: &hyper::Error) {
        let _ = (peer, error);
    }
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
