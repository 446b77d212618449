"""The cheaper receive paths: read-ahead socket and bytearray channel buffer."""

from __future__ import annotations

import socket
import threading

import pytest

from opentaskpy.remotehandlers.sshio import ByteBufferPipe, ReadAheadSocket


@pytest.fixture
def pair():
    left, right = socket.socketpair()
    yield left, right
    left.close()
    right.close()


def test_read_ahead_socket_serves_small_reads_from_one_recv(pair):
    left, right = pair
    wrapped = ReadAheadSocket(left, size=64)
    right.sendall(bytes(range(100)))
    assert wrapped.recv(10) == bytes(range(10))
    assert wrapped.recv(100) == bytes(range(10, 64))  # rest of the first read
    assert wrapped.recv(100) == bytes(range(64, 100))


def test_read_ahead_socket_passes_everything_else_through(pair):
    left, right = pair
    wrapped = ReadAheadSocket(left)
    wrapped.settimeout(0.05)
    assert left.gettimeout() == 0.05
    with pytest.raises(TimeoutError):
        wrapped.recv(1)
    wrapped.send(b"ping")
    assert right.recv(4) == b"ping"
    right.close()
    assert wrapped.recv(1) == b""  # end of stream


def test_byte_buffer_pipe_keeps_order_across_partial_reads():
    pipe = ByteBufferPipe()
    pipe.feed(b"abc")
    pipe.feed(b"defgh")
    assert len(pipe) == 8
    assert pipe.read(2) == b"ab"
    assert pipe.read(4) == b"cdef"
    assert pipe.read(100) == b"gh"
    pipe.close()
    assert pipe.read(10) == b""


def test_byte_buffer_pipe_wakes_a_waiting_reader():
    pipe = ByteBufferPipe()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read(5, timeout=5)))
    reader.start()
    pipe.feed(b"hello")
    reader.join(5)
    assert got == [b"hello"]
