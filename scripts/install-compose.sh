#!/usr/bin/env bash
# install-compose.sh makes sure docker-compose can run docker-compose.yml for
# the cluster tests: it does nothing when `docker-compose` (v1, Debian's
# package) or `docker compose` (the v2 plugin) is there, and otherwise
# installs Debian's docker-compose package when it can (root with apt-get).
# The Docker engine itself is the machine's: the tests fail with a clear
# message when it is not reachable.
set -euo pipefail

if command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1; then
	exit 0
fi
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
	echo "install-compose: installing Debian's docker-compose"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
	exit 0
fi
echo "install-compose: neither docker-compose nor 'docker compose' is installed; install one (Debian: apt-get install docker-compose)" >&2
exit 1
