#!/usr/bin/env bash
# Proves the client distribution stands alone: installs only ./client (plus pytest) into a
# fresh venv, copies client/tests out of the repository, and runs them there, so neither
# the server package nor anything else from the source tree can be imported.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -c "$root/constraints.txt" "$root/client" pytest pytest-asyncio

cp -r "$root/client/tests" "$work/tests"
rm -rf "$work/tests/__pycache__"
cat > "$work/pytest.ini" <<'INI'
[pytest]
addopts = --strict-markers -ra -p no:cacheprovider
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
filterwarnings = error
INI

cd "$work"
"$work/venv/bin/python" - <<'PY'
import importlib.util, sys
import textlens
assert "site-packages" in textlens.__file__, textlens.__file__
for name in ("server", "sqlalchemy", "rich", "grpc_health"):
    if importlib.util.find_spec(name) is not None:
        sys.exit(f"{name} is importable in the client-only venv")
print("textlens from", textlens.__file__)
PY
"$work/venv/bin/python" -m pytest tests -q "$@"
