"""SFTPFileSystem streaming against the real SFTP-only sshd: sizes at every
request and window boundary arrive byte for byte, in both directions."""

from __future__ import annotations

import os

import pytest

from opentaskpy.otflogging import init_logging
from opentaskpy.remotehandlers import sftpfs
from opentaskpy.remotehandlers.sftpfs import SFTPFileSystem, request_sizes
from opentaskpy.remotehandlers.sshconn import SFTP_MAX_PACKET, SSHConnection

WINDOW = sftpfs.WINDOW_BYTES
SIZES = [
    0,
    1,
    sftpfs.BASIC_READ - 1,
    sftpfs.OPENSSH_READ,
    sftpfs.OPENSSH_READ + 1,
    3 * sftpfs.OPENSSH_READ - 7,
    WINDOW,
    WINDOW + 1,
    2 * WINDOW + sftpfs.OPENSSH_READ + 5,
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
    assert read_size == sftpfs.OPENSSH_READ  # OpenSSH's sftp-server
    assert read_size + 64 <= SFTP_MAX_PACKET
    assert write_size == min(32768, channel.out_max_packet_size) - 128


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
    monkeypatch.setattr(sftpfs, "OPENSSH_READ", 1024 * 1024)
    fs = SFTPFileSystem(conn.sftp(), "sftp")
    out = tmp_path / "out.bin"
    fs.get(str(source), str(out))
    assert out.read_bytes() == payload
