#!/usr/bin/env bash
# install-kubo.sh builds the Kubo daemon that the integration tests run, at the
# version pinned in go.mod, into <repo>/.bin/ipfs.
#
# Kubo is built from the Go module proxy through go.mod's `tool` directive rather
# than downloaded as a release tarball, so the version the tests run is exactly
# the one the code compiles against, and go.sum verifies every byte.
#
# Idempotent: when .bin/ipfs already reports the pinned version it exits at once.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bin="$root/.bin/ipfs"

# The pinned version, as go.mod states it (e.g. v0.42.0); `ipfs version --number`
# prints it without the leading v.
want="$(go list -m -f '{{.Version}}' github.com/ipfs/kubo)"
want="${want#v}"
if [[ -z "$want" ]]; then
	echo "install-kubo: cannot read the github.com/ipfs/kubo version from go.mod" >&2
	exit 1
fi

if [[ -x "$bin" ]]; then
	# A broken or foreign binary must not stop a rebuild, hence `|| true`.
	have="$("$bin" version --number 2>/dev/null || true)"
	if [[ "$have" == "$want" ]]; then
		echo "install-kubo: $bin is already Kubo $want"
		exit 0
	fi
	echo "install-kubo: $bin reports '${have:-nothing}', rebuilding Kubo $want"
fi

mkdir -p "$root/.bin"
echo "install-kubo: building Kubo $want (a few minutes on a cold build cache)"
# CGO off gives a static binary that runs in any container or CI image.
# Build to a temporary name and rename, so an interrupted build never leaves a
# half-written .bin/ipfs that a later run would mistake for a good one.
tmp="$root/.bin/ipfs.tmp.$$"
trap 'rm -f "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp" github.com/ipfs/kubo/cmd/ipfs
mv -f "$tmp" "$bin"

have="$("$bin" version --number)"
if [[ "$have" != "$want" ]]; then
	echo "install-kubo: built binary reports version '$have', want '$want'" >&2
	exit 1
fi
echo "$bin"
