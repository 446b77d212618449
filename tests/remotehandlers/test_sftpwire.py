"""The SFTP session's own request and response primitives, on a real sshd.

Answers are cut out of large channel reads (all that arrived together are
served by one read, a packet split over reads is put back together, a
stream ending mid-packet fails as paramiko's did) and requests are packed
with ``struct`` byte for byte as paramiko's ``Message`` packed them, and
paramiko's own client methods keep working on top.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sftpread import (
    CMD_ATTRS,
    CMD_STAT,
    Answers,
    answer,
    attributes,
    corked,
    read_pipelined,
)
from opentaskpy.transport.ssh.sftpwire import WireClient
from support.channel_shaping import ShapedRecv
from support.helpers import wait_for
from support.ssh_helpers import sftp_filesystem

_sftp = paramiko.sftp


def _files(env, directory: Path, count: int) -> list[str]:
    """``count`` files in ``directory``; file ``i`` holds ``i`` bytes."""
    return [str(env.write_file(directory / f"f{i:03}", b"x" * i)) for i in range(count)]


def test_the_session_uses_the_cheaper_primitives(ssh_env):
    with sftp_filesystem(ssh_env, "sftp") as fs:
        assert isinstance(fs.sftp, WireClient)
    ours = {name for name in vars(WireClient) if name.startswith("_wire_")}
    assert ours, "the buffer's names are checked against paramiko's below"
    for name in ours:  # our own state must not shadow a paramiko attribute
        assert not hasattr(paramiko.SFTPClient, name)


def test_answers_that_arrived_together_are_all_dispatched_from_one_read(ssh_env, dirs):
    paths = _files(ssh_env, dirs["src"], 50)
    with sftp_filesystem(ssh_env, "sftp") as fs:
        wire = fs.sftp
        _, probe = wire._request(CMD_STAT, paths[0])
        packet = 5 + len(probe.asbytes())  # length, type, then the message
        shaped = ShapedRecv(wire.get_channel())
        answers = Answers()
        with corked(wire):
            nums = [wire._async_request(answers, CMD_STAT, p) for p in paths]
        assert nums == list(range(nums[0], nums[0] + 50))
        # Every answer is in the channel's buffer before the first read.
        assert wait_for(lambda: shaped.buffered() >= 50 * packet)
        sizes = [attributes(wire, *answer(wire, answers, n)).st_size for n in nums]
        assert sizes == list(range(50))
        assert shaped.sizes == [50 * packet]
        assert not any(n in wire._expecting for n in nums)


def test_packets_split_over_many_reads_are_put_back_together(ssh_env, dirs):
    paths = _files(ssh_env, dirs["src"], 20)
    payload = os.urandom(3 * 16384 + 123)
    big = ssh_env.write_file(dirs["src"] / "big.dat", payload)
    with sftp_filesystem(ssh_env, "sftp") as fs:
        wire = fs.sftp
        shaped = ShapedRecv(wire.get_channel(), limit=3)  # splits every header
        answers = Answers()
        with corked(wire):
            nums = [wire._async_request(answers, CMD_STAT, p) for p in paths]
        sizes = [attributes(wire, *answer(wire, answers, n)).st_size for n in nums]
        assert sizes == list(range(20))
        content = b"".join(read_pipelined(wire, str(big), 16384, 4 * 16384))
        assert content == payload
        assert max(shaped.sizes) == 3
        assert len(shaped.sizes) > len(payload) // 3
        shaped.restore()
        assert wire.stat(str(big)).st_size == len(payload)


def _captured(wire, request, *args) -> bytes:
    """The bytes ``request(wire, None-type, *args)`` writes, not sent."""
    parts: list[bytes] = []
    wire._write_all = parts.append
    try:
        request(wire, type(None), *args)
    finally:
        del wire._write_all
    return b"".join(parts)


def test_requests_are_packed_as_paramiko_packed_them_and_answered(ssh_env, dirs):
    name = "donn\u00e9es-\u00e9t\u00e9.bin"
    target = dirs["dst"] / name
    attrs = paramiko.SFTPAttributes()
    attrs.st_mode = 0o640
    flags = _sftp.SFTP_FLAG_CREATE | _sftp.SFTP_FLAG_WRITE | _sftp.SFTP_FLAG_TRUNC
    with sftp_filesystem(ssh_env, "sftp") as fs:
        wire = fs.sftp
        open_args = (_sftp.CMD_OPEN, str(target), int(flags), attrs)
        ours = _captured(wire, WireClient._async_request, *open_args)
        theirs = _captured(wire, paramiko.SFTPClient._async_request, *open_args)
        # Same bytes but the request number (after length and type).
        assert ours[:5] == theirs[:5] and ours[9:] == theirs[9:]
        t, msg = wire._request(*open_args)
        handle = msg.get_binary()
        far = _sftp.int64(2**32 + 3)  # needs all eight bytes
        for offset, data in ((far, b"tail"), (_sftp.int64(0), bytearray(b"head"))):
            args = (_sftp.CMD_WRITE, handle, offset, data)
            ours = _captured(wire, WireClient._async_request, *args)
            theirs = _captured(wire, paramiko.SFTPClient._async_request, *args)
            assert ours[:5] == theirs[:5] and ours[9:] == theirs[9:]
            assert wire._request(*args)[0] == _sftp.CMD_STATUS  # raises if refused
        t, msg = wire._request(_sftp.CMD_FSTAT, handle)
        assert attributes(wire, t, msg).st_size == 2**32 + 3 + 4
        wire._request(_sftp.CMD_CLOSE, handle)
        times = paramiko.SFTPAttributes()
        times.st_atime, times.st_mtime = 1_000_000_000, 1_234_567_890
        wire._request(_sftp.CMD_SETSTAT, os.fsencode(target), times)  # bytes path
        t, msg = wire._request(_sftp.CMD_EXTENDED, "statvfs@openssh.com", str(target))
        assert t == _sftp.CMD_EXTENDED_REPLY
    found = os.stat(target)
    assert stat.S_IMODE(found.st_mode) == 0o640
    assert found.st_size == 2**32 + 3 + 4
    assert found.st_mtime == 1_234_567_890
    with open(target, "rb") as written:
        assert written.read(4) == b"head"
        written.seek(2**32 + 3)
        assert written.read() == b"tail"
    target.unlink()  # a sparse 4 GiB file


def test_a_stream_ending_mid_answer_fails_as_paramikos_did(ssh_env, dirs):
    path = _files(ssh_env, dirs["src"], 3)[2]
    with sftp_filesystem(ssh_env, "sftp") as fs:
        wire = fs.sftp
        shaped = ShapedRecv(wire.get_channel())
        shaped.cut_after = 10  # the length and part of the first answer
        with pytest.raises(paramiko.SSHException, match="^Server connection dropped"):
            wire.stat(path)
        with pytest.raises(paramiko.SSHException, match="^Server connection dropped"):
            wire.stat(path)  # nothing more comes: fails again, does not hang


def test_a_timeout_mid_answer_keeps_what_was_received(ssh_env, dirs):
    path = _files(ssh_env, dirs["src"], 6)[5]
    with sftp_filesystem(ssh_env, "sftp") as fs:
        wire = fs.sftp
        shaped = ShapedRecv(wire.get_channel())
        shaped.timeouts = [2, 11]  # inside the length, then inside the body
        num = wire._async_request(type(None), CMD_STAT, path)
        for _ in shaped.timeouts[:]:
            with pytest.raises(socket.timeout):
                wire._read_response(num)
        t, msg = wire._read_response(num)
        assert t == CMD_ATTRS
        assert paramiko.SFTPAttributes._from_msg(msg).st_size == 5
        assert shaped.sizes[:2] == [2, 9]


def test_a_garbage_length_is_refused_as_paramiko_refuses_it(ssh_env):
    with sftp_filesystem(ssh_env, "sftp") as fs:
        wire = fs.sftp
        wire._wire_buffer, wire._wire_pos = b"\x01\x00\x00\x05\x65hello", 0
        with pytest.raises(_sftp.SFTPError, match="Garbage packet"):
            wire._read_packet()
        # Too short for its request number: zero-padded as paramiko's
        # Message pads it, so an unexpected answer (65536), dropped.
        wire._wire_buffer, wire._wire_pos = b"\x00\x00\x00\x03\x65\x00\x01", 0
        assert wire._read_response() == (None, None)
        # An empty packet has type 0 and no data.
        wire._wire_buffer, wire._wire_pos = b"\x00\x00\x00\x00", 0
        assert wire._read_packet() == (0, b"")
        assert wire.stat(".").st_mode  # the session still works after


def test_an_error_status_raises_paramikos_errors(ssh_env, dirs):
    with sftp_filesystem(ssh_env, "sftp") as fs:
        with pytest.raises(FileNotFoundError):
            fs.sftp.stat(str(dirs["src"] / "missing"))
        with pytest.raises(PermissionError):
            fs.sftp.open("/root/forbidden", "wb")


def test_paramikos_own_methods_work_on_a_session(ssh_env, dirs):
    paths = _files(ssh_env, dirs["src"], 5)
    payload = os.urandom(300_000)
    with sftp_filesystem(ssh_env, "sftp") as fs:
        sftp = fs.sftp
        listed = {a.filename: a.st_size for a in sftp.listdir_attr(str(dirs["src"]))}
        assert listed == {os.path.basename(p): i for i, p in enumerate(paths)}
        streamed = {a.filename for a in sftp.listdir_iter(str(dirs["src"]))}
        assert streamed == set(listed)
        assert sftp.stat(paths[3]).st_size == 3
        with sftp.open(str(dirs["dst"] / "up.dat"), "wb") as remote:
            remote.set_pipelined(True)
            for start in range(0, len(payload), 32768):
                remote.write(payload[start : start + 32768])
        sftp.rename(str(dirs["dst"] / "up.dat"), str(dirs["dst"] / "moved.dat"))
        with sftp.open(str(dirs["dst"] / "moved.dat"), "rb") as remote:
            remote.prefetch()
            assert remote.read() == payload
        sftp.mkdir(str(dirs["dst"] / "sub"))
        sftp.chdir(str(dirs["dst"]))
        assert sftp.normalize("sub") == os.path.realpath(dirs["dst"] / "sub")
        sftp.remove(paths[0])
    assert (dirs["dst"] / "moved.dat").read_bytes() == payload
    assert not (dirs["dst"] / "up.dat").exists()
    assert (dirs["dst"] / "sub").is_dir()
    assert not os.path.exists(paths[0])
