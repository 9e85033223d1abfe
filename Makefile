# Smart commune radio. `make` lists the targets.
GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.DEFAULT_GOAL := help
.PHONY: help deps build run test test-unit test-e2e bench lint node-arm64 node-armv7 deb clean

help: ## list targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z0-9_-]+:.*## /{printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## install the Debian packages building and testing need (apt-get)
	scripts/install-deps.sh test

build: ## build the binaries into bin/
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

run: ## start the controller (embedded broker, SQLite in run-data/) and one local node
	scripts/install-deps.sh run
	$(MAKE) --no-print-directory build
	scripts/run.sh

test: deps ## install what tests need, then run every test (unit, race, end-to-end with real broker/sound)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) test -race -count=1 -timeout 30m ./...
	# The suites whose fixtures carry dates, once more as if run a year after them.
	RADIO_TEST_YEARS=-1 $(GO) test -count=1 ./controller/internal/api/ ./controller/internal/registry/ ./controller/internal/scheduler/
	scripts/fuzz.sh 200000
	scripts/check-cross.sh

bench: deps ## run the benchmarks and print figures (see BENCHMARKS.md)
	scripts/bench.sh

lint: ## go vet and staticcheck
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

node-arm64: ## cross-build the node for 64-bit Raspberry Pi OS (installs the cross toolchain)
	scripts/install-deps.sh cross-arm64
	@mkdir -p $(BIN)
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc \
	PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/radio-node-linux-arm64 ./cmd/radio-node
	@file $(BIN)/radio-node-linux-arm64 2>/dev/null || true

node-armv7: ## cross-build the node for 32-bit Raspberry Pi OS (ARMv7, Pi 2/3/4)
	scripts/install-deps.sh cross-armhf
	@mkdir -p $(BIN)
	CGO_ENABLED=1 GOOS=linux GOARCH=arm GOARM=7 CC=arm-linux-gnueabihf-gcc \
	PKG_CONFIG_LIBDIR=/usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig \
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/radio-node-linux-armv7 ./cmd/radio-node
	@file $(BIN)/radio-node-linux-armv7 2>/dev/null || true

deb: ## build the Debian packages into dist/: controller (amd64, arm64), node (amd64, arm64, armhf)
	scripts/deb.sh $(DEB_VERSION)

clean: ## remove build output (not run-data/)
	rm -rf $(BIN) dist
