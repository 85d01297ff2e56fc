# Sourced by the scripts that build from a release source archive in ../shared/vendor
# (install-proxies.sh for Traefik, install-heimdall.sh): the archive is checked against its pinned
# sha256 before anything is unpacked, so an altered archive never reaches a build or the cache.
# unpack_source_archive <name> <archive> <sha256> <cache dir>
#   unpacks into a new temporary directory under the cache (removed when the script exits) and
#   sets $src to the tree of the tag (the archive's one top-level directory).
unpack_source_archive() {
  [ -f "$2" ] || { echo "$1 source archive missing: $2" >&2; exit 1; }
  echo "$3  $2" | sha256sum -c --status || { echo "$1 source archive altered (sha256 is not $3): $2" >&2; exit 1; }
  unpacked=$(mktemp -d "$4/$1-src.XXXXXX")
  trap 'rm -rf "$unpacked"' EXIT
  tar -xzf "$2" -C "$unpacked"
  src=$(echo "$unpacked"/*/)
}
