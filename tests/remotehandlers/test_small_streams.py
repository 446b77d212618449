"""Small files streamed from an SFTP source without a reader thread.

A file the listing saw as small is read in the writing thread: its open is
sent before the destination's (the two overlap without a thread), a failed
read is still named as the source's failure and leaves nothing at the
destination, and the source file is closed however the copy ends.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

import pytest

from opentaskpy.fs import fileops, streaming
from opentaskpy.fs.streaming import SourceReadError
from opentaskpy.transport.ssh.sftpread import CMD_OPEN, CMD_READ, CMD_STAT
from support.ssh_helpers import sftp_filesystem


def _held_open(path: Path) -> bool:
    """Whether any process (the sftp-server) has ``path`` open."""
    target = str(path)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return True
            except OSError:
                continue
    return False


def _publish(dst_fs, content: streaming.Content, directory: Path) -> str:
    return fileops.publish(
        dst_fs,
        content.label,
        str(directory),
        content.name,
        place=functools.partial(content.write_to, dst_fs),
    )


def test_a_small_file_goes_without_a_reader_thread_and_opens_overlap(
    ssh_env, dirs, monkeypatch
):
    payload = os.urandom(4096 + 17)
    ssh_env.write_file(dirs["src"] / "small.dat", payload)
    prefetches: list[str] = []
    real_prefetched = streaming.prefetched
    monkeypatch.setattr(
        streaming,
        "prefetched",
        lambda chunks, label, *a: (
            prefetches.append(label) or real_prefetched(chunks, label, *a)
        ),
    )
    with (
        sftp_filesystem(ssh_env, "ssh1") as src_fs,
        sftp_filesystem(ssh_env, "sftp") as dst_fs,
    ):
        events: list[str] = []
        real_request = src_fs.sftp._async_request
        real_open = dst_fs.sftp.open

        def source_request(fileobj, t, *args):
            if t in (CMD_OPEN, CMD_STAT, CMD_READ):  # not the limits asked once
                events.append(f"source {t}")
            return real_request(fileobj, t, *args)

        def destination_open(*args, **kwargs):
            events.append("destination open")
            return real_open(*args, **kwargs)

        monkeypatch.setattr(src_fs.sftp, "_async_request", source_request)
        monkeypatch.setattr(dst_fs.sftp, "open", destination_open)
        path = str(dirs["src"] / "small.dat")
        content = streaming.source_stream(src_fs, path, size=len(payload))
        final = _publish(dst_fs, content, dirs["dst"])
        assert prefetches == []
        # The source's open and stat were on their way before the
        # destination's open; its read followed.
        assert events[:4] == [
            f"source {CMD_OPEN}",
            f"source {CMD_STAT}",
            "destination open",
            f"source {CMD_READ}",
        ]
        # Unknown size (or a large one): the reader thread as before.
        big = streaming.source_stream(src_fs, path, size=None)
        os.remove(final)
        _publish(dst_fs, big, dirs["dst"])
        assert prefetches == [big.label]
    assert (dirs["dst"] / "small.dat").read_bytes() == payload
    assert sorted(p.name for p in dirs["dst"].iterdir()) == ["small.dat"]
    assert not _held_open(dirs["src"] / "small.dat")


def test_a_started_read_closes_the_file_read_or_not(ssh_env, dirs):
    path = dirs["src"] / "held.dat"
    ssh_env.write_file(path, b"h" * 200_000)  # more than one read request
    with sftp_filesystem(ssh_env, "ssh1") as fs:
        reading = fs.start_read(str(path))
        assert next(reading).startswith(b"h")
        assert _held_open(path)  # the probe sees the server's open file
        reading.close()
        assert fs.stat(str(path)) is not None  # consumes the close's answer
        assert not _held_open(path)
        assert not fs.sftp._expecting
        # A file one request holds is closed with its read.
        small = dirs["src"] / "small.dat"
        ssh_env.write_file(small, b"s" * 5000)
        assert list(fs.start_read(str(small))) == [b"s" * 5000]
        assert fs.stat(str(small)) is not None
        assert not _held_open(small)
        assert not fs.sftp._expecting
        # Never read (the destination could not be opened): closed all the same.
        unread = fs.start_read(str(path))
        unread.close()
        assert fs.stat(str(path)) is not None
        assert not _held_open(path)
        assert not fs.sftp._expecting


def test_a_small_source_file_gone_fails_by_name_and_leaves_nothing(ssh_env, dirs):
    with (
        sftp_filesystem(ssh_env, "ssh1") as src_fs,
        sftp_filesystem(ssh_env, "sftp") as dst_fs,
    ):
        path = str(dirs["src"] / "gone.dat")  # listed, then removed
        content = streaming.source_stream(src_fs, path, size=4096)
        with pytest.raises(SourceReadError, match=r"Reading .*gone\.dat failed"):
            _publish(dst_fs, content, dirs["dst"])
        assert list(dirs["dst"].iterdir()) == []  # no temporary file either
        # Both sessions go on.
        ssh_env.write_file(dirs["src"] / "gone.dat", b"back")
        _publish(dst_fs, content, dirs["dst"])
    assert (dirs["dst"] / "gone.dat").read_bytes() == b"back"


def _count_channel_writes(fs, monkeypatch) -> list[int]:
    """Record the size of every write of ``fs``'s session to its channel."""
    writes: list[int] = []
    channel = fs.sftp.sock
    real_send = channel.send
    monkeypatch.setattr(
        channel, "send", lambda data: writes.append(len(data)) or real_send(data)
    )
    return writes


