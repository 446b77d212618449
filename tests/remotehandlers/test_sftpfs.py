"""SFTPFileSystem streaming against the real SFTP-only sshd: sizes at every
request and window boundary arrive byte for byte, in both directions."""

from __future__ import annotations

import os

import pytest

from opentaskpy.fs import sftpfs
from opentaskpy.fs.sftpfs import SFTPFileSystem
from opentaskpy.otflogging import init_logging
from opentaskpy.transport.ssh import sftpsession
from opentaskpy.transport.ssh.sftpsession import request_sizes
from opentaskpy.transport.ssh.sshconn import SFTP_MAX_PACKET, SSHConnection

WINDOW = sftpfs.WINDOW_BYTES
SIZES = [
    0,
    1,
    sftpsession.BASIC_READ - 1,
    sftpsession.OPENSSH_READ,
    sftpsession.OPENSSH_READ + 1,
    3 * sftpsession.OPENSSH_READ - 7,
    WINDOW,
    WINDOW + 1,
    2 * WINDOW + sftpsession.OPENSSH_READ + 5,
]


@pytest.fixture
def conn(ssh_env):
    server = ssh_env.hosts["sftp"]
    connection = SSHConnection(
        server.address,
        ssh_env.protocol("sftp", hostKeyValidation=False),
        init_logging(__name__, "sftpfs-test", "T"),
        allow_password=True,
    )
    try:
        connection.connect(retry=False)
        yield connection
    finally:
        connection.close()


def test_request_sizes_fit_the_packets(conn):
    sftp = conn.sftp()
    channel = sftp.get_channel()
    assert channel is not None
    assert channel.in_max_packet_size == SFTP_MAX_PACKET
    read_size, write_size = request_sizes(sftp)
    assert read_size == sftpsession.OPENSSH_READ  # OpenSSH's sftp-server
    assert read_size + 64 <= SFTP_MAX_PACKET
    # OpenSSH (8.6+) reports its write limit: writes use it, up to MAX_WRITE.
    server_limit = sftpsession.server_max_write(sftp)
    assert server_limit is not None and server_limit > 32768
    assert write_size == min(server_limit, sftpsession.MAX_WRITE)


def test_the_session_keeps_the_extensions_the_server_announced(conn):
    sftp = conn.sftp()
    assert isinstance(sftp, sftpsession.SFTPSession)
    assert "limits@openssh.com" in sftp.server_extensions
    assert sftp.server_extensions["posix-rename@openssh.com"] == b"1"


def test_basic_writes_fill_one_packet_without_the_limits_extension(conn):
    """A server that does not announce limits@openssh.com is never asked."""
    sftp = conn.sftp()
    sftp.server_extensions = {}
    asked = []
    request = sftp._request
    sftp._request = lambda t, *args: asked.append(args) or request(t, *args)
    try:
        assert sftpsession.server_max_write(sftp) is None
        _, write_size = request_sizes(sftp)
    finally:
        del sftp._request
    assert not asked
    channel = sftp.get_channel()
    assert write_size == min(32768, channel.out_max_packet_size) - 128


def test_a_malformed_extension_list_keeps_what_parsed():
    msg = sftpsession.paramiko.Message()
    msg.add_int(3)
    msg.add_string("a@x")
    msg.add_string("1")
    data = msg.asbytes() + b"\x00\x00\x00\x09trunc"  # a name cut short
    assert sftpsession._extensions(data) == {"a@x": b"1"}


def test_an_unknown_extension_is_none_and_the_session_goes_on(conn, dirs):
    sftp = conn.sftp()
    assert sftpsession.extended_request(sftp, "no-such-thing@example.com") is None
    assert sftp.stat(str(dirs["dst"])).st_mode is not None


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_is_byte_exact(conn, dirs, tmp_path, size):
    fs = SFTPFileSystem(conn.sftp(), "sftp")
    payload = os.urandom(size)
    local = tmp_path / "in.bin"
    local.write_bytes(payload)
    remote = dirs["dst"] / "up.bin"
    fs.put(str(local), str(remote))
    assert remote.read_bytes() == payload
    back = tmp_path / "back.bin"
    fs.get(str(remote), str(back))
    assert back.read_bytes() == payload


def test_short_reads_from_the_server_are_completed(conn, dirs, tmp_path, monkeypatch):
    """Requests larger than the server serves (here: more than sftp-server's
    cap) come back short; the download must still be complete and exact."""
    payload = os.urandom(3 * 1024 * 1024 + 17)
    source = dirs["src"] / "big.bin"
    source.write_bytes(payload)
    source.chmod(0o644)
    monkeypatch.setattr(sftpsession, "OPENSSH_READ", 1024 * 1024)
    fs = SFTPFileSystem(conn.sftp(), "sftp")
    out = tmp_path / "out.bin"
    fs.get(str(source), str(out))
    assert out.read_bytes() == payload


