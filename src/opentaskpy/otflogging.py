"""Logging for opentaskpy: per-task log files whose names record the outcome.

Each task writes ``<logdir>/<task_id>/<prefix>_<TYPE>_running.log`` (or, with
``OTF_RUN_ID``, ``<logdir>/<run id>/<prefix>_<TYPE>_<task_id>_running.log``);
:func:`close_log_file` renames it to ``.log`` (success) or ``_failed.log``.

Redaction is by value as well as by key: besides the reference's key-based
masking of JSON log messages, every value registered with
:func:`register_secret` (secrets found anywhere in a task definition, every
lookup plugin result) is replaced by ``********`` in every record that reaches
an OTF handler, including records of third-party loggers such as paramiko.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import threading

from opentaskpy.redaction import (  # noqa: F401 - part of this module's API
    REDACT_STRING,
    SENSITIVE_KEY_REGEXES,
    SENSITIVE_REGEXES,
    SensitiveDataFilter,
    mask_values,
    redact,
    register_secret,
    register_secrets_from,
)

OTF_LOG_FORMAT = (
    "%(asctime)s \u2014 %(levelname)s - %(name)s - %(filename)s:%(lineno)s "
    "[%(threadName)s] \u2014 %(message)s"
)
LOG_DIRECTORY = os.environ.get("OTF_LOG_DIRECTORY", "logs")
_PREFIX_FORMAT = re.compile(r"\d{8}-\d{6}\.\d{3}")
_lock = threading.RLock()


# --------------------------------------------------------------------------
# Formatters
# --------------------------------------------------------------------------


class _RedactingFormatterMixin:
    """Masks registered values in the final text (args, exceptions, tracebacks)."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_values(super().format(record))  # type: ignore[misc]


class PlainFormatter(_RedactingFormatterMixin, logging.Formatter):
    """The OTF text format, with value redaction of the finished line."""


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
        if exc is not None and str(exc) not in text:
            text += f" ({type(exc).__name__}: {mask_values(str(exc))})"
        return text


