//! Start-up refuses a configuration it cannot run with: one clear line, non-zero exit.

mod support;

use support::*;

#[test]
fn bad_settings_are_refused_naming_the_variable() {
    for (var, value) in [
        ("ANTENNA_PORT", "eighty"),
        ("ANTENNA_MAX_CRASH_SIZE", "huge"),
        ("CRASHMOVER_CRASHSTORAGE_CLASS", "floppy"),
        ("CRASHMOVER_CONCURRENT_CRASHMOVERS", "0"),
        ("BREAKPAD_THROTTLER_RULES", "antenna.throttler.NOPE"),
    ] {
        let line = refused_start(&[(var, value)]);
        assert!(line.contains(var) && line.contains(value), "{line}");
    }
}

#[test]
fn bad_rule_file_is_refused_naming_the_rule() {
    let dir = TempDir::new();
    let rules = dir.0.join("rules.toml");
    std::fs::write(&rules, "[[rule]]\nname = \"oops\"\nresult = \"MAYBE\"\n").unwrap();
    let line = refused_start(&[("BREAKPAD_THROTTLER_RULES", rules.to_str().unwrap())]);
    assert!(
        line.contains("BREAKPAD_THROTTLER_RULES")
            && line.contains("oops")
            && line.contains("MAYBE"),
        "{line}"
    );
}

#[test]
fn unwritable_fs_root_is_refused() {
    let dir = TempDir::new();
    let blocker = dir.0.join("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let root = blocker.join("crashes");
    let line = refused_start(&[("CRASHMOVER_CRASHSTORAGE_FS_ROOT", root.to_str().unwrap())]);
    assert!(line.contains("fs") && line.contains("a-file"), "{line}");
}

#[test]
fn busy_port_is_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let line = refused_start(&[("ANTENNA_PORT", &port)]);
    assert!(line.contains(&port), "{line}");
}

#[test]
fn effective_config_is_logged_with_secrets_masked() {
    let collector = Collector::start(&[
        ("BREAKPAD_STAGE_SUBMITTER_BEARER_TOKEN", "hunter2"),
        ("ANTENNA_BROKEN_CREDENTIALS", "admin:pa55"),
    ]);
    let logs = collector.logs().join("\n");
    assert!(
        logs.contains("BREAKPAD_STAGE_SUBMITTER_BEARER_TOKEN=*****"),
        "{logs}"
    );
    assert!(
        logs.contains("CRASHMOVER_CONCURRENT_CRASHMOVERS=8"),
        "{logs}"
    );
    assert!(
        !logs.contains("hunter2") && !logs.contains("pa55"),
        "{logs}"
    );
}