def test_a_small_file_answered_short_is_completed_from_a_fresh_open(
    conn, dirs, tmp_path, monkeypatch
):
    """A file one request can hold is read and closed in one go; when the
    server still answers short (here: the request is larger than sftp-server
    serves), the rest comes from a second open, and nothing stays open."""
    payload = os.urandom(700 * 1024)
    source = dirs["src"] / "short.bin"
    source.write_bytes(payload)
    source.chmod(0o644)
    monkeypatch.setattr(sftpsession, "OPENSSH_READ", 1024 * 1024)
    sftp = conn.sftp()
    fs = SFTPFileSystem(sftp, "sftp")
    out = tmp_path / "out.bin"
    fs.get(str(source), str(out))
    assert out.read_bytes() == payload
    fs.remove(str(source))  # runs after both closes; consumes their answers
    assert not sftp._expecting


class _RequestLog:
    """Wraps a client's request primitives to record what was asked, when."""

    def __init__(self, sftp, monkeypatch):
        self.outstanding = 0
        self.peak = 0
        self.sync_reads = 0
        self.lengths: dict[int, int] = {}
        send, receive, request = sftp._async_request, sftp._read_response, sftp._request

        def async_request(fileobj, t, *args):
            num = send(fileobj, t, *args)
            if t == sftpfs.paramiko.sftp.CMD_READ:
                self.lengths[num] = args[-1]
                self.outstanding += args[-1]
                self.peak = max(self.peak, self.outstanding)
            return num

        def read_response(waitfor=None):
            before = set(fileobj_nums(sftp))
            result = receive(waitfor)
            for num in before - set(fileobj_nums(sftp)):
                self.outstanding -= self.lengths.pop(num, 0)
            return result

        def sync_request(t, *args):
            if t == sftpfs.paramiko.sftp.CMD_READ:
                self.sync_reads += 1
            return request(t, *args)

        monkeypatch.setattr(sftp, "_async_request", async_request)
        monkeypatch.setattr(sftp, "_read_response", read_response)
        monkeypatch.setattr(sftp, "_request", sync_request)


def fileobj_nums(sftp) -> list[int]:
    return list(sftp._expecting)


def test_reads_keep_a_bounded_window_and_never_fall_back_to_sync(
    conn, dirs, monkeypatch
):
    """A sliding window: never more than WINDOW bytes asked ahead, and no
    block is ever fetched with a synchronous request (paramiko's prefetch
    could give up half-way and then read block by block)."""
    size = 3 * WINDOW + 12345
    payload = os.urandom(size)
    source = dirs["src"] / "window.bin"
    source.write_bytes(payload)
    source.chmod(0o644)
    sftp = conn.sftp()
    log = _RequestLog(sftp, monkeypatch)
    fs = SFTPFileSystem(sftp, "sftp")
    received = bytearray()
    for chunk in fs.read_chunks(str(source)):
        received += chunk
    assert bytes(received) == payload
    assert 0 < log.peak <= WINDOW
    assert log.sync_reads == 0
    assert log.outstanding == 0 and not log.lengths


def test_a_file_that_shrinks_while_read_is_an_error(conn, dirs):
    source = dirs["src"] / "shrink.bin"
    source.write_bytes(os.urandom(2 * WINDOW))
    source.chmod(0o644)
    fs = SFTPFileSystem(conn.sftp(), "sftp")
    chunks = fs.read_chunks(str(source))
    next(chunks)
    os.truncate(source, 1000)
    with pytest.raises(OSError, match="shorter"):
        for _ in chunks:
            pass
    # The session is still usable afterwards.
    assert fs.stat(str(source)).size == 1000


def test_writes_keep_a_bounded_window(conn, dirs, monkeypatch):
    """Never more than WRITE_WINDOW_BYTES of writes unanswered, and every
    answer consumed by the end (paramiko's own pipelining instead drained
    to empty every 100 requests)."""
    sftp = conn.sftp()
    outstanding: dict[int, int] = {}
    peak = 0
    send, receive = sftp._async_request, sftp._read_response

    def async_request(fileobj, t, *args):
        nonlocal peak
        num = send(fileobj, t, *args)
        if t == sftpfs.paramiko.sftp.CMD_WRITE:
            outstanding[num] = len(args[-1])
            peak = max(peak, sum(outstanding.values()))
        return num

    def read_response(waitfor=None):
        result = receive(waitfor)
        for num in set(outstanding) - set(sftp._expecting):
            del outstanding[num]
        return result

    monkeypatch.setattr(sftp, "_async_request", async_request)
    monkeypatch.setattr(sftp, "_read_response", read_response)
    payload = os.urandom(3 * sftpfs.WRITE_WINDOW_BYTES + 999)
    fs = SFTPFileSystem(sftp, "sftp")
    target = dirs["dst"] / "window.bin"
    assert fs.write_chunks(iter([payload]), str(target)) == len(payload)
    assert target.read_bytes() == payload
    assert 0 < peak <= sftpfs.WRITE_WINDOW_BYTES
    assert not outstanding


