"""Small fixtures shared by several test modules (registered by tests/conftest.py).

* ``debug_logging``: ``OTF_LOG_LEVEL=DEBUG`` for the test, so task loggers
  write everything in process; modules that want it for every test say
  ``pytestmark = pytest.mark.usefixtures("debug_logging")``.
* ``staging_base``: a short, fresh ``OTF_STAGING_DIR`` under /tmp, removed
  afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def debug_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every OTF logger log at DEBUG for this test."""
    monkeypatch.setenv("OTF_LOG_LEVEL", "DEBUG")


@pytest.fixture
def staging_base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh staging base directory, set as ``OTF_STAGING_DIR``."""
    # Short: gpg-agent sockets live in the GnuPG home below it, and a Unix
    # socket path may not exceed 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="otfs", dir="/tmp"))
    monkeypatch.setenv("OTF_STAGING_DIR", str(base))
    yield base
    shutil.rmtree(base, ignore_errors=True)
