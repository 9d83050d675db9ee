//! The deployment of `tuning/`: real nginx (TLS, limits, forwarding) in front of the real
//! collector on loopback, and the systemd unit through its validator.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::tls::{make_certificates, run, Nginx};
use support::*;

/// The loopback ports the test nginx listens on.
#[derive(Clone, Copy)]
struct Ports {
    https: u16,
    http: u16,
    /// The stream (TLS pass-through) port for Crashpad's socket transport.
    stream: u16,
}

/// `tuning/nginx.conf` with only the host-specific parts moved into `dir`: certificate
/// paths, listen ports (loopback), the upstream port, pid, logs and temp paths.
fn test_config(dir: &Path, ports: Ports, upstream: u16) -> std::path::PathBuf {
    let Ports {
        https,
        http,
        stream,
    } = ports;
    let original =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/nginx.conf"))
            .unwrap();
    let d = dir.display();
    let config = original
        .replace("/etc/ssl/antenna/", &format!("{d}/"))
        .replace("listen 443 ssl http2;", &format!("listen 127.0.0.1:{https} ssl http2;"))
        .replace("listen [::]:443 ssl http2;", "")
        .replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
        .replace("listen [::]:80;", "")
        .replace("server 127.0.0.1:8000;", &format!("server 127.0.0.1:{upstream};"))
        .replace("listen 8443 ssl;", &format!("listen 127.0.0.1:{stream} ssl;"))
        .replace("listen [::]:8443 ssl;", "")
        .replace("pid /run/nginx.pid;", &format!("pid {d}/nginx.pid;"))
        .replace("/var/log/nginx/", &format!("{d}/"))
        .replace(
            "client_body_buffer_size 1m;",
            &format!("client_body_buffer_size 1m;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;"),
        );
    assert!(!config.contains("/etc/ssl") && config.contains(&format!("127.0.0.1:{upstream}")));
    assert_eq!(config.matches(&format!("127.0.0.1:{upstream}")).count(), 2);
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config).unwrap();
    path
}

fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new(support::program("curl"))
        .args(["-sS", "--max-time", "60", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// A multipart body of exactly `size` bytes (an annotation and a padded dump).
fn body_of_size(size: usize) -> Vec<u8> {
    let empty = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", b"")
        .build();
    let dump = vec![b'M'; size - empty.len()];
    let body = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", &dump)
        .build();
    assert_eq!(body.len(), size);
    body
}

/// The shipped nginx config (rewritten by [`test_config`]) running in front of `collector`,
/// once every port takes connections.
fn start_nginx(dir: &Path, collector: &Collector) -> (Nginx, Ports) {
    let ports = Ports {
        https: free_port(),
        http: free_port(),
        stream: free_port(),
    };
    let config = test_config(dir, ports, collector.addr.port());
    for temp in ["body", "proxy"] {
        std::fs::create_dir_all(dir.join(temp)).unwrap();
        run(Command::new("chmod").args(["777", &dir.join(temp).display().to_string()]));
    }
    run(Command::new("chmod").args(["755", &dir.display().to_string()]));
    let nginx = Nginx::start(&config, &[ports.https, ports.http, ports.stream]);
    (nginx, ports)
}

#[test]
fn crashpad_socket_clients_through_the_stream_port() {
    // The http module refuses Crashpad's HTTP/1.0 chunked request; the stream port takes it
    // (TLS ends in nginx, bytes pass through) and the collector stores the crash.
    let dir = TempDir::new();
    make_certificates(&dir.0);
    let collector = Collector::start(&[]);
    let (_nginx, ports) = start_nginx(&dir.0, &collector);
    let dump = corpus("minidumps/breakpad__minidump_crashpad_annotation.dmp");
    let form = gzip(&crashpad::form(&dump));
    let content_type = format!("multipart/form-data; boundary={}", crashpad::BOUNDARY);
    let request = crashpad::socket_transport_request(
        &form,
        &[
            ("Content-Type", &content_type),
            ("Content-Encoding", "gzip"),
        ],
    );
    let request_file = dir.0.join("crashpad.request");
    std::fs::write(&request_file, &request).unwrap();
    let over_tls = |port: u16| {
        // s_client writes the request, keeps reading after its end (-ign_eof) until the
        // server closes, and prints only what the server sent (-quiet).
        let output = Command::new(support::program("openssl"))
            .args(["s_client", "-quiet", "-ign_eof", "-verify_return_error"])
            .args(["-CAfile", &dir.0.join("ca.pem").display().to_string()])
            .args(["-connect", &format!("127.0.0.1:{port}")])
            .stdin(std::fs::File::open(&request_file).unwrap())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        output.stdout
    };
    let (answer, closed) = crashpad::read_answer(&over_tls(ports.stream)[..]);
    assert!(closed);
    let id = answer
        .strip_prefix("CrashID=bp-")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{answer:?}"));
    assert!(collector.dump("upload_file_minidump", id) == dump);
    // The same bytes on the https port: nginx's http module refuses them itself.
    let refused = String::from_utf8_lossy(&over_tls(ports.https)).into_owned();
    assert!(refused.starts_with("HTTP/1.1 400 "), "{refused}");
}

#[test]
fn crashes_over_tls_through_the_shipped_nginx_config() {
    let dir = TempDir::new();
    make_certificates(&dir.0);
    let collector = Collector::start(&[
        ("ANTENNA_BROKEN_CREDENTIALS", "ops:secret"),
        ("ANTENNA_MAX_CRASH_SIZE", "25MiB"),
    ]);
    let (nginx, Ports { https, http, .. }) = start_nginx(&dir.0, &collector);
    let base = format!("https://127.0.0.1:{https}");
    let ca = dir.0.join("ca.pem").display().to_string();
    let files = |body: &[u8], name: &str| {
        let path = dir.0.join(name);
        std::fs::write(&path, body).unwrap();
        path.display().to_string()
    };
    let content_type = format!("Content-Type: {}", content_type());

    // A crash over HTTPS is stored; the collector sees nginx's view of the client, not the
    // X-Forwarded-For the client made up.
    let dump = corpus("minidumps/test.dmp");
    let crash = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", &dump)
        .build();
    let crash_file = files(&crash, "crash.body");
    let (status, body) = curl(&[
        "--cacert",
        &ca,
        "-H",
        &content_type,
        "-H",
        "X-Forwarded-For: 203.0.113.9",
        "--data-binary",
        &format!("@{crash_file}"),
        &format!("{base}/submit"),
    ]);
    assert_eq!(status, 200, "{body}");
    let id = body.strip_prefix("CrashID=bp-").unwrap().trim().to_owned();
    assert_eq!(collector.dump("upload_file_minidump", &id), dump);
    let needle = format!("{id} received");
    let logs = collector.logs_with(&needle);
    let received = logs.lines().find(|l| l.contains(&needle)).unwrap();
    assert!(received.ends_with("client 127.0.0.1"), "{received}");
    assert!(!received.contains("203.0.113.9"), "{received}");

    // Exactly 25 MiB is taken; one byte more is refused by nginx with 413.
    let limit = 25 * 1024 * 1024;
    let at_limit = files(&body_of_size(limit), "limit.body");
    let (status, body) = curl(&[
        "--cacert",
        &ca,
        "-H",
        &content_type,
        "--data-binary",
        &format!("@{at_limit}"),
        &format!("{base}/submit"),
    ]);
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("CrashID=bp-"));
    let over = files(&body_of_size(limit + 1), "over.body");
    let (status, _) = curl(&[
        "--cacert",
        &ca,
        "-H",
        &content_type,
        "--data-binary",
        &format!("@{over}"),
        &format!("{base}/submit"),
    ]);
    assert_eq!(status, 413);

    // A body shorter than its Content-Length ends without a 5xx.
    let script = format!(
        r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile="{ca}")
raw = socket.create_connection(("127.0.0.1", {https}))
tls = ctx.wrap_socket(raw, server_hostname="localhost")
head = "POST /submit HTTP/1.1\r\nHost: localhost\r\n{content_type}\r\nContent-Length: 100000\r\n\r\n"
tls.sendall(head.encode() + b"--short body")
socket.fromfd(tls.fileno(), socket.AF_INET, socket.SOCK_STREAM).shutdown(socket.SHUT_WR)
tls.settimeout(30)
try:
    answer = tls.recv(4096)
except Exception:
    answer = b""
print(answer.split(b"\r\n")[0].decode(errors="replace"))
"#
    );
    let output = run(Command::new(support::program("python3")).args(["-c", &script]));
    let status_line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(!status_line.contains(" 5"), "{status_line:?}");

    // /__broken__ is enabled on the collector but refused from outside.
    let (status, _) = curl(&[
        "--cacert",
        &ca,
        "-u",
        "ops:secret",
        &format!("{base}/__broken__"),
    ]);
    assert_eq!(status, 403);
    let direct = collector.send(&raw(
        "GET /__broken__ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic b3BzOnNlY3JldA==",
        b"",
    ));
    assert_eq!(direct.status, 500);

    // Health and version through nginx.
    let (status, _) = curl(&["--cacert", &ca, &format!("{base}/__lbheartbeat__")]);
    assert_eq!(status, 200);
    let (status, version) = curl(&["--cacert", &ca, &format!("{base}/__version__")]);
    assert_eq!(status, 200);
    let head = run(Command::new("git").args(["rev-parse", "HEAD"]));
    assert!(
        version.contains(String::from_utf8_lossy(&head.stdout).trim()),
        "{version}"
    );

    // Plain HTTP takes no crash: it is sent to HTTPS with the method kept.
    let (status, _) = curl(&[
        "-H",
        &content_type,
        "--data-binary",
        &format!("@{crash_file}"),
        &format!("http://127.0.0.1:{http}/submit"),
    ]);
    assert_eq!(status, 308);
    let stored_crashes = collector
        .all_files()
        .iter()
        .filter(|f| f.contains("/raw_crash/"))
        .count();
    assert_eq!(stored_crashes, 2);

    // The JSON access log has one object per request.
    drop(nginx);
    let log = std::fs::read_to_string(dir.0.join("antenna.access.log")).unwrap();
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert!(
        first["request"]
            .as_str()
            .unwrap()
            .starts_with("POST /submit HTTP/"),
        "{first}"
    );
    assert_eq!(first["status"], 200);
    assert_eq!(
        first["ssl_protocol"]
            .as_str()
            .map(|p| p.starts_with("TLSv1.")),
        Some(true)
    );
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let dir = TempDir::new();
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/antenna.service"),
    )
    .unwrap();
    // Only the binary's path differs on this machine.
    let unit = unit.replace("/usr/local/bin/antenna", env!("CARGO_BIN_EXE_antenna"));
    let path = dir.0.join("antenna.service");
    std::fs::write(&path, unit).unwrap();
    let output = Command::new(support::program("systemd-analyze"))
        .args(["verify", &path.display().to_string()])
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && complaints.trim().is_empty(),
        "{complaints}"
    );
}
