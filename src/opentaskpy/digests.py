"""sha256 without loading OpenSSL where Python has its own implementation."""

from __future__ import annotations

import contextlib
import importlib

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any


def sha256(data: bytes = b"") -> Any:
    """Return a new sha256 object, from Python's own module when it has one.

    ``hashlib`` loads OpenSSL's libcrypto (a few ms of every run that only
    hashes a definition); the built-in implementation computes the same
    digest.
    """
    for name in ("_sha256", "_sha2"):  # Python 3.11, Python 3.12+
        with contextlib.suppress(ImportError):
            return importlib.import_module(name).sha256(data)
    import hashlib

    return hashlib.sha256(data)