class JSONFormatter(_RedactingFormatterMixin, logging.Formatter):
    """One JSON object per record (``OTF_LOG_JSON=1``)."""

    def __init__(self, task_id: str | None = None):
        super().__init__()
        self.task_id = task_id

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record with the keys of the reference, in order."""
        timestamp = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        entry = {
            "timestamp": timestamp.replace(tzinfo=None).isoformat(),
            "level": record.levelname,
            "function": record.funcName,
            "file": f"{record.pathname}:{record.lineno}",
            "thread": record.threadName,
            "logger": record.name,
            "message": mask_values(record.getMessage()),
            "task_id": self.task_id,
            "run_id": os.environ.get("OTF_RUN_ID"),
        }
        if record.exc_info:
            entry["exception"] = mask_values(self.formatException(record.exc_info))
        return json.dumps(entry)


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


class TaskFileHandler(logging.FileHandler):
    """A lazily opened, line-buffered file handler that creates its directory."""

    def __init__(
        self,
        filename: str,
        mode: str = "a",
        encoding: str | None = None,
        delay: bool = True,
    ):
        os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
        super().__init__(filename, mode, encoding, delay)

    def _open(self):  # type: ignore[no-untyped-def]
        with _lock:
            os.makedirs(os.path.dirname(self.baseFilename), exist_ok=True)
            return open(  # noqa: SIM115 - the handler owns the stream
                self.baseFilename,
                self.mode,
                encoding=self.encoding or "utf-8",
                buffering=1,
            )


def _define_log_file_name(task_id: str | None, task_type: str | None) -> str:
    """Compute the ``_running`` log file name for a task (logging.md §3)."""
    global LOG_DIRECTORY
    LOG_DIRECTORY = os.environ.get("OTF_LOG_DIRECTORY", "logs")
    prefix = os.environ.get("OTF_LOG_RUN_PREFIX")
    if not prefix:
        prefix = datetime.datetime.now().strftime("%Y%m%d-%H%M%S.%f")[:-3]
        os.environ["OTF_LOG_RUN_PREFIX"] = prefix
    type_part = f"_{task_type}" if task_type else ""
    run_id = os.environ.get("OTF_RUN_ID")
    if run_id:
        return f"{LOG_DIRECTORY}/{run_id}/{prefix}{type_part}_{task_id}_running.log"
    directory = task_id if task_id is not None else "no_task_id"
    return f"{LOG_DIRECTORY}/{directory}/{prefix}{type_part}_running.log"


def _add_file_handler(
    logger: logging.Logger, filename: str, formatter: logging.Formatter
) -> None:
    path = os.path.abspath(filename)
    for handler in logger.handlers:
        if isinstance(handler, TaskFileHandler) and handler.baseFilename == path:
            return
    handler = TaskFileHandler(filename)
    handler.setFormatter(formatter)
    logger.addHandler(handler)


def init_logging(
    name: str,
    task_id: str | None = None,
    task_type: str | None = None,
    level: int | str = logging.INFO,
    override_root_logger: bool = False,
) -> logging.Logger:
    """Create (or re-sync) a logger that writes to the task's log file.

    Args:
        name: the logger name, usually ``__name__``.
        task_id: the task id; ``OTF_TASK_ID`` is used when falsy.
        task_type: ``T``, ``E``, ``B``; ``WRAPPER`` when falsy.
        level: level for the root logger when ``override_root_logger``.
        override_root_logger: install the stderr handler on the root logger.

    Returns:
        The logger ``name.<task_id>`` (or ``name`` without a task id).
    """
    formatter: logging.Formatter = PlainFormatter(OTF_LOG_FORMAT)
    env_level = os.environ.get("OTF_LOG_LEVEL")
    if env_level and level == logging.INFO:
        level = env_level
    if not task_id:
        task_id = os.environ.get("OTF_TASK_ID")
    if not task_type:
        task_type = "WRAPPER"

    root = logging.getLogger()
    if override_root_logger:
        if os.environ.get("OTF_LOG_JSON") == "1":
            formatter = JSONFormatter(task_id)
        stream = logging.StreamHandler()
        stream.setFormatter(
            formatter
            if isinstance(formatter, JSONFormatter)
            else ConsoleFormatter(OTF_LOG_FORMAT)
        )
        root.setLevel(level)
        for existing in list(root.handlers):
            if getattr(existing, "_otf_stream", False):
                root.removeHandler(existing)
        stream._otf_stream = True  # type: ignore[attr-defined]
        root.addHandler(stream)
        if not any(isinstance(f, SensitiveDataFilter) for f in root.filters):
            root.addFilter(SensitiveDataFilter())

    logger = logging.getLogger(f"{name}.{task_id}" if task_id else name)
    if not any(isinstance(f, SensitiveDataFilter) for f in logger.filters):
        logger.addFilter(SensitiveDataFilter())
    logger.setLevel(env_level if env_level else root.getEffectiveLevel())

    if "OTF_NO_LOG" in os.environ or not task_id:
        return logger

    _add_file_handler(logger, _define_log_file_name(task_id, task_type), formatter)
    if os.environ.get("OTF_LOG_INIT_EVENTS") == "1":
        logger.debug("Logging initialised")
    return logger


def set_log_file(logger_name: str, task_type: str | None = None) -> None:
    """Route a third-party logger (``urllib3``, ``smtplib``, ...) into OTF logs."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, SensitiveDataFilter) for f in logger.filters):
        logger.addFilter(SensitiveDataFilter())
    task_id = os.environ.get("OTF_TASK_ID")
    formatter: logging.Formatter
    if os.environ.get("OTF_LOG_JSON") == "1":
        formatter = JSONFormatter(task_id)
    else:
        formatter = PlainFormatter(OTF_LOG_FORMAT)
    filename = _define_log_file_name(task_id, task_type or "WRAPPER")
    _add_file_handler(logger, filename, formatter)


