"""Several files in flight at once over one SSH connection.

A small file costs a few round trips (open, write, size check and close,
rename) and almost no bandwidth, so one file after the other leaves the
connection idle most of the time. Up to ``OTF_SFTP_FILES_IN_FLIGHT`` files
(default 4; ``1`` sends one after the other) are therefore handled at once,
each by a worker thread of its own, and each worker uses SFTP channels of
its own on the connections it shares with the others: paramiko's
``SFTPClient`` reads the answers to its requests without a lock, so two
threads must never use one session, while channels of one transport are
independent. Worker ``0`` uses the handler's own session; the others open
theirs on first use.

Only the scheduling changes: every file is still published on its own by
:func:`~opentaskpy.fs.fileops.publish` (temporary name, size
check, rename), failures are still reported per file, and the callers return
only after every file has been handled, so a post-copy action still follows
the last delivery.

Memory: every file in flight holds its own read-ahead and write window, so a
transfer of several large files may use up to that many times the memory of
one (a single file is always sent in the calling thread).
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from opentaskpy.envsettings import bounded_int
from opentaskpy.fs import checksums, origins, streaming

if TYPE_CHECKING:  # local transfers use run_each without loading paramiko
    from opentaskpy.fs.fileops import FileSystem
    from opentaskpy.fs.sftpfs import SFTPFileSystem

ENV = "OTF_SFTP_FILES_IN_FLIGHT"
DEFAULT = 4
#: Upper bound: OpenSSH allows 10 sessions per connection by default.
MAXIMUM = 8
#: Seconds workers get to finish their current file after an interruption.
STOP_GRACE = 5.0

T = TypeVar("T")
_slot = threading.local()


def files_in_flight(logger: logging.Logger | None = None) -> int:
    """Return ``OTF_SFTP_FILES_IN_FLIGHT`` (default 4, between 1 and 8).

    A value that is not a whole number is named in a warning on ``logger``
    and the default applies.
    """
    return bounded_int(ENV, DEFAULT, 1, MAXIMUM, logger)


def current_slot() -> int:
    """Return the worker number of the calling thread (``0`` outside workers)."""
    return int(getattr(_slot, "index", 0))


def run_each(
    items: Sequence[T],
    work: Callable[[T], None],
    count: int | None = None,
    last: Callable[[], None] | None = None,
) -> None:
    """Call ``work(item)`` for every item, up to ``count`` at once, in order.

    Items are taken in order by ``min(count, len(items))`` worker threads
    (``count`` defaults to :func:`files_in_flight`); with one worker the
    items are handled in the calling thread, exactly as a plain loop. ``work``
    reports its own failures; an exception escaping it stops the other
    workers taking further items and is raised here once they have ended.
    ``last()`` is called by each worker as it stops, also when an error or a
    signal stops it early, to finish what its last item left open.
    """
    workers = min(count or files_in_flight(), len(items))
    if workers <= 1:
        try:
            for item in items:
                work(item)
        finally:
            if last is not None:
                last()
        return
    pending = iter(items)
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []
    # The transfer that called us watches its publishes (delivery ledger,
    # verification) per thread: its workers publish on its behalf.
    publish_observer = checksums.own_observer()

    def worker(index: int) -> None:
        _slot.index = index
        checksums.observe(publish_observer)
        try:
            while not stop.is_set():
                with lock:
                    item = next(pending, _END)
                if item is _END:
                    return
                try:
                    work(item)  # type: ignore[arg-type]
                except BaseException as exc:  # handed to the calling thread
                    errors.append(exc)
                    stop.set()
                    return
        finally:
            try:
                if last is not None:
                    last()
            finally:
                checksums.observe(None)

    threads = [
        threading.Thread(target=worker, args=(i,), name=f"otf-file-{i}", daemon=True)
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        # A signal in the calling thread: no new files. Those being written
        # get a moment to be published or removed by their own workers (as
        # publish does); one still busy after it leaves a temporary file
        # owned by this process, which the next run removes (as after a kill).
        stop.set()
        deadline = time.monotonic() + STOP_GRACE
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        raise
    if errors:
        raise errors[0]


_END = object()


class Channels:
    """One SFTP file system per worker, all on the connection of ``primary``.

    :meth:`use` hands the calling worker its own session, holding a lock on
    it: should an extra session not open (a server allowing fewer sessions
    per connection), that worker shares the primary one under its lock, so
    the files still go one at a time on it instead of failing.
    """

    def __init__(self, primary: SFTPFileSystem, logger: logging.Logger):
        """Wrap the handler's own file system (worker 0's)."""
        self.primary = primary
        self._logger = logger
        self._by_slot: dict[int, SFTPFileSystem] = {0: primary}
        self._locks: dict[int, threading.Lock] = {id(primary): threading.Lock()}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def use(self) -> Iterator[SFTPFileSystem]:
        """Yield the calling worker's file system, held for its sole use."""
        fs = self._for_slot(current_slot())
        with self._locks[id(fs)]:
            yield fs

    def _for_slot(self, slot: int) -> SFTPFileSystem:
        with self._lock:
            fs = self._by_slot.get(slot)
        if fs is not None:
            return fs
        try:
            fs = self.primary.sibling()
        except Exception as exc:  # noqa: BLE001 - shares the primary instead
            self._logger.warning(
                f"[{self.primary.host}] Could not open another SFTP session, "
                f"sending files one at a time on it: {exc}"
            )
            fs = self.primary
        with self._lock:
            self._by_slot[slot] = fs
            self._locks.setdefault(id(fs), threading.Lock())
        return fs

    def source_stream(self, path: str, size: int | None = None) -> streaming.Content:
        """Content read from ``path`` on the reading worker's own session.

        ``size``: the listing's size (see :func:`streaming.source_stream`).
        """
        label = f"{self.primary.host}:{path}"

        def write_to(fs: FileSystem, target: str) -> int | None:
            with self.use() as source:
                content = streaming.source_stream(source, path, size)
                return content.write_to(fs, target)

        origin = None
        if size is not None and size <= origins.SMALL_BYTES:
            origin = origins.Origin(self, path, size)
        return streaming.Content(
            label=label, name=posixpath.basename(path), write_to=write_to, origin=origin
        )
