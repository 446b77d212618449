"""Turn run records into JSON-ready data and terminal-sized tables."""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

from opentaskpy.runs.status import live_status


def iso(epoch: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 UTC, e.g. ``2026-12-06T19:27:33Z``."""
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(epoch)))


def local_time(epoch: float | None) -> str:
    """Seconds since the epoch as local ``YYYY-MM-DD HH:MM:SS`` (for people)."""
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(epoch)))


def duration_text(seconds: float | None) -> str:
    """Format a duration for people: ``4.2s``, ``3m05s``, ``2h01m``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def progress_text(progress: dict[str, Any] | None) -> str:
    """Describe the progress counters in a few words."""
    if not progress:
        return "-"
    parts = []
    if progress.get("steps_total"):
        parts.append(f"steps {progress.get('steps_done', 0)}/{progress['steps_total']}")
    if progress.get("files_total") or progress.get("files_done"):
        parts.append(
            f"files {progress.get('files_done', 0)}/{progress.get('files_total', 0)}"
        )
    if progress.get("bytes_done"):
        parts.append(f"{progress['bytes_done']} B")
    if progress.get("output_lines"):
        parts.append(f"{progress['output_lines']} lines")
    return ", ".join(parts) or "-"


def as_json(row: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """One run record as the documented JSON object."""
    now = time.time() if now is None else now
    progress = json.loads(row["progress"]) if row.get("progress") else None
    ended = row.get("ended_at")
    duration = row.get("duration")
    if duration is None and ended is None:
        duration = max(0.0, now - float(row["started_at"]))
    return {
        "id": row["id"],
        "run_id": row["run_id"],
        "parent_id": row.get("parent_id"),
        "order_id": row.get("order_id"),
        "task_id": row["task_id"],
        "task_type": row.get("task_type"),
        "config_dir": row.get("config_dir"),
        "definition_sha256": row.get("definition_sha256"),
        "host": row["host"],
        "pid": row["pid"],
        "user": row.get("user_name"),
        "started": iso(row["started_at"]),
        "ended": iso(ended),
        "duration": round(float(duration), 3) if duration is not None else None,
        "outcome": row["outcome"],
        "status": live_status(row, now),
        "error_class": row.get("error_class"),
        "reason": row.get("reason"),
        "log_file": row.get("log_file"),
        "stall_limit": row.get("stall_limit"),
        "heartbeat": iso(row.get("heartbeat_at")),
        "last_progress": iso(row.get("progress_at")),
        "progress": progress,
        "kill_requested_by": row.get("kill_requested_by"),
    }


def table(headers: list[str], rows: list[list[str]], shrink: str) -> str:
    """Lay out a plain text table fitted to the terminal width.

    When the table is too wide the column named ``shrink`` is cut (with
    ``…``) so the others stay whole.
    """
    width = shutil.get_terminal_size((120, 24)).columns
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    total = sum(widths) + 2 * (len(widths) - 1)
    cut = headers.index(shrink)
    if total > width:
        widths[cut] = max(len(shrink), widths[cut] - (total - width))

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            if len(cell) > widths[i]:
                cell = cell[: max(0, widths[i] - 1)] + "…"
            out.append(cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])
