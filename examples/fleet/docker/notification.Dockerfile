# notification: built with examples/fleet as the context.
FROM --platform=$BUILDPLATFORM slipway.local/base/golang:1.26-bookworm AS builder
ARG TARGETOS TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY internal/ internal/
COPY cmd/notification/ cmd/notification/
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X example.com/fleet/internal/version.Version=$VERSION" \
    -o /out/notification ./cmd/notification

FROM slipway.local/base/debian:bookworm AS runtime
COPY --from=builder /out/notification /usr/local/bin/notification
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/notification"]
