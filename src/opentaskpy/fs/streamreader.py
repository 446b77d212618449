"""Read one remote file over SFTP and write its bytes to standard output.

Run by streaming transfers as ``python -m opentaskpy.fs.streamreader``
for large files: paramiko handles packets in pure Python, so within one
process the download and the upload take turns on the interpreter lock.
In a process of its own the download runs on another CPU while the parent
uploads. The request (host, protocol with credentials, path) arrives as JSON
on standard input, never in the command line or the environment. On failure
the process prints one line to standard error and exits with status 1.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from opentaskpy.fs.sftpfs import SFTPFileSystem
from opentaskpy.transport.ssh.sshconn import SSHConnection

#: Read-ahead of the reader process: 1 GiB took 9.2–10.3 s with 4 MiB,
#: 8.2–9.0 s with 8 MiB and no less with 16 MiB.
WINDOW = 8 * 1024 * 1024


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main() -> int:
    """Serve one request read from stdin; return the exit status."""
    logging.getLogger().addHandler(logging.NullHandler())  # nothing on stderr
    logger = logging.getLogger("opentaskpy.fs.streamreader")
    try:
        request = json.loads(sys.stdin.buffer.read())
        conn = SSHConnection(
            request["hostname"],
            request["protocol"],
            logger,
            timeout=float(request.get("timeout", 3)),
            allow_password=bool(request.get("allow_password")),
        )
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        print(f"bad request: {exc}", file=sys.stderr)
        return 1
    try:
        conn.connect(retry=False)
        fs = SFTPFileSystem(conn.sftp(), request["hostname"])
        for chunk in fs.read_chunks(request["path"], WINDOW):
            _write_all(1, chunk)
    except BrokenPipeError:
        return 1  # the parent stopped reading: it reports its own error
    except Exception as exc:  # noqa: BLE001 - one line for the parent's log
        print(f"{exc or type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
