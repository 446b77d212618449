"""Collecting a remote command's output while it runs.

Stdout is passed on line by line as it arrives and stderr is read at the same
time, so a chatty command never blocks on a full channel. A command may stay
silent for any time, but after ``quiet`` seconds without output the caller's
``probe`` checks that the host still answers (and raises when it does not).
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class CommandResult:
    """Exit status and captured output of a remote command."""

    exit_code: int
    stdout: str
    stderr: str


def collect(
    channel: Any,
    on_stdout: Callable[[str], None] | None,
    quiet: float,
    probe: Callable[[], None],
) -> CommandResult:
    """Read ``channel`` until the command ends; close it; return the result.

    Args:
        channel: a paramiko channel the command was started on.
        on_stdout: called with each stdout line (without its newline).
        quiet: seconds without output after which ``probe`` is called.
        probe: checks the host still answers; raises when it does not.
    """
    out, err = bytearray(), bytearray()
    pending = b""
    quiet_since = time.monotonic()
    while True:
        select.select([channel], [], [], 0.5)
        got = False
        while channel.recv_ready():
            data = channel.recv(65536)
            got = got or bool(data)
            out += data
            if on_stdout:
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    on_stdout(line.decode(errors="replace"))
        while channel.recv_stderr_ready():
            err += channel.recv_stderr(65536)
            got = True
        if _ended(channel, got):
            break
        if got:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            probe()
            quiet_since = time.monotonic()
    if on_stdout and pending:
        on_stdout(pending.decode(errors="replace"))
    code = channel.recv_exit_status()
    channel.close()
    return CommandResult(
        code, out.decode(errors="replace"), err.decode(errors="replace")
    )


def _ended(channel: Any, got: bool) -> bool:
    """Whether the command has ended and everything it wrote was read."""
    if got:
        return False
    if channel.closed:
        return True
    return bool(
        channel.exit_status_ready()
        and not channel.recv_ready()
        and not channel.recv_stderr_ready()
    )
