"""A record's line is formatted once for the task file and stderr, same bytes.

The file and stderr formatters share the line of a record without a
traceback and the time text of a second; these tests check every line
against the layout built independently (``time.strftime`` of the record's own
time, the stdlib formatter), so a stale or wrongly shared line fails.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opentaskpy import otflogging

SECRET = "s3cr3t-Value-42"
# 2023-11-14 22:13:20 UTC plus a quarter second: two records in that second,
# then one in the next (and one in the same second again, out of order).
BASE = 1700000000.25


@pytest.fixture(autouse=True)
def _keep_root(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run in a zone off UTC by a fraction of an hour; restore root logging.

    Off UTC, local time and ``time.gmtime`` differ (a converter mix-up shows).
    """
    root = logging.getLogger()
    old_level, old_handlers = root.level, list(root.handlers)
    monkeypatch.setenv("TZ", "XST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
    root.setLevel(old_level)
    root.handlers[:] = old_handlers


def _task_logger() -> logging.Logger:
    """The CLI's set-up: a task log file plus the stderr handler on root.

    Made in the test itself: the stderr handler keeps the ``sys.stderr`` of
    its creation, which must be the one ``capsys`` reads.
    """
    return otflogging.init_logging(
        "opentaskpy.sharing", "share_task", "T", override_root_logger=True
    )


def _log_at(logger: logging.Logger, created: float, msg: str) -> None:
    """Log ``msg`` as if at ``created`` (through the logger's filters/handlers)."""
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 7, msg, (), None)
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    logger.handle(record)


def _prefix(created: float, level: str = "INFO") -> str:
    """The layout before the message, built without the formatters."""
    second = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))
    millis = int((created - int(created)) * 1000)
    return (
        f"{second},{millis:03d} \u2014 {level} - opentaskpy.sharing.share_task - "
        f"{Path(__file__).name}:7 [MainThread] \u2014 "
    )


def _file_text(logger: logging.Logger) -> str:
    handler = logger.handlers[0]
    assert isinstance(handler, otflogging.TaskFileHandler)
    return Path(handler.baseFilename).read_text(encoding="utf-8")


def test_file_and_stderr_lines_are_the_exact_layout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    task_logger = _task_logger()
    otflogging.register_secret(SECRET)
    times = [BASE, BASE + 0.5, BASE + 1.0, BASE + 0.125, BASE + 1.875]
    messages = [
        "plain message",
        f"password is {SECRET} here",
        "name with\ncontrol \x1b[31m chars",
        "same second, earlier",
        "last",
    ]
    for created, message in zip(times, messages, strict=True):
        _log_at(task_logger, created, message)
    shown = [
        "plain message",
        "password is ******** here",
        "name with\\ncontrol \\x1b[31m chars",
        "same second, earlier",
        "last",
    ]
    expected = "".join(
        _prefix(created) + text + "\n"
        for created, text in zip(times, shown, strict=True)
    )
    assert _file_text(task_logger) == expected
    assert capsys.readouterr().err == expected
    assert SECRET not in expected


def test_traceback_only_in_the_file_whichever_formats_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    task_logger = _task_logger()
    try:
        raise ValueError("boom")
    except ValueError:
        task_logger.exception("copy failed")
    task_logger.info("after the failure")
    file_lines = _file_text(task_logger).splitlines()
    err_lines = capsys.readouterr().err.splitlines()
    assert err_lines[0].endswith(" \u2014 copy failed (ValueError: boom)")
    assert err_lines[1].endswith(" \u2014 after the failure")
    assert len(err_lines) == 2
    assert file_lines[0].endswith(" \u2014 copy failed")
    assert file_lines[1] == "Traceback (most recent call last):"
    assert file_lines[-2] == "ValueError: boom"
    assert file_lines[-1] == err_lines[1]
    # The stderr formatter first, on the same record: the file still gets
    # the traceback, stderr still does not.
    console = otflogging.ConsoleFormatter(otflogging.OTF_LOG_FORMAT)
    plain = otflogging.PlainFormatter(otflogging.OTF_LOG_FORMAT)
    try:
        raise KeyError("k")
    except KeyError:
        record = task_logger.makeRecord(
            task_logger.name, logging.ERROR, __file__, 9, "lost", (), sys.exc_info()
        )
    shown = console.format(record)
    full = plain.format(record)
    assert "Traceback" not in shown and shown.endswith("lost (KeyError: 'k')")
    assert full.startswith(shown.split(" (KeyError")[0] + "\nTraceback")
    assert console.format(record) == shown


def test_settings_that_differ_never_share_a_line() -> None:
    record = logging.LogRecord("n", logging.INFO, "/x/y.py", 3, "hi %s", ("a",), None)
    record.created, record.msecs = BASE, 250.0
    # Each formatter differs from the one before it in one setting.
    layouts = [
        otflogging.PlainFormatter(otflogging.OTF_LOG_FORMAT),
        otflogging.PlainFormatter(otflogging.OTF_LOG_FORMAT),
        otflogging.ConsoleFormatter(otflogging.OTF_LOG_FORMAT),
        otflogging.PlainFormatter(otflogging.OTF_LOG_FORMAT, datefmt="%H:%M"),
        otflogging.PlainFormatter("%(asctime)s|%(levelname)s|%(message)s"),
    ]
    layouts[1].converter = time.gmtime  # type: ignore[method-assign]
    for formatter in layouts:
        reference = logging.Formatter(formatter._fmt, formatter.datefmt)
        reference.converter = formatter.converter  # type: ignore[method-assign]
        assert formatter.format(record) == reference.format(record)
    # A message or arguments changed between two handlers: formatted again.
    assert layouts[0].format(record).endswith(" \u2014 hi a")
    record.msg = "bye %s"
    assert layouts[2].format(record).endswith(" \u2014 bye a")
    record.args = ("b",)
    assert layouts[0].format(record).endswith(" \u2014 bye b")


def test_time_text_follows_the_second_and_the_time_format() -> None:
    formatter = otflogging.PlainFormatter(otflogging.OTF_LOG_FORMAT)
    reference = logging.Formatter()
    record = logging.LogRecord("n", logging.INFO, "/x/y.py", 3, "m", None, None)
    for created in (BASE, BASE + 0.7, BASE + 0.75, BASE + 1.0, BASE - 3600, BASE):
        record.created = created
        record.msecs = int((created - int(created)) * 1000) + 0.0
        assert formatter.formatTime(record) == reference.formatTime(record)
    formatter.default_time_format = "%H:%M:%S"
    reference.default_time_format = "%H:%M:%S"
    assert formatter.formatTime(record) == reference.formatTime(record)
    assert formatter.formatTime(record, "%Y") == reference.formatTime(record, "%Y")


def test_json_lines_are_the_same_in_file_and_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTF_LOG_JSON", "1")
    logger = _task_logger()
    otflogging.register_secret(SECRET)
    _log_at(logger, BASE, f"json {SECRET}\x07")
    _log_at(logger, BASE + 1.5, "second")
    file_lines = _file_text(logger).splitlines()
    err_lines = capsys.readouterr().err.splitlines()
    assert file_lines == err_lines
    first, second = (json.loads(line) for line in err_lines)
    assert first["message"] == "json ********\\x07"
    assert first["timestamp"] == "2023-11-14T22:13:20.250000"
    assert second["timestamp"] == "2023-11-14T22:13:21.750000"
    assert first["task_id"] == second["task_id"] == "share_task"
