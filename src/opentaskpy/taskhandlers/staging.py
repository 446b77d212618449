"""Private worker-side directories: the transfer staging area and GnuPG homes.

Names follow ``{base}/OTF_STAGING_{pid}.{random}`` with ``base`` =
``OTF_STAGING_DIR`` or ``/tmp``. Unlike the reference, the random part comes
from :mod:`secrets` and the directory is created exclusively with mode 0700,
so other local users can neither predict nor pre-create or read it.

Each directory holds an owner file (``.otf-owner``, the tag of
:mod:`~opentaskpy.fs.owner`), so a later run can tell the
directory of a killed run (debris, removed by :func:`remove_abandoned`) from
that of a run still going.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import stat

from opentaskpy.fs import owner

DEFAULT_STAGING_DIR_BASE = "/tmp"
PREFIX = "OTF_STAGING_"
OWNER_FILE = ".otf-owner"


def staging_base() -> str:
    """Return ``OTF_STAGING_DIR`` or ``/tmp``."""
    return os.environ.get("OTF_STAGING_DIR") or DEFAULT_STAGING_DIR_BASE


def staging_path(base: str | None = None) -> str:
    """Return a fresh ``{base}/OTF_STAGING_{pid}.{random}`` path (not created)."""
    number = secrets.randbelow(1_000_001)
    return f"{base or staging_base()}/{PREFIX}{os.getpid()}.{number}"


def make_private_dir(path: str) -> None:
    """Create ``path`` with mode 0700, failing if it exists; parents as needed.

    Raises:
        FileExistsError: ``path`` exists already.
        OSError: it cannot be created.
    """
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    os.mkdir(path, 0o700)
    os.chmod(path, 0o700)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with open(os.open(os.path.join(path, OWNER_FILE), flags, 0o600), "w") as tag:
        tag.write(owner.tag())


def ensure_private_dir(path: str) -> None:
    """Create ``path`` privately, or accept it if it is already our private directory.

    Raises:
        OSError: it cannot be created, or it exists but is a link, not a
            directory, owned by someone else or accessible to others.
    """
    try:
        make_private_dir(path)
        return
    except FileExistsError:
        st = os.lstat(path)
    if not (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.getuid()
        and stat.S_IMODE(st.st_mode) == 0o700
    ):
        raise PermissionError(f"{path} exists and is not a private directory of ours")


def remove_staging_dir(
    path: str, source_dir: str | None, logger: logging.Logger
) -> None:
    """Remove the worker staging directory unless it is the source directory."""
    if not os.path.isdir(path):
        return
    if source_dir and os.path.realpath(source_dir) == os.path.realpath(path):
        logger.info(
            "Local staging directory is the same as source directory. Not removing"
        )
        return
    logger.info(f"Removing local staging directory {path}")
    shutil.rmtree(path, ignore_errors=True)


def remove_abandoned(base: str, logger: logging.Logger) -> None:
    """Remove staging directories of killed runs below ``base``.

    Only our own directories (not links) named ``OTF_STAGING_*`` whose owner
    file names a dead owner, or that are older than the documented age
    (:func:`~opentaskpy.fs.owner.is_abandoned`), are removed.
    """
    try:
        names = [n for n in os.listdir(base) if n.startswith(PREFIX)]
    except OSError:
        return
    for name in names:
        path = os.path.join(base, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            continue
        if owner.is_abandoned(_owner_of(path), st.st_mtime):
            logger.info(f"Removing staging directory {path} of an ended run")
            shutil.rmtree(path, ignore_errors=True)


def _owner_of(path: str) -> owner.Owner | None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        fd = os.open(os.path.join(path, OWNER_FILE), os.O_RDONLY | os.O_NOFOLLOW)
        with open(fd, encoding="ascii") as handle:
            return owner.parse(handle.read(100).strip())
    return None
