# snowsync in a container: a release build in a Rust image, run from a slim Debian image as
# a non-root user. Build: `podman build --format docker -t snowsync .` (or `docker build`; podman
# keeps HEALTHCHECK only in the docker format); try it: `podman run --rm snowsync demo`. docs/deploy.md covers volumes, configuration, secrets and PostgreSQL.
# The base images are build arguments so a registry mirror (or local stand-ins) can be used.
ARG BUILDER_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
# No .git in the build context: the commit for `snowsync --version` comes in as an argument.
ARG SNOWSYNC_GIT_COMMIT=unknown
ENV SNOWSYNC_GIT_COMMIT=${SNOWSYNC_GIT_COMMIT}
COPY . .
RUN cargo build --release --locked --bin snowsync \
 && mkdir -p /out/completions \
 && cp target/release/snowsync /out/snowsync \
 && /out/snowsync man > /out/snowsync.1 \
 && /out/snowsync completions bash > /out/completions/snowsync.bash \
 && /out/snowsync completions zsh > /out/completions/_snowsync \
 && /out/snowsync completions fish > /out/completions/snowsync.fish

FROM ${RUNTIME_IMAGE}
# ca-certificates: the instance's certificate is verified against the system roots;
# curl: the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --no-create-home --home-dir /var/lib/snowsync --shell /usr/sbin/nologin snowsync \
 && mkdir -p /etc/snowsync /var/lib/snowsync \
 && chown snowsync:snowsync /var/lib/snowsync
COPY --from=build /out/snowsync /usr/local/bin/snowsync
COPY --from=build /out/snowsync.1 /usr/local/share/man/man1/snowsync.1
COPY --from=build /out/completions/snowsync.bash /usr/share/bash-completion/completions/snowsync
COPY --from=build /out/completions/_snowsync /usr/local/share/zsh/site-functions/_snowsync
COPY --from=build /out/completions/snowsync.fish /usr/share/fish/vendor_completions.d/snowsync.fish
# Configuration (snowsync.toml, mappings/, mappings.d/, templates/, secret files) is mounted
# read-only at /etc/snowsync; the SQLite database lives in the data volume. Without a
# configuration file the built-in defaults and starter mappings apply (enough for `demo`).
VOLUME ["/etc/snowsync", "/var/lib/snowsync"]
ENV SNOWSYNC_DATABASE__URL="sqlite:///var/lib/snowsync/snowsync.db?mode=rwc" \
    SNOWSYNC_HTTP__LISTEN="0.0.0.0:8080"
WORKDIR /var/lib/snowsync
USER snowsync
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/snowsync"]
CMD ["serve"]
