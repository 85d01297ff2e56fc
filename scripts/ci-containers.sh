#!/usr/bin/env bash
# The container stage of .ci/run (issue 20): Debian's Docker engine, the images built on this
# machine (scripts/container-images.sh: no registry is reachable), then the product image checks
# (npm run test:containers) and the whole e2e suite on containers. A dockerd this stage starts is stopped again when it ends, however it
# ends, so later stages see the machine as they found it; a daemon already running is used as is.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's docker.io brings dockerd but its CLI may be shadowed by another docker on PATH; any works.
command -v docker >/dev/null 2>&1 || { echo "ci-containers: no docker CLI after installing docker.io" >&2; exit 1; }

started_pid=""
stop_started_daemon() {
  [ -n "$started_pid" ] || return 0
  kill "$started_pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$started_pid" 2>/dev/null || return 0; sleep 0.2; done
  echo "ci-containers: dockerd $started_pid did not stop within 20 s" >&2
}
trap stop_started_daemon EXIT

if ! docker info >/dev/null 2>&1; then
  log_dir=$(mktemp -d)
  dockerd >"$log_dir/dockerd.log" 2>&1 &
  started_pid=$!
  for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { tail -20 "$log_dir/dockerd.log" >&2; echo "ci-containers: dockerd did not start" >&2; exit 1; }
  echo "ci-containers: started dockerd (pid $started_pid)"
fi

start=$(date +%s)
bash scripts/container-images.sh
echo "ci-containers: images took $(( $(date +%s) - start ))s"
# --- compose demo (issue 20): `docker compose` built from its pinned Go module, for the demo's
# test (test/containers/compose-demo.test.ts, run by test:containers below).
start=$(date +%s)
sh scripts/install-compose.sh
echo "ci-containers: docker compose took $(( $(date +%s) - start ))s"
# --- end compose demo
start=$(date +%s)
CI="${CI:-true}" npm run test:containers
echo "ci-containers: test:containers took $(( $(date +%s) - start ))s"
# The whole e2e suite on containers (E2E_STACK=container: every scenario, the browser tests
# included, on the compose file's images and the product image built once for this source tree;
# README, Tests). `npm run test:e2e` later runs it on processes. One test file at a time: each
# starts its own stacks, and two side by side only fight over the 2 cores.
start=$(date +%s)
E2E_STACK=container CI="${CI:-true}" node scripts/run-tests.mjs --test-concurrency=1 dist/test/e2e
echo "ci-containers: e2e on containers took $(( $(date +%s) - start ))s"
# Every container stack removes what it started and checks it did; this says so for the stage.
left=$(docker ps -aq --filter label=kratos-ext-authz.e2e-stack; docker volume ls -q --filter label=kratos-ext-authz.e2e-stack)
[ -z "$left" ] || { echo "ci-containers: the e2e stacks left containers or volumes behind: $left" >&2; exit 1; }
