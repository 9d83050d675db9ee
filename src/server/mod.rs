//! The HTTP front: listeners, acceptor threads, routing, graceful stop.
//!
//! Socket setup ([`listener`]) and the accept loop ([`acceptor`]) are kept apart from
//! request logic ([`router`] and the handlers it calls).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::app::App;

pub mod acceptor;
pub mod listener;
pub mod router;

pub use acceptor::AcceptorSettings;

/// The running acceptor threads.
#[derive(Debug)]
pub struct Acceptors {
    threads: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Acceptors {
    /// Starts one acceptor thread per listener.
    pub fn start(
        listeners: Vec<TcpListener>,
        app: &Arc<App>,
        settings: AcceptorSettings,
    ) -> std::io::Result<Acceptors> {
        let (stop, stopped) = watch::channel(false);
        let mut threads = Vec::with_capacity(listeners.len());
        for (index, listener) in listeners.into_iter().enumerate() {
            let app = Arc::clone(app);
            let stopped = stopped.clone();
            let thread = std::thread::Builder::new()
                .name(format!("acceptor-{index}"))
                .spawn(move || {
                    if let Err(error) = acceptor::run(index, listener, app, settings, stopped) {
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
