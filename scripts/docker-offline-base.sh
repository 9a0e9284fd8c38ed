#!/usr/bin/env bash
# A stand-in for the `node:20-bookworm-slim` base image, for machines whose Docker engine
# cannot reach Docker Hub (this project's build machine reaches only the npm registry and
# Debian's package mirror). Users of palisade get the official image: the Dockerfile's
# FROM line is unchanged and `docker build` pulls it wherever Docker Hub is reachable.
#
# What it builds, as close to the official image as matters to the Dockerfile:
#   - a Debian bookworm root filesystem (debootstrap --variant=minbase) with ca-certificates;
#   - this machine's Node 20 (`node` must be 20.x) at /usr/local/bin/node, its npm and
#     corepack under /usr/local/lib/node_modules, and the npm/npx/corepack links in
#     /usr/local/bin, where the official image has them;
#   - a `node` user and group, uid/gid 1000, home /home/node (the Dockerfile's USER 1000:1000);
#   - imported as node:20-bookworm-slim with ENV NODE_VERSION and CMD ["node"].
# Differences from the official image: the npm version is this machine's (the official
# image has the npm that came with its Node release), no yarn, no docker-entrypoint.sh
# (the Dockerfile sets its own ENTRYPOINT).
#
# Usage: scripts/docker-offline-base.sh [--ca FILE]... [--tag TAG]
#   --ca FILE   also trust this CA certificate (PEM) in the image: in /etc/ssl/certs and,
#               for npm, through /usr/local/etc/npmrc's cafile. For a machine whose way to
#               the npm registry is a TLS-intercepting proxy; the official image has no
#               such certificate, and an image built this way should not leave the machine.
#   --tag TAG   the tag to import as (default node:20-bookworm-slim).
# Needs root, debootstrap, a running Docker engine, and deb.debian.org (or MIRROR).
set -euo pipefail

TAG=node:20-bookworm-slim
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CAS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --ca) CAS+=("$2"); shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

NODE_BIN=$(readlink -f "$(command -v node)")
NODE_VERSION=$("$NODE_BIN" -p 'process.versions.node')
case "$NODE_VERSION" in 20.*) ;; *) echo "node is $NODE_VERSION, not 20.x" >&2; exit 1 ;; esac
# npm and corepack live next to each other in the global node_modules of this Node.
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
MODULES_DIR=$(dirname "$NPM_DIR")

ROOTFS=$(mktemp -d /tmp/palisade-base-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT

echo "debootstrap bookworm into $ROOTFS (from $MIRROR)"
debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 \
  || { tail -20 "$ROOTFS.log" >&2; exit 1; }
rm -f "$ROOTFS.log"

echo "node $NODE_VERSION from $NODE_BIN, npm $(npm -v) from $NPM_DIR"
install -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
mkdir -p "$ROOTFS/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOTFS/usr/local/lib/node_modules/npm"
if [ -d "$MODULES_DIR/corepack" ]; then
  cp -a "$MODULES_DIR/corepack" "$ROOTFS/usr/local/lib/node_modules/corepack"
  ln -s ../lib/node_modules/corepack/dist/corepack.js "$ROOTFS/usr/local/bin/corepack"
fi
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"

# The official image's user: `groupadd --gid 1000 node && useradd --uid 1000 --gid node
# --shell /bin/bash --create-home node`.
chroot "$ROOTFS" groupadd --gid 1000 node
chroot "$ROOTFS" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

if [ ${#CAS[@]} -gt 0 ]; then
  for ca in "${CAS[@]}"; do
    cp "$ca" "$ROOTFS/usr/local/share/ca-certificates/$(basename "${ca%.*}").crt"
  done
  chroot "$ROOTFS" update-ca-certificates >/dev/null
  # Node does not read the system store; npm reads its global npmrc ($PREFIX/etc/npmrc).
  mkdir -p "$ROOTFS/usr/local/etc"
  echo "cafile=/etc/ssl/certs/ca-certificates.crt" >"$ROOTFS/usr/local/etc/npmrc"
fi

# What the slim image leaves out: package lists, caches, docs.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/*

echo "importing as $TAG"
tar -C "$ROOTFS" -c . | docker import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'CMD ["node"]' \
  --message "stand-in for node:20-bookworm-slim: debootstrap bookworm + node $NODE_VERSION (scripts/docker-offline-base.sh)" \
  - "$TAG"
docker run --rm "$TAG" sh -c 'echo "node $(node -v), npm $(npm -v), $(id node)"'
