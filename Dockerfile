# syntax=docker/dockerfile:1
#
# logscrub container image.
#
#   docker build -t logscrub:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#   docker run --rm -i logscrub:0.1.0 < app.log                 # stdin -> stdout
#   docker run --rm -i --read-only logscrub:0.1.0 --version
#
# Two stages:
#   builder  rust:1-bookworm, `cargo build --release --locked`; the binary links
#            glibc dynamically (it needs glibc >= 2.34 and libgcc_s).
#   runtime  gcr.io/distroless/cc-debian12:nonroot: Debian 12 (bookworm) glibc
#            and libgcc_s, the same as the builder, no shell, no package manager,
#            UID/GID 65532. Nothing is written to the root filesystem at run time,
#            so `--read-only` / readOnlyRootFilesystem works; only a --checkpoint
#            or file:// output needs a writable mounted volume.
#
# For a release, pin both bases by digest (FROM image:tag@sha256:...) with
# `docker buildx imagetools inspect rust:1-bookworm` and
# `... gcr.io/distroless/cc-debian12:nonroot`; the build arguments below take
# such a reference as is.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src

# Dependencies first, so that a source change does not download them again.
# Cargo.toml names benches/scrub.rs as a [[bench]], so cargo needs benches/
# to read the manifest; the pattern files are embedded with include_str!.
COPY Cargo.toml Cargo.lock build.rs ./
COPY benches ./benches
COPY src ./src
COPY patterns ./patterns
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo fetch --locked
# There is no .git in the context: the revision for `--version` comes from
# the REVISION build argument (build.rs reads LOGSCRUB_GIT_REVISION).
ARG REVISION=unknown
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    LOGSCRUB_GIT_REVISION="${REVISION}" cargo build --release --locked --offline \
 && install -D -m 0755 target/release/logscrub /out/logscrub \
 && strip --strip-debug /out/logscrub

# Smoke test on the built binary, with a shell: it runs, and it redacts.
RUN /out/logscrub --version \
 && printf 'card 4111 1111 1111 1111\n' | /out/logscrub | grep -qx 'card \[CARD_REDACTED\]'

FROM ${RUNTIME_IMAGE}

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="logscrub" \
      org.opencontainers.image.description="Log-scrubbing sidecar and stream processor: one-pass redaction of card numbers, keys, tokens and PII" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=builder /out/logscrub /usr/local/bin/logscrub
# coreutils `sleep` (needs only glibc, which this base has) for one purpose:
# the preStop hook of deploy/kubernetes/sidecar-legacy.yaml on clusters that
# have neither native sidecars nor the preStop `sleep` action (Kubernetes
# < 1.29). It is not a shell and starts nothing else.
COPY --from=builder /bin/sleep /usr/local/bin/sleep

# distroless :nonroot already runs as 65532; say it so that runAsNonRoot can
# verify a numeric user.
USER 65532:65532

# Smoke test in the final image: exec form needs no shell, and it proves the
# binary finds its shared libraries (glibc, libgcc_s) in this base.
RUN ["/usr/local/bin/logscrub", "--version"]

# --metrics-addr 0.0.0.0:9090 serves /metrics, /healthz and /readyz.
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/logscrub"]
