#!/bin/sh
# Installs Docker Compose v2-style (`docker compose`, the CLI plugin) for the compose demo
# (envoy/docker-compose.yml) and its test. No release binary can be downloaded here and Debian's
# docker-compose 1.29 rejects the file's top-level `name:`, so the plugin is built from the Go
# module pinned in scripts/compose-build (go.mod + go.sum, a `tool` requirement), cached outside
# the repo keyed by version like the Envoy, Kratos and Caddy binaries, and linked into the Docker
# CLI's plugin directory (${DOCKER_CONFIG:-~/.docker}/cli-plugins). A `docker compose` that already
# works and is not this one (Docker Desktop's, a distribution's) is used as it is, and nothing is
# built, if it is Compose 2.24.4 or later (the demo test's ports override uses `!override`).
# Usage: scripts/install-compose.sh
set -eu
cd "$(dirname "$0")/.."
# The same cache as scripts/stack-install.mjs (stack/versions.ts cacheRoot).
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz"
MODULE=github.com/docker/compose/v5
version=$(sed -n "s#^[[:space:]]*$MODULE \(v[0-9.]*\).*#\1#p" scripts/compose-build/go.mod)
[ -n "$version" ] || { echo "install-compose: no $MODULE requirement in scripts/compose-build/go.mod" >&2; exit 1; }
out="$CACHE/compose-$version"
plugin="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose"
# The oldest Compose that reads `!override` (the demo test's ports override).
readonly OLDEST_USABLE=2.24.4
if [ "$(readlink "$plugin" || true)" != "$out/docker-compose" ] && installed=$(docker compose version --short 2>/dev/null); then
  if printf '%s\n%s\n' "$OLDEST_USABLE" "${installed#v}" | sort -V -C; then
    echo "install-compose: using the docker compose already installed ($installed)"
    exit 0
  fi
  echo "install-compose: the docker compose installed ($installed) is older than $OLDEST_USABLE" >&2
  exit 1
fi
if [ ! -x "$out/docker-compose" ]; then
  mkdir -p "$out"
  started=$(date +%s)
  # The flags of compose's own Makefile, less its e2e build tag.
  (cd scripts/compose-build && CGO_ENABLED=0 go build -mod=readonly -trimpath \
    -ldflags "-s -w -X $MODULE/internal.Version=$version" -o "$out/docker-compose.partial" "$MODULE/cmd")
  mv "$out/docker-compose.partial" "$out/docker-compose"
  echo "{\"version\":\"$version\",\"seconds\":$(( $(date +%s) - started ))}" > "$out/installed.json"
fi

# A file at the plugin's path that does not run (the check above failed) is replaced.
mkdir -p "$(dirname "$plugin")"
ln -sfn "$out/docker-compose" "$plugin"
docker compose version
