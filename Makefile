# OVM build and test entry points.
#   make test     install and start the engines the tests need, then run every test
#   make testenv  only install and start the engines (idempotent); writes .testenv
#   make check    gofmt + go vet
#   make bench    the SDK's and the server's benchmarks (PostgreSQL too when .testenv exists)
#   make soak     the repeated proofs in full (make test runs each once)

GO      ?= go
GOFLAGS ?=
# Two cores: never run more than two test binaries at once.
TESTFLAGS ?= -race -p 2 -count=1 -timeout 30m

.PHONY: all build test testenv check bench soak example portal

all: check build test

build:
	$(GO) build ./...

testenv:
	./scripts/testenv.sh

# Tests that a race inside a dependency keeps out of the race detector's
# run (build tag !race, each saying which race) run in a pass without it.
NORACE ?= -run '^TestChefESXi$$' ./server/api/

test: testenv
	. ./.testenv && $(GO) test $(TESTFLAGS) -tags integration ./...
	. ./.testenv && $(GO) test -p 2 -count=1 -timeout 30m -tags integration $(NORACE)

check:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet ./...
	$(GO) vet -tags integration ./...

# The server's benchmarks: creates, host and list pages at 1,000 and 20,000
# instances (ratios measured in one run), GET of one instance against a bare
# handler; make test runs their work once at a small size.
SERVERBENCH ?= AtScale|GetInstance|CreateInstance

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./placement/ ./ha/ ./network/
	$(GO) test -p 1 -run '^$$' -bench '$(SERVERBENCH)' -benchmem -benchtime 1000x -timeout 60m ./server/api/
	@if [ -f .testenv ]; then . ./.testenv && $(GO) test -tags integration -p 1 -run '^$$' \
		-bench 'Postgres|(AtScale|GetInstance|CreateInstance)/postgres' -benchmem -benchtime 1000x -timeout 60m ./server/api/; fi
	@if [ -f .testenv ]; then . ./.testenv && $(GO) test -tags integration -run '^$$' -bench ConversionVsShell -benchtime 1x ./image/convert/; fi

# Repeated proofs: each runs once in make test, SOAK_ROUNDS times here.
SOAK_ROUNDS ?= 20
SOAK ?= Kill9VAppDeploy

soak: testenv
	. ./.testenv && OVM_SOAK_ROUNDS=$(SOAK_ROUNDS) $(GO) test -p 1 -count=1 -timeout 60m -tags integration -run '$(SOAK)' -v ./server/app/

example:
	$(GO) run ./examples/evacuation

# The self-service portal: regenerates its API types from the OpenAPI
# document, type-checks and bundles server/portal/web into server/portal/dist
# (committed, embedded in the binary). Needs the npm tools that
# scripts/testenv.d/45-portal.sh installs.
PORTAL_NODE_MODULES ?= /var/tmp/ovm-testenv/portal/node_modules

portal:
	ln -sfn $(PORTAL_NODE_MODULES) server/portal/web/node_modules
	node server/portal/web/build.mjs --out server/portal/dist
