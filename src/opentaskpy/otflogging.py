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

import logging
import os
import re

from opentaskpy.logformat import (  # noqa: F401 - part of this module's API
    ConsoleFormatter,
    JSONFormatter,
    PlainFormatter,
    clean_message,
    escape_controls,
)
from opentaskpy.logpaths import (  # noqa: F401 - part of this module's API
    InvalidNameError,
    TaskFileHandler,
    check_run_id,
    check_task_id,
    make_private_dirs,
    resume_log_settings,
    run_prefix,
)
from opentaskpy.logpaths import file_lock as _lock
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


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def _define_log_file_name(task_id: str | None, task_type: str | None) -> str:
    """Build the ``_running`` log file name (``..._{id}_{type}_running.log``).

    Raises:
        InvalidNameError: the task id, ``OTF_RUN_ID`` or ``OTF_LOG_RUN_PREFIX``
            would place the file outside the log directory.
    """
    global LOG_DIRECTORY
    LOG_DIRECTORY = os.environ.get("OTF_LOG_DIRECTORY", "logs")
    prefix = os.environ.get("OTF_LOG_RUN_PREFIX")
    if not prefix:
        prefix = run_prefix()
        os.environ["OTF_LOG_RUN_PREFIX"] = prefix
    check_run_id(prefix, "OTF_LOG_RUN_PREFIX")
    if task_id is not None:
        check_task_id(task_id)
    type_part = f"_{task_type}" if task_type else ""
    run_id = os.environ.get("OTF_RUN_ID")
    if run_id:
        check_run_id(run_id, "OTF_RUN_ID")
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


class _FirstError(logging.Handler):
    """Remembers the first error an OTF logger reports: the run's cause.

    Generic summaries ("Execution(s) failed", "Task completed with result:
    False") come after the line that says which host and operation failed
    and why; the CLI repeats that first line last on stderr. Paramiko's own
    error records (traceback fragments) are not causes.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.cause: tuple[str | None, str] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        name = record.name
        if (
            self.cause is None
            and name.startswith("opentaskpy.")
            and ("paramiko" not in name)
        ):
            self.cause = (_logger_tasks.get(name), clean_message(record.getMessage()))


_first_error = _FirstError()
# Logger name -> task id, so that a cause can name the batch step it came from.
_logger_tasks: dict[str, str] = {}


def first_error() -> tuple[str | None, str] | None:
    """Return the task id and message of the first error the run reported.

    The message is masked and escaped. Recorded once the CLI has set up
    logging (``override_root_logger``); ``None`` when nothing failed loudly.
    """
    return _first_error.cause


def _adopt_children(logger: logging.Logger) -> None:
    """Attach to a new logger the children left by a forgotten one of its name.

    :func:`close_log_file` makes the logging manager forget a task's logger,
    but not its children (paramiko's ``<task logger>.paramiko.transport``),
    which still point at the old logger and its closed file: when the task
    runs again in the process (a rerun, the same step in another batch)
    their lines would go to the earlier run's file instead of the new one.
    """
    prefix = logger.name + "."
    for name, child in list(logging.Logger.manager.loggerDict.items()):
        if (
            isinstance(child, logging.Logger)
            and name.startswith(prefix)
            and child.parent is not None
            and child.parent is not logger
            and child.parent.name == logger.name
        ):
            child.parent = logger


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
        if task_id:
            check_task_id(task_id, "OTF_TASK_ID")
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
        if _first_error not in root.handlers:
            root.addHandler(_first_error)
        if not any(isinstance(f, SensitiveDataFilter) for f in root.filters):
            root.addFilter(SensitiveDataFilter())

    logger_name = f"{name}.{task_id}" if task_id else name
    fresh = logger_name not in logging.Logger.manager.loggerDict
    logger = logging.getLogger(logger_name)
    if fresh:
        _adopt_children(logger)
    if task_id:
        _logger_tasks[logger.name] = task_id
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
            _logger_tasks.pop(name, None)


def get_latest_log_file(task_id: str, task_type: str) -> str | None:
    """Find the log of a previous failed (or stale running) run to resume from."""
    import datetime  # batch resumes only

    pattern_path = _define_log_file_name(task_id, task_type)
    prefix = os.environ["OTF_LOG_RUN_PREFIX"]
    pattern_path = pattern_path.replace(prefix, ".*")
    stale, wanted_date = resume_log_settings()
    if stale < 0:
        pattern_path = pattern_path.replace("_running", "(_failed)*")
    else:
        pattern_path = pattern_path.replace("_running", "(_failed|_running)*")
    directory, base_pattern = os.path.split(pattern_path)
    if not os.path.isdir(directory):
        return None
    name_regex = re.compile(base_pattern)
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


try:
    logger = init_logging("opentaskpy.otflogging")
except InvalidNameError:  # an inherited OTF_TASK_ID; the CLI reports it
    logger = logging.getLogger("opentaskpy.otflogging")
