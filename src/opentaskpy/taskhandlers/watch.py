"""Polling loops for log watches and file watches.

Both poll every :data:`POLL_INTERVAL` seconds until something is found or the
timeout passes. Sleeps wait on the batch's kill event, so a kill is noticed at
once instead of at the next poll.
"""

from __future__ import annotations

import enum
import logging
import math
import threading
import time
from collections.abc import Callable

POLL_INTERVAL = 10
DEFAULT_TIMEOUT = 60


class WatchOutcome(enum.Enum):
    """How a watch ended."""

    FOUND = "found"
    TIMED_OUT = "timed out"
    KILLED = "killed"


def poll(
    check: Callable[[], bool],
    timeout: float,
    kill_event: threading.Event | None,
    logger: logging.Logger,
    waiting_message: str,
) -> WatchOutcome:
    """Call ``check`` until it returns true, the timeout passes or a kill.

    Loop shape of the reference: keep going while ``floor(elapsed) <= timeout``;
    each round checks the kill event first, then ``check()``; then sleeps
    ``min(POLL_INTERVAL, remaining)`` where ``remaining = ceil(start + timeout - now)``.

    Args:
        check: one poll; true means found.
        timeout: seconds to keep polling.
        kill_event: set by a parent batch to stop the task.
        logger: for the per-round message.
        waiting_message: logged before each sleep, e.g. ``No entry found in log.``;
            `` Sleeping for {n} secs. {remaining} seconds remain`` is appended.

    Returns:
        The outcome.
    """
    event = kill_event if kill_event is not None else threading.Event()
    start = time.time()
    while math.floor(time.time() - start) <= timeout:
        if event.is_set():
            return WatchOutcome.KILLED
        if check():
            return WatchOutcome.FOUND
        remaining = math.ceil(start + timeout - time.time())
        if remaining <= 0:
            break
        pause = max(0, min(POLL_INTERVAL, remaining))
        logger.info(
            f"{waiting_message} Sleeping for {pause} secs. {remaining} seconds remain"
        )
        event.wait(pause)
    return WatchOutcome.KILLED if event.is_set() else WatchOutcome.TIMED_OUT


def watch_log(source_handler, timeout: float, kill_event, logger) -> WatchOutcome:
    """Poll ``source_handler.do_logwatch()`` (0 means the pattern was found)."""
    return poll(
        lambda: source_handler.do_logwatch() == 0,
        timeout,
        kill_event,
        logger,
        "No entry found in log.",
    )


def watch_files(
    source_handler,
    directory: str | None,
    file_pattern: str | None,
    timeout: float,
    kill_event,
    logger,
    filter_files: Callable[[dict], dict] | None = None,
) -> tuple[WatchOutcome, dict]:
    """Poll ``list_files`` until a (qualifying) file appears.

    Args:
        source_handler: the transfer source handler.
        directory: directory to watch.
        file_pattern: regex for the file names.
        timeout: seconds to keep polling.
        kill_event: set by a parent batch to stop the task.
        logger: task logger.
        filter_files: applied to each poll result (conditionals during the watch).

    Returns:
        The outcome and the files seen by the last poll.
    """
    seen: dict = {}

    def check() -> bool:
        nonlocal seen
        seen = source_handler.list_files(directory=directory, file_pattern=file_pattern)
        if filter_files is not None and seen:
            seen = filter_files(seen)
        return bool(seen)

    outcome = poll(check, timeout, kill_event, logger, "No valid files found.")
    return outcome, seen
