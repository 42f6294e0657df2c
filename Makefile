# Valise: `make run` starts the system with demo data; `make test` runs every test.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X valise.Version=$(VERSION) -X valise.Commit=$(COMMIT)
# `make test` runs the seal decoder's fuzzer briefly (FUZZTIME); `make fuzz`
# runs every fuzzer at length (FUZZLONG each).
FUZZTIME ?= 10s
FUZZLONG ?= 10m

.PHONY: run build test lint fuzz bench screenshots clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/valise ./cmd/valise

run: build
	./bin/valise serve

test:
	./scripts/ensure-postgres.sh
	./scripts/ensure-chromium.sh
	$(GO) test -count=1 -timeout 8m ./...
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./crypto/seal

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZLONG) ./crypto/seal
	$(GO) test -run '^$$' -fuzz '^FuzzBase45$$' -fuzztime $(FUZZLONG) ./crypto/seal

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

# PNGs of the web console's desks at 1366x768 and 390x844 and of the courier's
# scanner app at 390x844 (docs/screenshots).
screenshots:
	./scripts/ensure-postgres.sh
	./scripts/ensure-chromium.sh
	VALISE_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestScreenshots$$' ./web/console
	$(GO) test -count=1 -run '^TestCourierFlow$$' ./web/scanner -screenshots

clean:
	rm -rf bin
