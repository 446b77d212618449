"""Retrying a failed step (or a single task run) with backoff.

A policy comes from a batch step (``retries``, ``retry_delay``,
``retry_backoff``, ``retry_max_delay``, ``retry_on``, ``overall_timeout``)
or, for a plain ``task-run``, from the environment (``OTF_RETRIES``,
``OTF_RETRY_DELAY``, ``OTF_RETRY_BACKOFF``, ``OTF_RETRY_MAX_DELAY``,
``OTF_RETRY_ON``). Configuration errors are never worth retrying unless
asked for: the same definition fails the same way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentaskpy.exceptions import ErrorClass, InvalidConfigError, classify
from opentaskpy.logpaths import TaskFileHandler, file_lock

DEFAULT_RETRY_DELAY = 10.0
DEFAULT_RETRY_BACKOFF = 2.0
DEFAULT_RETRY_MAX_DELAY = 600.0

#: What a failed run that raised nothing counts as, by task type.
_PLAIN_FAILURE = {"T": ErrorClass.TRANSFER, "E": ErrorClass.EXECUTION}


def _default_retry_on() -> frozenset[str]:
    return frozenset(c.value for c in ErrorClass if c is not ErrorClass.CONFIGURATION)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a failed step is tried again."""

    retries: int = 0
    delay: float = DEFAULT_RETRY_DELAY
    backoff: float = DEFAULT_RETRY_BACKOFF
    max_delay: float = DEFAULT_RETRY_MAX_DELAY
    retry_on: frozenset[str] = field(default_factory=_default_retry_on)
    overall_timeout: float | None = None

    @classmethod
    def from_step(cls, entry: dict[str, Any]) -> RetryPolicy:
        """Read the policy of a batch ``tasks`` entry (no fields: no retries)."""
        retry_on = entry.get("retry_on")
        return cls(
            retries=int(entry.get("retries", 0)),
            delay=float(entry.get("retry_delay", DEFAULT_RETRY_DELAY)),
            backoff=float(entry.get("retry_backoff", DEFAULT_RETRY_BACKOFF)),
            max_delay=float(entry.get("retry_max_delay", DEFAULT_RETRY_MAX_DELAY)),
            retry_on=frozenset(retry_on) if retry_on else _default_retry_on(),
            overall_timeout=entry.get("overall_timeout"),
        )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> RetryPolicy:
        """Read the policy of a single ``task-run`` from ``OTF_RETRY*`` variables.

        Raises:
            InvalidConfigError: a variable is not a number / an error class.
        """
        env = os.environ if environ is None else environ

        def number(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            try:
                value = float(raw) if raw else default
            except ValueError:
                value = -1
            if value < 0:
                raise InvalidConfigError(
                    f"environment variable {name}={raw!r}: expected a number >= 0"
                )
            return value

        classes = [c.strip() for c in env.get("OTF_RETRY_ON", "").split(",")]
        classes = [c for c in classes if c]
        unknown = sorted(set(classes) - {c.value for c in ErrorClass})
        if unknown:
            raise InvalidConfigError(
                f"environment variable OTF_RETRY_ON: unknown error class "
                f"{', '.join(unknown)} (expected one of "
                f"{', '.join(c.value for c in ErrorClass)})"
            )
        return cls(
            retries=int(number("OTF_RETRIES", 0)),
            delay=number("OTF_RETRY_DELAY", DEFAULT_RETRY_DELAY),
            backoff=number("OTF_RETRY_BACKOFF", DEFAULT_RETRY_BACKOFF),
            max_delay=number("OTF_RETRY_MAX_DELAY", DEFAULT_RETRY_MAX_DELAY),
            retry_on=frozenset(classes) if classes else _default_retry_on(),
        )

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (2, 3, ...)."""
        return min(self.delay * self.backoff ** max(attempt - 2, 0), self.max_delay)

    def retries_class(self, error_class: str) -> bool:
        """Whether a failure of this class is retried."""
        return error_class in self.retry_on


def failure_class(task_type: str, exc: BaseException | None) -> str:
    """Return a failed run's error class: from its exception chain, else its type.

    Handlers re-raise our errors as plain exceptions chained to the original,
    so the chain is searched for the first classified one.
    """
    seen: set[int] = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = classify(current)
        if found is not ErrorClass.ERROR:
            return found.value
        current = current.__cause__ or current.__context__
    return _PLAIN_FAILURE.get(task_type, ErrorClass.ERROR).value


def run_task_retrying(
    make_handler: Callable[[], Any],
    task_type: str,
    policy: RetryPolicy,
    logger: Any,
    label: str,
) -> bool:
    """Run a single task (outside a batch) until it succeeds or the policy gives up.

    Every attempt gets a fresh handler (a handler closes its log when it
    finishes). The last attempt's exception is reported through the handler
    as without retries, so the CLI's error line is unchanged.
    """
    started = time.monotonic()
    total = policy.retries + 1
    number = 1
    handler = None
    while True:
        logger.info(f"{label}: attempt {number} of {total}")
        handler = next_attempt_handler(make_handler, handler, number - 1)
        error: Exception | None = None
        try:
            ok = bool(handler.run())
        except Exception as exc:
            error, ok = exc, False
        if ok:
            logger.info(f"{label}: attempt {number} of {total} succeeded")
            return True
        error_class = failure_class(task_type, error)
        logger.error(f"{label}: attempt {number} of {total} failed ({error_class})")
        wait = policy.delay_before(number + 1)
        reason = give_up_reason(policy, number, error_class, started, wait)
        if reason:
            logger.error(f"{label}: not retrying: {reason}")
            if error is not None:
                handler.return_result(1, str(error), error)
            return False
        logger.info(f"{label}: retrying in {wait:g} s")
        time.sleep(wait)
        number += 1


def give_up_reason(
    policy: RetryPolicy, number: int, error_class: str, started: float, wait: float
) -> str | None:
    """Why attempt ``number`` (which failed) is the last, or ``None``."""
    if number > policy.retries:
        return "no retries left" if policy.retries else "no retries configured"
    if not policy.retries_class(error_class):
        return f"{error_class} errors are not retried"
    if policy.overall_timeout is not None and (
        time.monotonic() - started + wait >= policy.overall_timeout
    ):
        return f"overall timeout of {policy.overall_timeout:g} s would be exceeded"
    return None


#: State suffixes of a task log file, the longer ones first.
_LOG_STATES = ("_running.log", "_failed.log", ".log")


def attempt_log_name(path: str, number: int) -> str | None:
    """``path`` with ``_attempt<number>`` before its state suffix, or ``None``.

    ``logs/t/P_E_failed.log`` becomes ``logs/t/P_E_attempt1_failed.log``; a
    name without a state suffix has no attempt name.
    """
    for state in _LOG_STATES:
        if path.endswith(state):
            return f"{path[: -len(state)]}_attempt{number}{state}"
    return None


def next_attempt_handler(
    make_handler: Callable[[], Any], previous: Any, number: int
) -> Any:
    """Build the next attempt's handler; keep attempt ``number``'s log beside it.

    Every attempt of a step writes the step's usual log file name, which the
    next attempt would replace (or append to). The finished attempt's file
    is moved aside as ``..._attempt<number>...``, so the usual name is left
    to the last attempt and tells the step's outcome as it does without
    retries. A closed log moves once the next handler exists: a nested batch
    reads its resume marks from the previous attempt's log when it is built.
    A log still ``_running`` (never closed) moves first, before the next
    handler could write into it.

    Args:
        make_handler: builds a fresh handler.
        previous: the handler of attempt ``number``, ``None`` for the first.
        number: the attempt ``previous`` ran.
    """
    if previous is not None:
        keep_attempt_log(previous, number, ("_running.log",))
    handler = make_handler()
    if previous is not None:
        keep_attempt_log(previous, number)
    return handler


def keep_attempt_log(
    handler: Any, number: int, states: tuple[str, ...] = _LOG_STATES
) -> list[str]:
    """Rename a handler's log files in one of ``states`` to their attempt name.

    An attempt name that is taken is never overwritten.

    Returns:
        The new names of the files moved.
    """
    moved = []
    for file_handler in getattr(getattr(handler, "logger", None), "handlers", []):
        if not isinstance(file_handler, TaskFileHandler):
            continue
        path = file_handler.baseFilename
        new_path = attempt_log_name(path, number)
        with file_lock:
            if new_path is None or not path.endswith(states):
                continue
            if not os.path.exists(path) or os.path.exists(new_path):
                continue
            file_handler.close()
            os.rename(path, new_path)
            file_handler.baseFilename = new_path
        moved.append(new_path)
    return moved
