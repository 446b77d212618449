"""Tests for opentaskpy.otflogging: names, states, resume discovery, redaction."""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import time
from pathlib import Path

import pytest

from opentaskpy import otflogging

PREFIX_RE = r"\d{8}-\d{6}\.\d{3}"


def test_define_log_file_name_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    assert re.fullmatch(
        rf"logs/no_task_id/{PREFIX_RE}_B_running\.log",
        otflogging._define_log_file_name(None, "B"),
    )
    assert re.fullmatch(
        rf"logs/123/{PREFIX_RE}_B_running\.log",
        otflogging._define_log_file_name("123", "B"),
    )
    assert re.fullmatch(
        rf"logs/no_task_id/{PREFIX_RE}_running\.log",
        otflogging._define_log_file_name(None, None),
    )
    monkeypatch.setenv("OTF_LOG_RUN_PREFIX", "test")
    assert otflogging._define_log_file_name(None, "B") == (
        "logs/no_task_id/test_B_running.log"
    )
    monkeypatch.setenv("OTF_RUN_ID", "some-run-id")
    assert otflogging._define_log_file_name("some-task-id", "B") == (
        "logs/some-run-id/test_B_some-task-id_running.log"
    )


def test_prefix_is_stored_and_shared() -> None:
    first = otflogging._define_log_file_name("a", "T")
    time.sleep(0.01)
    second = otflogging._define_log_file_name("a", "T")
    assert first == second
    assert os.environ["OTF_LOG_RUN_PREFIX"] in first


def test_log_directory_follows_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OTF_LOG_DIRECTORY", str(tmp_path / "elsewhere"))
    name = otflogging._define_log_file_name("t1", "E")
    assert name.startswith(str(tmp_path / "elsewhere") + "/t1/")
    assert str(tmp_path / "elsewhere") == otflogging.LOG_DIRECTORY


def test_init_logging_adds_lazy_task_file_handler(isolated_env: Path) -> None:
    logger = otflogging.init_logging("some.class.name1", task_id="some_task_id")
    handlers = [h for h in logger.handlers if type(h).__name__ == "TaskFileHandler"]
    assert len(handlers) == 1
    assert re.fullmatch(
        rf"{re.escape(str(isolated_env))}/logs/some_task_id/{PREFIX_RE}_WRAPPER_running\.log",
        handlers[0].baseFilename,
    )
    # Lazy: nothing on disk until the first record.
    assert not os.path.exists(handlers[0].baseFilename)
    logger.setLevel(logging.INFO)
    logger.info("hello")
    assert "hello" in Path(handlers[0].baseFilename).read_text()
    # A second init for the same name does not duplicate the handler.
    again = otflogging.init_logging("some.class.name1", task_id="some_task_id")
    assert again is logger
    assert len(again.handlers) == 1


def test_init_logging_task_type_and_no_log(monkeypatch: pytest.MonkeyPatch) -> None:
    logger = otflogging.init_logging("x.b", task_id="t", task_type="B")
    assert logger.handlers[0].baseFilename.endswith("_B_running.log")
    monkeypatch.setenv("OTF_NO_LOG", "1")
    quiet = otflogging.init_logging("x.nolog", task_id="t2")
    assert quiet.handlers == []


def test_init_logging_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTF_LOG_LEVEL", "DEBUG")
    root = logging.getLogger()
    old_level, old_handlers = root.level, list(root.handlers)
    try:
        otflogging.init_logging("lvl.test", "t", override_root_logger=True)
        assert root.getEffectiveLevel() == logging.DEBUG
        monkeypatch.delenv("OTF_LOG_LEVEL")
        root.setLevel(12)
        # Re-initialising re-syncs the named logger with the root level.
        assert otflogging.init_logging("lvl.other").level == 12
    finally:
        root.setLevel(old_level)
        root.handlers[:] = old_handlers


def test_close_log_file_renames_success_and_failure(isolated_env: Path) -> None:
    ok = otflogging.init_logging("close.ok", task_id="ok_task", task_type="T")
    ok.setLevel(logging.INFO)
    ok.info("done")
    running = ok.handlers[0].baseFilename
    otflogging.close_log_file(ok, True)
    assert not os.path.exists(running)
    assert os.path.exists(running.replace("_running", ""))
    assert ok.handlers[0].baseFilename == running.replace("_running", "")

    bad = otflogging.init_logging("close.bad", task_id="bad_task", task_type="E")
    bad.setLevel(logging.INFO)
    bad.info("boom")
    running = bad.handlers[0].baseFilename
    otflogging.close_log_file(bad, False)
    assert os.path.exists(running.replace("_running", "_failed"))
    # Closed loggers are forgotten, so a new init creates a fresh logger.
    assert "close.bad.bad_task" not in logging.Logger.manager.loggerDict


