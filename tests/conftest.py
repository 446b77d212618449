"""Fixtures shared by the whole suite.

Every test runs in its own temporary working directory (so ``logs/`` lands
there) with every ``OTF_*`` variable removed from the environment.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.helpers import write_json  # noqa: F401 - re-exported for old imports
from support.server_fixtures import (  # noqa: F401 - fixtures for every directory
    dirs,
    needs_host_to_host,
    smtp_plain,
    smtp_tls,
    ssh_client_env,
    ssh_env,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SRC = REPO_ROOT / "src"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run each test in a fresh cwd with no OTF_* variables set."""
    for name in list(os.environ):
        if name.startswith("OTF_"):
            monkeypatch.delenv(name, raising=False)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    yield workdir
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
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTF_")}
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "opentaskpy", *map(str, args)],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            cwd=cwd or isolated_env,
        )

    return _run
