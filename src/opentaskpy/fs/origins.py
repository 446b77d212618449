"""Where a small file can be read together with others, for a group.

A content to publish (:class:`~opentaskpy.fs.streaming.Content`) may carry
an :class:`Origin`: its source's sessions, its path and its listed size, so
that :mod:`~opentaskpy.fs.smallfiles` can read and publish small files in
groups.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

#: Files up to this size (by the listing) are candidates for a group.
SMALL_BYTES = 64 * 1024


class LocalFiles:
    """Files on the worker's disk, read for a group (no round trips to save).

    The ``sessions`` of every staged file's :class:`Origin`: a group of them
    is still published with the destination's few round trips.
    """

    small_file_reads = True

    @contextlib.contextmanager
    def use(self) -> Iterator[LocalFiles]:
        """Yield this reader (the local disk needs no session)."""
        yield self

    def small_file_limit(self) -> int:
        """Return the largest file read for a group."""
        return SMALL_BYTES

    def start_small_reads(self, paths: Sequence[str], limit: int) -> _LocalReads:
        """Return the reader of ``paths`` (files over ``limit`` are refused)."""
        return _LocalReads(paths, limit)


class _LocalReads:
    def __init__(self, paths: Sequence[str], limit: int):
        self._paths = paths
        self._limit = limit

    def contents(self) -> list[bytes | BaseException]:
        return [self._read(path) for path in self._paths]

    def _read(self, path: str) -> bytes | BaseException:
        try:
            with open(path, "rb") as handle:
                data = handle.read(self._limit + 1)
        except OSError as exc:
            return exc
        if len(data) > self._limit:
            return OSError(f"{path} is larger than {self._limit} bytes")
        return data


#: The origin of every file staged on the worker.
LOCAL = LocalFiles()


class Origin(NamedTuple):
    """Where a streamed content can be read together with others.

    Attributes:
        sessions: has ``use()``, a context giving the calling worker a source
            file system for its sole use (see ``inflight.Channels``).
        path: the file on the source.
        size: its size by the listing.
    """

    sessions: Any
    path: str
    size: int
