#!/usr/bin/env bash
# cluster-up.sh starts docker-compose.yml's cluster with the images
# scripts/docker-images.sh built here, and waits until every Kubo and sync
# is healthy (docker-compose 1.29 has no --wait). Extra arguments go to
# `docker-compose up -d` (e.g. sync-d to add the late reader with
# --profile late set in COMPOSE_PROFILES).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export KUBO_IMAGE="${KUBO_IMAGE:-noms-ipfs-kubo:$(go list -m -f '{{.Version}}' github.com/ipfs/kubo)}"
export NOMS_IPFS_IMAGE="${NOMS_IPFS_IMAGE:-noms-ipfs:dev}"

compose=(docker-compose)
command -v docker-compose >/dev/null 2>&1 || compose=(docker compose)
"${compose[@]}" up -d "$@"
deadline=$((SECONDS + 120))
while :; do
	unhealthy="$(docker ps --filter "label=com.docker.compose.project=${COMPOSE_PROJECT_NAME:-noms-ipfs}" \
		--filter health=starting --filter health=unhealthy --format '{{.Names}}')"
	[[ -z "$unhealthy" ]] && break
	if ((SECONDS > deadline)); then
		echo "cluster-up: not healthy after 120 s: $unhealthy" >&2
		exit 1
	fi
	sleep 1
done
"${compose[@]}" ps
