# PCS: make build | make test | make demo | make bench | make lint | make fmt
GO          ?= go
GOBIN       := $(shell $(GO) env GOPATH)/bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_FLAGS  ?= -race -shuffle=on -count=1 -timeout 20m

.PHONY: build test bench bench-state lint fmt demo demo-fleet tools interop chaos

## build: pcs and pcs-node into ./bin
build:
	$(GO) build -o bin/ ./cmd/pcs ./cmd/pcs-node

## test: every package with the race detector, tests in random order
test:
	$(GO) test $(TEST_FLAGS) ./...
	cd deploy && $(GO) test $(TEST_FLAGS) ./...

## bench: the benchmark figures of the issues, side by side with their baselines, and pcs run vs DuckDB (npm, cached)
bench:
	bash .ci/bench

## bench-state: issue 18's state benchmark (10M session keys, memory vs pebble: rows/s, peak RSS, checkpoint bytes and time; minutes)
bench-state:
	PCS_STATE_BENCH=1 $(GO) test -run '^TestStateBenchmark$$' -v -timeout 40m ./pcs/window/

## demo: the main job: flights-3m through the embedded broker and pcs-node
demo:
	@echo "demo: compiling examples/flights (go run; about 2 minutes on a cold cache, then it builds pcs and pcs-node and says so)"
	$(GO) run ./examples/flights

## demo-fleet: a broker and three pcs-node with a Raft catalog; one node is killed mid-run and restarted; exactly-once checked by row id
demo-fleet:
	$(GO) run ./examples/fleet

## demo-cluster: three nats-server (R3, TLS, a user per client) and three pcs-node (Raft over mutual TLS); the input's leader server and a node are killed mid-run and restarted; exactly-once checked by row id, no secret in logs
demo-cluster:
	$(GO) run ./examples/cluster

## chaos: the fault matrix (kill -9 worker/leader/broker, SIGSTOP past ack_wait and the duplicate window, quorum loss, whole-fleet and rolling restarts, sink full, forged catalog commands, malformed partitions) on real processes, checked by row id; CHAOS_RUNS=N repetitions (default 1)
chaos:
	$(GO) run ./examples/chaos

## lint: gofmt, go vet, the import rules of the layout (.ci/imports), staticcheck (pinned) and a tidy go.mod
lint: tools
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	bash .ci/imports
	$(GOBIN)/staticcheck ./...
	$(GO) mod tidy -diff

## fmt: format all Go files
fmt:
	gofmt -w $$(git ls-files '*.go')

tools:
	@test -x $(GOBIN)/staticcheck && $(GOBIN)/staticcheck -version | grep -q 2026.2.2 || $(GO) install $(STATICCHECK)

## interop: examples/js (npm ci, pinned) against a real pcs-node: fingerprint vectors, the JS consumer, pcs consume and DuckDB agree on the flights sink, the JS producer's table comes back
interop:
	$(GO) run ./examples/js/interop
