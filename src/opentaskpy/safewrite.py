"""Opening a local file for writing without ever following a symbolic link.

Every file the framework writes on the worker or a local destination is
opened here, so a link planted at the name (``done.flag -> /some/victim``)
is replaced and its target never written.
"""

from __future__ import annotations

import os

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_TRUNCATE = os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC


def open_for_write(path: str, mode: int = 0o666) -> int:
    """Open ``path`` for writing; return the file descriptor.

    A new file is created exclusively (``O_EXCL`` fails on any existing name,
    a link included), with ``mode`` less the umask. When the name exists, a
    link there is removed and the file created exclusively again (the link
    is replaced, its target never written); an existing regular file is
    truncated (``O_NOFOLLOW``: a link swapped in meanwhile is refused).
    """
    try:
        return os.open(path, _CREATE, mode)
    except FileExistsError:
        if not os.path.islink(path):
            return os.open(path, _TRUNCATE)
    os.unlink(path)
    return os.open(path, _CREATE, mode)
