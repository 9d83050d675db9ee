# antenna container image: a multi-stage build, a small non-root runtime.
#
#   docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD) --build-arg BUILD=<ci build id> -t antenna .
#
# The build stage runs scripts/build-release.sh, the same script .ci/run runs on every CI
# run (no Docker engine exists on our machines, so that script is what keeps this file
# honest). version.json is baked in from the build's commit, so /__version__ tells which
# build runs.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
ARG GIT_COMMIT=""
ARG VERSION=""
ARG SOURCE="https://github.com/mozilla-services/antenna"
ARG BUILD=""
RUN GIT_COMMIT="$GIT_COMMIT" VERSION="$VERSION" SOURCE="$SOURCE" BUILD="$BUILD" \
    scripts/build-release.sh

FROM debian:bookworm-slim
# ca-certificates: TLS to S3; curl: the HEALTHCHECK.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin antenna \
    && mkdir -p /app /data \
    && chown antenna:antenna /data
COPY --from=build /src/target/release/antenna /usr/local/bin/antenna
COPY --from=build /src/target/release/version.json /app/version.json
USER antenna
WORKDIR /app
ENV BASEDIR=/app \
    ANTENNA_HOST=0.0.0.0 \
    ANTENNA_PORT=8000 \
    CRASHMOVER_CRASHSTORAGE_FS_ROOT=/data
EXPOSE 8000
# SIGTERM drains: in-flight requests finish and queued crashes are saved before exit.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/__lbheartbeat__ || exit 1
CMD ["antenna"]
