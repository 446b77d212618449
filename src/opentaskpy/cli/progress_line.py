"""One live progress line on the terminal, for people watching a run.

Started by the CLI only when stderr is a terminal (and ``OTF_PROGRESS`` is
not ``0``), so nothing of it reaches log files, pipes or cron mail. A thread
redraws the line about four times a second with a carriage return, from the
counters in :data:`opentaskpy.progress.PROGRESS`:

* a transfer: files done of total, bytes, rate and estimated time left;
* a batch: steps done of total and the steps running with their times;
* an execution: lines of output so far.

Log lines written to the same terminal first clear the progress line (the
console log handler's stream is wrapped), and the line is cleared at the end.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TextIO

from opentaskpy.progress import PROGRESS, Progress

#: Seconds between redraws.
INTERVAL = 0.25
#: Nothing is drawn for runs shorter than this (no flicker for quick tasks).
DELAY = 1.0
CLEAR = "\r\x1b[K"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(count: float) -> str:
    """``1.5 MiB`` style sizes."""
    for unit in _UNITS:
        if abs(count) < 1024 or unit == _UNITS[-1]:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} {_UNITS[-1]}"


def clock(seconds: float) -> str:
    """``1:02:03`` or ``2:03``."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe(progress: Progress, task_id: str, now: float | None = None) -> str:
    """Return the progress line's text (without control characters)."""
    now = time.monotonic() if now is None else now
    elapsed = now - progress.started
    parts = [task_id, clock(elapsed)]
    if progress.steps_total:
        parts.append(f"steps {progress.steps_done}/{progress.steps_total} done")
        running = [
            f"{step.order_id} {step.task_id} {clock(now - step.started)}"
            for step in progress.steps_running()
        ]
        if running:
            parts.append("running: " + ", ".join(running))
    if progress.files_total:
        parts.append(f"files {progress.files_done}/{progress.files_total}")
        parts.append(_bytes_part(progress, elapsed))
    if progress.output_lines:
        parts.append(f"{progress.output_lines} output lines")
    return " | ".join(part for part in parts if part)


def _bytes_part(progress: Progress, elapsed: float) -> str:
    done, total = progress.bytes_done, progress.bytes_total
    text = human_bytes(done) + (f" of {human_bytes(total)}" if total else "")
    rate = done / elapsed if elapsed > 0 else 0.0
    if rate > 0:
        text += f" at {human_bytes(rate)}/s"
        if total > done:
            text += f", ETA {clock((total - done) / rate)}"
    return text


class _ClearingStream:
    """A stream that clears the progress line before anything else is written."""

    def __init__(self, line: ProgressLine, stream: TextIO):
        self._line = line
        self._stream = stream

    def write(self, text: str) -> int:
        with self._line.lock:
            self._line.clear_locked()
            return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


class ProgressLine:
    """The redrawing thread and the terminal line it owns."""

    def __init__(self, task_id: str, stream: TextIO, progress: Progress = PROGRESS):
        self.task_id = task_id
        self.stream = stream
        self.progress = progress
        self.lock = threading.Lock()
        self.shown = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="otf-progress-line", daemon=True
        )
        self._wrapped: list[tuple[logging.StreamHandler, object]] = []

    def start(self) -> None:
        """Wrap the console log handlers' streams and start redrawing."""
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and (
                getattr(handler, "stream", None) is self.stream
            ):
                self._wrapped.append((handler, handler.stream))
                handler.setStream(_ClearingStream(self, self.stream))  # type: ignore[arg-type]
        self._thread.start()

    def stop(self) -> None:
        """Stop redrawing, clear the line and give the handlers their stream back."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        with self.lock:
            self.clear_locked()
        for handler, stream in self._wrapped:
            handler.setStream(stream)  # type: ignore[arg-type]
        self._wrapped = []

    def clear_locked(self) -> None:
        """Erase the line if it is shown (the lock is held)."""
        if self.shown:
            self.stream.write(CLEAR)
            self.stream.flush()
            self.shown = False

    def _run(self) -> None:
        if self._stop.wait(DELAY):
            return
        while not self._stop.is_set():
            self.draw()
            self._stop.wait(INTERVAL)

    def _width(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            return 80

    def draw(self) -> None:
        """Redraw the line once, cut to the terminal's width."""
        width = self._width()
        text = describe(self.progress, self.task_id)[: max(width - 1, 10)]
        with self.lock:
            try:
                self.stream.write(CLEAR + text)
                self.stream.flush()
            except (OSError, ValueError):  # the terminal went away
                self._stop.set()
                return
            self.shown = True
