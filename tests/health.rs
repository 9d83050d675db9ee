//! Health endpoints and routing.

mod support;

use serde_json::Value;
use support::*;

fn get(collector: &Collector, path: &str, extra: &str) -> Response {
    collector.send(&raw(&format!("GET {path} HTTP/1.1\r\nHost: x{extra}"), b""))
}

#[test]
fn heartbeats_and_version() {
    let collector = Collector::start(&[]);
    let lb = get(&collector, "/__lbheartbeat__", "");
    assert_eq!((lb.status, lb.body.len()), (200, 0));

    let heartbeat = get(&collector, "/__heartbeat__", "");
    assert_eq!(heartbeat.status, 200);
    let body: Value = serde_json::from_slice(&heartbeat.body).unwrap();
    assert_eq!(body["errors"], serde_json::json!([]));
    assert_eq!(body["info"]["save_queue_size"], 0);

    // No version.json yet: the build's own commit.
    let version = get(&collector, "/__version__", "");
    assert_eq!(version.status, 200);
    let built: Value = serde_json::from_slice(&version.body).unwrap();
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    assert_eq!(
        built["commit"], head,
        "/__version__ names the commit the binary was built from"
    );
    assert_eq!(built["version"], env!("CARGO_PKG_VERSION"));
    // Read on every request: a deploy that writes it is seen at once.
    std::fs::write(
        collector.data.0.join("version.json"),
        r#"{"commit": "abc123", "version": "1.2.3", "source": "https://example", "build": "42"}"#,
    )
    .unwrap();
    let version: Value = serde_json::from_slice(&get(&collector, "/__version__", "").body).unwrap();
    assert_eq!(version["commit"], "abc123");
    assert_eq!(version["build"], "42");
}

#[test]
fn heartbeat_fails_when_storage_is_gone() {
    let collector = Collector::start(&[]);
    std::fs::remove_dir_all(collector.crash_root()).unwrap();
    let heartbeat = get(&collector, "/__heartbeat__", "");
    assert_eq!(heartbeat.status, 503);
    let body: Value = serde_json::from_slice(&heartbeat.body).unwrap();
    assert_eq!(body["errors"][0]["name"], "FSCrashStorage");
}

#[test]
fn unknown_paths_and_wrong_methods() {
    let collector = Collector::start(&[]);
    assert_eq!(get(&collector, "/nope", "").status, 404);
    assert_eq!(get(&collector, "/submit/", "").status, 404);
    let wrong = get(&collector, "/submit", "");
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("POST"));
    let post_health = collector.send(&raw(
        "POST /__heartbeat__ HTTP/1.1\r\nHost: x\r\nContent-Length: 0",
        b"",
    ));
    assert_eq!(post_health.status, 405);
    // Disabled unless configured.
    assert_eq!(get(&collector, "/__broken__", "").status, 404);
}

#[test]
fn broken_needs_its_credentials() {
    let collector = Collector::start(&[("ANTENNA_BROKEN_CREDENTIALS", "admin:s3cret!")]);
    let anonymous = get(&collector, "/__broken__", "");
    assert_eq!(anonymous.status, 401);
    assert!(anonymous
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    let wrong = get(
        &collector,
        "/__broken__",
        "\r\nAuthorization: Basic YWRtaW46d3Jvbmc=",
    );
    assert_eq!(wrong.status, 401);
    let right = get(
        &collector,
        "/__broken__",
        "\r\nAuthorization: Basic YWRtaW46czNjcmV0IQ==",
    );
    assert_eq!(right.status, 500);
    assert!(collector
        .logs_with("intentional exception")
        .contains("intentional exception"));
}
