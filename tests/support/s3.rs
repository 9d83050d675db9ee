//! A real S3-protocol server for tests: the `s3s` service over the `s3s-fs` backend (the
//! same code as the `s3s-fs` binary: SigV4 checks, multipart uploads), served inside the test
//! process on a loopback port, over a temporary directory. Objects are plain files at
//! `<dir>/<bucket>/<key>`, so tests read what was stored directly.
//!
//! Outages are real at the socket: [`S3Server::stop`] closes the listener and every open
//! connection (as a killed server would), [`S3Server::pause`] keeps accepting connections
//! and reading requests but answers nothing until resumed (as a stopped process would).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::TempDir;

pub const BUCKET: &str = "crashes";
pub const ACCESS_KEY: &str = "antenna-test";
pub const SECRET_KEY: &str = "antenna-test-secret";

/// A request as the server received it: method, path and headers (bodies are not kept).
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub headers: http::HeaderMap,
}

pub struct S3Server {
    pub addr: SocketAddr,
    pub dir: TempDir,
    /// Every request received, in order.
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
    runtime: Option<tokio::runtime::Runtime>,
    /// The accept loop; it owns the connections, so aborting it closes them all.
    serving: Option<JoinHandle<()>>,
    paused: watch::Sender<bool>,
}

impl S3Server {
    /// Starts a server with the test bucket.
    pub fn start() -> S3Server {
        let dir = TempDir::new();
        std::fs::create_dir_all(dir.0.join(BUCKET)).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let mut server = S3Server {
            addr,
            dir,
            seen: Arc::default(),
            runtime: Some(runtime),
            serving: None,
            paused: watch::channel(false).0,
        };
        server.serve(listener);
        server
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("runtime until drop")
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let backend = s3s_fs::FileSystem::new(&self.dir.0).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(backend);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let s3 = builder.build();
        let paused = self.paused.subscribe();
        let seen = Arc::clone(&self.seen);
        self.serving = Some(self.runtime().spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    // Out of descriptors, say: wait instead of spinning on the error.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let s3 = s3.clone();
                let paused = paused.clone();
                let seen = Arc::clone(&seen);
                let service = hyper::service::service_fn(move |request: http::Request<_>| {
                    let s3 = s3.clone();
                    let mut paused = paused.clone();
                    seen.lock().unwrap().push(SeenRequest {
                        method: request.method().to_string(),
                        path: request.uri().path().to_owned(),
                        headers: request.headers().clone(),
                    });
                    async move {
                        let _ = paused.wait_for(|paused| !*paused).await;
                        hyper::service::Service::call(&s3, request).await
                    }
                });
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
                // Reap finished connections so the set does not grow over a long test.
                while connections.try_join_next().is_some() {}
            }
        }));
    }

    /// Starts (again) on the same port and directory.
    pub fn restart(&mut self) {
        self.stop();
        let listener = self
            .runtime()
            .block_on(tokio::net::TcpListener::bind(self.addr))
            .unwrap();
        self.serve(listener);
    }

    /// Closes the listener and every connection (S3 outage).
    pub fn stop(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.abort();
            let _ = self.runtime().block_on(serving);
        }
    }

    /// Paused: connections are accepted and requests read, but nothing is answered.
    pub fn pause(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Collector settings that store into this server's bucket.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CRASHMOVER_CRASHSTORAGE_CLASS", "s3".into()),
            ("CRASHMOVER_CRASHSTORAGE_BUCKET_NAME", BUCKET.into()),
            ("CRASHMOVER_CRASHSTORAGE_REGION", "us-east-1".into()),
            ("CRASHMOVER_CRASHSTORAGE_ENDPOINT_URL", self.endpoint()),
            ("CRASHMOVER_CRASHSTORAGE_ACCESS_KEY", ACCESS_KEY.into()),
            (
                "CRASHMOVER_CRASHSTORAGE_SECRET_ACCESS_KEY",
                SECRET_KEY.into(),
            ),
        ]
    }

    /// The bytes of object `key`, if stored.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.0.join(BUCKET).join(key)).ok()
    }

    /// Every object key in the bucket, sorted.
    pub fn keys(&self) -> Vec<String> {
        let root = self.dir.0.join(BUCKET);
        let mut keys = Vec::new();
        super::walk(&root, &mut |path| {
            keys.push(path.strip_prefix(&root).unwrap().display().to_string())
        });
        keys.sort();
        keys
    }

    /// Files of the server outside the bucket (metadata, in-progress uploads).
    pub fn server_files(&self) -> Vec<String> {
        std::fs::read_dir(&self.dir.0)
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name != BUCKET)
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}
