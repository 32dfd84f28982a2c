# Levee's build. `make test` is what CI runs; every target installs the tools
# it needs at pinned versions into ./bin.

SHELL        := /usr/bin/env bash
GO           ?= go
BIN          := $(CURDIR)/bin
STATICCHECK  := $(BIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
BENCHSTAT    := $(BIN)/benchstat
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da
MODULES      = $(shell scripts/modules.sh)
FUZZTIME     ?= 3s
LONGFUZZTIME ?= 2m

.PHONY: test fmt-check vet lint unit fuzz-short bench-smoke bench bench-peers bench-gateway fuzz demo tools overload

## test: everything CI checks, in every module.
test: fmt-check vet lint unit fuzz-short bench-smoke

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(BENCHSTAT):
	GOBIN=$(BIN) $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

tools: $(STATICCHECK) $(BENCHSTAT)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do echo "vet $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

lint: $(STATICCHECK)
	@for m in $(MODULES); do echo "staticcheck $$m"; (cd $$m && $(STATICCHECK) ./...) || exit 1; done

unit:
	@for m in $(MODULES); do echo "test $$m"; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

fuzz-short:
	scripts/fuzz.sh $(FUZZTIME)

bench-smoke:
	@for m in $(MODULES); do echo "bench smoke $$m"; (cd $$m && $(GO) test -run '^$$' -bench . -benchtime=1x ./...) >/dev/null || exit 1; done

## bench: every benchmark beside the code, with allocations.
bench:
	@for m in $(MODULES); do [ $$m = bench ] && continue; (cd $$m && $(GO) test -run '^$$' -bench . -benchmem ./...); done

## bench-peers: the side-by-side benchmarks against peer libraries (bench/).
bench-peers:
	cd bench && ./run.sh

## bench-gateway: levee serve against nginx, HAProxy, Caddy and a pooled
## httputil.ReverseProxy on loopback (needs wrk, nginx, haproxy, caddy; not in test).
bench-gateway:
	cd bench && $(GO) run ./gateway/cmd/gatewaybench | tee results/gateway-latest.txt

## fuzz: long fuzzing of every fuzz test.
fuzz:
	scripts/fuzz.sh $(LONGFUZZTIME)

## demo: the README's first command.
demo:
	$(GO) run ./gateway/cmd/levee demo

## overload: the overload experiment's full matrix, as a table and a chart in docs/.
overload:
	mkdir -p docs
	cd bench && $(GO) run ./overload -chart ../docs/overload.png | tee ../docs/overload.md
