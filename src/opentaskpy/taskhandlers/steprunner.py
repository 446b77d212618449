"""The thread body of one batch unit: attempts, retries and ``check``.

A unit is a step, or one foreach instance of a step. Each attempt gets a
fresh handler (a handler closes its log when it finishes) and a fresh kill
event, so the scheduler can time out one attempt and the next still runs.
The scheduler sets ``stop`` when the unit must end for good (batch killed,
overall timeout); waiting between attempts ends early then.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from opentaskpy.config import expressions
from opentaskpy.exceptions import ErrorClass
from opentaskpy.taskhandlers.attemptlogs import next_attempt_handler, unit_log_files
from opentaskpy.taskhandlers.retry import RetryPolicy, failure_class, give_up_reason


def attempt(host: Any, handler: Any, event: threading.Event) -> tuple[bool, str]:
    """Run a handler once; return its result and, on failure, the error class."""
    task_id = getattr(handler, "task_id", None)
    error: BaseException | None = None
    try:
        result = bool(handler.run(kill_event=event))
    except Exception as exc:
        error = exc
        # Closes the step's log as failed; raises again unless the
        # exception came from the handler's own return_result.
        with contextlib.suppress(Exception):
            handler.return_result(1, str(exc), exc)
        host.logger.exception(f"[{task_id}] Failed to run task")
        result = False
    host.logger.info(f"[{task_id}] Returned {result}")
    if result:
        return True, ""
    return False, failure_class(getattr(handler, "TASK_TYPE", ""), error)


def apply_check(
    host: Any, entry: dict, unit: dict, ok: bool, error_class: str, number: int
) -> tuple[bool, str]:
    """Let the step's ``check`` expression override the attempt's outcome."""
    expression = entry["batch_task_spec"].get("check")
    if expression is None:
        return ok, error_class
    own = {
        "outcome": "success" if ok else "failure",
        "error_class": error_class or None,
        "attempt": number,
    }
    with host.condition:
        context = host.expression_context(unit)
    context["step"] = own
    label = host.unit_label(entry, unit)
    try:
        passed = bool(expressions.evaluate(label, "check", expression, context))
    except expressions.ExpressionError as exc:
        host.logger.error(f"Task {label}: configuration error: {exc}")
        return False, ErrorClass.CONFIGURATION.value
    if passed != ok:
        host.logger.info(
            f"Task {label}: check {expression!r} turns "
            f"{own['outcome']} into {'success' if passed else 'failure'}"
        )
    return passed, "" if passed else (error_class or ErrorClass.ERROR.value)


def run_unit(host: Any, entry: dict, unit: dict, event: threading.Event) -> None:
    """Run a unit's attempts until one succeeds or the retry policy gives up.

    Leaves ``unit["status"]`` COMPLETED, FAILED or TIMED_OUT (KILLED and an
    overall timeout are set by the scheduler) and ``unit["finished"]`` true.
    """
    policy: RetryPolicy = entry["policy"]
    label = host.unit_label(entry, unit)
    unit_id = unit.get("unit_id", entry["task_id"])
    host.logger.info(f"Running task {unit_id}")
    status = "FAILED"
    number = 1
    started = time.monotonic()
    try:
        while True:
            if number > 1 or unit["task_handler"] is None:
                unit["task_handler"] = next_attempt_handler(
                    lambda: host.new_handler(entry, unit),
                    unit["task_handler"] if number > 1 else None,
                    number - 1,
                    unit.setdefault("attempt_logs", []),
                )
            if policy.retries:
                host.logger.info(
                    f"Task {label}: attempt {number} of {policy.retries + 1}"
                )
            host.logger.info(
                f"Spawning task handler for {unit_id} with timeout of "
                f"{entry['timeout']}"
            )
            ok, error_class = attempt(host, unit["task_handler"], event)
            ok, error_class = apply_check(host, entry, unit, ok, error_class, number)
            with host.condition:
                unit["attempts"] = number
                timed_out = unit.pop("attempt_timed_out", False)
                unit["attempt_start"] = None
                stopped = unit["stop"].is_set()
            if ok:
                status = "COMPLETED"
                break
            if timed_out:
                error_class = ErrorClass.TIMEOUT.value
            if stopped:
                break
            wait = policy.delay_before(number + 1)
            reason = give_up_reason(policy, number, error_class, started, wait)
            if policy.retries:
                host.logger.error(
                    f"Task {label}: attempt {number} of {policy.retries + 1} "
                    f"failed ({error_class})"
                )
            if reason:
                if policy.retries:
                    host.logger.error(f"Task {label}: not retrying: {reason}")
                status = "TIMED_OUT" if timed_out else "FAILED"
                break
            host.logger.info(f"Task {label}: retrying in {wait:g} s")
            if unit["stop"].wait(wait):
                break
            with host.condition:
                event = threading.Event()
                unit["kill_event"] = event
                unit["attempt_start"] = time.monotonic()
            number += 1
    except BaseException:  # the unit must still be recorded as finished
        host.logger.exception(f"[{unit_id}] Failed to run task")
    finally:
        # Before the handler is dropped: a retry around this batch renames them.
        unit["log_files"] = unit_log_files(unit, bool(policy.retries))
        host.finish_unit(entry, unit, status, event)
