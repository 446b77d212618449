"""The cheaper receive paths: read-ahead socket and chunk-queue channel buffer."""

from __future__ import annotations

import random
import socket
import threading

import pytest

from opentaskpy.transport.ssh.sshio import ByteBufferPipe, ChunkQueue, ReadAheadSocket


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


def test_chunk_queue_matches_a_plain_buffer_for_random_operations():
    """Random appends, prefixes and deletions agree with a bytearray model."""
    rng = random.Random(7)
    queue, model = ChunkQueue(), bytearray()
    for _ in range(3000):
        op = rng.random()
        if op < 0.4:
            data = rng.randbytes(rng.choice([0, 1, 3, 50, 700]))
            queue.append(data)
            model += data
        elif op < 0.7:
            limit = rng.choice([None, 0, 1, 4, 60, 900, 5000])
            assert queue.prefix(limit) == bytes(model[:limit])
        else:
            n = rng.choice([None, 0, 1, 4, 60, 900, 5000])
            del queue[:n]
            del model[:n]
        assert len(queue) == len(model)


def test_chunk_queue_returns_a_whole_packet_without_copying():
    queue = ChunkQueue()
    packet = bytes(range(200))
    queue.append(packet)
    assert queue.prefix(200) is packet
    assert queue.prefix() is packet


def test_chunk_queue_refuses_other_deletions():
    queue = ChunkQueue()
    queue.append(b"abc")
    with pytest.raises(TypeError):
        del queue[1:2]
