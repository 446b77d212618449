#!/usr/bin/env python3
"""An SFTP subsystem that corrupts uploads: the real ``sftp-server`` behind a
proxy that flips the first byte of every write at offset 0.

Used as ``Subsystem sftp`` of a test sshd to prove that verification catches
a destination that stores something else than what was sent.
"""

import os
import struct
import subprocess
import sys

SFTP_SERVER = "/usr/lib/openssh/sftp-server"
SSH_FXP_WRITE = 6


def read_exactly(fd: int, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def corrupt(body: bytes) -> bytes:
    """Flip the first data byte of a WRITE at offset 0 (other packets as they are)."""
    if not body or body[0] != SSH_FXP_WRITE:
        return body
    handle_len = struct.unpack(">I", body[5:9])[0]
    offset_at = 9 + handle_len
    offset = struct.unpack(">Q", body[offset_at : offset_at + 8])[0]
    data_at = offset_at + 8 + 4
    if offset != 0 or len(body) <= data_at:
        return body
    changed = bytearray(body)
    changed[data_at] ^= 0x01
    return bytes(changed)


def main() -> int:
    server = subprocess.Popen([SFTP_SERVER], stdin=subprocess.PIPE)
    assert server.stdin is not None
    fd = sys.stdin.fileno()
    while True:
        head = read_exactly(fd, 4)
        if head is None:
            break
        body = read_exactly(fd, struct.unpack(">I", head)[0])
        if body is None:
            break
        server.stdin.write(head + corrupt(body))
        server.stdin.flush()
    server.stdin.close()
    return server.wait()


if __name__ == "__main__":
    sys.exit(main())
