#!/usr/bin/env bash
# Install what tests/addons needs into the project's virtualenv. Idempotent.
#
#  1. the runtime dependencies of the published addons (the `addons-test` extra
#     of pyproject.toml, installed without touching our editable opentaskpy);
#  2. the published addons themselves, pinned and with --no-deps (they declare
#     a dependency on the reference opentaskpy, which must never be installed);
#  3. our example addon from examples/addons/, as a regular install: an
#     editable one adds an import hook that every Python process started
#     from the venv pays for (~15 ms, seen in the start-up benchmarks).
#     Re-run this script after editing the example.
#
# Usage: scripts/install-addons.sh [path/to/python]   (default: .venv/bin/python)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${1:-$ROOT/.venv/bin/python}"
if [ ! -x "$PY" ]; then
  PY="$(command -v python3)"
fi

ADDONS=(
  "otf-addons-aws==26.18.0"
  "otf-addons-vault==24.18.3"
  "otf-addons-winrm==26.18.0"
  "otf-addons-o365==26.16.1"
  "otf-addons-gcp==24.37.0"
)

mapfile -t EXTRA_DEPS < <("$PY" - "$ROOT/pyproject.toml" <<'PYEOF'
import sys, tomllib
with open(sys.argv[1], "rb") as fh:
    data = tomllib.load(fh)
for req in data["project"]["optional-dependencies"]["addons-test"]:
    print(req)
PYEOF
)

"$PY" -m pip install --quiet --disable-pip-version-check "${EXTRA_DEPS[@]}"
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps "${ADDONS[@]}"
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps \
  --force-reinstall "$ROOT/examples/addons/otf-addons-example"

# The reference opentaskpy must not have slipped in through a dependency.
# (Capture first: "pip show | grep -q" breaks pip's pipe, which pipefail
# would report as a failure.)
info="$("$PY" -m pip show opentaskpy 2>/dev/null || true)"
if ! grep -q "Editable project location" <<<"$info"; then
  echo "install-addons: a non-editable opentaskpy is installed; refusing" >&2
  exit 1
fi
echo "install-addons: done"
