# gridmeter — the two commands of the README are `make demo` and `make test`.
GO      ?= go
BIN     := bin
PKGS    := ./...
FUZZTIME ?= 10s

.PHONY: demo test setup test-go test-web vet build cross bench fuzz chaos clean

## demo: run the whole system on embedded defaults (head-end + simulated terminals and meters)
demo:
	@$(GO) build -o $(BIN)/gridmeter-demo ./cmd/gridmeter-demo
	@$(BIN)/gridmeter-demo

## test: set up what the tests need (idempotent) and run every test
test: setup vet test-go test-web

## setup: what the tests need, only if missing: Debian chromium and the web tests' npm
## packages; mbpoll and python3-pymodbus (independent Modbus peers for the interop tests)
setup:
	sh scripts/web-test-setup.sh
	sh scripts/modbus-test-setup.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)

test-go:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-web: build
	cd web && node --test --test-concurrency=1 e2e/

## build: every binary into bin/
build:
	$(GO) build -o $(BIN)/ ./cmd/...

## cross: the terminal for the small ARM boxes it runs on (stripped)
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/linux-arm64/terminal ./cmd/terminal
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/linux-arm/terminal ./cmd/terminal
	@ls -l $(BIN)/linux-arm64/terminal $(BIN)/linux-arm/terminal

## chaos: the fault-injection suite with CHAOS_EVENTS (default 50) kills and network cuts;
## CHAOS_BROKER=external runs its own Mosquitto (on a free port) and restarts it too
CHAOS_EVENTS ?= 50
CHAOS_BROKER ?= embedded
chaos: build
	$(BIN)/gridmeter-chaos -bin $(BIN) -events $(CHAOS_EVENTS) -broker $(CHAOS_BROKER)

## bench: benchmarks, printing their figures
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=2s $(PKGS)

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN) .demo web/test-results