def test_close_log_file_none_result_closes_without_renaming(isolated_env: Path) -> None:
    # Closing with result None: -> no rename; the handler is closed
    # but stays attached, and the logger is forgotten.
    logger = otflogging.init_logging("close.none", task_id="none_task", task_type="B")
    logger.setLevel(logging.INFO)
    logger.info("still going")
    running = logger.handlers[0].baseFilename
    otflogging.close_log_file(logger, None)
    assert os.path.exists(running)
    assert os.listdir(os.path.dirname(running)) == [os.path.basename(running)]
    assert logger.handlers[0].baseFilename == running
    assert "close.none.none_task" not in logging.Logger.manager.loggerDict
    # Nothing written yet: closing is a no-op apart from forgetting the logger.
    empty = otflogging.init_logging("close.empty", task_id="empty_task")
    otflogging.close_log_file(empty, True)
    # (the directory is created with the handler; no file appears in it)
    assert os.listdir(isolated_env / "logs" / "empty_task") == []


def test_close_log_file_shared_between_loggers(isolated_env: Path) -> None:
    first = otflogging.init_logging("share.one", task_id="shared", task_type="T")
    second = otflogging.init_logging("share.two", task_id="shared", task_type="T")
    for logger in (first, second):
        logger.setLevel(logging.INFO)
    first.info("from one")
    second.info("from two")
    otflogging.close_log_file(first, False)
    failed = first.handlers[0].baseFilename
    assert failed.endswith("_T_failed.log")
    assert second.handlers[0].baseFilename == failed
    text = Path(failed).read_text()
    assert "from one" in text and "from two" in text


