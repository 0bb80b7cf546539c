#!/usr/bin/env bash
# Creates the secret files docker-compose.yml mounts: a signing key, a PostgreSQL password
# and the database URL holding it. Existing files are kept, so running it again is safe.
#
#   scripts/compose-secrets.sh [DIR]   (default: secrets/ beside docker-compose.yml)
#
# Compose mounts a file secret with the host file's owner and mode, and the server runs
# as uid 10001, so the files are 0644; the directory is 0700, so on the host only their
# owner can reach them.
set -euo pipefail
dir=${1:-"$(cd "$(dirname "$0")/.." && pwd)/secrets"}

install -d -m 0700 "$dir"

write() { # write NAME VALUE: creates DIR/NAME unless it exists
  local path="$dir/$1"
  if [[ -e $path ]]; then
    echo "kept    $path"
    return
  fi
  (umask 022 && printf '%s' "$2" >"$path")
  echo "created $path"
}

write jwt-secret "$(openssl rand -base64 32)"
# Hex: a password that needs no escaping inside the URL.
write postgres-password "$(openssl rand -hex 24)"
write database-url \
  "postgresql+asyncpg://textlens:$(cat "$dir/postgres-password")@postgres:5432/textlens"
