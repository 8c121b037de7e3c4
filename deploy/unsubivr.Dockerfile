# The hotline service (ARI app "unsub-ivr"). CGO on for mattn/go-sqlite3.
# Build from the repo root: docker build -f deploy/unsubivr.Dockerfile .
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags='-s -w' -o /out/unsubivr ./cmd/unsubivr

FROM debian:bookworm-slim
# espeak-ng + sox: prompt audio generation (text in prompts/*.yaml)
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates espeak-ng sox \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /data unsubivr \
 && mkdir -p /data /var/lib/unsubivr/sounds \
 && chown unsubivr /data /var/lib/unsubivr/sounds
COPY --from=build /out/unsubivr /usr/local/bin/unsubivr
# recorded prompts (prompts/recordings/<lang>/<file>.wav) win over synthesis
COPY prompts/ /app/prompts/
WORKDIR /app
USER unsubivr
ENTRYPOINT ["/usr/local/bin/unsubivr"]
CMD ["serve"]
