# An upstream image plus a static busybox, only so docker-compose can health-check it: the
# OpenTelemetry collector and Jaeger images are built FROM scratch (no shell, no wget), and a
# compose `depends_on: condition: service_healthy` needs a command to run inside. busybox's
# musl build is fully static, so it runs in an image that has no libc at all.
#   docker-compose.yml: build: {context: deploy, dockerfile: with-probe.Dockerfile, args: {IMAGE: ...}}
ARG IMAGE
ARG BUSYBOX_IMAGE=busybox:1.37.0-musl

FROM ${BUSYBOX_IMAGE} AS busybox

FROM ${IMAGE}
COPY --from=busybox /bin/busybox /probe/busybox
