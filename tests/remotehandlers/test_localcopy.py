"""Local copies: exact content on every path (kernel copy, fallbacks),
reservations that never change the result, and errors that surface."""

from __future__ import annotations

import errno
import os
import threading

import pytest

from opentaskpy.fs import localcopy
from opentaskpy.fs.localcopy import copy_file


@pytest.mark.parametrize(
    "size",
    [0, 1, 4096, localcopy.RESERVE_MIN_BYTES - 1, localcopy.RESERVE_MIN_BYTES + 1],
)
def test_copies_the_exact_content(tmp_path, size):
    payload = os.urandom(size)
    source = tmp_path / "in.bin"
    source.write_bytes(payload)
    target = tmp_path / "out.bin"
    target.write_bytes(b"old content that is longer than nothing")
    copy_file(str(source), str(target))
    assert target.read_bytes() == payload


def test_a_large_copy_spans_several_kernel_steps(tmp_path, monkeypatch):
    monkeypatch.setattr(localcopy, "COPY_STEP", 1024 * 1024)
    payload = os.urandom(3 * 1024 * 1024 + 123)
    source = tmp_path / "in.bin"
    source.write_bytes(payload)
    copy_file(str(source), str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == payload


def test_a_sparse_source_is_copied_exactly(tmp_path):
    source = tmp_path / "sparse.bin"
    with open(source, "wb") as handle:
        handle.write(b"head")
        handle.seek(8 * 1024 * 1024)
        handle.write(b"tail")
    copy_file(str(source), str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == source.read_bytes()


def test_the_reservation_allocates_blocks_but_never_pads_the_target(tmp_path):
    """Blocks are reserved with KEEP_SIZE: the size is what was written."""
    assert localcopy._fallocate() is not None  # glibc and musl both have it
    target = tmp_path / "reserved.bin"
    with open(target, "wb") as handle:
        localcopy._reserve(handle.fileno(), 4 * 1024 * 1024)
        reserved = os.fstat(handle.fileno())
        handle.write(b"abc")
    assert reserved.st_size == 0
    probe = os.open(tmp_path / "probe", os.O_WRONLY | os.O_CREAT)
    try:
        supported = localcopy._fallocate()(probe, 1, 0, 4096) == 0
    finally:
        os.close(probe)
    if supported:  # this file system can reserve: the blocks are there
        assert reserved.st_blocks * 512 >= 4 * 1024 * 1024
    assert target.read_bytes() == b"abc"


def test_a_source_reporting_no_size_is_read_to_its_end(tmp_path):
    """A FIFO (like /proc files) has st_size 0 but content."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    payload = os.urandom(300_000)
    writer = threading.Thread(target=lambda: fifo.write_bytes(payload))
    writer.start()
    copy_file(str(fifo), str(tmp_path / "out.bin"))
    writer.join(10)
    assert (tmp_path / "out.bin").read_bytes() == payload


def _unsupported(*args):
    raise OSError(errno.EXDEV, "Invalid cross-device link")


@pytest.mark.parametrize(
    "without", [["copy_file_range"], ["copy_file_range", "sendfile"]]
)
def test_falls_back_when_the_kernel_cannot_copy(tmp_path, monkeypatch, without):
    """Older kernels / other file system types: sendfile, then read/write."""
    if "copy_file_range" in without:
        monkeypatch.setattr(localcopy, "_copy_file_range", _unsupported)
    if "sendfile" in without:
        monkeypatch.setattr(localcopy, "_sendfile", _unsupported)
    payload = os.urandom(2 * 1024 * 1024 + 5)
    source = tmp_path / "in.bin"
    source.write_bytes(payload)
    copy_file(str(source), str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == payload


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_no_space_left_is_an_error(tmp_path):
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(2 * 1024 * 1024))
    with pytest.raises(OSError) as info:
        copy_file(str(source), "/dev/full")
    assert info.value.errno == errno.ENOSPC
