"""Fixtures shared by the whole suite.

Every test runs in its own temporary working directory (so ``logs/`` lands
there) with every ``OTF_*`` variable removed from the environment.

The validation cache (``opentaskpy.config.validation_cache``) is off in every
test (``OTF_VALIDATION_CACHE=0``, also for the ``task_run`` fixture's CLI
runs) unless the test turns it on. Subprocesses started with a stripped
``OTF_*`` environment still have it on, so ``XDG_CACHE_HOME`` points at a
per-session directory: the suite never writes to the real ``~/.cache``.
Likewise ``XDG_STATE_HOME`` (where run records and overlap locks live by
default) points at a per-session directory: never ``~/.local/state``.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opentaskpy import redaction
from support.fixtures import debug_logging, staging_base  # noqa: F401 - fixtures
from support.processes import run_task_run, task_run_env
from support.server_fixtures import (  # noqa: F401 - fixtures for every directory
    dirs,
    needs_host_to_host,
    restartable_host,
    smtp_plain,
    smtp_tls,
    ssh_client_env,
    ssh_env,
)


def _session_dir(factory: pytest.TempPathFactory, variable: str) -> Iterator[Path]:
    """Point ``variable`` at a new directory of this session while it lasts."""
    directory = factory.mktemp(variable.lower().replace("_", "-"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(variable, str(directory))
        yield directory


@pytest.fixture(autouse=True, scope="session")
def session_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ``XDG_CACHE_HOME`` at a directory of this session."""
    yield from _session_dir(tmp_path_factory, "XDG_CACHE_HOME")


@pytest.fixture(autouse=True, scope="session")
def session_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ``XDG_STATE_HOME`` (run records, overlap locks) at this session."""
    yield from _session_dir(tmp_path_factory, "XDG_STATE_HOME")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run each test in a fresh cwd with no OTF_* variables set.

    The one exception is ``OTF_VALIDATION_CACHE=0``: tests that are not about
    the validation cache must validate for real.
    """
    for name in list(os.environ):
        if name.startswith("OTF_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTF_VALIDATION_CACHE", "0")
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    yield workdir
    # Secrets (and short lookup results) registered by one test would mask
    # words in the next test's messages.
    redaction.forget_secrets()
    # Loggers keep file handlers on per-test paths; drop them between tests.
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            for handler in list(logger.handlers):
                if type(handler).__name__ == "TaskFileHandler":
                    handler.close()
                    logger.removeHandler(handler)


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Path:
    """An empty config directory holding an empty variables file."""
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "variables.json.j2").write_text("{}")
    return cfg


@pytest.fixture
def task_run(isolated_env: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run the real ``task-run`` CLI in a subprocess.

    Call as ``task_run("-t", "x", "-c", cfg, env={...}, timeout=...)``.
    """

    def _run(
        *args: object,
        env: dict | None = None,
        timeout: float = 300,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess:
        return run_task_run(
            *args,
            cwd=cwd or isolated_env,
            env=task_run_env(**(env or {})),
            timeout=timeout,
        )

    return _run


# -- strict mode ---------------------------------------------------------------
# scripts/test.sh installs sshd, gpg, moto and the published addons first, so
# there a skip for a missing server or addon means the set-up broke: with
# OTF_TESTS_STRICT=1 such skips fail instead of passing quietly. Skips that
# depend on who runs the suite (root or not) or on network access stay skips.
# Read once at start-up: isolated_env removes OTF_* variables inside tests.
_STRICT = os.environ.get("OTF_TESTS_STRICT") == "1"
_MISSING_PART_REASONS = (
    "not installed",
    "test servers unavailable",
    "not found",
)


def _strict_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not _STRICT or not report.skipped:
        return
    longrepr = report.longrepr
    reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)
    if any(text in reason for text in _MISSING_PART_REASONS):
        report.outcome = "failed"
        report.longrepr = f"OTF_TESTS_STRICT=1: a required part is missing: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    """Turn skips for missing parts into failures under OTF_TESTS_STRICT=1."""
    outcome = yield
    _strict_failure(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator:
    """Same for modules skipped at collection (``importorskip``)."""
    outcome = yield
    _strict_failure(outcome.get_result())
