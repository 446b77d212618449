"""Environment settings of the batch scheduler, and its memory log."""

from __future__ import annotations

import os
from typing import Any

DEFAULT_BATCH_POLL_INTERVAL = 5


def memory_usage_mb() -> float:
    """Return this process's resident set size in MB, ``-1.0`` if unknown."""
    try:
        import psutil
    except ImportError:
        return -1.0
    return float(psutil.Process().memory_info().rss) / (1024 * 1024)


def max_concurrency(logger: Any) -> int | None:
    """Read ``OTF_BATCH_MAX_CONCURRENCY``; ``None`` means unlimited."""
    raw = os.environ.get("OTF_BATCH_MAX_CONCURRENCY", "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        logger.warning(
            f"Ignoring OTF_BATCH_MAX_CONCURRENCY={raw!r}: expected a whole number "
            "of steps (0 or unset for unlimited)"
        )
        return None
    return value or None


def poll_interval(logger: Any) -> float:
    """Read ``OTF_BATCH_POLL_INTERVAL`` (kept for compatibility, not used)."""
    raw = os.environ.get("OTF_BATCH_POLL_INTERVAL")
    if raw is None:
        return float(DEFAULT_BATCH_POLL_INTERVAL)
    try:
        return float(raw)
    except ValueError:
        logger.warning(f"Ignoring OTF_BATCH_POLL_INTERVAL={raw!r}: not a number")
        return float(DEFAULT_BATCH_POLL_INTERVAL)
