#!/bin/sh
# Installs the real proxies `npm run test:proxies` drives: nginx from Debian (auth_request) and
# Caddy built from the Go module pinned in test/proxies/caddy-build (go.mod + go.sum). The Caddy
# binary is cached outside the repo, keyed by version, like the Envoy and Kratos binaries.
# Usage: scripts/install-proxies.sh [nginx] [caddy]   (both when no argument is given)
set -eu
cd "$(dirname "$0")/.."
# The same cache as scripts/stack-install.mjs (stack/versions.ts cacheRoot).
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz"
targets="${*:-nginx caddy}"

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
    *)
      echo "unknown proxy: $target (nginx, caddy)" >&2
      exit 2
      ;;
  esac
done
