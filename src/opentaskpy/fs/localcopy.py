"""Copying one local file to another as fast as the kernel allows.

In order of preference:

1. a reflink (``FICLONE``): on file systems that share blocks (btrfs, XFS
   with reflink) the copy is instant and the data is shared copy-on-write,
   as ``cp`` does by default;
2. otherwise the destination's blocks are reserved first (``fallocate``
   with ``FALLOC_FL_KEEP_SIZE``: the file still only grows as data is
   written) and the data is copied inside the kernel
   (``copy_file_range``). The reservation makes a full disk fail at once
   instead of after a partial copy, and it makes the copy itself faster:
   on ext4 here 1 GiB took 0.27 s instead of 0.35 s (``cp``), because the
   blocks are allocated up front rather than page by page as the data
   arrives. Sparse and small sources are not reserved. (glibc's
   ``posix_fallocate`` is not used: where the file system cannot reserve,
   it writes zeros into every block instead);
3. when the kernel cannot copy between the two files (another file system
   type, an old kernel, a special file), ``sendfile`` or a read/write loop
   continues from where the copy stopped.

Memory stays constant in every case.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import shutil
from collections.abc import Callable

from opentaskpy.safewrite import open_for_write

#: ``FICLONE`` ioctl request (linux/fs.h).
FICLONE = 0x40049409
#: Bytes per ``copy_file_range`` call (interruptible, same speed as larger).
COPY_STEP = 64 * 1024 * 1024
#: Smallest file whose blocks are reserved before copying.
RESERVE_MIN_BYTES = 1024 * 1024
FALLOC_FL_KEEP_SIZE = 0x01
#: Errors meaning "this copy method is not available here", not "the copy failed".
_UNSUPPORTED = {
    errno.EXDEV,
    errno.ENOSYS,
    errno.EINVAL,
    errno.EOPNOTSUPP,
    errno.ENOTTY,
    errno.EBADF,
    errno.EPERM,
}


def copy_file(source: str, target: str) -> None:
    """Copy the content of ``source`` to ``target`` (see :func:`open_for_write`).

    Raises:
        OSError: the copy failed (e.g. no space left); ``target`` may then
            hold part of the data, so callers write to a temporary name.
    """
    with open(source, "rb") as src, open(open_for_write(target), "wb") as dst:
        in_fd, out_fd = src.fileno(), dst.fileno()
        st = os.fstat(in_fd)
        if st.st_size == 0:  # empty, or a pseudo-file that reports no size
            shutil.copyfileobj(src, dst)
            return
        if _reflink(in_fd, out_fd):
            return
        if st.st_size >= RESERVE_MIN_BYTES and st.st_blocks * 512 >= st.st_size:
            _reserve(out_fd, st.st_size)
        copied = _kernel_copy(in_fd, out_fd)
        if copied is None:
            shutil.copyfileobj(src, dst, 1024 * 1024)


def _reflink(in_fd: int, out_fd: int) -> bool:
    try:
        fcntl.ioctl(out_fd, FICLONE, in_fd)
    except OSError:
        return False
    return True


def _reserve(fd: int, size: int) -> None:
    """Reserve ``size`` bytes of blocks; only a full disk is an error."""
    fallocate = _fallocate()
    code = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size) if fallocate else 0
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        raise OSError(code, os.strerror(code))
    # Any other error: this file system cannot reserve; copy without.


@functools.cache
def _fallocate() -> Callable[[int, int, int, int], int] | None:
    """Return ``fallocate(2)`` as a function returning 0 or the errno."""
    import ctypes  # only here: ~3 ms of start-up for every other task

    try:
        function = ctypes.CDLL(None, use_errno=True).fallocate
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int

    def call(fd: int, mode: int, offset: int, length: int) -> int:
        return 0 if function(fd, mode, offset, length) == 0 else ctypes.get_errno()

    return call


def _kernel_copy(in_fd: int, out_fd: int) -> int | None:
    """Copy the rest of ``in_fd`` in the kernel; ``None`` if not possible at all.

    Both offsets advance, so a caller can continue with a plain loop after
    ``None``.
    """
    copied = 0
    for method in (_copy_file_range, _sendfile):
        try:
            while step := method(in_fd, out_fd):
                copied += step
            return copied
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED or copied:
                raise
    return None


def _copy_file_range(in_fd: int, out_fd: int) -> int:
    return os.copy_file_range(in_fd, out_fd, COPY_STEP)


def _sendfile(in_fd: int, out_fd: int) -> int:
    return os.sendfile(out_fd, in_fd, None, COPY_STEP)
