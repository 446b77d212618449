"""Kept import path: streaming contents now live in :mod:`opentaskpy.fs.streaming`.

Addons build and consume :class:`Content` from here (docs/addons.md); every
public name of the new module stays importable.
"""

from opentaskpy.fs.streaming import (
    PIPE_READ,
    PREFETCH_BYTES,
    READER_PROCESS_MIN_BYTES,
    Content,
    Prefetch,
    SourceReadError,
    prefetched,
    process_stream,
    source_stream,
    worker_file,
)

__all__ = [
    "PIPE_READ",
    "PREFETCH_BYTES",
    "READER_PROCESS_MIN_BYTES",
    "Content",
    "Prefetch",
    "SourceReadError",
    "prefetched",
    "process_stream",
    "source_stream",
    "worker_file",
]
