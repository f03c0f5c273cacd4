# syntax=docker/dockerfile:1
#
# One image for the whole platform: the `recommerce` binary. What a container runs is its
# command, so compose and k8s differ only in arguments and environment, never in what was built:
#   recommerce serve catalog|quote|order|fulfilment|partner-portal
#   recommerce edge                  (the dev edge router, compose only; k8s has an Ingress)
#   recommerce healthcheck [--url U] (container health checks: no curl in the image)
#
#   docker build -t recommerce:latest .
#
# Dependencies are compiled in their own layer (cargo-chef), so editing the workspace's code
# rebuilds only the workspace's crates.

# Bookworm, not `rust:1` (now Debian 13): the runtime below is Debian 12, and a binary linked
# against a newer glibc would not start there. Build and runtime must move together.
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS chef
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /app

# The recipe lists the dependency graph only; it changes when a Cargo.toml or Cargo.lock does.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# librdkafka is compiled from source by rdkafka-sys (./configure + make; rust:bookworm has the
# compiler, make, perl and python3 it uses). Its zlib comes from libz-sys, which would link the
# system's libz.so.1 dynamically, and distroless/cc has no zlib: build it in statically.
ENV LIBZ_SYS_STATIC=1
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json -p recommerce --bin recommerce
COPY . .
RUN cargo build --release --locked -p recommerce --bin recommerce
# Fail here, not at container start, if the binary needs a shared library distroless/cc lacks
# (it ships glibc, libgcc_s and libstdc++ only).
RUN set -eu; \
    ldd target/release/recommerce; \
    if ldd target/release/recommerce | awk '{print $1}' \
        | grep -Ev '(^|/)(linux-vdso|ld-linux[^/]*|libc|libm|libgcc_s|libdl|libpthread|librt|libstdc\+\+)\.so'; then \
      echo "recommerce links the libraries above, which distroless/cc does not have" >&2; \
      exit 1; \
    fi

# distroless: glibc and CA certificates, no shell, no package manager; runs as uid 65532.
FROM ${RUNTIME_IMAGE} AS runtime
COPY --from=builder /app/target/release/recommerce /usr/local/bin/recommerce
# In a container every component listens on all interfaces, port 8080 (one per container);
# compose and k8s set the same values explicitly.
ENV APP_HTTP__HOST=0.0.0.0 \
    APP_HTTP__PORT=8080
EXPOSE 8080
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["recommerce"]
CMD ["--help"]