def close_log_file(logger__: logging.Logger, result: bool | None = False) -> None:
    """Close the logger's task file and rename it to record the result.

    ``True`` drops ``_running`` from the name, ``False`` turns it into
    ``_failed``, ``None`` leaves the name. Every logger sharing the file is
    closed and pointed at the new name; the loggers are then forgotten by the
    logging manager so they can be garbage-collected.
    """
    path = None
    for handler in logger__.handlers:
        if isinstance(handler, TaskFileHandler) and os.path.exists(
            handler.baseFilename
        ):
            path = handler.baseFilename
    closed: list[tuple[str, TaskFileHandler]] = []
    if path is not None:
        # Only the "_running.log" suffix carries the state; a directory or task
        # id that happens to contain "_running" must not be touched.
        stem = path[: -len("_running.log")] if path.endswith("_running.log") else None
        if stem is not None and result:
            new_path = stem + ".log"
        elif stem is not None and result is False:
            new_path = stem + "_failed.log"
        else:
            new_path = path
        with _lock:
            for name, candidate in list(logging.Logger.manager.loggerDict.items()):
                if not isinstance(candidate, logging.Logger):
                    continue
                for handler in candidate.handlers:
                    if (
                        isinstance(handler, TaskFileHandler)
                        and handler.baseFilename == path
                    ):
                        handler.close()
                        closed.append((name, handler))
                        break
            if new_path != path and os.path.exists(path):
                os.rename(path, new_path)
            for _, handler in closed:
                handler.baseFilename = new_path
    with _lock:
        names = {name for name, _ in closed} | {logger__.name}
        for name in names:
            logging.Logger.manager.loggerDict.pop(name, None)


def get_latest_log_file(task_id: str, task_type: str) -> str | None:
    """Find the log of a previous failed (or stale running) run to resume from."""
    pattern_path = _define_log_file_name(task_id, task_type)
    prefix = os.environ["OTF_LOG_RUN_PREFIX"]
    pattern_path = pattern_path.replace(prefix, ".*")
    stale_text = os.environ.get("OTF_STALE_RUNNING_LOG_SECONDS", "-1")
    try:
        stale = int(stale_text)
    except ValueError:
        raise ValueError(
            f"environment variable OTF_STALE_RUNNING_LOG_SECONDS={stale_text!r}: "
            "must be a whole number of seconds"
        ) from None
    if stale < 0:
        pattern_path = pattern_path.replace("_running", "(_failed)*")
    else:
        pattern_path = pattern_path.replace("_running", "(_failed|_running)*")
    directory, base_pattern = os.path.split(pattern_path)
    if not os.path.isdir(directory):
        return None
    name_regex = re.compile(base_pattern)
    wanted_date = os.environ.get("OTF_BATCH_RESUME_LOG_DATE") or (
        datetime.datetime.now().strftime("%Y%m%d")
    )
    if not re.fullmatch(r"\d{8}", wanted_date):
        logging.getLogger(__name__).warning(
            f"OTF_BATCH_RESUME_LOG_DATE={wanted_date!r} is not YYYYMMDD: "
            "no earlier log can match it"
        )
    candidates = []
    for name in os.listdir(directory):
        stamp = name.split("_", 1)[0]
        if not name_regex.match(name) or not _PREFIX_FORMAT.fullmatch(stamp):
            continue
        if stamp[:8] != wanted_date:
            continue
        candidates.append((datetime.datetime.strptime(stamp, "%Y%m%d-%H%M%S.%f"), name))
    candidates.sort()
    if stale >= 0:
        cutoff = datetime.datetime.now().timestamp() - stale
        candidates = [
            (stamp, name)
            for stamp, name in candidates
            if "_running" not in name
            or os.path.getmtime(os.path.join(directory, name)) <= cutoff
        ]
    if not candidates:
        return None
    latest = candidates[-1][1]
    if "_failed" in latest:
        return f"{directory}/{latest}"
    if "_running" in latest and stale >= 0:
        logger.info("Stale running log file found. Resuming batch from it.")
        return f"{directory}/{latest}"
    logger.info("No failed log file found. Starting from scratch.")
    return None


logger = init_logging("opentaskpy.otflogging")
