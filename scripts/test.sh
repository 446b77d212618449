#!/usr/bin/env bash
# Set up everything the test suite needs (sshd, gpg, test deps, addons) and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
