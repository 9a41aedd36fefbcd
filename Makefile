# noms-ipfs: `make test` is the whole test suite (CI runs exactly it), `make bench`
# the performance figures. Everything the tests need, Kubo included, is built here
# from the Go module proxy.

GO        ?= go
PKGS      := ./...
# The race detector runs on the whole suite: most of the code is concurrent.
TESTFLAGS ?= -race -count=1 -timeout 15m
# A count, not a duration: a -fuzztime duration races Go's fuzz coordinator
# (golang/go#75804, fixed in Go 1.27) and fails with a bare "context deadline
# exceeded" and no crasher on a loaded machine.
FUZZTIME  ?= 200000x
BENCHTIME ?= 3x

.PHONY: all build kubo compose images cluster-up cluster-down test lint fuzz bench clean

all: build

build:
	$(GO) build -o noms-ipfs ./cmd/noms-ipfs

# Kubo v0.42.0 (pinned by go.mod's tool directive) into .bin/ipfs; instant when built.
kubo:
	./scripts/install-kubo.sh

# docker-compose for the cluster tests (Debian's package if missing); the
# Docker engine is the machine's.
compose:
	./scripts/install-compose.sh

# The FROM scratch images of docker-compose.yml and the docker tests.
images: kubo
	./scripts/docker-images.sh

# docker-compose.yml's cluster on the images built here (docs/cluster.md).
cluster-up: images
	./scripts/cluster-up.sh

cluster-down:
	$$(command -v docker-compose || echo docker compose) --profile late --profile outsider down -v --remove-orphans

lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

# A short run of the fuzz targets of the decoders that read untrusted bytes, on
# top of their seed corpora (which the plain test run replays anyway). db's
# FuzzDecodeCommit is left to a run by hand: instrumenting Kubo, which db's
# tests link, costs minutes of build.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME) ./dagcbor
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./chunks
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./value
	$(GO) test -run '^$$' -fuzz '^FuzzFromJSON$$' -fuzztime $(FUZZTIME) ./value
	$(GO) test -run '^$$' -fuzz '^FuzzSkip$$' -fuzztime $(FUZZTIME) ./internal/cborx
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeNode$$' -fuzztime $(FUZZTIME) ./prolly

test: kubo compose lint
	$(GO) test $(TESTFLAGS) $(PKGS)
	$(MAKE) fuzz

# Benchmarks print noms-ipfs beside raw Kubo doing the same work (3 runs of
# 20,000 chunks each). Kubo repos go to $$TMPDIR: TMPDIR=/dev/shm measures CPU
# cost without the disk.
bench: kubo
	$(GO) test -run '^$$' -bench 'Ingest20k|Get20k|HasManyAbsent10k' -benchtime $(BENCHTIME) -timeout 60m ./ipfsstore/
	$(GO) test -run '^$$' -bench . ./chunks/ ./dagcbor/ ./value/ ./prolly/ ./merge/
	$(GO) test -run '^$$' -bench 'Map1M' -benchtime 1x -timeout 30m ./db/
	$(GO) test -run '^$$' -bench 'HeadPropagation' -benchtime 200x -timeout 30m ./syncer/
	$(GO) test -run '^$$' -bench 'Converge3x100|LateJoiner' -benchtime 1x -timeout 30m ./syncer/
	$(GO) test -run '^$$' -bench 'Cluster' -benchtime 1x -timeout 30m ./docker/

clean:
	rm -f noms-ipfs
