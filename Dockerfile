# The `social-registry` binary the Kubernetes manifests run.
#   docker build -t social-registry .
# Build: the Rust toolchain on Debian bookworm. Run: distroless (glibc, CA
# certificates, no shell, no package manager), as the non-root user 65532.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY services services
COPY tests tests
COPY migrations migrations
# Offline data of the compile-time-checked queries (no database at build time).
COPY .sqlx .sqlx
COPY .cargo .cargo
COPY schema schema
RUN cargo build --release --locked --bin social-registry \
 && cp target/release/social-registry /social-registry

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /social-registry /usr/local/bin/social-registry
USER 65532:65532
EXPOSE 8080
ENV REGISTRY_LISTEN=0.0.0.0:8080 \
    REGISTRY_ENV=production \
    REGISTRY_LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/social-registry"]
CMD ["serve"]
