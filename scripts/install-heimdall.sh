#!/bin/sh
# Builds Heimdall v0.17.18, the bench's peer (bench/peer-*.ts), from its release source archive in
# ../shared/vendor beside the repository ($HEIMDALL_ARCHIVE elsewhere): the Go module proxy refuses
# every version of github.com/dadrus/heimdall, so only its third-party modules come from the proxy.
# The binary is cached outside the repo keyed by version and the archive's sha256 (its first 16 hex
# digits), so an altered archive can never be mistaken for a cached build; concurrent runs (two
# benches, a bench and a test) wait on one lock instead of building twice. Prints the binary's path
# as its last line of stdout.
# Usage: scripts/install-heimdall.sh
set -eu
cd "$(dirname "$0")/.."
. scripts/source-archive.sh
# The same cache as scripts/stack-install.mjs (stack/versions.ts cacheRoot).
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz"
VERSION=v0.17.18
ARCHIVE="${HEIMDALL_ARCHIVE:-$(pwd)/../shared/vendor/heimdall-$VERSION.src.tar.gz}"
SHA256=8d77460d6c2958823ab7b04de29feee5421f3651f677ecd6cd13deff895451bb
out="$CACHE/heimdall-$VERSION-$(printf %.16s "$SHA256")"

build() {
  mkdir -p "$out"
  started=$(date +%s)
  unpack_source_archive heimdall "$ARCHIVE" "$SHA256" "$CACHE"
  echo "install-heimdall: building Heimdall $VERSION (about 10-16 min on 2 cores the first time)…" >&2
  # The flags of Heimdall's own Justfile build; stdout stays for the path alone.
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags "-buildid= -w -s -X github.com/dadrus/heimdall/version.Version=$VERSION" -o "$out/heimdall.partial" .) >&2
  mv "$out/heimdall.partial" "$out/heimdall"
  echo "{\"version\":\"$VERSION\",\"sha256\":\"$SHA256\",\"seconds\":$(( $(date +%s) - started )),\"go\":\"$(go env GOVERSION)\"}" > "$out/installed.json"
}

mkdir -p "$CACHE"
# fd 9 holds the lock until the script exits; a second run waits, then finds the binary.
exec 9>"$out.lock"
flock 9
[ -x "$out/heimdall" ] || build
"$out/heimdall" --version >&2
echo "$out/heimdall"
