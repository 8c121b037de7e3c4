# unsubivr — see README.md. `make test` is what CI runs.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/unsubivr
SOUNDS := var/sounds/unsubivr

.PHONY: all build deps prompts test unit vet integration run sim bench fuzz clean asterisk-start asterisk-stop asterisk-status asterisk-logs asterisk-smoke

all: build

build:
	$(GO) build -o $(BIN) ./cmd/unsubivr

# Debian packages the tests and the sandbox need (installs only what is missing).
deps:
	@scripts/deps

# Prompt audio for Asterisk, from prompts/<lang>.yaml (only what changed is redone).
prompts: build
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null || scripts/deps
	$(BIN) prompts build --out $(SOUNDS)

vet:
	$(GO) vet ./...

# test/integration is left to `make integration`: it needs the sandbox.
unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /test/integration)

# Everything CI checks: vet, unit tests with the race detector, then calls
# placed with SIPp into the sandbox Asterisk running `unsubivr serve`.
test: deps vet unit integration

integration: build prompts
	scripts/integration

# The hotline on this machine: sandbox Asterisk + the service on the demo DB.
run: deps build prompts
	scripts/run

# A call on this terminal, no Asterisk needed.
sim: build
	$(BIN) simulate --caller 13800138000

bench:
	$(GO) test -run XXX -bench . -benchtime 2s ./db ./flows

fuzz:
	$(GO) test ./flows -run XXX -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./flows -run XXX -fuzz FuzzMatch -fuzztime 30s

# Asterisk sandbox (scripts/asterisk-sandbox). The chroot sandbox needs root;
# its first start builds a Debian sid rootfs (about a minute, cached).
asterisk-start:
	scripts/asterisk-sandbox start
asterisk-stop:
	scripts/asterisk-sandbox stop
asterisk-status:
	scripts/asterisk-sandbox status
asterisk-logs:
	scripts/asterisk-sandbox logs
# one SIPp call per test identity; needs a started sandbox
asterisk-smoke:
	scripts/asterisk-sandbox smoke

clean:
	rm -rf bin
