#!/usr/bin/env bash
# Run the SSH/SFTP tests against the oldest paramiko that pyproject.toml
# allows. The SFTP pipelining (transport/ssh/sftpread.py, sftpwrite.py,
# sftpsession.py) is built on paramiko's request primitives, which are not
# public API: this proves they still work at the bottom of the range.
# Needs the environment of scripts/test.sh (run that first).
set -euo pipefail
cd "$(dirname "$0")/.."
minimum=$(sed -n 's/^ *"paramiko>=\([0-9.]*\)[",].*/\1/p' pyproject.toml)
[ -n "$minimum" ] || { echo "no paramiko>= pin in pyproject.toml" >&2; exit 2; }
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
.venv/bin/python -m pip install -q --no-deps --target "$target" "paramiko==$minimum.*"
version=$(PYTHONPATH="$target" .venv/bin/python -W ignore -c 'import paramiko; print(paramiko.__version__)')
echo "testing against paramiko $version"
case "$version" in "$minimum"*) ;; *) echo "expected paramiko $minimum, got $version" >&2; exit 1 ;; esac
export OTF_TESTS_STRICT=1
# Old paramiko warns about algorithms newer cryptography deprecates.
PYTHONPATH="$target" exec .venv/bin/python -m pytest -p no:cacheprovider -q \
  -W ignore::DeprecationWarning tests/remotehandlers "$@"
