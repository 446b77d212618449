"""Live progress counters of the task running in this process.

Transfers, executions and batches bump these counters at file, line and
step granularity (never inside a byte-moving loop); readers such as the run
record heartbeat, the terminal progress line and the end-of-run summary
read them from another thread. Plain attribute updates under the GIL are
enough: a reader may see a value one step old, never a torn one.
"""

from __future__ import annotations

import threading
import time

# Plain classes, not dataclasses: this module is imported on every run and
# the dataclasses import is measurable in start-up time.


class DestinationProgress:
    """Files and bytes delivered to one destination."""

    __slots__ = ("files", "bytes")

    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0


class StepProgress:
    """One batch step: where it belongs, when it ran and how it ended."""

    __slots__ = ("batch", "order_id", "task_id", "started", "ended", "outcome")

    def __init__(self, batch: str, order_id: int, task_id: str) -> None:
        self.batch = batch
        self.order_id = order_id
        self.task_id = task_id
        self.started = time.monotonic()
        self.ended: float | None = None
        #: ``None`` while running, then completed, failed, timed_out, killed
        #: or skipped.
        self.outcome: str | None = None

    def finish(self, outcome: str) -> None:
        """Record the step's end."""
        self.ended = time.monotonic()
        self.outcome = outcome

    def as_dict(self) -> dict[str, object]:
        """Return the step as plain JSON-ready data (duration in seconds)."""
        duration = None if self.ended is None else round(self.ended - self.started, 3)
        return {
            "batch": self.batch,
            "order_id": self.order_id,
            "task_id": self.task_id,
            "outcome": self.outcome or "running",
            "duration_seconds": duration,
        }


class Progress:
    """Counters of one process's run; ``changed`` is a monotonic timestamp."""

    def __init__(self) -> None:
        self.files_total = 0
        self.bytes_total = 0
        self.files_done = 0
        self.bytes_done = 0
        self.output_lines = 0
        self.steps_total = 0
        self.steps_done = 0
        self.destinations: dict[str, DestinationProgress] = {}
        #: Batch steps as they start and end (see :class:`StepProgress`).
        self.steps: list[StepProgress] = []
        self._local = threading.local()
        self.started = time.monotonic()
        self.changed = self.started

    def touch(self) -> None:
        """Record that the run made progress now."""
        self.changed = time.monotonic()

    def add_files_total(self, count: int, size: int = 0) -> None:
        """Announce ``count`` more files (``size`` bytes in all) to move."""
        self.files_total += count
        self.bytes_total += size
        self.touch()

    def file_delivered(self, destination: str, size: int) -> None:
        """Count one file of ``size`` bytes delivered to ``destination``."""
        dest = self.destinations.setdefault(destination, DestinationProgress())
        dest.files += 1
        dest.bytes += size
        self.files_done += 1
        self.bytes_done += size
        self.touch()

    def delivering(self, destination: str | None) -> None:
        """Name the destination this thread is delivering to (``None``: done).

        Lets the layer that publishes each file count it with
        :meth:`published` without knowing the transfer's destinations.
        """
        self._local.destination = destination

    def published(self, size: int) -> None:
        """Count one file published by this thread to its current destination."""
        destination = getattr(self._local, "destination", None)
        if destination is not None:
            self.file_delivered(destination, size)

    def delivered_to(self, destination: str) -> int:
        """Files counted so far for ``destination``."""
        found = self.destinations.get(destination)
        return found.files if found else 0

    def output_line(self) -> None:
        """Count one line of output from an execution."""
        self.output_lines += 1
        self.touch()

    def add_steps_total(self, count: int) -> None:
        """Announce ``count`` more batch steps."""
        self.steps_total += count
        self.touch()

    def step_done(self) -> None:
        """Count one finished batch step."""
        self.steps_done += 1
        self.touch()

    def step_started(self, batch: str, order_id: int, task_id: str) -> StepProgress:
        """Record that a batch step started; returns its record."""
        step = StepProgress(batch, order_id, task_id)
        self.steps.append(step)
        self.touch()
        return step

    def step_skipped(self, batch: str, order_id: int, task_id: str) -> None:
        """Record a step an earlier run completed (counted as done)."""
        step = StepProgress(batch, order_id, task_id)
        step.finish("skipped")
        self.steps.append(step)
        self.step_done()

    def steps_running(self) -> list[StepProgress]:
        """Return the steps started and not yet finished."""
        return [step for step in list(self.steps) if step.outcome is None]

    def snapshot(self) -> dict[str, object]:
        """Return the counters as plain JSON-ready data."""
        return {
            "files_total": self.files_total,
            "bytes_total": self.bytes_total,
            "files_done": self.files_done,
            "bytes_done": self.bytes_done,
            "output_lines": self.output_lines,
            "steps_total": self.steps_total,
            "steps_done": self.steps_done,
            "destinations": {
                name: {"files": d.files, "bytes": d.bytes}
                for name, d in list(self.destinations.items())
            },
        }


#: The one set of counters of this process.
PROGRESS = Progress()
