#!/usr/bin/env bash
# bench-before-after.sh REV: the store's write benchmarks at REV and in this
# working tree, in one run, on each directory of $BENCH_DIRS (default: /tmp,
# on disk here, then /dev/shm, in memory), each beside raw Kubo doing the
# same work in the same run. Both revisions run this tree's benchmark code.
#
#   Ingest20kPaired  20,101 chunks put and committed, in turns with raw Kubo
#                    (RPC: `dag/import` pinning the root; embedded:
#                    AddBlocks + pin), each on a node of its own; the median
#                    of the pairs' ratios
#   EditCommit       one-entry edit + commit on a 1,000,000-entry map
#
# Issue 8 compared ae776cc (the database root kept by an MFS entry) with the
# keep: scripts/bench-before-after.sh ae776cc
set -euo pipefail

rev="${1:?usage: bench-before-after.sh REV}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/install-kubo.sh >/dev/null

work="$(mktemp -d)"
cleanup() {
	status=$?
	# A failed benchmark's own words are in the raw output, which the
	# summary filters out: show them before the directory goes.
	if [ "$status" -ne 0 ] && [ -f "$work/raw" ]; then
		echo "bench-before-after: failed; the last lines of the raw output:" >&2
		tail -n 40 "$work/raw" >&2
	fi
	git worktree remove --force "$work/before" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
git worktree add --detach "$work/before" "$rev" >/dev/null 2>&1
mkdir -p "$work/before/.bin" && cp .bin/ipfs "$work/before/.bin/ipfs"
cp ipfsstore/bench_test.go "$work/before/ipfsstore/bench_test.go"
cp db/bench_test.go "$work/before/db/bench_test.go"

pairs="${BENCH_PAIRS:-8}"
edits="${BENCH_COUNT:-3}"
bench() { # dir tmpdir label
	(cd "$1" && TMPDIR="$2" go test -run '^$' -timeout 60m -benchtime "${pairs}x" \
		-bench 'Ingest20kPaired' ./ipfsstore/ &&
		TMPDIR="$2" go test -run '^$' -timeout 60m -count "$edits" -benchtime 100x \
			-bench 'Map1M/(rpc|embedded)/EditCommit$' ./db/) |
		tee -a "$work/raw" | awk -v label="$3" '/^Benchmark|ratios of the/ { print label, $0; fflush() }'
}

out="$work/results"
for dir in ${BENCH_DIRS:-/tmp /dev/shm}; do
	fs="$(findmnt -n -o FSTYPE -T "$dir" | head -1)"
	echo "# $dir ($fs): $rev, then this tree" >&2
	bench "$work/before" "$dir" "before $fs" | tee -a "$out" >&2
	bench "$root" "$dir" "after $fs" | tee -a "$out" >&2
done

# Medians over the runs of each figure (EditCommit in ms per edit).
echo
printf '%-7s %-6s %-36s %14s  %s\n' version fs benchmark median unit
awk '$3 ~ /^Benchmark/ {
	name = $3; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	for (i = 5; i <= NF; i += 2) {
		unit = $(i + 1); val = $(i)
		if (unit == "ns/op") { if (name !~ /EditCommit/) continue; unit = "ms/edit"; val /= 1e6 }
		if (unit ~ /reads|writes/) continue
		key = $1 " " $2 " " name " " unit; v[key] = v[key] " " val
	}
}
END {
	for (k in v) {
		n = split(substr(v[k], 2), a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		split(k, p, " ")
		printf "%-7s %-6s %-36s %14.2f  %s\n", p[1], p[2], p[3], med, p[4]
	}
}' "$out" | sort -k2,2 -k3,3 -k5,5 -k1,1r