def test_requests_that_go_out_together_are_one_channel_write(
    ssh_env, dirs, monkeypatch
):
    """A small file costs the destination three writes to the channel (open;
    last write, size check and close; rename) and the source two (open and
    stat; read and close)."""
    payload = os.urandom(4000)
    ssh_env.write_file(dirs["src"] / "few.dat", payload)
    with (
        sftp_filesystem(ssh_env, "ssh1") as src_fs,
        sftp_filesystem(ssh_env, "sftp") as dst_fs,
    ):
        # Request sizes and name limits are asked once, before counting.
        src_fs.start_read(str(dirs["src"] / "few.dat")).close()
        dst_fs.write_chunks(iter([b"warm"]), str(dirs["dst"] / "warm.dat"))
        dst_fs.name_max(str(dirs["dst"]))
        os.remove(dirs["dst"] / "warm.dat")
        dst_writes = _count_channel_writes(dst_fs, monkeypatch)
        src_writes = _count_channel_writes(src_fs, monkeypatch)
        content = streaming.source_stream(
            src_fs, str(dirs["src"] / "few.dat"), size=len(payload)
        )
        _publish(dst_fs, content, dirs["dst"])
        assert len(dst_writes) == 3
        assert dst_writes[1] > len(payload)  # the data rides with FSTAT, CLOSE
        assert len(src_writes) == 2  # open+stat, read+close
        assert not dst_fs.sftp._expecting
    assert (dirs["dst"] / "few.dat").read_bytes() == payload


def test_a_failure_inside_a_cork_still_sends_what_was_asked(ssh_env, dirs):
    """A request number handed out is always sent: its answer comes, and
    the session goes on (nothing waits for an answer that cannot come)."""
    from opentaskpy.transport.ssh.sftpread import Answers, answer, corked

    with sftp_filesystem(ssh_env, "sftp") as fs:
        answers = Answers()
        with pytest.raises(RuntimeError), corked(fs.sftp):
            num = fs.sftp._async_request(answers, CMD_STAT, str(dirs["dst"]))
            raise RuntimeError("between two requests")
        t, _ = answer(fs.sftp, answers, num)
        assert t != 0
        assert fs.stat(str(dirs["dst"])) is not None


def test_the_connection_sends_small_requests_at_once(ssh_env):
    """Nagle's algorithm is off on the TCP connection: a request written
    whole is not held back until the previous one is acknowledged."""
    with sftp_filesystem(ssh_env, "sftp") as fs:
        transport = fs.sftp.get_channel().get_transport()
        sock = transport.sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
