"""paramiko, imported without its ``invoke`` dependency when we import it first.

``paramiko.config`` imports ``invoke`` (and with it asyncio, unittest.mock
and a YAML parser: 65-120 ms measured here, ~15 % of a short SSH task) only
to evaluate ssh_config ``Match exec`` rules. opentaskpy never reads
ssh_config, so the first import hides ``invoke`` from paramiko; paramiko
then treats it as absent. ``invoke`` itself stays importable for anyone
else, and nothing changes when paramiko was already imported.
"""

from __future__ import annotations

import sys

if "paramiko" not in sys.modules and "invoke" not in sys.modules:
    sys.modules["invoke"] = None  # type: ignore[assignment]
    try:
        import paramiko
    finally:
        del sys.modules["invoke"]

import paramiko as paramiko  # noqa: E402 (re-exported)

__all__ = ["paramiko"]
