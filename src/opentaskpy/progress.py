"""Live progress counters of the task running in this process.

Transfers, executions and batches bump these counters at file, line and
step granularity (never inside a byte-moving loop); readers such as the run
record heartbeat, the terminal progress line and the end-of-run summary
read them from another thread. Plain attribute updates under the GIL are
enough: a reader may see a value one step old, never a torn one.
"""

from __future__ import annotations

import time

# Plain classes, not dataclasses: this module is imported on every run and
# the dataclasses import is measurable in start-up time.


class DestinationProgress:
    """Files and bytes delivered to one destination."""

    __slots__ = ("files", "bytes")

    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0


class Progress:
    """Counters of one process's run; ``changed`` is a monotonic timestamp."""

    def __init__(self) -> None:
        self.files_total = 0
        self.files_done = 0
        self.bytes_done = 0
        self.output_lines = 0
        self.steps_total = 0
        self.steps_done = 0
        self.destinations: dict[str, DestinationProgress] = {}
        self.started = time.monotonic()
        self.changed = self.started

    def touch(self) -> None:
        """Record that the run made progress now."""
        self.changed = time.monotonic()

    def add_files_total(self, count: int) -> None:
        """Announce ``count`` more files to move."""
        self.files_total += count
        self.touch()

    def file_delivered(self, destination: str, size: int) -> None:
        """Count one file of ``size`` bytes delivered to ``destination``."""
        dest = self.destinations.setdefault(destination, DestinationProgress())
        dest.files += 1
        dest.bytes += size
        self.files_done += 1
        self.bytes_done += size
        self.touch()

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

    def snapshot(self) -> dict[str, object]:
        """Return the counters as plain JSON-ready data."""
        return {
            "files_total": self.files_total,
            "files_done": self.files_done,
            "bytes_done": self.bytes_done,
            "output_lines": self.output_lines,
            "steps_total": self.steps_total,
            "steps_done": self.steps_done,
            "destinations": {
                name: {"files": d.files, "bytes": d.bytes}
                for name, d in self.destinations.items()
            },
        }


#: The one set of counters of this process.
PROGRESS = Progress()
