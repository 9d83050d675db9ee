//! TLS for tests: a throwaway CA with a leaf certificate for 127.0.0.1 / localhost, and
//! real nginx processes (stopped on drop) — the shipped config, or a bare TLS-terminating
//! `stream` proxy put in front of a plain-TCP test server.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, program};

/// Runs `command` and panics with its stderr unless it succeeds.
pub fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Writes `ca.pem` (the CA), `fullchain.pem` and `privkey.pem` (the leaf) into `dir`.
pub fn make_certificates(dir: &Path) {
    let path = |name: &str| dir.join(name).display().to_string();
    run(Command::new(program("openssl"))
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=antenna test CA",
            "-keyout",
            &path("ca.key"),
            "-out",
            &path("ca.pem"),
        ]));
    run(Command::new(program("openssl"))
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-keyout", &path("privkey.pem"), "-out", &path("leaf.csr")]));
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    run(Command::new(program("openssl"))
        .args(["x509", "-req", "-days", "1", "-in", &path("leaf.csr")])
        .args([
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
        ])
        .args([
            "-extfile",
            &path("leaf.ext"),
            "-out",
            &path("fullchain.pem"),
        ]));
}

/// A running nginx, stopped (QUIT, then KILL) on drop.
pub struct Nginx(Child);

impl Nginx {
    /// Checks `config` with `nginx -t`, starts nginx on it in the foreground and waits
    /// until every port in `ports` accepts connections.
    pub fn start(config: &Path, ports: &[u16]) -> Nginx {
        run(Command::new(program("nginx")).args(["-t", "-c", &config.display().to_string()]));
        let nginx = Nginx(
            Command::new(program("nginx"))
                .args(["-c", &config.display().to_string(), "-g", "daemon off;"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        for &port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "nginx did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        nginx
    }

    /// TLS on a new loopback port (certificates from [`make_certificates`] in `dir`),
    /// passed through as plain TCP to `upstream`. Returns nginx and the TLS port.
    pub fn tls_in_front_of(dir: &Path, upstream: u16) -> (Nginx, u16) {
        let port = free_port();
        let d = dir.display();
        let config = format!(
            "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log;\n\
             events {{}}\n\
             stream {{\n\
                 server {{\n\
                     listen 127.0.0.1:{port} ssl;\n\
                     ssl_certificate {d}/fullchain.pem;\n\
                     ssl_certificate_key {d}/privkey.pem;\n\
                     proxy_pass 127.0.0.1:{upstream};\n\
                 }}\n\
             }}\n"
        );
        let path = dir.join("nginx-tls.conf");
        std::fs::write(&path, config).unwrap();
        run(Command::new("chmod").args(["755", &d.to_string()]));
        (Nginx::start(&path, &[port]), port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-QUIT", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
