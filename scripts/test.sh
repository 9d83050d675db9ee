#!/usr/bin/env bash
# The test command: installs what the test suite needs when it is missing, then runs the
# whole suite (`cargo test --workspace --all-targets`). Extra arguments go to `cargo test`,
# e.g. `scripts/test.sh --test storage_s3`.
#
# The suite runs every test against a real implementation, started by the test itself on a
# loopback port and stopped by its PID:
#   nginx, openssl, curl   tests/deploy_nginx.rs (TLS in front of the collector; nginx's
#                          stream module, libnginx-mod-stream, for the socket-client port)
#   systemd-analyze        tests/deploy_nginx.rs (checks tuning/antenna.service)
#   rabbitmq-server, epmd  tests/publish_amqp.rs (a private broker node)
#   moto_server (PyPI)     tests/publish_sqs.rs (SQS)
# The S3 server (s3s-fs) runs inside the test process: nothing to install.
#
# Debian packages are installed with apt-get, through sudo when not root. A second run
# finds everything and installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# program -> Debian package
declare -A debian=(
    [nginx]=nginx
    [openssl]=openssl
    [curl]=curl
    [systemd-analyze]=systemd
    [python3]=python3
    [rabbitmq-server]=rabbitmq-server
    [epmd]=erlang-base
)
# rabbitmq-server lives in /usr/sbin, which is not on every PATH.
export PATH="$PATH:/usr/sbin:/sbin"

packages=()
for program in "${!debian[@]}"; do
    command -v "$program" >/dev/null 2>&1 || packages+=("${debian[$program]}")
done
# tuning/nginx.conf loads the stream module (Crashpad's socket transport port).
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || packages+=(libnginx-mod-stream)
if [ ${#packages[@]} -gt 0 ]; then
    echo "test.sh: installing Debian packages: ${packages[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -q
    as_root apt-get install -y -q "${packages[@]}"
    # The package may start a broker of its own; the tests start private nodes.
    if command -v service >/dev/null 2>&1; then
        as_root service rabbitmq-server stop >/dev/null 2>&1 || true
    fi
fi

if ! moto_server --help >/dev/null 2>&1; then
    echo "test.sh: installing moto[server] from PyPI" >&2
    if [ "$(id -u)" -eq 0 ] || [ -n "${VIRTUAL_ENV:-}" ] || command -v pyenv >/dev/null 2>&1; then
        python3 -m pip install -q 'moto[server]>=5,<6'
    else
        python3 -m pip install -q --user 'moto[server]>=5,<6'
        export PATH="$PATH:$HOME/.local/bin"
    fi
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
    hash -r
    moto_server --help >/dev/null 2>&1 || { echo "test.sh: moto_server is not on PATH after pip install" >&2; exit 1; }
fi

# fault-injection compiles the crash points (src/fault.rs) into the binary the tests run:
# tests/crash_points.rs kills the collector at each step of a spool write and of a drain.
# Release builds never have it.
exec cargo test --workspace --all-targets --features antenna/fault-injection "$@"
