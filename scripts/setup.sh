#!/usr/bin/env bash
# Prepare this checkout: a virtualenv in .venv with opentaskpy installed.
#   scripts/setup.sh          runtime only (enough for the examples)
#   scripts/setup.sh --test   also system tools (sshd, gpg, ps, postgresql), test deps
#                             and addons
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "error: opentaskpy needs Python 3.11 or newer" >&2
  exit 1
}

install_system_packages() {
  local need=()
  [ -x /usr/sbin/sshd ] || command -v sshd >/dev/null 2>&1 || need+=(openssh-server)
  command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
  command -v gpg >/dev/null 2>&1 || need+=(gnupg)
  command -v ps >/dev/null 2>&1 || need+=(procps)
  command -v useradd >/dev/null 2>&1 || need+=(passwd)
  # Graphviz renders otf-batch-validator --graph svg (its test draws a real picture).
  command -v dot >/dev/null 2>&1 || need+=(graphviz)
  command -v runuser >/dev/null 2>&1 || need+=(util-linux)
  # The run-record tests start a real PostgreSQL server (initdb in a temp dir).
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
  [ ${#need[@]} -eq 0 ] && return
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || sudo -n true 2>/dev/null; }; then
    echo "Installing system packages: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "warning: cannot install ${need[*]}; tests that need them will be skipped" >&2
  fi
}

[ $want_test = 1 ] && install_system_packages

if [ ! -x .venv/bin/python ]; then
  "$(pick_python)" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ $want_test = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[dev]"
  if [ -f scripts/install-addons.sh ]; then
    bash scripts/install-addons.sh
  fi
else
  .venv/bin/python -m pip install -q -e .
fi
