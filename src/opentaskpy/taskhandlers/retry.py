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
from opentaskpy.taskhandlers.attemptlogs import next_attempt_handler

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
