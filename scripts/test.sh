#!/usr/bin/env bash
# Set up everything the test suite needs (sshd, gpg, test deps, addons) and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# With every part installed, a skip for a missing server or addon is a failure.
export OTF_TESTS_STRICT=1
exec .venv/bin/python -m pytest "$@"
