"""Pure parts of flow control: the sandbox, cycles, dependencies, retry delays."""

from __future__ import annotations

import pytest

from opentaskpy.config import expressions
from opentaskpy.config.batch_spec import Dependency, dependencies_of, find_cycle
from opentaskpy.exceptions import InvalidConfigError
from opentaskpy.taskhandlers.retry import RetryPolicy, failure_class


def test_expressions_run_in_the_sandbox():
    with pytest.raises(expressions.ExpressionError, match="cannot be evaluated"):
        expressions.evaluate("1 (x)", "skip_if", "().__class__.__bases__", {})
    # The step view is read-only even for methods that would mutate it.
    with pytest.raises(expressions.ExpressionError):
        expressions.evaluate("1 (x)", "check", "items.append(1)", {"items": [1]})
    assert expressions.evaluate("1 (x)", "check", "A + 1 == 3", {"A": 2}) is True


def test_expression_errors_are_configuration_errors():
    with pytest.raises(InvalidConfigError) as info:
        expressions.evaluate("2 (load)", "skip_if", "NOPE", {})
    assert str(info.value).startswith("step 2 (load): skip_if 'NOPE' cannot be")
    assert expressions.check("2 (load)", "check", "A and B", {"A"}) == (
        "step 2 (load): check 'A and B': unknown name(s) B"
    )
    assert "step 2 (load): check '((': " in str(
        expressions.check("2 (load)", "check", "((", set())
    )
    assert expressions.check("2 (load)", "check", "steps[1].outcome", set()) is None


def test_cycles_and_dependencies():
    assert find_cycle({1: [], 2: [1], 3: [2]}) is None
    assert find_cycle({1: [3], 2: [1], 3: [2]}) == [1, 3, 2, 1]
    assert find_cycle({1: [9]}) is None  # unknown ids are reported elsewhere
    entry = {"dependencies": [1, {"order_id": 2, "on": "failure"}, {"order_id": 3}]}
    assert dependencies_of(entry) == [
        Dependency(1, "success"),
        Dependency(2, "failure"),
        Dependency(3, "success"),
    ]


def test_retry_delays_and_classes():
    policy = RetryPolicy.from_step(
        {"retries": 5, "retry_delay": 1, "retry_backoff": 3, "retry_max_delay": 5}
    )
    assert [policy.delay_before(n) for n in (2, 3, 4, 5)] == [1, 3, 5, 5]
    assert policy.retries_class("connection")
    assert not policy.retries_class("configuration")
    only = RetryPolicy.from_step({"retries": 1, "retry_on": ["no_files"]})
    assert only.retries_class("no_files") and not only.retries_class("transfer")
    with pytest.raises(InvalidConfigError, match="OTF_RETRY_ON"):
        RetryPolicy.from_env({"OTF_RETRIES": "1", "OTF_RETRY_ON": "bogus"})
    assert RetryPolicy.from_env({}).retries == 0


def test_failure_class_follows_the_exception_chain():
    from opentaskpy.exceptions import RemoteFileNotFoundError

    try:
        try:
            raise RemoteFileNotFoundError("no file")
        except RemoteFileNotFoundError as inner:
            raise Exception("no file") from inner
    except Exception as outer:
        assert failure_class("T", outer) == "no_files"
    assert failure_class("E", None) == "execution"
    assert failure_class("B", None) == "error"


def test_batch_schema_accepts_flow_fields_and_stays_strict():
    from opentaskpy.config.schemas import find_violation

    entry = {
        "order_id": 2,
        "task_id": "x",
        "dependencies": [1, {"order_id": 1, "on": "any"}],
        "retries": 2,
        "retry_delay": 0.5,
        "retry_backoff": 1.5,
        "retry_max_delay": 30,
        "retry_on": ["connection", "no_files"],
        "overall_timeout": 900,
        "skip_if": "false",
        "check": "true",
        "foreach": ["a"],
        "foreach_concurrency": 2,
        "foreach_min_success": 1,
    }
    first = {"order_id": 1, "task_id": "y"}
    assert find_violation("batch", {"type": "batch", "tasks": [first, entry]}) is None
    for bad, path in (
        ({"dependencies": [{"order_id": 1, "on": "later"}]}, ".dependencies[0].on"),
        ({"dependencies": [{"order_id": 1, "when": "any"}]}, ".dependencies[0]"),
        ({"retry_on": ["sometimes"]}, ".retry_on[0]"),
        ({"retries": -1}, ".retries"),
        ({"foreach": 3}, ".foreach"),
        ({"skip_if": ""}, ".skip_if"),
    ):
        doc = {"type": "batch", "tasks": [{**first, **bad}]}
        violation = find_violation("batch", doc)
        assert violation is not None and violation.path == "$.tasks[0]" + path
