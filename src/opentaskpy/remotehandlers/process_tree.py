"""Process-tree helpers shared by the local and SSH execution handlers.

Killing an execution means killing the shell that runs the command *and*
everything it started. Both handlers list processes with ``ps -ef`` (locally
or on the remote host) and use the pure functions here to turn that listing
into the list of PIDs to signal.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

#: One ``ps -ef`` line: UID, PID, PPID, C, STIME, TTY, TIME, CMD.
PS_REGEX = r"(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)"

_PS_LINE = re.compile(PS_REGEX)

#: PIDs that must never be signalled: 0 means "my process group" and 1 is init.
PROTECTED_PIDS = frozenset({0, 1})


def parse_ps(ps_output: str) -> dict[int, int]:
    """Map PID to parent PID from ``ps -ef`` output.

    The header line and any line that does not look like a process entry are
    ignored.

    Args:
        ps_output: the full text printed by ``ps -ef``.

    Returns:
        ``{pid: ppid}`` for every process listed.
    """
    parents: dict[int, int] = {}
    for line in ps_output.splitlines():
        match = _PS_LINE.match(line.strip())
        if match:
            parents[int(match.group(2))] = int(match.group(3))
    return parents


def descendants(ps_output: str, pid: int) -> list[int]:
    """Return every descendant of ``pid`` (children, grandchildren, ...).

    The PID itself is not included. PIDs 0 and 1 are never returned, and a
    malformed listing with cycles cannot loop forever.

    Args:
        ps_output: the full text printed by ``ps -ef``.
        pid: the root of the tree.

    Returns:
        The descendant PIDs, parents before their children.
    """
    children: dict[int, list[int]] = {}
    for child, parent in parse_ps(ps_output).items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    seen = {pid}
    queue = [pid]
    while queue:
        current = queue.pop(0)
        for child in sorted(children.get(current, [])):
            if child in seen or child in PROTECTED_PIDS:
                continue
            seen.add(child)
            found.append(child)
            queue.append(child)
    return found


def kill_targets(ps_output: str, pid: int) -> list[int]:
    """Return the PIDs to signal to stop ``pid`` and its whole tree.

    Descendants come first and the PID itself last, as the reference does.

    Args:
        ps_output: the full text printed by ``ps -ef``.
        pid: the process that was started for the execution.

    Returns:
        The PIDs, without 0 or 1.
    """
    targets = descendants(ps_output, pid)
    if pid not in PROTECTED_PIDS:
        targets.append(pid)
    return targets


def kill_command(pids: Iterable[int], signal_name: str | None = None) -> str | None:
    """Build the ``kill`` command line for ``pids``.

    Args:
        pids: the PIDs to signal.
        signal_name: optional signal name such as ``KILL`` (default TERM).

    Returns:
        e.g. ``kill 123 456``, or ``None`` when there is nothing safe to kill
        (empty list, or only PIDs 0/1 — ``kill 0`` would hit our own group).
    """
    safe = [int(p) for p in pids if int(p) not in PROTECTED_PIDS]
    if not safe:
        return None
    parts = ["kill"]
    if signal_name:
        parts.append(f"-{shlex.quote(signal_name)}")
    parts.extend(str(p) for p in safe)
    return " ".join(parts)
