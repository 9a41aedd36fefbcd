#!/usr/bin/env bash
# docker-images.sh builds the images docker-compose.yml and the cluster
# tests run, without any registry: static binaries built here, copied into
# FROM scratch images.
#
#   noms-ipfs-kubo:v0.42.0   Kubo (.bin/ipfs, built by install-kubo.sh)
#   noms-ipfs:dev            noms-ipfs and the pause binary
#   noms-ipfs-probe:dev      the cluster tests' probe (pubsub timing, hostile peer)
#
# Tags can be overridden with KUBO_IMAGE, NOMS_IPFS_IMAGE and
# NOMS_IPFS_PROBE_IMAGE. Quick when nothing changed: go build and docker
# build both reuse their caches.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

kubo_version="$(go list -m -f '{{.Version}}' github.com/ipfs/kubo)"
kubo_image="${KUBO_IMAGE:-noms-ipfs-kubo:$kubo_version}"
noms_image="${NOMS_IPFS_IMAGE:-noms-ipfs:dev}"
probe_image="${NOMS_IPFS_PROBE_IMAGE:-noms-ipfs-probe:dev}"

if ! docker info >/dev/null 2>&1; then
	echo "docker-images: the Docker engine is not reachable (docker info failed)" >&2
	exit 1
fi

./scripts/install-kubo.sh >/dev/null

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/kubo" "$ctx/noms" "$ctx/probe"
cp .bin/ipfs "$ctx/kubo/ipfs"
export CGO_ENABLED=0
go build -o "$ctx/noms/noms-ipfs" ./cmd/noms-ipfs
go build -o "$ctx/noms/pause" ./docker/pause
go build -o "$ctx/probe/noms-ipfs-probe" ./docker/probe

build() { # image dockerfile context
	# The legacy builder warns that it is deprecated on every build; the
	# image ID it prints last is what matters.
	DOCKER_BUILDKIT=0 docker build -q -t "$1" -f "$2" "$3" 2>/dev/null >/dev/null || {
		DOCKER_BUILDKIT=0 docker build -t "$1" -f "$2" "$3" >&2
		exit 1
	}
	echo "$1"
}
build "$kubo_image" docker/kubo.Dockerfile "$ctx/kubo"
build "$noms_image" docker/noms-ipfs.Dockerfile "$ctx/noms"
build "$probe_image" docker/probe.Dockerfile "$ctx/probe"
# Rebuilt images leave their predecessors untagged.
docker image prune -f --filter label=org.noms-ipfs.built-by=scripts/docker-images.sh >/dev/null
