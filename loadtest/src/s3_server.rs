//! A local S3 server for the S3 scenario: the `s3s` service over the `s3s-fs` backend (the
//! same as the `s3s-fs` binary: SigV4 checks, multipart uploads, checksums), serving one
//! bucket in a directory. It runs as its own process, so the collector's CPU figures do not
//! include it.

use std::net::SocketAddr;
use std::path::Path;

/// The credentials the server accepts (pass them to the collector).
pub const ACCESS_KEY: &str = "antenna-bench";
/// See [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "antenna-bench-secret";

/// Serves `bucket` from `root` on `listen` with `threads` runtime threads until killed;
/// prints `listening on <addr>` once bound.
pub fn run(listen: SocketAddr, root: &Path, bucket: &str, threads: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(root.join(bucket))?;
    let backend =
        s3s_fs::FileSystem::new(root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let mut builder = s3s::service::S3ServiceBuilder::new(backend);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    crate::sink::serve(listen, threads, builder.build())
}
