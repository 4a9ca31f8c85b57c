# OVM build and test entry points.
#   make test     install and start the engines the tests need, then run every test
#   make testenv  only install and start the engines (idempotent); writes .testenv
#   make check    gofmt + go vet
#   make bench    the SDK's benchmarks

GO      ?= go
GOFLAGS ?=
# Two cores: never run more than two test binaries at once.
TESTFLAGS ?= -race -p 2 -count=1 -timeout 30m

.PHONY: all build test testenv check bench example

all: check build test

build:
	$(GO) build ./...

testenv:
	./scripts/testenv.sh

test: testenv
	. ./.testenv && $(GO) test $(TESTFLAGS) -tags integration ./...

check:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet ./...
	$(GO) vet -tags integration ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./placement/ ./ha/ ./network/

example:
	$(GO) run ./examples/evacuation
