"""Who wrote a temporary file, and whether that writer can still be alive.

Temporary names (a destination's ``.otf-partial`` files, the worker's
``OTF_STAGING_*`` directories) carry an owner tag::

    {host}-{boot}-{pid}-{start}-{random}

``host`` is a short hash of the worker's host name, ``boot`` a short hash of
the kernel's boot id, ``pid`` the writing process and ``start`` its start
time in clock ticks since boot (``0`` where ``/proc`` is missing). Clean-up
removes a temporary file only when its owner is *provably* dead:

* same host, another boot: a reboot ended every process of the old boot;
* same host and boot: no process has that pid, it is a zombie, or the
  process with that pid started at another time (the pid was reused);

or when the file is older than :func:`max_age` seconds (another host's file,
a file without an owner tag), ``OTF_PARTIAL_MAX_AGE_SECONDS``, 24 hours by
default. A live upload keeps its file's modification time recent.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
import socket
import time
from typing import NamedTuple

#: Default age after which a temporary file is removed whoever owns it.
DEFAULT_MAX_AGE_SECONDS = 24 * 3600
MAX_AGE_VARIABLE = "OTF_PARTIAL_MAX_AGE_SECONDS"

_TAG = re.compile(r"([0-9a-f]{8})-([0-9a-f]{8})-(\d{1,10})-(\d{1,20})-[0-9a-f]{6}")


class Owner(NamedTuple):
    """The process an owner tag names."""

    host: str
    boot: str
    pid: int
    start: int


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode(errors="surrogateescape")).hexdigest()[:8]


@functools.cache
def host_id() -> str:
    """Short hash of this host's name."""
    return _short_hash(socket.gethostname())


@functools.cache
def boot_id() -> str:
    """Short hash of the kernel's boot id (``00000000`` when unknown)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return _short_hash(handle.read().strip())
    except OSError:
        return "0" * 8


def start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in ticks since boot; ``None`` if it does not run.

    Returns 0 when the process exists but ``/proc`` cannot tell (not Linux).
    A zombie counts as not running.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            # The command name (field 2) may hold spaces and ")": split after it.
            fields = handle.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None if os.path.isdir("/proc/self") else _exists(pid)
    except (OSError, IndexError):
        return _exists(pid)
    if fields[0] == "Z":
        return None
    return int(fields[19])


def _exists(pid: int) -> int | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return 0


def tag() -> str:
    """Return a fresh owner tag for the current process (unique per call)."""
    return f"{_own_prefix(os.getpid())}-{secrets.token_hex(3)}"


@functools.lru_cache(maxsize=4)
def _own_prefix(pid: int) -> str:
    """Return the tag's fixed part for this process (by pid: a fork asks anew).

    Every published file gets a tag: reading ``/proc`` for each would cost
    several system calls per file for an answer that never changes.
    """
    return f"{host_id()}-{boot_id()}-{pid}-{start_ticks(pid) or 0}"


def parse(text: str) -> Owner | None:
    """Return the owner named by a tag, or ``None`` when ``text`` is not a tag."""
    match = _TAG.fullmatch(text)
    if match is None:
        return None
    host, boot, pid, start = match.groups()
    return Owner(host, boot, int(pid), int(start))


def is_dead(owner: Owner) -> bool:
    """Whether the owner provably no longer runs (see the module docstring)."""
    if owner.host != host_id():
        return False  # another host: only the age rule applies
    if owner.boot != boot_id():
        return True
    running = start_ticks(owner.pid)
    if running is None:
        return True
    return bool(owner.start and running and running != owner.start)


def max_age() -> float:
    """Seconds after which any temporary file counts as abandoned."""
    value = os.environ.get(MAX_AGE_VARIABLE, "")
    try:
        seconds = float(value)
    except ValueError:
        return DEFAULT_MAX_AGE_SECONDS
    return seconds if seconds >= 0 else DEFAULT_MAX_AGE_SECONDS


def is_abandoned(owner: Owner | None, modified_time: float) -> bool:
    """Whether a temporary file with ``owner`` may be removed now."""
    if owner is not None and is_dead(owner):
        return True
    return time.time() - modified_time > max_age()
