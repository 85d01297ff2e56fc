#!/bin/sh
# Installs the real proxies `npm run test:proxies` drives: nginx from Debian (auth_request),
# Caddy built from the Go module pinned in test/proxies/caddy-build (go.mod + go.sum), and
# Traefik built from its release source archive in ../shared/vendor beside the repository (the
# module proxy cannot build Traefik v3: a replace names a nested module its zip lacks). Built
# binaries are cached outside the repo, keyed by version, like the Envoy and Kratos binaries.
# Usage: scripts/install-proxies.sh [nginx] [caddy] [traefik]   (all when no argument is given)
set -eu
cd "$(dirname "$0")/.."
. scripts/source-archive.sh
# The same cache as scripts/stack-install.mjs (stack/versions.ts cacheRoot).
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz"
targets="${*:-nginx caddy traefik}"
# The Traefik release source (git archive of tag v3.7.9; $TRAEFIK_ARCHIVE elsewhere) and its sha256.
TRAEFIK_VERSION=v3.7.9
TRAEFIK_ARCHIVE="${TRAEFIK_ARCHIVE:-$(pwd)/../shared/vendor/traefik-$TRAEFIK_VERSION.src.tar.gz}"
TRAEFIK_SHA256=1986243e82eb995df73d9293921b1e3447a2080ad64e23b830a20ba96474f12c

for target in $targets; do
  case "$target" in
    nginx)
      if ! command -v nginx >/dev/null 2>&1; then
        apt-get update
        apt-get install -y nginx
      fi
      # Debian's nginx has it; a custom build might not, and the suite would then fail obscurely.
      nginx -V 2>&1 | grep -q -- --with-http_auth_request_module || { echo "nginx lacks the auth_request module" >&2; exit 1; }
      ;;
    caddy)
      version=$(sed -n 's#^require github.com/caddyserver/caddy/v2 \(v[0-9.]*\)$#\1#p' test/proxies/caddy-build/go.mod)
      out="$CACHE/caddy-$version"
      if [ ! -x "$out/caddy" ]; then
        mkdir -p "$out"
        started=$(date +%s)
        (cd test/proxies/caddy-build && CGO_ENABLED=0 go build -mod=readonly -trimpath -o "$out/caddy.partial" .)
        mv "$out/caddy.partial" "$out/caddy"
        echo "{\"version\":\"$version\",\"seconds\":$(( $(date +%s) - started ))}" > "$out/installed.json"
      fi
      "$out/caddy" version
      ;;
    traefik)
      out="$CACHE/traefik-$TRAEFIK_VERSION"
      if [ ! -x "$out/traefik" ]; then
        mkdir -p "$out"
        started=$(date +%s)
        unpack_source_archive traefik "$TRAEFIK_ARCHIVE" "$TRAEFIK_SHA256" "$CACHE"
        (cd "$src" && go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" -o "$out/traefik.partial" ./cmd/traefik)
        mv "$out/traefik.partial" "$out/traefik"
        echo "{\"version\":\"$TRAEFIK_VERSION\",\"sha256\":\"$TRAEFIK_SHA256\",\"seconds\":$(( $(date +%s) - started ))}" > "$out/installed.json"
      fi
      "$out/traefik" version
      ;;
    *)
      echo "unknown proxy: $target (nginx, caddy, traefik)" >&2
      exit 2
      ;;
  esac
done
