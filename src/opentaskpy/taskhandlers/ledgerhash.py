"""Settings of the delivery ledger and hashing a file where it is.

See :mod:`~opentaskpy.taskhandlers.ledgering` and ``docs/runs.md``.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from opentaskpy.fs import checksums

#: Environment: verify every destination unless it says ``verify: false``.
VERIFY_ENV = "OTF_VERIFY"
#: Environment: send every file again, whatever the ledger says.
RESEND_ENV = "OTF_RESEND"
#: Environment: ``0`` turns in-stream hashing off (the ledger still records).
HASH_ENV = "OTF_LEDGER_HASH"
#: Delivered rows are written in one transaction per this many rows, or
#: after this many seconds, whichever comes first (``deliverOnce``: at once).
BATCH_ROWS = 100
BATCH_SECONDS = 0.25


def env_on(name: str) -> bool:
    """Whether environment variable ``name`` says yes (1, true, yes, on)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def verify_wanted(spec: dict) -> bool:
    """Whether a destination's copies are verified (its field, else ``OTF_VERIFY``)."""
    if "verify" in spec:
        return bool(spec["verify"])
    return env_on(VERIFY_ENV)


def dest_identity(spec: dict) -> tuple[str, str]:
    """Return ``(host, directory)``: what names a destination in the ledger."""
    protocol = (spec.get("protocol") or {}).get("name", "")
    host = str(spec.get("hostname") or ("LOCALHOST" if protocol == "local" else ""))
    where = spec.get("directory")
    if where is None and spec.get("recipients"):
        where = ",".join(str(r) for r in spec["recipients"])
    return host, str(where or "")


def hash_at(spec: dict, handler: Any, path: str, fs: Any = None) -> str | None:
    """Return the sha256 of ``path`` where it is.

    On the worker's disk it is read; on an SSH host ``sha256sum`` runs there
    (quoted; read back over SFTP when it is missing); on an SFTP server the
    file is read back.

    Args:
        spec: the source or destination spec (its protocol decides).
        handler: that end's handler (for its connection).
        path: the file.
        fs: the file system to read back from (default: the handler's).
    """
    protocol = (spec.get("protocol") or {}).get("name")
    if protocol == "local":
        return checksums.sha256_file(path)
    if protocol == "ssh":
        result = handler.connection().run(f"sha256sum -- {shlex.quote(path)}")
        found = (
            checksums.parse_sha256sum(result.stdout) if not result.exit_code else None
        )
        if found:
            return found
    if fs is None and hasattr(handler, "filesystem"):
        fs = handler.filesystem()
    if fs is None:
        return None
    return checksums.sha256_chunks(fs.read_chunks(path))


def one_line_or_none(text: str | None) -> str | None:
    """``text`` as one masked line for the ledger (``None`` stays ``None``)."""
    if not text:
        return None
    from opentaskpy.runs.fields import one_line

    return one_line(text)
