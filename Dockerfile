# syntax=docker/dockerfile:1
# Gatehouse in a container: a static binary on distroless, as a non-root
# user (README "Operating Gatehouse"). Build it the usual way:
#
#   docker build -t gatehouse .
#   docker run -d -p 8080:8080 -v gatehouse-data:/var/lib/gatehouse \
#     -e GATEHOUSE_PUBLIC_URL=https://gatehouse.example.com \
#     -e GATEHOUSE_SECRET_KEY="$(head -c32 /dev/urandom | base64)" gatehouse
#
# Give GATEHOUSE_SECRET_KEY from outside (an env file, a secret store) so the
# sealing key is not in the data volume and its backups; without it the key
# file is created in the volume, beside the database.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo: SQLite is modernc.org/sqlite, pure Go), reproducible paths.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gatehouse ./cmd/gatehouse \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /gatehouse
# The state directory, owned by the image's nonroot user (65532).
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /var/lib/gatehouse
ENV GATEHOUSE_ADDR=0.0.0.0:8080 \
    GATEHOUSE_DATABASE_URL=sqlite:/var/lib/gatehouse/gatehouse.db
WORKDIR /var/lib/gatehouse
VOLUME ["/var/lib/gatehouse"]
USER nonroot
EXPOSE 8080
# distroless has no shell and no curl: the binary asks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["/gatehouse", "healthcheck"]
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
