#!/usr/bin/env bash
# Installs the tools tests/deploy runs, into DIR/bin (default ~/.cache/textlens/tools/bin):
#   promtool  from Debian's prometheus package, extracted (no Prometheus server installed)
#   checkov   from PyPI, in a virtual environment of its own (it pins its own dependencies)
# kubectl is not installed here: Debian has no package for it.
set -euo pipefail
dir=${1:-"${XDG_CACHE_HOME:-$HOME/.cache}/textlens/tools"}
checkov_version=${CHECKOV_VERSION:?set CHECKOV_VERSION}
python=${PYTHON:-python3}
mkdir -p "$dir/bin"

if [[ ! -x $dir/bin/promtool ]]; then
  tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
  # apt-get download needs the package lists; refresh them only if it cannot find it.
  (cd "$tmp" && { apt-get download prometheus 2>/dev/null \
    || { apt-get update -qq && apt-get download prometheus; }; })
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool
  install -m 0755 "$tmp/usr/bin/promtool" "$dir/bin/promtool"
  echo "installed $("$dir/bin/promtool" --version 2>&1 | head -1)"
fi

venv=$dir/checkov-$checkov_version
if [[ ! -x $venv/bin/checkov ]]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --quiet --disable-pip-version-check "checkov==$checkov_version"
  echo "installed checkov $checkov_version"
fi
ln -sfn "$venv/bin/checkov" "$dir/bin/checkov"
