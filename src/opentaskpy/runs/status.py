"""Live status of a recorded run, from its heartbeat and its process.

* ``running``: progress within the last quarter of its stall limit;
* ``silent``: no progress for longer than that, but within the limit;
* ``stalled``: no progress for longer than the stall limit;
* ``dead``: the process is gone. On the recording host this is checked with
  the pid and the process start time (a reused pid is not mistaken for the
  run); for a run on another host, its heartbeat expired
  (``EXPIRY_BEATS`` heartbeat intervals without one).

A run that ended has its outcome as status: ``success``, ``failed`` or
``killed``.
"""

from __future__ import annotations

import time
from typing import Any

from opentaskpy.runs import procinfo, settings
from opentaskpy.runs.schema import RUNNING

RUNNING_STATUS = "running"
SILENT = "silent"
STALLED = "stalled"
DEAD = "dead"


def is_alive(row: dict[str, Any], local_host: str | None = None) -> bool:
    """Whether the process of a recorded, unfinished run is still there."""
    local_host = local_host or settings.host()
    if row["host"] == local_host:
        return procinfo.is_alive(int(row["pid"]), row.get("proc_start"))
    expiry = settings.heartbeat_seconds() * settings.EXPIRY_BEATS
    last = row.get("heartbeat_at") or row["started_at"]
    return time.time() - float(last) <= expiry


def live_status(
    row: dict[str, Any], now: float | None = None, local_host: str | None = None
) -> str:
    """Return the status of a recorded run (its outcome once it ended)."""
    if row["outcome"] != RUNNING:
        return str(row["outcome"])
    if not is_alive(row, local_host):
        return DEAD
    now = time.time() if now is None else now
    stall = float(row.get("stall_limit") or settings.DEFAULT_STALL_SECONDS)
    silence = now - float(row.get("progress_at") or row["started_at"])
    if silence <= stall / 4:
        return RUNNING_STATUS
    if silence <= stall:
        return SILENT
    return STALLED
