"""What a destination publishes: a staged worker file, or a stream from the source.

A transfer through the worker normally downloads each file into the private
staging directory and then uploads it. When a single destination receives
the files and both ends can stream (see ``can_stream_from`` / ``can_stream_to``
on :class:`~opentaskpy.remotehandlers.remotehandler.RemoteTransferHandler`),
the content goes from the source connection to the destination connection
without touching the worker's disk: a reader thread fetches ahead into a
bounded buffer while the destination writes, so both hops run at once and
memory stays constant (a small file is read in the writing thread instead:
its open overlaps the destination's, and a thread would cost more than it).
Files of ``READER_PROCESS_MIN_BYTES`` or more are read by a separate
process (:mod:`~opentaskpy.fs.streamreader`, its own connection
to the source host), because paramiko's pure-Python packet handling would
otherwise make both hops share one interpreter lock. The destination
publishes a stream exactly like a staged file (temporary name, size check,
mode, rename), so a consumer still never sees a partial file, and a failed
read on either side leaves nothing at the final name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import posixpath
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from opentaskpy.fs import origins
from opentaskpy.fs.checksums import tap
from opentaskpy.fs.fileops import FileSystem

if TYPE_CHECKING:
    import subprocess

#: Bytes the reader thread may fetch ahead of the destination.
PREFETCH_BYTES = 2 * 1024 * 1024
#: Files this large are read by a separate process (start-up ~0.3 s; at
#: 64 MiB reading in-process was still ~10 % faster here).
READER_PROCESS_MIN_BYTES = 128 * 1024 * 1024
#: Files smaller than this (by the listing) are read without a reader thread.
INLINE_MAX_BYTES = 1024 * 1024
#: Bytes read from the reader process's pipe at once (also its pipe size).
PIPE_READ = 256 * 1024


F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class SourceReadError(OSError):
    """Reading the source failed while the destination was being written."""


class Content(NamedTuple):
    """One file for a destination to publish.

    Attributes:
        label: what log lines name (a worker path, or ``host:path``).
        name: the file's base name at the source (before any ``rename``).
        write_to: puts the content at a path of a destination file system and
            returns the number of bytes written (``None`` when unknown).
        origin: where the content can also be read together with others
            (:class:`~opentaskpy.fs.origins.Origin`), or ``None``.
    """

    label: str
    name: str
    write_to: Callable[[FileSystem, str], int | None]
    origin: Any = None


def worker_file(path: str) -> Content:
    """Content of a file staged on the worker."""
    try:
        size = os.stat(path).st_size
    except OSError:  # publishing it reports why
        size = None
    origin = None
    if size is not None and size <= origins.SMALL_BYTES:
        origin = origins.Origin(origins.LOCAL, path, size)
    return Content(
        label=path,
        name=os.path.basename(path),
        write_to=lambda fs, target: fs.put(path, target),
        origin=origin,
    )


def source_stream(source: FileSystem, path: str, size: int | None = None) -> Content:
    """Content read from ``path`` on the source while it is written.

    ``size`` is the size the listing saw: a file known to be smaller than
    :data:`INLINE_MAX_BYTES` is read in the writing thread (see
    :func:`_write_inline`), any other through a reader thread.
    """
    label = f"{source.host}:{path}"

    def write_to(fs: FileSystem, target: str) -> int:
        if size is not None and size < INLINE_MAX_BYTES:
            return _write_inline(fs, target, source.start_read(path), label)
        chunks = tap(source.read_chunks(path), label)  # hashed in the reader thread
        return _write_prefetched(fs, target, chunks, label)

    return Content(label=label, name=posixpath.basename(path), write_to=write_to)


def process_stream(request: dict, path: str, fallback: Content) -> Content:
    """Content read by a reader process from ``path`` while it is written.

    Args:
        request: ``hostname``, ``protocol`` (with credentials), ``timeout``
            and ``allow_password`` for the process's own connection.
        path: the file on the source host.
        fallback: used instead when no process can be started.
    """
    label = f"{request['hostname']}:{path}"

    def write_to(fs: FileSystem, target: str) -> int | None:
        try:
            process = _start_reader()
        except OSError:  # no process to be had (limits, no executable)
            return fallback.write_to(fs, target)
        chunks = tap(_from_process(process, {**request, "path": path}), label)
        return _write_prefetched(fs, target, chunks, label)

    return Content(label=label, name=posixpath.basename(path), write_to=write_to)


def _write_prefetched(
    fs: FileSystem, target: str, chunks: Iterator[bytes], label: str
) -> int:
    """Write ``chunks`` to ``target``, read ahead by :func:`prefetched`."""
    stream = prefetched(chunks, label)
    try:
        return fs.write_chunks(stream, target)
    finally:
        stream.close()  # stops the reader at once when the write failed


def _write_inline(
    fs: FileSystem, target: str, source: Iterator[bytes], label: str
) -> int:
    """Write what ``source`` yields to ``target``, reading in this thread.

    For small files a reader thread costs more than the file (its start, and
    a hand-over per chunk); ``source`` has already sent its open
    (``FileSystem.start_read``), so it overlaps the destination's open
    anyway. A failed read is raised as :class:`SourceReadError`, as from a
    reader thread; the source file is closed however the write ends.
    """
    chunks = tap(source, label)
    try:
        return fs.write_chunks(_source_errors(chunks, label), target)
    finally:
        chunks.close()  # type: ignore[attr-defined]  # tap is a generator
        close = getattr(source, "close", None)
        if close is not None:
            close()


def _source_errors(chunks: Iterator[bytes], label: str) -> Iterator[bytes]:
    """Yield ``chunks``, raising a failure to read them as :class:`SourceReadError`."""
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - named as the source's failure
            raise SourceReadError(
                f"Reading {label} failed: {exc or type(exc).__name__}"
            ) from exc
        yield chunk


def _start_reader() -> subprocess.Popen[bytes]:
    import subprocess  # here: only large streamed files start a process

    return subprocess.Popen(
        [sys.executable, "-m", "opentaskpy.fs.streamreader"],
        # One glibc malloc arena for its two threads: ~6 MB less resident
        # memory, no measurable cost (trimming the heap instead cost ~15 %).
        env={**os.environ, "MALLOC_ARENA_MAX": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _from_process(
    process: subprocess.Popen[bytes], request: dict
) -> Generator[bytes, None, None]:
    """Yield what a reader process writes; raise its error line if it fails."""
    assert process.stdin and process.stdout and process.stderr
    try:
        with contextlib.suppress(OSError):  # a larger pipe: fewer wake-ups
            fcntl.fcntl(process.stdout.fileno(), F_SETPIPE_SZ, PIPE_READ)
        process.stdin.write(json.dumps(request).encode())
        process.stdin.close()
        fd = process.stdout.fileno()
        while data := os.read(fd, PIPE_READ):
            yield data
        error = process.stderr.read().decode(errors="replace").strip()
        if process.wait() != 0:
            raise OSError(error or f"reader process exited with {process.returncode}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pipe in (process.stdin, process.stdout, process.stderr):
            with contextlib.suppress(OSError):
                pipe.close()


def prefetched(
    chunks: Iterator[bytes], label: str, limit: int = PREFETCH_BYTES
) -> Prefetch:
    """Iterate ``chunks`` in a reader thread, at most ``limit`` bytes ahead.

    The reader starts at once, so a source is already being read while the
    destination file is still being opened (for small files the two round
    trips then overlap instead of adding up). It stops (and closes
    ``chunks``, which closes the source file) when the consumer calls
    ``close()`` or fails. An error while reading is raised to the consumer
    as :class:`SourceReadError` naming ``label``.
    """
    return Prefetch(chunks, label, limit)


class Prefetch:
    """The iterator :func:`prefetched` returns; ``close()`` stops its reader."""

    def __init__(self, chunks: Iterator[bytes], label: str, limit: int):
        """Start reading ``chunks`` in a thread."""
        self._chunks = chunks
        self._label = label
        self._limit = limit
        self._cond = threading.Condition()
        self._buffered: deque[bytes] = deque()
        self._bytes = 0
        self._done = False
        self._stopped = False
        self._failure: BaseException | None = None
        self._reader = threading.Thread(
            target=self._read, name="otf-stream-reader", daemon=True
        )
        self._reader.start()

    def _read(self) -> None:
        cond = self._cond
        try:
            for chunk in self._chunks:
                with cond:
                    while self._bytes >= self._limit and not self._stopped:
                        cond.wait()
                    if self._stopped:
                        return
                    self._buffered.append(chunk)
                    self._bytes += len(chunk)
                    cond.notify_all()
        except BaseException as exc:  # handed to the consumer
            self._failure = exc
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
            with cond:
                self._done = True
                cond.notify_all()

    def __iter__(self) -> Prefetch:
        return self

    def __next__(self) -> bytes:
        with self._cond:
            while not self._buffered and not self._done:
                self._cond.wait()
            if self._buffered:
                chunk = self._buffered.popleft()
                self._bytes -= len(chunk)
                self._cond.notify_all()
                return chunk
        self.close()
        exc = self._failure
        if exc is not None:
            raise SourceReadError(
                f"Reading {self._label} failed: {exc or type(exc).__name__}"
            ) from exc
        raise StopIteration

    def close(self) -> None:
        """Stop the reader (it closes the source) and wait for it; idempotent."""
        with self._cond:
            self._stopped = True
            self._buffered.clear()
            self._cond.notify_all()
        if self._reader is not threading.current_thread():
            self._reader.join()
