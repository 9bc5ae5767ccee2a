#!/usr/bin/env bash
# Installs the Debian packages PaaSTech needs on this host (idempotent). Called by `npm start` and
# `npm test` with --check-or-install: does nothing when everything is present, installs what is
# missing when run as root, and otherwise stops with the exact command to run.
set -euo pipefail

# command → Debian package. Keep in step with docs/architecture.md ("Technologies").
declare -A NEEDED=(
  [git]=git
  [bwrap]=bubblewrap
  [ip]=iproute2
  [nft]=nftables
  [setpriv]=util-linux
  [python3]=python3-venv
  [haproxy]=haproxy
)
# Needed by the test suite only (browser tests, PostgreSQL client; the swarm runtime's suite starts
# its own dockerd, registry and base image — docs/swarm.md).
declare -A NEEDED_FOR_TESTS=(
  [psql]=postgresql-client
  [pg_ctlcluster]=postgresql
  [ssh]=openssh-client
  [chromium]=chromium
  [dockerd]=docker.io
  [docker-registry]=docker-registry
  [debootstrap]=debootstrap
)
# Needed by the benchmarks only (bench/): the load generator and the reference proxy/backend
# (bench/router; HAProxy by hand uses the haproxy above), and valgrind for bench/router's
# instruction counts. Not installed by `npm start`/`npm test`.
declare -A NEEDED_FOR_BENCH=(
  [wrk]=wrk
  [nginx]=nginx
  [valgrind]=valgrind
)

# Usage: setup-system.sh [install|--check-or-install] [--tests] [--bench]
mode=${1:-install}
want_tests=0
want_bench=0
[ "${npm_lifecycle_event:-}" = "pretest" ] && want_tests=1
for arg in "${@:2}"; do
  [ "$arg" = "--tests" ] && want_tests=1
  [ "$arg" = "--bench" ] && want_bench=1
done

missing=()
for cmd in "${!NEEDED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
if [ "$want_tests" = 1 ]; then
  for cmd in "${!NEEDED_FOR_TESTS[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED_FOR_TESTS[$cmd]}")
  done
fi
if [ "$want_bench" = 1 ]; then
  for cmd in "${!NEEDED_FOR_BENCH[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED_FOR_BENCH[$cmd]}")
  done
fi

if [ ${#missing[@]} -eq 0 ]; then
  [ "$mode" = "--check-or-install" ] || echo "setup: all system packages present"
  exit 0
fi

# Deduplicate, keep order stable.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: missing system packages: ${missing[*]}" >&2
  echo "setup: install them with: sudo apt-get update && sudo ${cmd[*]}" >&2
  exit 1
fi
echo "setup: installing ${missing[*]} (apt-get)…"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
"${cmd[@]}" >/dev/null
echo "setup: done"