def test_a_write_the_server_refuses_is_an_error_and_the_session_goes_on(conn, dirs):
    """/dev/full opens fine and then refuses every write (ENOSPC): the
    error status of a pipelined write must surface, not be dropped."""
    sftp = conn.sftp()
    fs = SFTPFileSystem(sftp, "sftp")
    with pytest.raises(OSError):
        fs.write_chunks(iter([os.urandom(4 * 1024 * 1024)]), "/dev/full")
    assert not sftp._expecting  # every answer was consumed
    target = dirs["dst"] / "after.bin"
    assert fs.write_chunks(iter([b"still fine"]), str(target)) == 10
    assert target.read_bytes() == b"still fine"


def test_write_chunks_regroups_any_chunk_sizes(conn, dirs):
    fs = SFTPFileSystem(conn.sftp(), "sftp")
    payload = os.urandom(5 * sftpsession.OPENSSH_READ + 3)
    pieces = [payload[i : i + 7777] for i in range(0, len(payload), 7777)]
    target = dirs["dst"] / "regrouped.bin"
    assert fs.write_chunks(iter(pieces), str(target)) == len(payload)
    assert target.read_bytes() == payload


def test_rename_without_an_announced_posix_rename_still_replaces(conn, dirs):
    """A server that does not announce posix-rename gets plain renames (and
    an existing target is replaced), even with supportsPosixRename left on."""
    sftp = conn.sftp()
    sftp.server_extensions = {
        k: v for k, v in sftp.server_extensions.items() if "posix-rename" not in k
    }
    used = []
    posix_rename = sftp.posix_rename
    sftp.posix_rename = lambda *a: used.append(a) or posix_rename(*a)
    fs = SFTPFileSystem(sftp, "sftp", posix_rename=True)
    source, target = dirs["dst"] / "new.bin", dirs["dst"] / "old.bin"
    source.write_bytes(b"new")
    target.write_bytes(b"old")
    try:
        fs.rename(str(source), str(target))
    finally:
        del sftp.posix_rename
    assert not used
    assert target.read_bytes() == b"new" and not source.exists()


def test_a_read_then_a_delete_on_the_same_session_run_in_order(conn, dirs):
    """The read handle is closed without waiting for the answer; whatever
    follows on the session (here: removing the file) runs after the close,
    and the unanswered close is consumed by the next request."""
    sftp = conn.sftp()
    fs = SFTPFileSystem(sftp, "sftp")
    source = dirs["src"] / "once.bin"
    payload = os.urandom(100_000)
    source.write_bytes(payload)
    source.chmod(0o644)
    assert b"".join(fs.read_chunks(str(source))) == payload
    fs.remove(str(source))
    assert not source.exists()
    assert fs.stat(str(source)) is None
    assert not sftp._expecting  # the close's answer was consumed on the way


def test_reading_a_missing_file_is_file_not_found_and_the_session_goes_on(conn, dirs):
    fs = SFTPFileSystem(conn.sftp(), "sftp")
    with pytest.raises(FileNotFoundError):
        next(fs.read_chunks(str(dirs["src"] / "nope.bin")))
    assert fs.stat(str(dirs["src"])) is not None
    assert not conn.sftp()._expecting


def test_a_written_file_whose_size_differs_is_an_error(conn):
    """The size is checked in the same round trip as the close: /dev/null
    takes every write and then has size 0."""
    fs = SFTPFileSystem(conn.sftp(), "sftp")
    with pytest.raises(OSError, match="Size check failed: wrote 5000 bytes"):
        fs.write_chunks(iter([b"z" * 5000]), "/dev/null")


def test_publishing_a_stream_does_not_stat_the_file_again(conn, dirs, monkeypatch):
    from opentaskpy.fs import fileops

    fs = SFTPFileSystem(conn.sftp(), "sftp")
    stats: list[str] = []
    real_stat = fs.stat
    monkeypatch.setattr(fs, "stat", lambda path: stats.append(path) or real_stat(path))
    final = fileops.publish(
        fs,
        "stream",
        str(dirs["dst"]),
        "published.bin",
        place=lambda target: fs.write_chunks(iter([b"p" * 70_000]), target),
    )
    assert (dirs["dst"] / "published.bin").read_bytes() == b"p" * 70_000
    assert final.endswith("published.bin")
    assert stats == []  # the write checked the size itself
