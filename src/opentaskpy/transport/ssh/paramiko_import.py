"""paramiko, imported without the parts of its import that we never use.

Two things in ``import paramiko`` cost a short SSH task ~15-25 % of its run
time, for nothing opentaskpy uses:

* ``paramiko.config`` imports ``invoke`` (and with it asyncio, unittest.mock
  and a YAML parser: 65-120 ms measured here) only to evaluate ssh_config
  ``Match exec`` rules; opentaskpy never reads ssh_config. The first import
  hides ``invoke``, so paramiko treats it as absent.
* ``paramiko/__init__`` sets ``__version__`` with
  ``importlib.metadata.version("paramiko")``; importing ``importlib.metadata``
  (email, zipfile, csv, ...) and scanning ``sys.path`` costs ~30 ms. While
  paramiko is imported, ``importlib.metadata`` is a stand-in that reads the
  version from paramiko's ``dist-info`` directory name and hands every other
  use to the real module (imported only then).

Both are undone right after the import: ``invoke`` and ``importlib.metadata``
stay importable for anyone else, and nothing changes when paramiko was
already imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from typing import Any

_METADATA = "importlib.metadata"


class _VersionFromDistInfo(types.ModuleType):
    """Answers ``version(name)`` from ``<name>-<version>.dist-info`` names."""

    def __init__(self) -> None:
        super().__init__(_METADATA)

    def version(self, name: str) -> str:
        """Return the installed version of ``name`` (falls back to the real API)."""
        spec = importlib.util.find_spec(name)
        locations = list(spec.submodule_search_locations or []) if spec else []
        prefix = f"{name.replace('-', '_')}-"
        for location in locations:
            site = os.path.dirname(location)
            try:
                entries = os.listdir(site)
            except OSError:
                continue
            for entry in entries:
                if entry.startswith(prefix) and entry.endswith(".dist-info"):
                    return entry[len(prefix) : -len(".dist-info")]
        return str(self._real().version(name))

    def _real(self) -> Any:
        return importlib.import_module(_METADATA)

    def __getattr__(self, attribute: str) -> Any:
        # Anything else: the real importlib.metadata, imported on first use.
        sys.modules.pop(_METADATA, None)
        return getattr(self._real(), attribute)


def _import_lean() -> None:
    stand_in = _VersionFromDistInfo()
    hide_invoke = "invoke" not in sys.modules
    add_stand_in = _METADATA not in sys.modules
    if hide_invoke:
        sys.modules["invoke"] = None  # type: ignore[assignment]
    if add_stand_in:
        sys.modules[_METADATA] = stand_in
    try:
        import paramiko  # noqa: F401
    finally:
        if hide_invoke:
            del sys.modules["invoke"]
        if add_stand_in and sys.modules.get(_METADATA) is stand_in:
            del sys.modules[_METADATA]
        if getattr(sys.modules["importlib"], "metadata", None) is stand_in:
            delattr(sys.modules["importlib"], "metadata")


if "paramiko" not in sys.modules:
    _import_lean()

import paramiko as paramiko  # noqa: E402 (re-exported)

__all__ = ["paramiko"]
