//! Records which build this is, for `/__version__` when no `version.json` is deployed:
//! the commit (from `ANTENNA_BUILD_COMMIT`, else `git rev-parse HEAD`), and optional
//! `ANTENNA_BUILD_SOURCE` / `ANTENNA_BUILD_ID` given by the build system.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ANTENNA_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=ANTENNA_BUILD_SOURCE");
    println!("cargo:rerun-if-env-changed=ANTENNA_BUILD_ID");
    for path in [".git/HEAD", ".git/refs", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let commit = std::env::var("ANTENNA_BUILD_COMMIT").ok().or_else(|| {
        let output = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    });
    println!(
        "cargo:rustc-env=ANTENNA_BUILD_COMMIT={}",
        commit.unwrap_or_default()
    );
    let source = std::env::var("ANTENNA_BUILD_SOURCE").unwrap_or_default();
    println!("cargo:rustc-env=ANTENNA_BUILD_SOURCE={source}");
    let build = std::env::var("ANTENNA_BUILD_ID").unwrap_or_default();
    println!("cargo:rustc-env=ANTENNA_BUILD_ID={build}");
}
