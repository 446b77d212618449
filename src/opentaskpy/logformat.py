"""Log record formatting: one safe line per message, secrets masked.

The text format for log files and stderr and the JSON format
(``OTF_LOG_JSON=1``). Every message is escaped to a single line (file names
with newlines or terminal escapes cannot forge log lines); tracebacks keep
their lines. Importable from :mod:`opentaskpy.otflogging` as before.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable

from opentaskpy.redaction import mask_values

# Characters that could end a log line or make it lie once displayed: C0
# controls except tab (a tab cannot split or forge a line, and execution
# output often holds tabs), DEL, C1 controls, the Unicode line and paragraph
# separators, and lone surrogates (the undecodable bytes of a POSIX file
# name, which a UTF-8 log file cannot even hold).
# All are unprintable: printable text needs no search, and the patterns
# (costly to compile) are compiled on first use through re's cache.
_UNSAFE = r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]"
# The same, newlines excepted: tracebacks are multi-line by nature.
_UNSAFE_IN_BLOCK = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]"
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's escape of one raw byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    r"""Escape what could split or forge a log line (``\n``, ``\x1b`` ...).

    Backslashes are left alone: paths and regexes stay readable, at the price
    of a name holding a literal ``\n`` looking like one holding a newline.
    """
    if text.isprintable():
        return text
    return re.sub(_UNSAFE, _escape_char, text)


def clean_message(text: str) -> str:
    """Mask registered secrets, then escape control characters: one log line."""
    return escape_controls(mask_values(text))


def _clean_block(text: str) -> str:
    """Like :func:`clean_message` but keeping line breaks (tracebacks)."""
    return re.sub(_UNSAFE_IN_BLOCK, _escape_char, mask_values(text))


def _shared_line(
    record: logging.LogRecord, key: object, make: Callable[[logging.LogRecord], str]
) -> str:
    """Return ``make(record)``, made once per record for formatters of one ``key``.

    The line is kept on the record (a private attribute) for the next handler,
    as long as the record's message and arguments are the same objects.
    """
    shared = record.__dict__.get("_otf_line")
    if (
        shared is not None
        and shared[1] is record.msg
        and shared[2] is record.args
        and shared[0] == key
    ):
        return shared[3]  # type: ignore[no-any-return]
    text = make(record)
    record._otf_line = (key, record.msg, record.args, text)
    return text


class _RedactingFormatterMixin:
    """Masks and escapes the message; masks exception text and stack traces.

    Every record's message becomes one line whatever it holds (file names
    with newlines, terminal escapes); tracebacks keep their lines.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802
        record.message = clean_message(record.message)
        return super().formatMessage(record)  # type: ignore[misc, no-any-return]

    def formatException(self, ei) -> str:  # type: ignore[no-untyped-def]  # noqa: N802
        return _clean_block(super().formatException(ei))  # type: ignore[misc]

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return _clean_block(super().formatStack(stack_info))  # type: ignore[misc]


class PlainFormatter(_RedactingFormatterMixin, logging.Formatter):
    """The OTF text format: one line per message, secrets masked.

    Every record goes to two handlers (the task's file and stderr) whose
    formatters give the same line unless the record carries a traceback, so
    the line is formatted once and kept on the record for the other one.
    """

    # The last second formatted: (second, time format, text without msecs).
    _second: tuple[float, str, str] = (-1.0, "", "")

    def format(self, record: logging.LogRecord) -> str:
        """Format the record, or reuse the line an equal formatter made of it."""
        if (
            record.exc_info
            or record.exc_text
            or record.stack_info
            or type(self) not in _SHARED
        ):
            return super().format(record)
        key = (
            self._fmt,
            type(self._style),
            self._style._defaults,  # type: ignore[attr-defined]
            self.datefmt,
            self.converter,
            self.default_time_format,
            self.default_msec_format,
        )
        return _shared_line(record, key, super().format)

    def formatTime(  # noqa: N802
        self, record: logging.LogRecord, datefmt: str | None = None
    ) -> str:
        """Return the logging module's time text, converted once per second.

        A local time conversion and a ``strftime`` per record are a visible
        share of a many-file transfer's CPU time; a second's text does not
        change within that second.
        """
        if datefmt or self.converter is not time.localtime:
            return super().formatTime(record, datefmt)
        # localtime() floors a fractional time: the same second, the same text.
        second = record.created // 1
        layout = self.default_time_format
        cached = self._second
        if cached[0] != second or cached[1] != layout:
            text = time.strftime(layout, time.localtime(second))
            cached = self._second = (second, layout, text)
        if self.default_msec_format:
            return self.default_msec_format % (cached[2], record.msecs)
        return cached[2]


class ConsoleFormatter(PlainFormatter):
    """The OTF text format for stderr: tracebacks only at DEBUG (``-v 3``).

    Operators read stderr; a user mistake must give clear lines, not a stack
    trace. Log files keep the full traceback.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Format without exception details unless the root logger is at DEBUG."""
        if (
            not record.exc_info
            or logging.getLogger().getEffectiveLevel() <= logging.DEBUG
        ):
            return super().format(record)
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            text = super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        exc = saved[0][1]
        if exc is not None and clean_message(str(exc)) not in text:
            text += f" ({type(exc).__name__}: {clean_message(str(exc))})"
        return text


# Formatters whose line for a record without a traceback is the same for
# equal settings (a subclass may format differently: it formats alone).
_SHARED = (PlainFormatter, ConsoleFormatter)


class JSONFormatter(_RedactingFormatterMixin, logging.Formatter):
    """One JSON object per record (``OTF_LOG_JSON=1``)."""

    def __init__(self, task_id: str | None = None):
        super().__init__()
        self.task_id = task_id

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record (once for the file and stderr handlers)."""
        if type(self) is not JSONFormatter:
            return self._serialise(record)
        key = (JSONFormatter, self.task_id, os.environ.get("OTF_RUN_ID"))
        return _shared_line(record, key, self._serialise)

    def _serialise(self, record: logging.LogRecord) -> str:
        """Serialise the record with the keys of the reference, in order."""
        import datetime  # only JSON logs need it

        timestamp = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        entry = {
            "timestamp": timestamp.replace(tzinfo=None).isoformat(),
            "level": record.levelname,
            "function": record.funcName,
            "file": f"{record.pathname}:{record.lineno}",
            "thread": record.threadName,
            "logger": record.name,
            "message": clean_message(record.getMessage()),
            "task_id": self.task_id,
            "run_id": os.environ.get("OTF_RUN_ID"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)
