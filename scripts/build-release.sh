#!/usr/bin/env bash
# Builds the release binary and the version.json that describes it. The Dockerfile runs
# exactly this, and so does .ci/run, so the image's build steps are exercised on every CI
# run even though no Docker engine exists on our machines.
#
#   GIT_COMMIT, VERSION, SOURCE, BUILD   describe the build (GIT_COMMIT defaults to HEAD)
#   out: target/release/antenna, target/release/version.json
set -euo pipefail
cd "$(dirname "$0")/.."

GIT_COMMIT="${GIT_COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}"
VERSION="${VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)}"
SOURCE="${SOURCE:-https://github.com/mozilla-services/antenna}"
BUILD="${BUILD:-}"

export ANTENNA_BUILD_COMMIT="$GIT_COMMIT" ANTENNA_BUILD_SOURCE="$SOURCE" ANTENNA_BUILD_ID="$BUILD"
cargo build --release --locked --bin antenna

printf '{"build": "%s", "commit": "%s", "source": "%s", "version": "%s"}\n' \
    "$BUILD" "$GIT_COMMIT" "$SOURCE" "$VERSION" > target/release/version.json
echo "built target/release/antenna ($GIT_COMMIT)"
