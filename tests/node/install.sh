#!/usr/bin/env bash
# Installs the locked packages of tests/node once per lockfile, into a cache kept between
# runs (~/.cache/textlens/node-<hash>), and prints the node_modules path to use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
hash="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/textlens"
dir="$cache/node-$hash"
if [ ! -d "$dir/node_modules" ]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.node-$hash.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  cp "$here/package.json" "$here/package-lock.json" "$tmp/"
  # No install scripts: the packages are plain JavaScript and need none.
  npm ci --prefix "$tmp" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  # Another run may have finished first; its copy is as good as this one.
  mv -T "$tmp" "$dir" 2>/dev/null || true
fi
echo "$dir/node_modules"
