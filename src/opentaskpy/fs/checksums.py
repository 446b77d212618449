"""sha256 of the bytes that pass through opentaskpy, and the publish hook.

A transfer that keeps a delivery ledger turns hashing on for its thread
(:func:`observe`). The byte-moving code then hashes the chunks it already
holds (:func:`tap`): a stream from the source, a download to the worker, an
upload of a worker file. No file is read a second time for it, and
``hashlib`` releases the interpreter lock for large buffers, so the hash
runs beside the network work. The digest of a fully read content is kept
under its label (``host:path`` or a worker path) until the transfer takes it.

:func:`fileops.publish <opentaskpy.fs.fileops.publish>` calls the
thread's observer before the rename (where a verification may refuse the
file) and after it (where the ledger records the delivery).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

#: Read size for hashing a file that did not pass through a stream.
HASH_CHUNK = 1024 * 1024

#: label -> (sha256 hex, bytes) of contents read to their end.
DIGESTS: dict[str, tuple[str, int]] = {}

#: ``False`` (``OTF_LEDGER_HASH=0``) records deliveries without hashing them.
HASH = True

_observers: dict[int, PublishObserver] = {}
_lock = threading.Lock()


class PublishObserver(Protocol):
    """What a transfer that records its deliveries is told by ``publish``."""

    def before_rename(
        self, fs: Any, temporary: str, final_path: str, label: str
    ) -> None:
        """Check the complete file at ``temporary``; raise ``OSError`` to refuse it."""

    def published(self, fs: Any, final_path: str, label: str, size: int | None) -> None:
        """Note that the file is under its final name."""

    def failed(
        self, fs: Any, final_path: str, label: str, error: BaseException
    ) -> None:
        """Note a failed publish (nothing is under the final name)."""


def observe(observer: PublishObserver | None) -> None:
    """Set (or with ``None`` clear) the observer of the calling thread."""
    with _lock:
        if observer is None:
            _observers.pop(threading.get_ident(), None)
        else:
            _observers[threading.get_ident()] = observer


def own_observer() -> PublishObserver | None:
    """Return the observer set by the calling thread itself (no fallback)."""
    return _observers.get(threading.get_ident())


def observer() -> PublishObserver | None:
    """Return the calling thread's observer; the only one when exactly one is set.

    Publishing may happen in a helper thread of the transfer; with several
    transfers in one process (a batch) each publishes in its own thread.
    """
    if not _observers:
        return None
    found = _observers.get(threading.get_ident())
    if found is None and len(_observers) == 1:
        found = next(iter(_observers.values()), None)
    return found


def observed_rename(
    fs: Any,
    temporary: str,
    final_path: str,
    label: str,
    size: int | None,
    rename: Callable[[str, str], None],
) -> None:
    """Rename a complete file into place, telling the thread's observer.

    For publishing steps that do not go through ``fileops.publish`` (a file
    received next to its final name is only renamed).
    """
    watcher = observer()
    try:
        if watcher is not None:
            watcher.before_rename(fs, temporary, final_path, label)
        rename(temporary, final_path)
    except BaseException as exc:
        if watcher is not None:
            watcher.failed(fs, final_path, label, exc)
        raise
    if watcher is not None:
        watcher.published(fs, final_path, label, size)


def hashing() -> bool:
    """Whether contents should be hashed as they pass (any observer set)."""
    return HASH and bool(_observers)


def tap(chunks: Iterable[bytes], label: str) -> Iterator[bytes]:
    """Yield ``chunks`` unchanged, hashing them; keep the digest at the end.

    Nothing is hashed when no transfer records its deliveries, or when the
    content of ``label`` was already hashed (a staged file uploaded again).
    """
    if not hashing() or label in DIGESTS:
        yield from chunks
        return
    digest = hashlib.sha256()
    update = digest.update
    count = 0
    for chunk in chunks:
        update(chunk)
        count += len(chunk)
        yield chunk
    DIGESTS[label] = (digest.hexdigest(), count)


def take(label: str) -> tuple[str, int] | None:
    """Return (and forget) the digest kept for ``label``."""
    return DIGESTS.pop(label, None)


def peek(label: str) -> tuple[str, int] | None:
    """Return the digest kept for ``label`` without forgetting it."""
    return DIGESTS.get(label)


def sha256_chunks(chunks: Iterable[bytes]) -> str:
    """Return the sha256 (hex) of ``chunks``."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: str) -> str:
    """Return the sha256 (hex) of a local file."""
    with open(path, "rb") as handle:
        return sha256_chunks(iter(lambda: handle.read(HASH_CHUNK), b""))


def parse_sha256sum(output: str) -> str | None:
    """Return the digest from ``sha256sum`` output (``None`` when there is none)."""
    word = output.strip().split(" ", 1)[0].lstrip("\\").lower()
    if len(word) == 64 and all(c in "0123456789abcdef" for c in word):
        return word
    return None