def test_child_loggers_follow_a_task_logger_made_again(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # paramiko's lines of a task run a second time in the process go to the
    # second run's file, not the closed file of the first.
    first = otflogging.init_logging("again", task_id="twice", task_type="E")
    child = logging.getLogger("again.twice.paramiko.transport")
    first.setLevel(logging.INFO)
    child.info("first run")
    otflogging.close_log_file(first, False)
    monkeypatch.setenv("OTF_LOG_RUN_PREFIX", "20990101-000000.000")
    second = otflogging.init_logging("again", task_id="twice", task_type="E")
    second.setLevel(logging.INFO)
    assert second is not first
    assert logging.getLogger("again.twice.paramiko.transport").parent is second
    child.info("second run")
    otflogging.close_log_file(second, True)
    assert "first run" in Path(first.handlers[0].baseFilename).read_text()
    text = Path(second.handlers[0].baseFilename).read_text()
    assert "again.twice.paramiko.transport" in text and "second run" in text
    assert "second run" not in Path(first.handlers[0].baseFilename).read_text()


def _make_log(directory: Path, stamp: datetime.datetime, suffix: str) -> Path:
    name = stamp.strftime("%Y%m%d-%H%M%S.%f")[:-3] + f"_B{suffix}.log"
    path = directory / name
    path.write_text("x")
    return path


@pytest.fixture
def batch_logs(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OTF_LOG_RUN_PREFIX", "20990101-000000.000")
    directory = isolated_env / "logs" / "batchy"
    directory.mkdir(parents=True)
    return directory


def test_latest_log_file_scenarios(
    batch_logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.datetime.now()
    earlier = now - datetime.timedelta(minutes=5)
    running = _make_log(batch_logs, earlier, "_running")
    assert otflogging.get_latest_log_file("batchy", "B") is None

    failed = _make_log(batch_logs, earlier - datetime.timedelta(minutes=1), "_failed")
    assert otflogging.get_latest_log_file("batchy", "B") == (
        f"logs/batchy/{failed.name}"
    )

    _make_log(batch_logs, now, "")
    assert otflogging.get_latest_log_file("batchy", "B") is None

    # Stale running logs count only when old enough and the variable is set.
    monkeypatch.setenv("OTF_STALE_RUNNING_LOG_SECONDS", "300")
    later = _make_log(batch_logs, now + datetime.timedelta(seconds=1), "_running")
    assert otflogging.get_latest_log_file("batchy", "B") is None
    old = time.time() - 600
    os.utime(later, (old, old))
    assert otflogging.get_latest_log_file("batchy", "B") == f"logs/batchy/{later.name}"
    assert running.exists()


def test_latest_log_file_other_day(
    batch_logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yesterday = datetime.datetime.now() - datetime.timedelta(days=1)
    failed = _make_log(batch_logs, yesterday, "_failed")
    assert otflogging.get_latest_log_file("batchy", "B") is None
    monkeypatch.setenv("OTF_BATCH_RESUME_LOG_DATE", yesterday.strftime("%Y%m%d"))
    assert otflogging.get_latest_log_file("batchy", "B") == f"logs/batchy/{failed.name}"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("This is a test message", "This is a test message"),
        (
            '{"password": "test1234", "username": "test"}',
            '{"password": "********", "username": "test"}',
        ),
        (
            '{"something": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"}',
            '{"something": "********"}',
        ),
        (
            '{"something": "-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----"}',
            '{"something": "********"}',
        ),
        (
            '{"something": "-----BEGIN PRIVATE KEY BLOCK-----test1234'
            '-----END PRIVATE KEY BLOCK-----"}',
            '{"something": "********"}',
        ),
    ],
)
def test_redact_reference_cases(message: str, expected: str) -> None:
    assert otflogging.redact(message) == expected


def test_redaction_by_value_at_any_depth_and_third_party(isolated_env: Path) -> None:
    definition = {
        "source": {
            "protocol": {
                "credentials": {"username": "alice", "password": "deep-s3cret-value"},
                "nested": [{"apiToken": "tok-987654"}],
            }
        },
        "plain": "visible-value",
    }
    otflogging.register_secrets_from(definition)
    otflogging.register_secret("from-a-lookup-plugin")
    logger = otflogging.init_logging("redact.task", task_id="redact", task_type="T")
    logger.setLevel(logging.DEBUG)
    # A third-party logger routed into the task's file (as paramiko is).
    child = logging.getLogger("redact.task.redact.paramiko.transport")
    child.setLevel(logging.DEBUG)
    logger.info("alice: deep-s3cret-value and tok-987654 and visible-value")
    logger.log(11, "lookup gave %s", "from-a-lookup-plugin")
    child.debug("auth with deep-s3cret-value")
    try:
        raise ValueError("failed with tok-987654")
    except ValueError:
        logger.exception("oops")
    text = Path(logger.handlers[0].baseFilename).read_text()
    for secret in ("deep-s3cret-value", "tok-987654", "from-a-lookup-plugin"):
        assert secret not in text
    assert "visible-value" in text
    assert "alice" in text  # user names stay readable
    assert text.count("********") >= 5


def test_json_formatter_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTF_RUN_ID", "run-9")
    formatter = otflogging.JSONFormatter("task-9")
    record = logging.LogRecord("n", logging.INFO, "/p/f.py", 7, "hi %s", ("x",), None)
    entry = json.loads(formatter.format(record))
    assert list(entry) == [
        "timestamp",
        "level",
        "function",
        "file",
        "thread",
        "logger",
        "message",
        "task_id",
        "run_id",
    ]
    assert entry["message"] == "hi x"
    assert entry["file"] == "/p/f.py:7"
    assert (entry["task_id"], entry["run_id"]) == ("task-9", "run-9")


def test_set_log_file_attaches_third_party_logger(
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    monkeypatch.setenv("OTF_TASK_ID", "third")
    otflogging.set_log_file("some.library")
    otflogging.set_log_file("some.library")
    library = logging.getLogger("some.library")
    handlers = [h for h in library.handlers if type(h).__name__ == "TaskFileHandler"]
    assert len(handlers) == 1
    library.setLevel(logging.INFO)
    library.info("library says hi")
    assert "_WRAPPER_running.log" in handlers[0].baseFilename
    assert "library says hi" in Path(handlers[0].baseFilename).read_text()


def test_close_log_file_only_renames_the_file_name(isolated_env: Path) -> None:
    logger = otflogging.init_logging("odd.name", task_id="job_running_x", task_type="T")
    logger.setLevel(logging.INFO)
    logger.info("x")
    running = logger.handlers[0].baseFilename
    otflogging.close_log_file(logger, True)
    expected = os.path.join(
        os.path.dirname(running), os.path.basename(running).replace("_running", "")
    )
    assert "/job_running_x/" in expected
    assert os.path.exists(expected)


def test_close_log_file_with_run_id_and_odd_task_id(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTF_RUN_ID", "nightly")
    logger = otflogging.init_logging("odd.run", task_id="a_running_b", task_type="E")
    logger.setLevel(logging.INFO)
    logger.info("x")
    running = logger.handlers[0].baseFilename
    assert running.endswith("_E_a_running_b_running.log")
    otflogging.close_log_file(logger, False)
    assert os.path.exists(running[: -len("_running.log")] + "_failed.log")


def test_console_hides_tracebacks_below_debug(
    isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    old_level, old_handlers = root.level, list(root.handlers)
    try:
        logger = otflogging.init_logging(
            "console.tb", "tb_task", override_root_logger=True
        )
        try:
            raise RuntimeError("disk on fire")
        except RuntimeError:
            logger.exception("copy failed")
        err = capsys.readouterr().err
        assert "copy failed (RuntimeError: disk on fire)" in err
        assert "Traceback" not in err
        # The task's log file keeps the traceback for the operator.
        assert "Traceback" in Path(logger.handlers[0].baseFilename).read_text()
        root.setLevel(logging.DEBUG)
        try:
            raise RuntimeError("again")
        except RuntimeError:
            logger.exception("copy failed")
        assert "Traceback" in capsys.readouterr().err
    finally:
        root.setLevel(old_level)
        root.handlers[:] = old_handlers
